"""Ingestion end to end in-process (app + spool + worker + storage), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
import zlib
from typing import Any

import brotli
import pytest
import sqlalchemy as sa
import zstandard

from bughound.config import Settings
from bughound.storage import schema as t
from bughound.storage.store import Store
from tests.factories import Harness, Project, auth_header, envelope, error_event, harness, make_project


def outcomes(store: Store) -> dict[tuple[str, int, str], int]:
    with store.read() as conn:
        rows = conn.execute(sa.select(t.outcomes)).all()
    totals: dict[tuple[str, int, str], int] = {}
    for r in rows:
        key = (r.category, r.outcome, r.reason)
        totals[key] = totals.get(key, 0) + r.quantity
    return totals


def count(store: Store, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_event_is_acknowledged_stored_and_read_back(h: Harness, project: Project, store: Store) -> None:
    event = error_event(tags={"region": "eu"}, user={"id": "u1", "email": "a@b.c"})
    r = h.post_envelope(
        project, envelope(({"type": "event"}, event), headers={"event_id": event["event_id"]})
    )
    assert r.status_code == 200
    assert r.json() == {"id": event["event_id"]}
    assert r.headers["access-control-allow-origin"] == "*"
    assert h.digest() == 1

    detail = h.api(project, f"/api/0/projects/acme/web/events/{event['event_id']}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["eventID"] == event["event_id"]
    assert body["title"] == "ValueError: bad value"
    assert body["culprit"] == "app in main"
    assert body["entries"][0]["type"] == "exception"
    assert body["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0]["lineNo"] == 3
    tags = {tag["key"]: tag["value"] for tag in body["tags"]}
    assert tags["region"] == "eu"
    assert tags["level"] == "error"
    assert tags["user"] == "id:u1"
    assert body["user"]["email"] == "a@b.c"
    assert body["groupID"] is not None
    assert outcomes(store) == {("error", 0, ""): 1}

    listing = h.api(project, "/api/0/projects/acme/web/events/")
    assert [e["eventID"] for e in listing.json()] == [event["event_id"]]
    assert 'rel="next"; results="false"' in listing.headers["link"]


def test_the_envelopes_event_id_is_the_events(h: Harness, project: Project) -> None:
    # As in Relay: the id the client is answered with is the one the event is stored under, even
    # where the payload says otherwise or the envelope has none (ingestion then makes one).
    event = error_event()
    header_id = uuid.uuid4().hex
    r = h.post_envelope(project, envelope(({"type": "event"}, event), headers={"event_id": header_id}))
    unnamed = error_event()
    r2 = h.post_envelope(project, envelope(({"type": "event"}, unnamed), headers={}))
    h.digest()
    assert r.json() == {"id": header_id}
    assert h.api(project, f"/api/0/projects/acme/web/events/{header_id}/").json()["eventID"] == header_id
    assert h.api(project, f"/api/0/projects/acme/web/events/{event['event_id']}/").status_code == 404
    given = r2.json()["id"]
    assert given != unnamed["event_id"]
    assert h.api(project, f"/api/0/projects/acme/web/events/{given}/").status_code == 200


def test_same_envelope_twice_stores_one_event(h: Harness, project: Project, store: Store) -> None:
    event = error_event()
    body = envelope(({"type": "event"}, event), headers={"event_id": event["event_id"]})
    assert h.post_envelope(project, body).status_code == 200
    assert h.post_envelope(project, body).status_code == 200
    h.digest()
    assert h.post_envelope(project, body).status_code == 200
    h.digest()
    assert count(store, t.events) == 1
    with store.read() as conn:
        assert conn.execute(sa.select(t.groups.c.times_seen)).scalar_one() == 1
    assert outcomes(store) == {("error", 0, ""): 1}


def test_unknown_event_is_404_and_missing_token_401(h: Harness, project: Project) -> None:
    missing = h.api(project, f"/api/0/projects/acme/web/events/{uuid.uuid4().hex}/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Event not found"}
    assert h.client.get("/api/0/projects/acme/web/events/").status_code == 401
    bad = h.client.get(
        "/api/0/projects/acme/web/events/", headers={"Authorization": "Bearer sntryu_" + "0" * 64}
    )
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Invalid token"}
    assert h.api(project, "/api/0/projects/acme/nope/events/").json() == {
        "detail": "The requested resource does not exist"
    }


def test_token_without_scope_is_403(h: Harness, store: Store) -> None:
    project = make_project(store, scopes=["org:read"])
    r = h.api(project, "/api/0/projects/acme/web/events/")
    assert r.status_code == 403
    assert r.json() == {"detail": "You do not have permission to perform this action."}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "identity"])
def test_content_encodings(h: Harness, project: Project, encoding: str) -> None:
    event = error_event()
    raw = envelope(({"type": "event"}, event), headers={"event_id": event["event_id"]})
    encoders = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
        "identity": lambda b: b,
    }
    r = h.post_envelope(project, encoders[encoding](raw), **{"Content-Encoding": encoding})
    assert r.status_code == 200, r.text
    assert h.digest() == 1


def test_every_auth_source(h: Harness, project: Project) -> None:
    key = project.public_key
    event = error_event()
    body = envelope(({"type": "event"}, event))
    path = f"/api/{project.id}/envelope/"
    by_query = h.client.post(f"{path}?sentry_version=7&sentry_key={key}&sentry_client=x%2F1", content=body)
    assert by_query.status_code == 200
    by_sentry_authorization = h.client.post(
        path, content=body, headers={"Authorization": f"Sentry sentry_key={key}"}
    )
    assert by_sentry_authorization.status_code == 200
    basic = base64.b64encode(f"{key}:".encode()).decode()
    assert h.client.post(path, content=body, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    dsn = f"http://{key}@testserver/{project.id}"
    by_dsn = h.client.post(path, content=envelope(({"type": "event"}, error_event()), headers={"dsn": dsn}))
    assert by_dsn.status_code == 200
    prefixed = h.client.post(
        f"/some/prefix/api/{project.id}/envelope/", content=body, headers=auth_header(key)
    )
    assert prefixed.status_code == 200
    assert h.digest() == 5


def test_auth_errors(h: Harness, project: Project) -> None:
    body = envelope(({"type": "event"}, error_event()))
    path = f"/api/{project.id}/envelope/"
    assert h.client.post(path, content=body).status_code == 401
    wrong = h.client.post(path, content=body, headers=auth_header(uuid.uuid4().hex))
    assert wrong.status_code == 403
    assert "detail" in wrong.json()
    other_project = h.client.post(
        f"/api/{project.id + 1}/envelope/", content=body, headers=auth_header(project.public_key)
    )
    assert other_project.status_code == 403
    both = h.client.post(
        f"{path}?sentry_key={project.public_key}", content=body, headers=auth_header(project.public_key)
    )
    assert both.status_code == 401
    mismatch = envelope(
        ({"type": "event"}, error_event()), headers={"dsn": f"http://{uuid.uuid4().hex}@x/{project.id}"}
    )
    assert h.client.post(path, content=mismatch, headers=auth_header(project.public_key)).status_code == 400


def test_malformed_public_key_is_400_without_outcome(h: Harness, project: Project, store: Store) -> None:
    body = envelope(({"type": "event"}, error_event()))
    for path in (f"/api/{project.id}/envelope/", f"/api/{project.id}/store/"):
        r = h.client.post(f"{path}?sentry_key=abc&sentry_version=7", content=body)
        assert r.status_code == 400
        assert r.json() == {"detail": "bad sentry DSN public key"}
        assert r.headers["x-sentry-error"] == "bad sentry DSN public key"
    # A well-formed key that is not known is still the 403 of an unknown project.
    unknown = h.client.post(f"/api/{project.id}/envelope/?sentry_key={'z' * 32}", content=body)
    assert unknown.status_code == 403
    h.digest()
    assert outcomes(store) == {}


def test_disabled_key_is_403(h: Harness, project: Project, store: Store) -> None:
    with store.write() as conn:
        store.update_project_key(conn, project.public_key, is_active=False)
    r = h.post_envelope(project, envelope(({"type": "event"}, error_event())))
    assert r.status_code == 403


def test_bad_input_never_500(h: Harness, project: Project, store: Store) -> None:
    raw = envelope(({"type": "event"}, error_event()))
    truncated = gzip.compress(raw)[:-12]
    r = h.post_envelope(project, truncated, **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert r.json() == {"detail": "invalid compression format"}

    bomb = gzip.compress(b"{}\n" + b" " * (h.settings.max_envelope_size + 10))
    assert len(bomb) < 1024 * 1024
    r = h.post_envelope(project, bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413

    assert h.post_envelope(project, b"").status_code == 400
    assert h.post_envelope(project, b"not json\n").status_code == 400
    assert h.post_envelope(project, b'{}\n{"type":"event","length":500}\n{}').status_code == 400

    huge = envelope(({"type": "event"}, b"{" + b" " * (h.settings.max_event_size + 1) + b"}"))
    r = h.post_envelope(project, huge)
    assert r.status_code == 413
    assert "size limits" in r.json()["detail"]

    # A malformed event payload is accepted (Relay does not parse it on the request path) and
    # then counted as invalid.
    r = h.post_envelope(
        project, b'{"event_id":"' + uuid.uuid4().hex.encode() + b'"}\n{"type":"event"}\n{not json'
    )
    assert r.status_code == 200
    deep = b"[" * 200 + b"]" * 200
    assert (
        h.post_envelope(project, envelope(({"type": "event"}, b'{"extra":' + deep + b"}"))).status_code == 200
    )
    h.digest()
    got = outcomes(store)
    assert got[("error", 3, "invalid_json")] == 1
    assert got[("error", 3, "nesting_too_deep")] == 1
    assert got[("error", 3, "too_large:event")] == 1
    assert count(store, t.events) == 0


def test_items_with_and_without_length_and_unknown_types(h: Harness, project: Project, store: Store) -> None:
    event_id = uuid.uuid4().hex
    event = json.dumps(error_event(event_id=event_id)).encode()
    body = (
        b'{"event_id":"'
        + event_id.encode()
        + b'"}\n'
        + b'{"type":"event"}\n'
        + event
        + b"\n"
        + b'{"type":"attachment","length":0,"filename":"empty.txt"}\n\n'
        + b'{"type":"something_new","length":3}\nabc\n'
        + b'{"type":"attachment","filename":"a.txt"}\nhello'
    )
    r = h.post_envelope(project, body)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": event_id}
    h.digest()
    with store.read() as conn:
        names = sorted((a.name, a.size) for a in conn.execute(sa.select(t.attachments)))
    assert names == [("a.txt", 5), ("empty.txt", 0)]
    assert outcomes(store)[("attachment_item", 0, "")] == 2


def test_envelope_with_an_internal_item_is_400(h: Harness, project: Project, store: Store) -> None:
    event = error_event()
    body = envelope(
        ({"type": "event"}, event),
        ({"type": "integration", "content_type": "application/vnd.sentry.integration.otel.logs+json"}, b"{}"),
        headers={"event_id": event["event_id"]},
    )
    r = h.post_envelope(project, body)
    assert r.status_code == 400
    assert r.json() == {"detail": "envelope contains internal items"}
    store_path = f"/api/{project.id}/store/"
    as_store = h.client.post(
        store_path,
        content=body,
        headers={**auth_header(project.public_key), "Content-Type": "application/x-sentry-envelope"},
    )
    assert as_store.status_code == 400
    # Relay's other non-SDK item types are not internal: accepted (and ignored).
    for item_type in ("metric_buckets", "statsd"):
        assert h.post_envelope(project, envelope(({"type": item_type}, b"{}"))).status_code == 200
    assert h.digest() == 2  # the two accepted envelopes only
    assert count(store, t.events) == 0
    assert outcomes(store) == {}


def test_store_endpoint_and_legacy_encodings(h: Harness, project: Project, store: Store) -> None:
    event = error_event()
    r = h.client.post(
        f"/api/{project.id}/store/", content=json.dumps(event), headers=auth_header(project.public_key)
    )
    assert r.status_code == 200
    assert r.json() == {"id": event["event_id"]}
    legacy = base64.b64encode(zlib.compress(json.dumps(error_event()).encode()))
    assert (
        h.client.post(
            f"/api/{project.id}/store/", content=legacy, headers=auth_header(project.public_key)
        ).status_code
        == 200
    )
    r = h.client.post(
        f"/api/{project.id}/store/", content=b"{broken", headers=auth_header(project.public_key)
    )
    assert r.status_code == 400
    assert h.digest() == 2
    assert count(store, t.events) == 2


def test_store_repairs_nan_and_infinity_for_old_python_clients(
    h: Harness, project: Project, store: Store
) -> None:
    event = error_event(extra={"ratio": "__NAN__", "top": "__INF__", "bottom": "__NEGINF__", "s": "NaN"})
    text = json.dumps(event)
    for marker, token in (('"__NAN__"', "NaN"), ('"__INF__"', "Infinity"), ('"__NEGINF__"', "-Infinity")):
        text = text.replace(marker, token)
    body = text.encode()
    path = f"/api/{project.id}/store/"

    def post(client: str, content: bytes = body) -> Any:
        return h.client.post(
            f"{path}?sentry_key={project.public_key}&sentry_client={client}", content=content
        )

    r = post("raven-python/6.0.0")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": event["event_id"]}
    # Other clients, the modern SDK among them, get no repair (as in Relay).
    for client in ("sentry.python/2.75.0", "raven-js/3.0"):
        r = post(client)
        assert r.status_code == 400
        assert r.json() == {"detail": "invalid event payload: invalid JSON"}
    assert post("sentry-python/0.9", b"{NaN").status_code == 400
    # GET /store/?sentry_data= goes the same way.
    other = error_event()
    text = json.dumps(other).replace('"level": "error"', '"level": "error", "extra": {"x": NaN}')
    gif = h.client.get(
        path,
        params={"sentry_key": project.public_key, "sentry_client": "sentry-python/0.9", "sentry_data": text},
    )
    assert gif.status_code == 200
    assert h.digest() == 2
    detail = h.api(project, f"/api/0/projects/acme/web/events/{event['event_id']}/").json()
    assert detail["context"] == {"ratio": 0, "top": 0, "bottom": 0, "s": "NaN"}
    assert count(store, t.events) == 2


def test_envelopes_get_no_nan_repair(h: Harness, project: Project, store: Store) -> None:
    # Relay repairs only the legacy store body; an envelope's event item is parsed later and is
    # invalid.
    event_id = uuid.uuid4().hex
    body = b'{"event_id":"' + event_id.encode() + b'"}\n{"type":"event"}\n{"extra":{"x":NaN}}\n'
    r = h.client.post(
        f"/api/{project.id}/envelope/?sentry_key={project.public_key}&sentry_client=raven-python/6.0.0",
        content=body,
    )
    assert r.status_code == 200
    h.digest()
    assert outcomes(store)[("error", 3, "invalid_json")] == 1


def test_cors_preflight_and_text_plain(h: Harness, project: Project) -> None:
    r = h.client.options(f"/api/{project.id}/envelope/", headers={"Origin": "https://shop.example.com"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-sentry-auth" in r.headers["access-control-allow-headers"]
    r = h.client.post(
        f"/api/{project.id}/envelope/?sentry_key={project.public_key}&sentry_version=7",
        content=envelope(({"type": "event"}, error_event(platform="javascript"))),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example.com"},
    )
    assert r.status_code == 200


def test_rate_limited_key_answers_429_and_counts_outcomes(h: Harness, store: Store) -> None:
    project = make_project(store, slug="limited")
    with store.write() as conn:
        store.update_project_key(conn, project.public_key, rate_limit_count=2, rate_limit_window=60)
    statuses = [
        h.post_envelope(project, envelope(({"type": "event"}, error_event()))).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    r = h.post_envelope(project, envelope(({"type": "event"}, error_event())))
    assert r.status_code == 429
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert (
        r.headers["x-sentry-rate-limits"]
        == f"{r.headers['retry-after']}:default;error;security:key:key_quota"
    )
    assert "detail" in r.json()
    # Sessions are not counted against the key quota.
    session = {"sid": uuid.uuid4().hex, "status": "ok", "init": True, "attrs": {"release": "r1"}}
    assert h.post_envelope(project, envelope(({"type": "session"}, session))).status_code == 200
    h.digest()
    got = outcomes(store)
    assert got[("error", 0, "")] == 2
    assert got[("error", 2, "key_quota")] == 3
    assert got[("session", 0, "")] == 1


@pytest.mark.postgres
def test_servers_sharing_postgres_share_the_rate_limit(h: Harness, store: Store, settings: Settings) -> None:
    """Several `serve` processes on one PostgreSQL admit the key's count between them (the
    counters are in the database), not the count each."""
    if settings.is_sqlite:
        pytest.skip("a SQLite deployment has one server, which counts in memory")
    project = make_project(store, slug="limited")
    with store.write() as conn:
        store.update_project_key(conn, project.public_key, rate_limit_count=5, rate_limit_window=3600)
    with harness(settings, store) as other:
        statuses = [
            server.post_envelope(project, envelope(({"type": "event"}, error_event()))).status_code
            for _ in range(4)
            for server in (h, other)
        ]
    assert statuses.count(200) == 5
    assert statuses[5:] == [429, 429, 429]
    with store.read() as conn:
        assert conn.execute(sa.select(t.rate_limit_windows.c.used)).scalar_one() == 5


def test_client_reports_sessions_and_other_items_count_outcomes(
    h: Harness, project: Project, store: Store
) -> None:
    report = {
        "timestamp": time.time(),
        "discarded_events": [{"reason": "before_send", "category": "error", "quantity": 3}],
        "rate_limited_events": [{"reason": "backpressure", "category": "transaction", "quantity": 2}],
    }
    items = [
        ({"type": "client_report"}, report),
        (
            {"type": "sessions"},
            {
                "attrs": {"release": "r"},
                "aggregates": [{"started": "2026-01-01T00:00:00Z", "exited": 4, "errored": 1}],
            },
        ),
        ({"type": "check_in"}, {"check_in_id": uuid.uuid4().hex, "monitor_slug": "m", "status": "ok"}),
        (
            {"type": "log", "item_count": 2, "content_type": "application/vnd.sentry.items.log+json"},
            {"version": 2, "items": [{}, {}]},
        ),
        ({"type": "span", "item_count": 3}, {"version": 2, "items": [{}, {}, {}]}),
        ({"type": "profile"}, {"version": "1"}),
        (
            {"type": "user_report"},
            {"event_id": uuid.uuid4().hex, "name": "Jane", "email": "j@x.y", "comments": "broke"},
        ),
    ]
    r = h.post_envelope(project, envelope(*items))
    assert r.status_code == 200
    assert r.json() == {}
    h.digest()
    got = outcomes(store)
    assert got[("error", 5, "before_send")] == 3
    assert got[("transaction", 2, "backpressure")] == 2
    assert got[("session", 0, "")] == 5
    assert got[("monitor", 0, "")] == 1
    assert got[("log_item", 0, "")] == 2
    assert got[("span", 0, "")] == 3
    assert got[("profile", 0, "")] == 1
    assert count(store, t.user_reports) == 1


def test_transaction_and_message_events(h: Harness, project: Project, store: Store) -> None:
    now = time.time()
    transaction = {
        "type": "transaction",
        "transaction": "/checkout",
        "start_timestamp": now - 1,
        "timestamp": now,
        "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": "a" * 16, "op": "http.server"}},
        "spans": [],
    }
    message = {"message": "disk %s full", "level": "warning"}
    assert h.post_envelope(project, envelope(({"type": "transaction"}, transaction))).status_code == 200
    assert h.post_envelope(project, envelope(({"type": "event"}, message))).status_code == 200
    h.digest()
    with store.read() as conn:
        rows = {r.type: r for r in conn.execute(sa.select(t.events))}
    assert rows["transaction"].group_id is None
    assert rows["default"].title == "disk %s full"
    assert rows["default"].level == "warning"
    got = outcomes(store)
    assert got[("transaction", 0, "")] == 1
    assert got[("error", 0, "")] == 1


def test_pii_is_scrubbed_before_storage(h: Harness, project: Project) -> None:
    event = error_event(
        extra={"password": "hunter2", "note": "card 4111 1111 1111 1111"},
        request={
            "url": "https://x.test/a?b=1",
            "headers": {"Authorization": "Bearer abc", "Cookie": "sessionid=s3cr"},
        },
    )
    h.post_envelope(project, envelope(({"type": "event"}, event)))
    h.digest()
    body = h.api(project, f"/api/0/projects/acme/web/events/{event['event_id']}/").json()
    assert body["context"]["password"] == "[Filtered]"
    assert body["context"]["note"] == "card [Filtered]"
    request = next(e for e in body["entries"] if e["type"] == "request")["data"]
    assert dict(request["headers"])["Authorization"] == "[Filtered]"
    assert dict(request["cookies"])["sessionid"] == "[Filtered]"
    assert request["query"] == [["b", "1"]]


def test_pagination_with_cursor(h: Harness, project: Project) -> None:
    ids = []
    base = time.time() - 100
    for i in range(5):
        event = error_event(timestamp=base + i)
        ids.append(event["event_id"])
        h.post_envelope(project, envelope(({"type": "event"}, event)))
    h.digest()
    seen = []
    url = "/api/0/projects/acme/web/events/?per_page=2"
    for _ in range(5):
        r = h.api(project, url)
        seen += [e["eventID"] for e in r.json()]
        link = r.headers["link"]
        nxt = link.split(", ")[1]
        if 'results="false"' in nxt:
            break
        cursor = nxt.split('cursor="')[1].rstrip('"')
        url = f"/api/0/projects/acme/web/events/?per_page=2&cursor={cursor}"
    assert seen == list(reversed(ids))
    assert h.api(project, "/api/0/projects/acme/web/events/?per_page=500").status_code == 400
    assert h.api(project, "/api/0/projects/acme/web/events/?cursor=junk").json() == {
        "detail": "Invalid cursor parameter."
    }


def test_event_tags_are_a_column_and_promoted_tags_columns_too(
    h: Harness, project: Project, store: Store
) -> None:
    event = error_event(tags={"region": "eu"}, release="r@1", environment="prod", user={"id": "u1"})
    h.post_envelope(project, envelope(({"type": "event"}, event)))
    h.digest()
    with store.read() as conn:
        row = conn.execute(sa.select(t.events)).one()
        issue_tags = {(r.key, r.value) for r in conn.execute(sa.select(t.group_tag_values))}
    assert (row.level, row.release, row.environment, row.user_ident) == ("error", "r@1", "prod", "id:u1")
    stored = json.loads(h.api(project, f"/api/0/projects/acme/web/events/{event['event_id']}/").text)
    # the column holds exactly the event's tags (the API sorts them by key)
    assert sorted(json.loads(row.tags)) == sorted([tag["key"], tag["value"]] for tag in stored["tags"])
    assert ["region", "eu"] in json.loads(row.tags)
    assert {("region", "eu"), ("level", "error"), ("release", "r@1"), ("user", "id:u1")} <= issue_tags


def test_releases_and_environments_are_recorded_with_first_and_last_seen(
    h: Harness, project: Project, store: Store
) -> None:
    now = time.time()
    for offset in (-50, -10, -30):
        h.post_envelope(
            project,
            envelope(
                ({"type": "event"}, error_event(release="r@1", environment="prod", timestamp=now + offset))
            ),
        )
        h.digest()  # one batch each, so the rows are updated, not only inserted
    with store.read() as conn:
        release = conn.execute(sa.select(t.release_projects)).one()
        environment = conn.execute(sa.select(t.environment_projects)).one()
    for row in (release, environment):
        assert (round(row.first_seen), round(row.last_seen)) == (round(now - 50), round(now - 10))
