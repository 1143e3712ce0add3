"""The issue lifecycle end to end in-process: events in, issues read and changed through the API,
regressions and expired ignores on later events (ISSUE_LIFECYCLE.md), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from bughound.storage import issues
from bughound.storage import schema as t
from bughound.storage.store import Store
from tests.factories import Harness, Project, envelope, error_event, make_project


class _Owner:
    """Equal to the serialized user of the project's owner (the token's user)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict) and other.get("email") == "owner@acme.test" and "avatar" in other

    def __repr__(self) -> str:
        return "<owner@acme.test>"


OWNER = _Owner()


def send(h: Harness, project: Project, **extra: Any) -> str:
    event = error_event(**extra)
    r = h.post_envelope(
        project, envelope(({"type": "event"}, event), headers={"event_id": event["event_id"]})
    )
    assert r.status_code == 200, r.text
    h.digest()
    return str(event["event_id"])


def only_issue(store: Store) -> int:
    with store.read() as conn:
        (group_id,) = conn.execute(sa.select(t.groups.c.id)).scalars().all()
    return int(group_id)


def issue(h: Harness, project: Project, group_id: int | str) -> dict[str, Any]:
    r = h.api(project, f"/api/0/organizations/{project.org}/issues/{group_id}/")
    assert r.status_code == 200, r.text
    return dict(r.json())


def put(h: Harness, project: Project, group_id: int | str, body: dict[str, Any]) -> Any:
    return h.client.put(
        f"/api/0/organizations/{project.org}/issues/{group_id}/",
        json=body,
        headers={"Authorization": f"Bearer {project.token}"},
    )


def bulk_put(h: Harness, project: Project, group_id: int | str, body: dict[str, Any]) -> Any:
    """The project's bulk update (`PUT .../issues/?id=`), whose answer is the delta."""
    return h.client.put(
        f"/api/0/projects/{project.org}/{project.slug}/issues/?id={group_id}",
        json=body,
        headers={"Authorization": f"Bearer {project.token}"},
    )


def activity_types(data: dict[str, Any]) -> list[str]:
    return [a["type"] for a in data["activity"]]


def test_new_issue_shape_and_counters(h: Harness, project: Project, store: Store) -> None:
    send(h, project, user={"id": "u1"}, level="warning")
    group_id = only_issue(store)
    data = issue(h, project, group_id)
    assert data["shortId"] == "WEB-1"
    assert (data["status"], data["substatus"], data["statusDetails"]) == ("unresolved", "new", {})
    assert (data["count"], data["userCount"], data["level"], data["priority"]) == (
        "1",
        1,
        "warning",
        "medium",
    )
    assert data["title"] == "ValueError: bad value"
    assert data["project"] == {"id": str(project.id), "name": "web", "slug": "web", "platform": None}
    assert data["activity"][-1]["type"] == "first_seen"
    assert data["permalink"].endswith(f"/organizations/acme/issues/{group_id}/")
    assert len(data["stats"]["24h"]) == 24 and len(data["stats"]["30d"]) == 30
    assert sum(n for _, n in data["stats"]["24h"]) == 1
    assert {"key": "user", "name": "User", "totalValues": 1} in data["tags"]

    send(h, project, user={"id": "u2"}, level="error")
    send(h, project, user={"id": "u2"}, level="fatal")
    data = issue(h, project, group_id)
    assert (data["count"], data["userCount"], data["level"]) == ("3", 2, "fatal")  # level follows the latest
    # Short id lookup within the organization, and the legacy numeric path.
    assert issue(h, project, "WEB-1")["id"] == str(group_id)
    assert issue(h, project, "web-1")["id"] == str(group_id)
    legacy = h.api(project, f"/api/0/issues/{group_id}/")
    assert legacy.status_code == 200 and legacy.json()["shortId"] == "WEB-1"


def test_short_ids_use_sentrys_base32(h: Harness, project: Project, store: Store) -> None:
    with store.write() as conn:
        conn.execute(t.projects.update().where(t.projects.c.id == project.id).values(next_short_id=32))
    send(h, project)
    assert issue(h, project, only_issue(store))["shortId"] == "WEB-10"


def test_resolve_then_regress(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "resolved"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["substatus"]) == ("resolved", None)
    data = issue(h, project, group_id)
    assert data["status"] == "resolved" and activity_types(data)[0] == "set_resolved"

    event_id = send(h, project, release="2.0")
    data = issue(h, project, group_id)
    assert (data["status"], data["substatus"]) == ("unresolved", "regressed")
    regression = data["activity"][0]
    assert regression["type"] == "set_regression"
    assert regression["data"] == {"event_id": event_id, "version": "2.0"}
    assert data["count"] == "2"


def test_resolved_in_release_holds_for_older_releases(h: Harness, project: Project, store: Store) -> None:
    send(h, project, release="1.0.0")
    send(h, project, release="1.1.0")
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "resolved", "statusDetails": {"inRelease": "1.1.0"}})
    assert r.status_code == 200, r.text
    assert r.json()["statusDetails"]["inRelease"] == "1.1.0"
    assert issue(h, project, group_id)["activity"][0]["data"] == {"version": "1.1.0"}
    send(h, project, release="1.0.0")  # the old release still has the bug: expected
    assert issue(h, project, group_id)["status"] == "resolved"
    send(h, project, release="1.1.0")  # the release that was to fix it: a regression
    data = issue(h, project, group_id)
    assert data["substatus"] == "regressed"
    assert data["activity"][0]["data"]["resolved_in_version"] == "1.1.0"
    assert data["activity"][0]["data"]["follows_semver"] is True


def test_resolved_in_next_release_of_a_semver_project(h: Harness, project: Project, store: Store) -> None:
    """Sentry: when the project follows semver, "next release" is stored as resolved in the
    greatest semver release, with it as `current_release_version` (also in the activity)."""
    send(h, project, release="app@1.0.0")
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "resolvedInNextRelease"})
    assert r.status_code == 200, r.text
    assert r.json()["statusDetails"] == {"inRelease": "app@1.0.0", "actor": OWNER}
    activity = issue(h, project, group_id)["activity"][0]
    assert activity["type"] == "set_resolved_in_release"
    assert activity["data"] == {"version": "", "current_release_version": "app@1.0.0"}
    send(h, project, release="app@1.0.0")  # the release it was seen in still holds
    send(h, project)  # no release: counts as older
    assert issue(h, project, group_id)["status"] == "resolved"
    send(h, project, release="app@1.0.1")
    data = issue(h, project, group_id)
    assert data["substatus"] == "regressed"
    resolved = next(a for a in data["activity"] if a["type"] == "set_resolved_in_release")
    assert resolved["data"] == {"version": "app@1.0.1", "current_release_version": "app@1.0.0"}


def test_resolved_in_next_release_by_date(h: Harness, project: Project, store: Store) -> None:
    """Not semver: "next" is the release after the issue's own last release; while there is none
    the resolution stays "in next release"."""
    send(h, project, release="alpha")
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "resolved", "statusDetails": {"inNextRelease": True}})
    assert r.json()["statusDetails"] == {"inNextRelease": True, "actor": OWNER}
    assert issue(h, project, group_id)["activity"][0]["data"] == {"version": ""}
    with store.read() as conn:
        row = conn.execute(sa.select(t.group_resolutions)).one()
    assert (row.type, row.release, row.current_release_version) == (1, "alpha", "alpha")
    send(h, project, release="alpha")
    assert issue(h, project, group_id)["status"] == "resolved"
    send(h, project, release="beta")
    data = issue(h, project, group_id)
    assert data["substatus"] == "regressed"
    resolved = next(a for a in data["activity"] if a["type"] == "set_resolved_in_release")
    assert resolved["data"] == {"version": "beta"}


def test_resolved_in_next_release_that_already_exists(h: Harness, project: Project, store: Store) -> None:
    """Not semver, and a release newer than the issue's last one exists: Sentry resolves in it."""
    send(h, project, release="alpha")
    group_id = only_issue(store)
    send(h, project, release="beta", exception={"values": [{"type": "KeyError", "value": "x"}]})
    send(h, project, release="gamma", exception={"values": [{"type": "OSError", "value": "x"}]})
    r = bulk_put(h, project, group_id, {"status": "resolvedInNextRelease"})
    assert r.json() == {"status": "resolved", "statusDetails": {"inNextRelease": True, "actor": OWNER}}
    data = issue(h, project, group_id)
    assert data["statusDetails"] == {"inRelease": "beta", "actor": OWNER}
    assert data["activity"][0]["data"] == {"version": "beta"}
    send(h, project, release="alpha")
    assert issue(h, project, group_id)["status"] == "resolved"
    send(h, project, release="beta")
    assert issue(h, project, group_id)["substatus"] == "regressed"


def test_resolve_in_next_release_without_any_release(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "resolved", "statusDetails": {"inNextRelease": True}})
    assert r.status_code == 400
    assert r.json() == {
        "statusDetails": {
            "inNextRelease": ["No release data present in the system to form a basis for 'Next Release'"]
        }
    }
    # The status alone is not validated: resolved, with nothing that holds it.
    r = bulk_put(h, project, group_id, {"status": "resolvedInNextRelease"})
    assert r.json() == {"status": "resolved", "statusDetails": {"inNextRelease": True, "actor": OWNER}}
    data = issue(h, project, group_id)
    assert (data["status"], data["statusDetails"]) == ("resolved", {})
    assert data["activity"][0]["type"] == "set_resolved_in_release"
    assert data["activity"][0]["data"] == {"version": ""}
    send(h, project)
    assert issue(h, project, group_id)["substatus"] == "regressed"


def test_resolve_in_the_latest_release(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "resolved", "statusDetails": {"inRelease": "latest"}})
    assert r.status_code == 400
    assert r.json() == {
        "statusDetails": {
            "inRelease": ["No release data present in the system to form a basis for 'Next Release'"]
        }
    }
    send(h, project, release="2.0.0")
    send(h, project, release="1.9.0")  # seen last: the latest by date, as Sentry picks it
    r = bulk_put(h, project, group_id, {"status": "resolved", "statusDetails": {"inRelease": "latest"}})
    assert r.json() == {"status": "resolved", "statusDetails": {"inRelease": "1.9.0", "actor": OWNER}}
    assert issue(h, project, group_id)["activity"][0]["data"] == {"version": "1.9.0"}


def test_resolve_in_unknown_release_is_a_400(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    r = put(h, project, only_issue(store), {"statusDetails": {"inRelease": "9.9"}})
    assert r.status_code == 400
    assert r.json() == {"statusDetails": {"inRelease": ["Unable to find a release with the given version."]}}


def test_ignore_until_count(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "ignored", "statusDetails": {"ignoreCount": 2}})
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["status"], data["substatus"]) == ("ignored", "archived_until_condition_met")
    assert data["statusDetails"]["ignoreCount"] == 2
    set_ignored = issue(h, project, group_id)["activity"][0]
    assert set_ignored["type"] == "set_ignored" and set_ignored["data"]["ignoreCount"] == 2
    send(h, project)
    assert issue(h, project, group_id)["statusDetails"]["ignoreCount"] == 1  # remaining
    event_id = send(h, project)
    data = issue(h, project, group_id)
    assert (data["status"], data["substatus"]) == ("unresolved", "escalating")
    escalating = data["activity"][0]
    assert escalating["type"] == "set_escalating"
    assert escalating["data"]["event_id"] == event_id
    assert escalating["data"]["expired_snooze"]["count"] == 2


def test_ignore_until_user_count(h: Harness, project: Project, store: Store) -> None:
    send(h, project, user={"id": "a"})
    group_id = only_issue(store)
    assert put(h, project, group_id, {"status": "ignored", "ignoreUserCount": 2}).status_code == 200
    send(h, project, user={"id": "a"})  # not a new user
    send(h, project, user={"id": "b"})
    assert issue(h, project, group_id)["status"] == "ignored"
    send(h, project, user={"id": "c"})
    assert issue(h, project, group_id)["substatus"] == "escalating"


def test_ignore_for_a_duration(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "ignored", "statusDetails": {"ignoreDuration": 30}})
    assert r.status_code == 200 and r.json()["statusDetails"]["ignoreUntil"].endswith("Z")
    send(h, project)
    assert issue(h, project, group_id)["status"] == "ignored"
    with store.write() as conn:  # let the half hour pass
        conn.execute(t.group_snoozes.update().values(until=time.time() - 1))
    assert issue(h, project, group_id)["status"] == "unresolved"  # shown as such before any event
    event_id = send(h, project)
    data = issue(h, project, group_id)
    assert (data["status"], data["substatus"]) == ("unresolved", "ongoing")
    assert data["activity"][0] | {"id": "", "dateCreated": ""} == {
        "id": "",
        "dateCreated": "",
        "user": None,
        "sentry_app": None,
        "type": "set_unresolved",
        "data": {"event_id": event_id},
    }


def test_ignore_forever_and_until_escalating(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "ignored"})
    assert r.json()["substatus"] == "archived_forever"
    for _ in range(3):
        send(h, project)
    assert issue(h, project, group_id)["substatus"] == "archived_forever"
    r = put(h, project, group_id, {"status": "ignored", "substatus": "archived_until_escalating"})
    assert r.json()["substatus"] == "archived_until_escalating"
    # Escalates above max(10, 1.5 x the busiest hour before archiving = 4 events).
    for _ in range(6):
        send(h, project)
    assert issue(h, project, group_id)["status"] == "ignored"  # 10 in the last hour
    send(h, project)
    assert issue(h, project, group_id)["substatus"] == "escalating"


def test_unresolve_assign_note_and_priority(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    put(h, project, group_id, {"status": "resolved"})
    r = put(h, project, group_id, {"status": "unresolved", "assignedTo": f"user:{project.user_id}"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["status"], data["substatus"]) == ("unresolved", "regressed")  # was resolved
    assert data["assignedTo"] == {
        "type": "user",
        "id": str(project.user_id),
        "name": "owner@acme.test",
        "email": "owner@acme.test",
    }
    assert put(h, project, group_id, {"assignedTo": ""}).json()["assignedTo"] is None
    assert put(h, project, group_id, {"priority": "low"}).json()["priority"] == "low"
    note = h.client.post(
        f"/api/0/issues/{group_id}/comments/",
        json={"text": "looking into it"},
        headers={"Authorization": f"Bearer {project.token}"},
    )
    assert note.status_code == 201, note.text
    assert note.json()["type"] == "note" and note.json()["data"] == {
        "text": "looking into it",
        "mentions": [],
    }
    assert note.json()["user"]["email"] == "owner@acme.test"
    data = issue(h, project, group_id)
    assert activity_types(data) == [
        "note",
        "set_priority",
        "unassigned",
        "assigned",
        "set_unresolved",
        "set_resolved",
        "first_seen",
    ]
    assert data["numComments"] == 1
    assigned = data["activity"][3]["data"]
    assert assigned == {
        "assignee": str(project.user_id),
        "assigneeEmail": "owner@acme.test",
        "assigneeType": "user",
    }
    activities = h.api(project, f"/api/0/organizations/acme/issues/{group_id}/activities/").json()
    assert [a["type"] for a in activities["activity"]] == activity_types(data)


def test_bad_updates_are_400s_in_sentrys_shape(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    assert put(h, project, group_id, {"status": "fixed"}).json() == {
        "status": ['"fixed" is not a valid choice.']
    }
    r = put(
        h,
        project,
        group_id,
        {"status": "ignored", "statusDetails": {"ignoreWindow": 99999, "ignoreCount": 1}},
    )
    assert r.status_code == 400
    assert r.json() == {
        "statusDetails": {"ignoreWindow": ["Ensure this value is less than or equal to 10080."]}
    }
    assert put(h, project, group_id, {"assignedTo": "nobody@example.com"}).status_code == 400
    bad_json = h.client.put(
        f"/api/0/issues/{group_id}/", content=b"{", headers={"Authorization": f"Bearer {project.token}"}
    )
    assert bad_json.status_code == 400 and "detail" in bad_json.json()
    assert h.api(project, "/api/0/organizations/acme/issues/999999/").status_code == 404
    assert h.api(project, "/api/0/organizations/acme/issues/NOPE-1/").status_code == 404
    assert h.api(project, "/api/0/issues/WEB-1/").status_code == 404  # legacy path: numeric ids only


def test_scopes_and_membership(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    reader = make_project(store, scopes=["event:read"])
    assert h.api(reader, f"/api/0/issues/{group_id}/").status_code == 200
    r = h.client.put(
        f"/api/0/issues/{group_id}/",
        json={"status": "resolved"},
        headers={"Authorization": f"Bearer {reader.token}"},
    )
    assert r.status_code == 403
    other = make_project(store, org="other", slug="app")
    assert h.api(other, f"/api/0/issues/{group_id}/").status_code == 403
    assert h.client.get(f"/api/0/issues/{group_id}/").status_code == 401


def test_bulk_update_as_sentry_cli_sends_it(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    send(h, project, exception={"values": [{"type": "KeyError", "value": "x"}]})
    with store.read() as conn:
        ids = sorted(conn.execute(sa.select(t.groups.c.id)).scalars())
    auth = {"Authorization": f"Bearer {project.token}"}
    r = bulk_put(h, project, ids[0], {"status": "muted", "snoozeDuration": None})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ignored"
    assert issue(h, project, ids[0])["status"] == "ignored"
    assert issue(h, project, ids[1])["status"] == "unresolved"
    # No ids: every unresolved issue (sentry-cli's --all).
    r = h.client.put(
        "/api/0/projects/acme/web/issues/", json={"status": "resolved", "snoozeDuration": None}, headers=auth
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert [issue(h, project, i)["status"] for i in ids] == ["ignored", "resolved"]
    r = h.client.put("/api/0/projects/acme/web/issues/", json={"status": "resolved"}, headers=auth)
    assert r.status_code == 204  # nothing unresolved is left
    r = h.client.put(
        f"/api/0/organizations/acme/issues/?id={ids[0]}&id={ids[1]}",
        json={"status": "unresolved"},
        headers=auth,
    )
    assert r.status_code == 200
    assert [issue(h, project, i)["status"] for i in ids] == ["unresolved", "unresolved"]


def _two_frames(second_in_app: bool) -> dict[str, Any]:
    frames = [
        {"filename": "app.py", "function": "main", "module": "app", "in_app": True},
        {"filename": "jobs.py", "function": "run", "module": "jobs", "in_app": second_in_app},
    ]
    return {"values": [{"type": "ValueError", "value": "bad value", "stacktrace": {"frames": frames}}]}


def test_hashes_list_each_primary_hash_with_its_latest_event(
    h: Harness, project: Project, store: Store
) -> None:
    """Sentry lists the primary hashes of an issue's events, each with its latest event (the
    full event unless `full` is 0 or false), newest first, with offset cursors."""
    first = send(h, project, exception=_two_frames(True), timestamp=time.time() - 60)
    second = send(h, project, exception=_two_frames(True), timestamp=time.time() - 30)
    # Same system frames, other in-app frames: the same issue (by its system hash), but another
    # primary (app) hash.
    third = send(h, project, exception=_two_frames(False), timestamp=time.time() - 10)
    group_id = only_issue(store)
    with store.read() as conn:
        primary = dict(conn.execute(sa.select(t.events.c.event_id, t.events.c.primary_hash)).all())
        known = set(conn.execute(sa.select(t.group_hashes.c.hash)).scalars())
    assert primary[first] == primary[second] != primary[third]
    assert {primary[first], primary[third]} <= known
    url = f"/api/0/organizations/acme/issues/{group_id}/hashes/"
    hashes = h.api(project, url).json()
    assert [(x["id"], x["latestEvent"]["eventID"]) for x in hashes] == [
        (primary[third], third),
        (primary[second], second),
    ]
    latest = hashes[0]["latestEvent"]
    assert latest["groupID"] == str(group_id) and latest["title"] == "ValueError: bad value"
    assert any(entry["type"] == "exception" for entry in latest["entries"])  # the full event
    assert (hashes[0]["mergedBySeer"], hashes[0]["seerMatchDistance"]) == (False, None)
    for value in ("0", "false"):
        simple = h.api(project, url, params={"full": value}).json()[0]["latestEvent"]
        assert simple["eventID"] == third and "entries" not in simple
    assert "entries" in h.api(project, url, params={"full": "no"}).json()[0]["latestEvent"]
    page = h.api(project, url, params={"per_page": 1})
    assert [x["latestEvent"]["eventID"] for x in page.json()] == [third]
    assert 'rel="next"; results="true"' in page.headers["Link"]
    nxt = h.api(project, url, params={"per_page": 1, "cursor": "0:1:0"})
    assert [x["latestEvent"]["eventID"] for x in nxt.json()] == [second]


def test_hashes_and_delete(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    hashes = h.api(project, f"/api/0/organizations/acme/issues/{group_id}/hashes/").json()
    with store.read() as conn:
        primary = conn.execute(sa.select(t.events.c.primary_hash)).scalar_one()
    assert [x["id"] for x in hashes] == [primary]
    r = h.client.delete(f"/api/0/issues/{group_id}/", headers={"Authorization": f"Bearer {project.token}"})
    assert r.status_code == 202
    assert h.api(project, f"/api/0/issues/{group_id}/").status_code == 404
    send(h, project)  # the same error again is a new issue, with new ids
    new_id = only_issue(store)
    assert new_id != group_id
    assert issue(h, project, new_id)["shortId"] == "WEB-2"


def test_auto_ongoing_after_seven_days(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    with store.write() as conn:
        assert issues.auto_ongoing(conn) == 0
        week_ago = time.time() - 8 * 86400
        conn.execute(t.groups.update().values(first_seen=week_ago, active_at=week_ago))
        assert issues.auto_ongoing(conn) == 1
    data = issue(h, project, group_id)
    assert data["substatus"] == "ongoing"
    assert data["activity"][0]["type"] == "auto_set_ongoing"
    assert data["activity"][0]["data"] == {"after_days": 7}


def test_release_and_environment_are_recorded(h: Harness, project: Project, store: Store) -> None:
    send(h, project, release="shop@1.2.3", environment="production")
    with store.read() as conn:
        assert conn.execute(sa.select(t.releases.c.version)).scalars().all() == ["shop@1.2.3"]
        assert conn.execute(sa.select(t.environments.c.name)).scalars().all() == ["production"]
    data = issue(h, project, only_issue(store))
    assert data["firstRelease"] == {"version": "shop@1.2.3"} and data["lastRelease"] == {
        "version": "shop@1.2.3"
    }


def test_auto_resolve_by_age(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    with store.write() as conn:
        conn.execute(
            t.projects.update()
            .where(t.projects.c.id == project.id)
            .values(options={"sentry:resolve_age": 24})
        )
        assert issues.auto_resolve(conn) == 0
        conn.execute(t.groups.update().values(last_seen=time.time() - 25 * 3600))
        assert issues.auto_resolve(conn) == 1
    data = issue(h, project, group_id)
    assert (data["status"], data["statusDetails"]) == ("resolved", {"autoResolved": True})
    assert data["activity"][0]["type"] == "set_resolved_by_age" and data["activity"][0]["data"] == {"age": 24}
    send(h, project)  # a plain (age) resolution: the next event is a regression
    assert issue(h, project, group_id)["substatus"] == "regressed"


def test_worker_upkeep_runs_the_transitions(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    with store.write() as conn:
        week_ago = time.time() - 8 * 86400
        conn.execute(t.groups.update().values(first_seen=week_ago, active_at=week_ago))
    h.worker.maybe_upkeep(time.time())
    assert issue(h, project, only_issue(store))["substatus"] == "ongoing"


def test_resolve_in_commit(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    commit = {"commit": "a" * 40, "repository": "acme/web"}
    r = put(h, project, group_id, {"status": "resolved", "statusDetails": {"inCommit": commit}})
    assert r.status_code == 200, r.text
    assert r.json()["statusDetails"]["inCommit"] == commit
    data = issue(h, project, group_id)
    assert data["activity"][0]["type"] == "set_resolved_in_commit"
    assert data["activity"][0]["data"] == {"commit": commit}
    bad = put(h, project, group_id, {"statusDetails": {"inCommit": {"commit": "a"}}})
    assert bad.status_code == 400 and "inCommit" in bad.json()["statusDetails"]
    send(h, project)  # Bughound cannot tell when the commit ships: the next event reopens it
    assert issue(h, project, group_id)["substatus"] == "regressed"


def test_bulk_update_with_unknown_ids_changes_nothing(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    r = bulk_put(h, project, 999999, {"status": "resolved"})
    assert r.status_code == 204
    assert issue(h, project, only_issue(store))["status"] == "unresolved"


def test_message_issue_has_an_empty_culprit_and_the_events_logger(
    h: Harness, project: Project, store: Store
) -> None:
    """Sentry's culprit is "" when nothing names one (a message event), never null; the issue's
    `logger` is its first event's."""
    send(h, project, exception=None, message="disk full", logger="app.storage")
    data = issue(h, project, only_issue(store))
    assert (data["title"], data["culprit"], data["logger"]) == ("disk full", "", "app.storage")
    send(h, project)  # another issue, without a logger
    with store.read() as conn:
        other = max(conn.execute(sa.select(t.groups.c.id)).scalars())
    assert issue(h, project, other)["logger"] is None


def test_manual_unresolve_infers_the_substatus_as_sentry(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    group_id = only_issue(store)
    # An ignored issue first seen within 7 days is new again; later, ongoing.
    put(h, project, group_id, {"status": "ignored"})
    r = put(h, project, group_id, {"status": "unresolved"})
    assert (r.json()["status"], r.json()["substatus"]) == ("unresolved", "new")
    put(h, project, group_id, {"status": "ignored"})
    with store.write() as conn:
        conn.execute(t.groups.update().values(first_seen=time.time() - 8 * 86400))
    assert put(h, project, group_id, {"status": "unresolved"}).json()["substatus"] == "ongoing"
    # A resolved issue is regressed; an unresolved substatus asked for is kept.
    put(h, project, group_id, {"status": "resolved"})
    assert put(h, project, group_id, {"status": "unresolved"}).json()["substatus"] == "regressed"
    put(h, project, group_id, {"status": "resolved"})
    r = put(h, project, group_id, {"status": "unresolved", "substatus": "escalating"})
    assert r.json()["substatus"] == "escalating"
    # An archived substatus with `unresolved` is not refused, just not used.
    put(h, project, group_id, {"status": "resolved"})
    r = put(h, project, group_id, {"status": "unresolved", "substatus": "archived_forever"})
    assert (r.status_code, r.json()["substatus"]) == (200, "regressed")
    assert put(h, project, group_id, {"status": "unresolved", "substatus": "later"}).json() == {
        "substatus": ['"later" is not a valid choice.']
    }
    data = issue(h, project, group_id)
    assert data["activity"][0]["type"] == "set_unresolved" and data["activity"][0]["data"] == {}


def test_bulk_unresolve_of_several_issues_is_ongoing(h: Harness, project: Project, store: Store) -> None:
    send(h, project)
    send(h, project, exception={"values": [{"type": "KeyError", "value": "x"}]})
    with store.read() as conn:
        ids = sorted(conn.execute(sa.select(t.groups.c.id)).scalars())
    auth = {"Authorization": f"Bearer {project.token}"}
    url = f"/api/0/organizations/acme/issues/?id={ids[0]}&id={ids[1]}"
    assert h.client.put(url, json={"status": "resolved"}, headers=auth).status_code == 200
    r = h.client.put(url, json={"status": "unresolved"}, headers=auth)
    assert r.json() == {"status": "unresolved", "statusDetails": {}}
    assert [issue(h, project, i)["substatus"] for i in ids] == ["ongoing", "ongoing"]
    h.client.put(url, json={"status": "resolved"}, headers=auth)
    r = h.client.put(url, json={"status": "unresolved", "substatus": "new"}, headers=auth)
    assert r.json() == {"status": "unresolved", "statusDetails": {}, "substatus": "new"}
    assert [issue(h, project, i)["substatus"] for i in ids] == ["new", "new"]


def test_expired_ignores_are_cleared_by_the_worker(h: Harness, project: Project, store: Store) -> None:
    """Sentry's clear_expired_snoozes: an ignore whose time ran out is unresolved/ongoing with a
    `set_unresolved` activity (no data, no user); until then queries already treat it so."""
    send(h, project)
    send(h, project, exception={"values": [{"type": "KeyError", "value": "x"}]})
    with store.read() as conn:
        expiring, lasting = sorted(conn.execute(sa.select(t.groups.c.id)).scalars())
    put(h, project, expiring, {"status": "ignored", "statusDetails": {"ignoreDuration": 30}})
    put(h, project, lasting, {"status": "ignored", "statusDetails": {"ignoreDuration": 90}})
    with store.write() as conn:  # 45 minutes later
        conn.execute(
            t.group_snoozes.update()
            .where(t.group_snoozes.c.group_id == expiring)
            .values(until=time.time() - 1)
        )
    auth = {"Authorization": f"Bearer {project.token}"}
    # Bulk updates select by the status the API shows: the expired ignore is unresolved.
    r = h.client.put(
        "/api/0/projects/acme/web/issues/?query=is:ignored", json={"priority": "low"}, headers=auth
    )
    assert r.status_code == 200
    assert (issue(h, project, expiring)["priority"], issue(h, project, lasting)["priority"]) == (
        "high",
        "low",
    )
    r = h.client.put(
        "/api/0/projects/acme/web/issues/?query=is:unresolved", json={"priority": "medium"}, headers=auth
    )
    assert r.status_code == 200 and issue(h, project, expiring)["priority"] == "medium"
    assert issue(h, project, lasting)["priority"] == "low"

    h.worker.maybe_upkeep(time.time())
    with store.read() as conn:
        rows = dict(conn.execute(sa.select(t.groups.c.id, t.groups.c.status)).all())
        snoozed = conn.execute(sa.select(t.group_snoozes.c.group_id)).scalars().all()
    assert rows == {expiring: 0, lasting: 2} and snoozed == [lasting]
    data = issue(h, project, expiring)
    assert (data["status"], data["substatus"], data["statusDetails"]) == ("unresolved", "ongoing", {})
    assert data["activity"][0] | {"id": "", "dateCreated": ""} == {
        "id": "",
        "dateCreated": "",
        "user": None,
        "sentry_app": None,
        "type": "set_unresolved",
        "data": {},
    }
    with store.write() as conn:
        assert issues.clear_expired_snoozes(conn) == 0  # nothing left to clear


def test_ignore_status_details_in_sentrys_shapes(h: Harness, project: Project, store: Store) -> None:
    """The delta of a bulk update (handle_ignored / handle_archived_until_escalating) and the
    issue (the group serializer's _get_status) show ignores as Sentry does."""
    send(h, project)
    group_id = only_issue(store)

    def bulk(body: dict[str, Any]) -> Any:
        r = bulk_put(h, project, group_id, body)
        assert r.status_code == 200, r.text
        return r.json()

    assert bulk({"status": "ignored"}) == {"status": "ignored", "statusDetails": {}}
    assert issue(h, project, group_id)["statusDetails"] == {}
    assert bulk({"status": "ignored", "substatus": "archived_until_escalating"}) == {
        "status": "ignored",
        "statusDetails": {"ignoreUntilEscalating": True},
        "substatus": "archived_until_escalating",
    }
    assert issue(h, project, group_id)["statusDetails"] == {}  # Sentry keeps no snooze for it
    details = bulk({"status": "ignored", "statusDetails": {"ignoreCount": 5}})["statusDetails"]
    assert details == {
        "ignoreCount": 5,
        "ignoreUntil": None,
        "ignoreUserCount": None,
        "ignoreUserWindow": None,
        "ignoreWindow": None,
        "actor": OWNER,
    }
    assert issue(h, project, group_id)["statusDetails"] == details
    details = bulk({"status": "ignored", "statusDetails": {"ignoreDuration": 30, "ignoreUserCount": 3}})[
        "statusDetails"
    ]
    assert details["ignoreUntil"].endswith("Z") and details["ignoreUserCount"] == 3
    assert details["ignoreCount"] is None and details["actor"] == OWNER
    assert issue(h, project, group_id)["statusDetails"] == details


def test_ignore_duration_zero_is_accepted_as_sentry(h: Harness, project: Project, store: Store) -> None:
    """Sentry takes `ignoreDuration: 0`: no time limit (`or None`), yet, a condition field having
    been sent, `archived_until_condition_met` with no condition to meet."""
    send(h, project)
    group_id = only_issue(store)
    r = put(h, project, group_id, {"status": "ignored", "statusDetails": {"ignoreDuration": 0}})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["substatus"], r.json()["statusDetails"]) == (
        "ignored",
        "archived_until_condition_met",
        {},
    )
    with store.read() as conn:
        assert conn.execute(sa.select(t.group_snoozes)).all() == []
    assert issue(h, project, group_id)["activity"][0]["data"]["ignoreDuration"] is None
    for _ in range(2):
        send(h, project)
    assert issue(h, project, group_id)["status"] == "ignored"
    # With a real condition beside it, the 0 is just no time limit.
    r = put(h, project, group_id, {"status": "ignored", "ignoreDuration": 0, "ignoreCount": 1})
    assert r.json()["statusDetails"]["ignoreUntil"] is None and r.json()["statusDetails"]["ignoreCount"] == 1
    assert put(h, project, group_id, {"status": "ignored", "ignoreDuration": -1}).status_code == 400


def test_follows_semver_as_sentry_decides_it(h: Harness, project: Project, store: Store) -> None:
    def follows() -> bool:
        with store.read() as conn:
            return issues.follows_semver(conn, project.id)

    verdicts = []
    for version in ("abc", "1.0.0", "def", "ghi", "jkl"):
        send(h, project, release=version)
        verdicts.append(follows())
    # One or two releases: the newest decides; fewer than ten: one of the newest three.
    assert verdicts == [False, True, True, True, False]
    for version in ("2.0.0", "m", "n", "o", "p"):
        send(h, project, release=version)
    # Ten: one of the newest three and three of the ten (only 1.0.0 and 2.0.0 are semver).
    assert not follows()
    send(h, project, release="3.0.0")  # the ten (1.0.0 to 3.0.0) now hold three, one of them newest
    assert follows()
    for version in ("q", "r", "s"):
        send(h, project, release=version)
    assert not follows()  # none of the newest three
