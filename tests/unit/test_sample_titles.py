"""The captured SDK events get the titles, culprits and metadata Sentry gives them.

Expected values follow Sentry's event types (`eventtypes/error.py`, `eventtypes/base.py`,
`culprit.py`; GROUPING.md §10): exception title `Type: value`; message title the formatted
message; a synthetic exception (captureMessage with a stack trace) has no type, so its title is
the crash frame's function; culprit `module in function` (Python), `function(module)` (JS), the
transaction when set, else empty. Hashes are pinned where the reference computed them (§11).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bughound.digest.normalize import Context, normalize_event
from bughound.grouping import calculate, in_app_frame_mix
from tests.conftest import shared_path

# sample -> (title, culprit, metadata type or None (synthetic), hash or None)
EXPECTED: dict[str, tuple[str, str, str | None, str | None]] = {
    "01_python_chained_exception": (
        "RuntimeError: could not load config /etc/app.cfg",
        "__main__ in load_config",
        "RuntimeError",
        "ab401e5326f39d6951452e94a0443c20",
    ),
    "02_python_implicit_chain_keyerror": (
        "AttributeError: 'NoneType' object has no attribute 'foo'",
        "__main__ in <module>",
        "AttributeError",
        None,
    ),
    "03_python_message": (
        "Payment gateway timeout for order 8812",
        "",
        None,
        "4ef0ae867b68d711113826dc5796d3de",
    ),
    "04_python_logging_logentry_params": (
        "Failed to charge customer cus_123 amount 4200",
        "",
        None,
        "460596796fb65963bf81996694693071",
    ),
    "05_python_logging_exception": (
        "ZeroDivisionError: division by zero",
        "__main__ in <module>",
        "ZeroDivisionError",
        None,
    ),
    "06_python_rich_context_fingerprint": (
        "KeyError: 'sku-991'",
        "__main__ in <module>",
        "KeyError",
        "0a154270c55a564e95b49f9eaca0841f",
    ),
    "08_python_error_with_trace": (
        "ZeroDivisionError: division by zero",
        "GET /orders/{id}",
        "ZeroDivisionError",
        None,
    ),
    "20_node_chained_error_cause": ("Error: could not load config", "ConfigLoader.load(app)", "Error", None),
    "21_node_typeerror_anonymous_fn": (
        "TypeError: Cannot read properties of null (reading 'foo')",
        "?(app)",
        "TypeError",
        None,
    ),
    "22_node_message_synthetic_exception": ("main", "", None, None),
    "23_node_unhandled_fatal": (
        "ReferenceError: undefinedFunctionCall is not defined",
        "Timeout._onTimeout(app)",
        "ReferenceError",
        None,
    ),
    "26_browser_error_url_frames": (
        "TypeError: Cannot read properties of undefined (reading 'toFixed')",
        "eval(/static/js/main.4f3a2c1b.js)",
        "TypeError",
        "a3f51d98a85ab571d9735764dd8f1458",
    ),
    "27_browser_message": ("main", "", None, None),
}


def _event(name: str) -> dict[str, Any]:
    folder = shared_path("sdk-samples", name)
    for header in sorted((folder / "items").glob("*.header.json")):
        if json.loads(header.read_text())["type"] == "event":
            payload = json.loads(header.with_name(header.name.replace(".header", "")).read_text())
            return normalize_event(payload, Context(received=time.time(), project_id=1, key_id=1))
    raise AssertionError(f"{name} has no event item")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_title_culprit_and_metadata(name: str) -> None:
    title, culprit, error_type, expected_hash = EXPECTED[name]
    grouping = calculate(_event(name))
    assert grouping.title == title
    assert grouping.culprit == culprit
    assert grouping.metadata.get("type") == error_type
    if error_type is None and "title" not in grouping.metadata:  # synthetic exception: value kept
        assert grouping.metadata["value"]
    if expected_hash is not None:
        assert grouping.hashes[0] == expected_hash


@pytest.mark.parametrize(
    ("flags", "mix"),
    [
        ([[True, True]], "in-app-only"),
        ([[False]], "system-only"),
        ([[True, False]], "mixed"),
        ([[True], [False]], "mixed"),  # over all stack traces
        ([[None]], "system-only"),  # in_app unset counts as system
        ([], None),
    ],
)
def test_in_app_frame_mix(flags: list[list[bool | None]], mix: str | None) -> None:
    event = {
        "exception": {
            "values": [
                {"type": "E", "stacktrace": {"frames": [{"function": "f", "in_app": f} for f in frames]}}
                for frames in flags
            ]
        }
    }
    assert in_app_frame_mix(event) == mix
    assert calculate(event).metadata.get("in_app_frame_mix") == mix


def test_grouping_info_survives_stored_rules_that_no_longer_parse() -> None:
    from bughound.grouping import grouping_info
    from bughound.grouping.settings import ProjectGrouping

    event = calculate({"message": "hello", "platform": "python"}).event
    event["grouping_config"] = {"id": "newstyle:2099-01-01", "enhancements": "this is not a rule"}
    info = grouping_info(event, ProjectGrouping())
    assert info["grouping_config"] == "newstyle:2023-01-11"
    assert any(v["contributes"] for v in info["variants"].values())
