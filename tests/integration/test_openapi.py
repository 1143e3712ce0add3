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


def validate(operation_id: str, body: Any) -> None:
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
