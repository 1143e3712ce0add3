"""Grouping and the issue lifecycle with the real SDKs, unchanged, against a real server process:
the same error twice is one issue, different errors are different issues, a custom fingerprint
merges errors, and a resolved issue that happens again is regressed."""

from __future__ import annotations

from typing import Any

import httpx

from tests.acceptance.server import Server
from tests.acceptance.test_sdks import needs_node, run_node, run_python

PYTHON_ERRORS = """
import json, os, sys
import sentry_sdk

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@1.0.0")

def charge_card(amount):
    raise ValueError(f"amount out of range: {amount}")

def load_profile(user_id):
    raise KeyError(f"profile {user_id}")

def capture(fn, *args):
    try:
        fn(*args)
    except Exception:
        return sentry_sdk.capture_exception()

ids = {}
if sys.argv[1:] == ["again"]:
    ids["again"] = capture(charge_card, 5)
else:
    ids["first"] = capture(charge_card, 10)
    ids["second"] = capture(charge_card, 20)
    ids["other"] = capture(load_profile, 7)
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["checkout-failures"]
        ids["fingerprint_a"] = capture(charge_card, 30)
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["checkout-failures"]
        ids["fingerprint_b"] = capture(load_profile, 8)
sentry_sdk.flush(10)
print(json.dumps(ids))
"""


def issue(server: Server, group_id: str) -> dict[str, Any]:
    r = server.api(f"/api/0/organizations/acme/issues/{group_id}/")
    assert r.status_code == 200, r.text
    return dict(r.json())


def resolve(server: Server, group_id: str) -> None:
    r = httpx.put(
        f"{server.url}/api/0/organizations/acme/issues/{group_id}/",
        json={"status": "resolved"},
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved"


def check_lifecycle(server: Server, ids: dict[str, str], send_again: Any) -> None:
    events = {name: server.wait_for_event(event_id) for name, event_id in ids.items()}
    first = events["first"]["groupID"]
    assert events["second"]["groupID"] == first  # the same error from the same code: one issue
    assert events["other"]["groupID"] != first  # a different error: another issue
    assert events["fingerprint_a"]["groupID"] == events["fingerprint_b"]["groupID"]  # merged
    assert events["fingerprint_a"]["groupID"] not in (first, events["other"]["groupID"])
    assert events["fingerprint_a"]["fingerprints"] != events["first"]["fingerprints"]
    data = issue(server, first)
    assert (data["count"], data["status"], data["substatus"]) == ("2", "unresolved", "new")
    assert issue(server, events["fingerprint_a"]["groupID"])["count"] == "2"

    resolve(server, first)
    again = server.wait_for_event(send_again()["again"])
    assert again["groupID"] == first
    data = issue(server, first)
    assert (data["count"], data["status"], data["substatus"]) == ("3", "unresolved", "regressed")
    assert [a["type"] for a in data["activity"][:2]] == ["set_regression", "set_resolved"]
    assert data["activity"][0]["data"]["event_id"] == again["eventID"]


def test_python_sdk_grouping_and_regression(server: Server) -> None:
    ids = run_python(server, PYTHON_ERRORS.replace("sys.argv[1:]", "[]"))
    check_lifecycle(
        server, ids, lambda: run_python(server, PYTHON_ERRORS.replace("sys.argv[1:]", '["again"]'))
    )


@needs_node
def test_node_sdk_grouping_and_regression(server: Server) -> None:
    check_lifecycle(
        server, run_node(server, "grouping.js", "first"), lambda: run_node(server, "grouping.js", "again")
    )
