"""Our responses validate against Sentry's official OpenAPI spec (../shared/sentry-openapi.json)."""

from __future__ import annotations

import functools
import json
from typing import Any

from openapi_schema_validator import OAS30Validator

from bughound.storage.store import Store
from tests.conftest import shared_path
from tests.factories import Harness, make_project
from tests.integration.test_samples import replay, sample_dirs


@functools.cache
def _spec() -> dict[str, Any]:
    return json.loads(shared_path("sentry-openapi.json").read_text())  # type: ignore[no-any-return]


def response_schema(operation_id: str) -> dict[str, Any]:
    for operations in _spec()["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation["responses"]["200"]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]
    raise LookupError(operation_id)


# Sentry's code (handle_ignored and the group serializer's _get_status) sends all five condition
# fields of an ignore, nulls included; its spec types them as non-nullable. Bughound follows the
# code: the nulls are left out before validating.
IGNORE_FIELDS = ("ignoreCount", "ignoreUntil", "ignoreUserCount", "ignoreUserWindow", "ignoreWindow")


def _without_null_ignore_fields(body: Any) -> Any:
    if isinstance(body, list):
        return [_without_null_ignore_fields(item) for item in body]
    if not isinstance(body, dict):
        return body
    out = {key: _without_null_ignore_fields(value) for key, value in body.items()}
    details = out.get("statusDetails")
    if isinstance(details, dict):
        out["statusDetails"] = {k: v for k, v in details.items() if not (k in IGNORE_FIELDS and v is None)}
    return out


def validate(operation_id: str, body: Any) -> None:
    body = _without_null_ignore_fields(body)
    errors = sorted(OAS30Validator(response_schema(operation_id)).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])


def test_events_of_every_sample_match_the_spec(h: Harness, store: Store) -> None:
    project = make_project(store)
    for name in sample_dirs():
        replay(h, project, shared_path("sdk-samples", name))
    h.digest()
    listing = h.api(project, "/api/0/projects/acme/web/events/")
    assert listing.status_code == 200
    assert len(listing.json()) >= 10
    validate("listProjectEvents", listing.json())
    for event in listing.json():
        detail = h.api(project, f"/api/0/projects/acme/web/events/{event['eventID']}/")
        validate("getProjectEvent", detail.json())


def test_issue_project_and_hashes_match_the_spec(h: Harness, store: Store) -> None:
    project = make_project(store)
    for name in sample_dirs():
        replay(h, project, shared_path("sdk-samples", name))
    h.digest()
    auth = {"Authorization": f"Bearer {project.token}"}
    listing = h.api(project, "/api/0/projects/acme/web/events/").json()
    group_ids = sorted({event["groupID"] for event in listing if event["groupID"]})
    assert len(group_ids) >= 5
    for group_id in group_ids:
        validate(
            "getOrganizationIssue", h.api(project, f"/api/0/organizations/acme/issues/{group_id}/").json()
        )
        validate(
            "listOrganizationIssueHashes",
            h.api(project, f"/api/0/organizations/acme/issues/{group_id}/hashes/").json(),
        )
    first = group_ids[0]
    for body in (
        {"status": "resolved"},
        {"status": "ignored", "statusDetails": {"ignoreCount": 5}},
        {"status": "unresolved", "assignedTo": f"user:{project.user_id}"},
    ):
        updated = h.client.put(f"/api/0/organizations/acme/issues/{first}/", json=body, headers=auth)
        assert updated.status_code == 200, updated.text
        validate("updateOrganizationIssue", updated.json())
        bulk = h.client.put(f"/api/0/organizations/acme/issues/?id={first}", json=body, headers=auth)
        validate("updateOrganizationIssues", bulk.json())
    validate("getProject", h.api(project, "/api/0/projects/acme/web/").json())
    updated_project = h.client.put(
        "/api/0/projects/acme/web/", json={"fingerprintingRules": "type:X -> x"}, headers=auth
    )
    validate("updateProject", updated_project.json())
