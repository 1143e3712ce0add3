"""`group()`: strategies and their precedence, exception groups, the grouping-info shape, the
config registry, and what happens to the input event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bughound.grouping.component import hash_values
from bughound.grouping.engine import (
    CONFIGS,
    DEFAULT_CONFIG_ID,
    UnknownConfig,
    group,
    known_config_ids,
)
from bughound.grouping.strategies import REACT_ERRORS_WITH_CAUSE
from tests.unit.grouping.helpers import (
    clear_caches,
    exception_event,
    find,
    find_all,
    grouped,
    normalized,
    tree,
)

PYTHON = exception_event(
    "python",
    {
        "module": "django.core",
        "function": "get_response",
        "filename": "django/core.py",
        "context_line": "x()",
    },
    {
        "module": "app.views",
        "function": "index",
        "filename": "app/views.py",
        "context_line": "raise E",
        "in_app": True,
    },
    type="ValueError",
    value="bad 123",
)


def test_registry() -> None:
    assert DEFAULT_CONFIG_ID == "newstyle:2023-01-11"
    assert DEFAULT_CONFIG_ID in CONFIGS
    assert known_config_ids() == sorted(CONFIGS)
    with pytest.raises(UnknownConfig) as info:
        group(normalized(PYTHON), "newstyle:1999-01-01")
    assert isinstance(info.value, LookupError)
    assert "newstyle:1999-01-01" in str(info.value)


def test_exception_with_in_app_frames() -> None:
    g = grouped(PYTHON)
    assert g.config_id == DEFAULT_CONFIG_ID
    assert list(g.variants) == ["app", "system"]
    assert g.hashes == [g.variants["app"].hash, g.variants["system"].hash]
    app = tree(g, "app")
    assert find(app, "type")["values"] == ["ValueError"]
    assert find(app, "value") == {
        "id": "value",
        "name": None,
        "contributes": False,
        "hint": "ignored because stacktrace takes precedence",
        "values": ["bad <int>"],
    }


def test_hash_is_md5_of_the_contributing_values_in_legacy_order() -> None:
    """newstyle:2023-01-11 hashes an exception's stack trace before its type."""
    g = grouped(PYTHON)
    assert g.variants["app"].hash == hash_values(["app.views", "index", "raise E", "ValueError"])
    assert g.variants["system"].hash == hash_values(
        ["django.core", "get_response", "x()", "app.views", "index", "raise E", "ValueError"]
    )


def test_grouping_info_shape() -> None:
    info = grouped(PYTHON).grouping_info()
    assert info["grouping_config"] == DEFAULT_CONFIG_ID
    assert list(info["variants"]) == ["app_exception_stacktrace", "system_exception_stacktrace"]
    app = info["variants"]["app_exception_stacktrace"]
    assert set(app) == {"type", "key", "description", "hash", "hint", "contributes", "component"}
    assert app["type"] == "component"
    assert app["description"] == "exception stacktrace \u2014 in-app frames"
    assert app["component"]["id"] == "app"
    assert app["component"]["name"] == "in-app"
    exception = app["component"]["values"][0]
    # Listed type, value, stack trace whatever the hashing order
    assert [c["id"] for c in exception["values"]] == ["type", "value", "stacktrace"]


def test_grouping_info_options() -> None:
    g = grouped(PYTHON)
    mismatch = g.grouping_info(stored_hashes=[g.hashes[0]])["variants"]
    assert mismatch["app_exception_stacktrace"]["hashMismatch"] is False
    assert mismatch["system_exception_stacktrace"]["hashMismatch"] is True
    reversed_info = g.grouping_info(reverse_stacktraces=True)["variants"]["system_exception_stacktrace"]
    functions = [find(f, "function")["values"][0] for f in find_all(reversed_info["component"], "frame")]
    assert functions == ["index", "get_response"]
    by_name = g.variants_by_name()
    assert set(by_name) == {"app", "system"}
    assert by_name["app"]["key"] == "app_exception_stacktrace"


def test_input_event_is_not_modified() -> None:
    event = normalized(PYTHON)
    before = copy.deepcopy(event)
    g = group(event)
    assert event == before
    frames = g.event["exception"]["values"][0]["stacktrace"]["frames"]
    assert [f["in_app"] for f in frames] == [False, True]
    assert g.event["fingerprint"] == ["{{ default }}"]


def test_message_strategy_prefers_the_logentry_template() -> None:
    a = grouped({"logentry": {"message": "Failed %s", "params": ["x"], "formatted": "Failed x"}})
    b = grouped({"logentry": {"message": "Failed %s", "params": ["y"], "formatted": "Failed y"}})
    assert a.hashes == b.hashes == [hash_values(["Failed %s"])]
    assert list(a.variants) == ["default"]
    assert a.grouping_info()["variants"]["message"]["description"] == "message"


def test_message_is_parameterized() -> None:
    g = grouped({"message": "Failed for user 1234 at 2023-01-01T10:00:00"})
    component = find(tree(g, "default"), "message")
    assert component["values"] == ["Failed for user <int> at <date>"]
    assert component["hint"] == "stripped event-specific values"
    assert grouped({"message": "Failed for user 99 at 2024-02-02T01:02:03"}).hashes == g.hashes


def test_exception_value_groups_when_there_is_no_stack_trace() -> None:
    g = grouped({"platform": "python", "exception": {"values": [{"type": "KeyError", "value": "'id' 42"}]}})
    assert g.hashes == [hash_values(["KeyError", "'id' <int>"])]
    assert (
        grouped(
            {"platform": "python", "exception": {"values": [{"type": "KeyError", "value": "'id' 7"}]}}
        ).hashes
        == g.hashes
    )


def test_synthetic_exception_type_is_ignored() -> None:
    event = {
        "platform": "native",
        "exception": {
            "values": [{"type": "SIGSEGV", "value": "x", "mechanism": {"type": "signal", "synthetic": True}}]
        },
    }
    g = grouped(event)
    component = find(tree(g, "app"), "type")
    assert (component["contributes"], component["hint"]) == (False, "ignored because exception is synthetic")


def test_ns_error_groups_cocoa_errors() -> None:
    event = {
        "platform": "cocoa",
        "exception": {
            "values": [
                {
                    "type": "NSError",
                    "value": "x 123",
                    "mechanism": {
                        "type": "nserror",
                        "meta": {"ns_error": {"domain": "NSURLErrorDomain", "code": -1001}},
                    },
                }
            ]
        },
    }
    g = grouped(event)
    assert g.hashes == [hash_values(["NSError", "NSURLErrorDomain", -1001])]
    assert list(g.grouping_info()["variants"]) == ["app_ns_error"]
    assert find(tree(g, "app"), "value")["hint"] == "ignored because ns-error info takes precedence"


def test_chained_exceptions_hash_all_exceptions() -> None:
    event = {
        "platform": "python",
        "exception": {"values": [{"type": "KeyError", "value": "a"}, {"type": "ValueError", "value": "b"}]},
    }
    g = grouped(event)
    root = tree(g, "app")
    assert [c["id"] for c in root["values"]] == ["chained_exception"]
    assert g.hashes == [hash_values(["KeyError", "a", "ValueError", "b"])]


def _exc(type: str, eid: int, parent: int | None = None, group: bool = False) -> dict[str, Any]:
    mechanism: dict[str, Any] = {"type": "chained", "exception_id": eid, "is_exception_group": group}
    if parent is not None:
        mechanism["parent_id"] = parent
    return {"type": type, "value": type.lower(), "mechanism": mechanism}


def _types(event: list[dict[str, Any]]) -> tuple[list[str], Any]:
    g = grouped({"platform": "javascript", "exception": {"values": event}})
    return [c["values"][0] for c in find_all(tree(g, "app"), "type")], g.event.get("main_exception_id")


def test_exception_group_with_one_distinct_child_groups_as_that_child() -> None:
    types, main = _types(
        [_exc("AggregateError", 0, group=True), _exc("TypeError", 1, 0), _exc("TypeError", 2, 0)]
    )
    assert types == ["TypeError"]
    assert main == 2  # Sentry walks the children in reverse
    types, main = _types([_exc("AggregateError", 0, group=True), _exc("TypeError", 1, 0)])
    assert (types, main) == (["TypeError"], 1)


def test_exception_group_with_distinct_children_groups_on_them_and_the_group() -> None:
    types, main = _types(
        [_exc("AggregateError", 0, group=True), _exc("KeyError", 1, 0), _exc("TypeError", 2, 0)]
    )
    assert types == ["TypeError", "KeyError", "AggregateError"]
    assert main is None


def test_exception_group_with_broken_ids_keeps_everything() -> None:
    types, _ = _types(
        [_exc("AggregateError", 0, group=True), _exc("TypeError", 0, 0), _exc("KeyError", 2, 0)]
    )
    assert types == ["AggregateError", "TypeError", "KeyError"]


def test_threads_strategy() -> None:
    frame = {"function": "f", "module": "m"}
    event = {
        "platform": "python",
        "threads": {"values": [{"id": 1, "crashed": True, "stacktrace": {"frames": [frame]}}]},
    }
    g = grouped(event)
    assert list(g.grouping_info()["variants"]) == ["app_thread_stacktrace", "system_thread_stacktrace"]
    assert g.hashes == [hash_values(["m", "f"])]


def test_stacktrace_beats_message() -> None:
    event = {
        "platform": "python",
        "message": "hello",
        "stacktrace": {"frames": [{"function": "f", "module": "m", "in_app": True}]},
    }
    g = grouped(event)
    assert g.hashes[0] == hash_values(["m", "f"])
    assert "default" not in g.variants or not g.variants["default"].contributes


def test_template_strategy() -> None:
    event = {
        "platform": "python",
        "template": {"filename": "index.html", "context_line": "{{ x }}", "lineno": 3},
        "message": "x",
    }
    g = grouped(event)
    assert g.hashes == [hash_values(["index.html", "{{ x }}"])]
    message = find(tree(g, "default"), "message")
    assert (message["contributes"], message["hint"]) == (False, "ignored because template takes precedence")


def test_csp_strategy() -> None:
    event = {
        "platform": "javascript",
        "csp": {
            "effective_directive": "script-src",
            "blocked_uri": "https://evil.com/x.js",
            "document_uri": "https://a.com/",
        },
    }
    g = grouped(event)
    assert g.hashes == [hash_values(["script-src", "evil.com"])]
    info = g.grouping_info()["variants"]["csp_url"]
    assert info["description"] == "directive and URL"
    assert find(info["component"], "salt")["hint"] == "a static salt"


def test_fallback_for_an_empty_event() -> None:
    assert grouped({}).hashes == [hash_values([])]


def test_returned_event_keeps_grouping_changes_for_title_and_culprit() -> None:
    event = exception_event(
        "javascript", {"abs_path": "/srv/app/main.js", "filename": "app/main.js?x=1", "function": "g"}
    )
    g = grouped(event, project_enhancements="function:g +app")
    frame = g.event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["in_app"] is True
    assert frame["filename"] == "app/main.js"
    assert frame["data"]["orig_in_app"] == -1


def _with_stack(exception: dict[str, Any], value: str) -> dict[str, Any]:
    frames = [{"function": "handler", "filename": "app.js", "in_app": True}]
    return {**exception, "value": value, "stacktrace": {"frames": frames}}


def test_hashes_only_never_shares_variants_across_exception_groups_with_other_values() -> None:
    """Exception groups compare their children whole, values included: children equal but for
    their values are one child or two, although no value contributes to a hash."""

    def event(second_value: str) -> dict[str, Any]:
        children = [
            _exc("AggregateError", 0, group=True),
            _with_stack(_exc("TypeError", 1, 0), "x is undefined"),
            _with_stack(_exc("TypeError", 2, 0), second_value),
        ]
        return {"platform": "javascript", "exception": {"values": children}}

    clear_caches()
    same, different = grouped(event("x is undefined")), grouped(event("y is undefined"))
    assert same.hashes != different.hashes  # the case this guards
    clear_caches()
    grouped(event("x is undefined"), hashes_only=True)
    result = grouped(event("y is undefined"), hashes_only=True)
    assert result.hashes == different.hashes
    assert result.event.get("main_exception_id") == different.event.get("main_exception_id")


def test_hashes_only_never_shares_the_main_exception_of_react_recoverable_errors() -> None:
    def event(value: str) -> dict[str, Any]:
        cause_mechanism = {"source": "cause", "exception_id": 1, "parent_id": 0}
        cause = _with_stack({"type": "TypeError", "mechanism": cause_mechanism}, "boom")
        first = _with_stack({"type": "Error", "mechanism": {"exception_id": 0}}, value)
        return {"platform": "javascript", "exception": {"values": [first, cause]}}

    recoverable = REACT_ERRORS_WITH_CAUSE[0]
    clear_caches()
    fresh = grouped(event(recoverable))
    assert fresh.event.get("main_exception_id") == 1  # the case this guards
    clear_caches()
    grouped(event("Something else went wrong"), hashes_only=True)
    result = grouped(event(recoverable), hashes_only=True)
    assert result.event.get("main_exception_id") == 1
    assert result.hashes == fresh.hashes
