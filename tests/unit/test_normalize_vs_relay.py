"""Normalization of levels, timestamps and tags, compared with Relay's own store normalizer (the
`sentry-relay` package): the values kept and the `errors` entries for what was refused."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from bughound.digest.normalize import Context, normalize_event

processing = pytest.importorskip(
    "sentry_relay.processing", reason="the sentry-relay package (test extra) is missing"
)

CASES: list[dict[str, Any]] = [
    *({"timestamp": value} for value in ("abc", 1e300, "2020-13-45", True, [1], "1700000000")),
    *({"timestamp": value} for value in ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5+01:00", None)),
    *({"level": value} for value in ("bogus", 5, "WARN", "warn", "critical", "", 3.5, "log", 40, 0)),
    *({"level": value} for value in (" error ", True, {"a": 1}, "warning", "fatal", None)),
    {"tags": [["a b", "v"]]},
    {"tags": [["k", ""]]},
    {"tags": [["", "v"]]},
    {"tags": {"a": 1, "b": None, "c": {"x": 1}}},
    {"tags": [["k", "v", "w"]]},
    {"tags": ["k"]},
    {"tags": [["é", "v"]]},
    {"tags": [["k", " v "]]},
    {"tags": [["bad key!", "v"], ["k", "a\nb"], ["ok", "fine"]]},
    {"tags": [None, ["x", "y"]]},
    {"tags": [["k", [1]]]},
]
FIELDS = ("timestamp", "level", "tags")


def _compared(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "errors": [e for e in event.get("errors") or [] if e["name"].split(".")[0] in FIELDS],
        "level": event.get("level"),
        # Relay keeps a refused key or value as null (and Sentry then drops the tag); we drop it.
        "tags": [tag for tag in event.get("tags") or [] if tag and None not in tag],
    }


@pytest.mark.parametrize("fields", CASES, ids=repr)
def test_refused_values_get_relays_errors(fields: dict[str, Any]) -> None:
    event = {"event_id": "a" * 32, "message": "x", **fields}
    relay = processing.StoreNormalizer(project_id=1).normalize_event(copy.deepcopy(event))
    ours = normalize_event(copy.deepcopy(event), Context(received=time.time(), project_id=1, key_id=1))
    assert _compared(ours) == _compared(relay)
