"""Grouping through the API: grouping-info, project rules applied by the digest, config pinning
and transitions, and `bughound grouping-info` (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from bughound.cli import cli
from bughound.grouping.settings import DEFAULT_CONFIG_ID, LEGACY_CONFIG_ID
from bughound.storage import schema as t
from bughound.storage.store import Store
from tests.factories import Harness, Project, envelope, error_event


def send(h: Harness, project: Project, event: dict[str, Any]) -> dict[str, Any]:
    r = h.post_envelope(
        project, envelope(({"type": "event"}, event), headers={"event_id": event["event_id"]})
    )
    assert r.status_code == 200, r.text
    h.digest()
    got = h.api(project, f"/api/0/projects/acme/web/events/{event['event_id']}/")
    assert got.status_code == 200, got.text
    return dict(got.json())


def frames_event(function: str, error: str = "ValueError", **extra: Any) -> dict[str, Any]:
    return error_event(
        exception={
            "values": [
                {
                    "type": error,
                    "value": "bad",
                    "stacktrace": {
                        "frames": [
                            {"module": "vendor.lib", "function": "helper", "in_app": False},
                            {"module": "app", "function": function, "context_line": "x()", "in_app": True},
                        ]
                    },
                }
            ]
        },
        **extra,
    )


def put_project(h: Harness, project: Project, body: dict[str, Any]) -> Any:
    return h.client.put(
        "/api/0/projects/acme/web/", json=body, headers={"Authorization": f"Bearer {project.token}"}
    )


def test_new_projects_are_pinned_to_sentrys_default(h: Harness, project: Project, store: Store) -> None:
    data = h.api(project, "/api/0/projects/acme/web/").json()
    assert data["groupingConfig"] == DEFAULT_CONFIG_ID
    assert (data["groupingEnhancements"], data["fingerprintingRules"]) == ("", "")
    event = send(h, project, frames_event("main"))
    assert event["groupingConfig"] == {"id": DEFAULT_CONFIG_ID, "enhancements": ""}
    with store.read() as conn:
        configs = conn.execute(sa.select(t.group_hashes.c.grouping_config)).scalars().all()
    assert configs == [DEFAULT_CONFIG_ID] * 2  # the app and the system hash


def test_grouping_info_endpoint(h: Harness, project: Project) -> None:
    event = send(h, project, frames_event("main"))
    r = h.api(project, f"/api/0/projects/acme/web/events/{event['eventID']}/grouping-info/")
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["grouping_config"] == DEFAULT_CONFIG_ID
    variants = info["variants"]
    contributing = {v["hash"] for v in variants.values() if v["contributes"]}
    assert contributing == set(event["fingerprints"])
    for variant in variants.values():
        assert {"contributes", "hash", "hint", "key", "type", "description"} <= set(variant)
        assert variant["hashMismatch"] is False
    app = next(v for v in variants.values() if v["component"]["id"] == "app")
    assert app["type"] == "component" and app["component"]["contributes"] is True
    missing = h.api(project, f"/api/0/projects/acme/web/events/{'0' * 32}/grouping-info/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Event not found"}


def test_fingerprint_rules_merge_and_title(h: Harness, project: Project) -> None:
    rules = 'error.type:ValueError -> value-errors title="All value errors"\n'
    r = put_project(h, project, {"fingerprintingRules": rules})
    assert r.status_code == 200, r.text
    assert r.json()["fingerprintingRules"] == rules
    a = send(h, project, frames_event("one"))
    b = send(h, project, frames_event("two"))
    c = send(h, project, frames_event("three", error="KeyError"))
    assert a["groupID"] == b["groupID"] != c["groupID"]
    assert a["title"] == "All value errors"
    issue = h.api(project, f"/api/0/issues/{a['groupID']}/").json()
    assert issue["title"] == "All value errors" and issue["metadata"]["title"] == "All value errors"
    info = h.api(project, f"/api/0/projects/acme/web/events/{a['eventID']}/grouping-info/").json()
    custom = info["variants"]["custom_fingerprint"]
    assert custom["contributes"] and custom["values"] == ["value-errors"]
    assert "ValueError" in custom["matched_rule"]
    assert "client_values" not in custom  # the client sent the default fingerprint
    assert not custom.get("hashMismatch")
    # A stored event shows what its rules decided when it came in, as in Sentry: editing or
    # deleting the rules later does not change it.
    for later in ("error.type:ValueError -> other-fp\n", ""):
        assert put_project(h, project, {"fingerprintingRules": later}).status_code == 200
        again = h.api(project, f"/api/0/projects/acme/web/events/{a['eventID']}/grouping-info/").json()
        assert again == info


def test_stack_trace_rules_change_the_app_hash(h: Harness, project: Project) -> None:
    a = send(h, project, frames_event("one"))
    assert put_project(h, project, {"groupingEnhancements": "function:one -group\n"}).status_code == 200
    b = send(h, project, frames_event("one"))
    assert a["groupID"] != b["groupID"]  # the in-app frame no longer contributes
    assert b["groupingConfig"]["enhancements"] == "function:one -group\n"
    info = h.api(project, f"/api/0/projects/acme/web/events/{b['eventID']}/grouping-info/").json()
    assert all(not v["hashMismatch"] for v in info["variants"].values())


def test_invalid_rules_are_400s(h: Harness, project: Project) -> None:
    r = put_project(
        h, project, {"groupingEnhancements": "function:foo +nonsense", "fingerprintingRules": "x ->"}
    )
    assert r.status_code == 400
    assert set(r.json()) == {"groupingEnhancements", "fingerprintingRules"}
    assert all(isinstance(m, list) and m for m in r.json().values())
    r = put_project(h, project, {"groupingConfig": "newstyle:1999-01-01"})
    assert r.json() == {"groupingConfig": ['"newstyle:1999-01-01" is not a valid choice.']}
    assert put_project(h, project, {"resolveAge": -1}).status_code == 400


def test_config_transition_keeps_existing_issues(h: Harness, project: Project, store: Store) -> None:
    with store.write() as conn:  # a project from before Sentry's grouping
        conn.execute(t.projects.update().values(grouping_config=LEGACY_CONFIG_ID))
    old = send(h, project, frames_event("main"))
    assert old["groupingConfig"]["id"] == LEGACY_CONFIG_ID
    r = put_project(h, project, {"groupingConfig": DEFAULT_CONFIG_ID})
    assert r.status_code == 200
    assert r.json()["secondaryGroupingConfig"] == LEGACY_CONFIG_ID
    new = send(h, project, frames_event("main"))
    assert new["groupingConfig"]["id"] == DEFAULT_CONFIG_ID
    assert new["groupID"] == old["groupID"]  # found through the old config's hash
    with store.read() as conn:
        configs = conn.execute(sa.select(t.group_hashes.c.grouping_config)).scalars().all()
    assert sorted(configs) == [LEGACY_CONFIG_ID, *[DEFAULT_CONFIG_ID] * 2]  # the new hashes are aliases
    other = send(h, project, frames_event("elsewhere"))
    assert other["groupID"] != old["groupID"]
    info = h.api(project, f"/api/0/projects/acme/web/events/{old['eventID']}/grouping-info/").json()
    assert info["grouping_config"] == LEGACY_CONFIG_ID


def test_grouping_info_cli(tmp_path: Path) -> None:
    event = {"message": "Order 1234 failed", "platform": "python"}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = CliRunner().invoke(cli, ["grouping-info", str(path)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["grouping_config"] == DEFAULT_CONFIG_ID
    (variant,) = info["variants"].values()
    assert variant["contributes"] and variant["component"]["id"] == "default"
    assert "Order <int> failed" in json.dumps(variant["component"])
    rules = tmp_path / "rules.txt"
    rules.write_text('message:"Order*" -> orders\n')
    stdin = CliRunner().invoke(
        cli, ["grouping-info", "--fingerprinting", str(rules), "-"], input=json.dumps(event)
    )
    assert stdin.exit_code == 0, stdin.output
    assert json.loads(stdin.output)["variants"]["custom_fingerprint"]["values"] == ["orders"]
    bad = CliRunner().invoke(cli, ["grouping-info", "--config", "nope", str(path)])
    assert bad.exit_code == 2 and "unknown config" in bad.output
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    assert CliRunner().invoke(cli, ["grouping-info", str(not_json)]).exit_code == 1
