"""Stack-trace rules: syntax, errors, and their effect on in_app, contributes and hints."""

from __future__ import annotations

from typing import Any

import pytest

from bughound.grouping.engine import validate_rules
from bughound.grouping.enhancement_rules import InvalidEnhancements, parse_rules
from bughound.grouping.enhancements import load_enhancements
from tests.unit.grouping.helpers import exception_event, find, frames, grouped, tree

BASE = "all-platforms:2023-01-11"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("function:foo +app", "function:foo +app"),
        ("[ function:a ] | function:b +app", "[ function:a ] | function:b +app"),
        ("function:b | [ function:c ] -group", "function:b | [ function:c ] -group"),
        ("!module:x* v-group ^+app", "!module:x* v-group ^+app"),
        ("family:native,javascript category=x", "family:native,javascript category=x"),
        ("app:yes -group", "app:yes -group"),
        ("error.type:ValueError function:f -group", "type:ValueError function:f -group"),
        ("stack.function:f stack.module:m max-frames=3", "function:f module:m max-frames=3"),
        ("function:f min-frames=2", "function:f min-frames=2"),
        ("function:f invert-stacktrace=1", "function:f invert-stacktrace=true"),
    ],
)
def test_rule_syntax(text: str, canonical: str) -> None:
    (rule,) = parse_rules(text)
    assert rule.text == canonical
    (again,) = parse_rules(rule.text)
    assert again.text == canonical


def test_quoted_patterns_comments_and_blank_lines() -> None:
    rules = parse_rules('# a comment\n\n  path:"**/a b/**" -app # trailing\nfunction:f +group\n')
    assert [r.text for r in rules] == ['path:"**/a b/**" -app', "function:f +group"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("function:foo", 'Invalid syntax near "function:foo" (line 1, column 1)'),
        ("function:foo +nope", 'Invalid syntax near "function:foo +nope" (line 1, column 1)'),
        ("foo:bar +app", "Unknown matcher 'foo'"),
        ("function:foo max-frames=x", "Invalid value 'x' for 'max-frames'"),
        ("function:a +app\nfunction:b", 'Invalid syntax near "function:b" (line 2, column 1)'),
    ],
)
def test_invalid_rules_raise_a_value_error_with_sentrys_message(text: str, message: str) -> None:
    with pytest.raises(InvalidEnhancements) as info:
        load_enhancements(BASE, text)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message
    assert validate_rules(enhancements=text) == message


def test_valid_rules_validate() -> None:
    assert validate_rules(enhancements="function:foo +app") is None
    assert validate_rules(enhancements="") is None


def test_rule_sets_are_cached_by_text() -> None:
    assert load_enhancements(BASE, "function:f +app") is load_enhancements(BASE, "function:f +app")
    assert load_enhancements(BASE, "") is not load_enhancements(BASE, "function:f +app")


# --- effects ------------------------------------------------------------------------------------

EVENT = exception_event("python", *({"module": f"m.{n}", "function": n} for n in "abcd"), type="ValueError")


def _run(
    rules: str, event: dict[str, Any] = EVENT
) -> tuple[list[Any], dict[str, list[tuple[bool, str | None]]]]:
    g = grouped(event, project_enhancements=rules)
    in_app = [f.get("in_app") for f in g.event["exception"]["values"][0]["stacktrace"]["frames"]]
    return in_app, {v: [(c["contributes"], c["hint"]) for c in frames(g, v)] for v in ("app", "system")}


def test_without_rules_unknown_in_app_becomes_false_and_is_recorded() -> None:
    g = grouped(EVENT)
    out = g.event["exception"]["values"][0]["stacktrace"]["frames"]
    assert [f["in_app"] for f in out] == [False] * 4
    assert all(f["data"]["orig_in_app"] == -1 for f in out)
    assert "in_app" not in EVENT["exception"]["values"][0]["stacktrace"]["frames"][0]  # input untouched


def test_app_rules_classify_frames_and_explain_it() -> None:
    in_app, hints = _run("module:m.* +app\nfunction:b -app")
    assert in_app == [True, False, True, True]
    assert hints["app"][0] == (True, "marked in-app by custom stack trace rule (module:m.* +app)")
    assert hints["app"][1] == (False, "marked out of app by custom stack trace rule (function:b -app)")


def test_client_in_app_is_overridden_by_rules_and_remembered() -> None:
    event = exception_event("python", {"module": "m.a", "function": "a", "in_app": True})
    g = grouped(event, project_enhancements="function:a -app")
    frame = g.event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["in_app"] is False
    assert frame["data"]["orig_in_app"] == 1


def test_group_ranges() -> None:
    _, up = _run("function:b ^-group")
    assert [c for c, _ in up["system"]] == [True, True, False, False]
    assert up["system"][2][1] == "ignored by custom stack trace rule (function:b ^-group)"
    _, down = _run("function:c v-group")
    assert [c for c, _ in down["system"]] == [False, False, True, True]
    _, this = _run("function:c -group")
    assert [c for c, _ in this["system"]] == [True, True, False, True]


def test_caller_and_callee_matchers() -> None:
    _, caller = _run("[ function:a ] | function:b -group")
    assert [c for c, _ in caller["system"]] == [True, False, True, True]
    _, callee = _run("function:b | [ function:c ] -group")
    assert [c for c, _ in callee["system"]] == [True, False, True, True]
    _, no_match = _run("[ function:c ] | function:b -group")
    assert [c for c, _ in no_match["system"]] == [True] * 4
    # Sentry compares the Rust rendering (`[function:a] |`) with the Python text of the project
    # rules (`[ function:a ] |`) to label a rule custom, so these are labelled built-in.
    assert caller["system"][1][1] == "ignored by built-in stack trace rule ([function:a] | function:b -group)"


def test_negated_matchers() -> None:
    _, hints = _run("!function:a -group")
    assert [c for c, _ in hints["system"]] == [True, False, False, False]


def test_exception_matchers() -> None:
    _, matching = _run("error.type:ValueError function:d -group")
    assert matching["system"][3] == (
        False,
        "ignored by custom stack trace rule (type:ValueError function:d -group)",
    )
    _, other = _run("error.type:KeyError function:d -group")
    assert [c for c, _ in other["system"]] == [True] * 4


def test_categories() -> None:
    g = grouped(EVENT, project_enhancements="function:a category=boot\ncategory:boot -group")
    assert g.event["exception"]["values"][0]["stacktrace"]["frames"][0]["data"]["category"] == "boot"
    assert [c["contributes"] for c in frames(g, "system")] == [False, True, True, True]


def test_app_matcher() -> None:
    in_app, _ = _run("app:no function:d +app")
    assert in_app == [False, False, False, True]


def test_max_frames_keeps_the_frames_nearest_the_crash() -> None:
    _, hints = _run("module:m.* +app max-frames=2")
    assert [c for c, _ in hints["app"]] == [False, False, True, True]
    assert hints["system"][0] == (
        False,
        "ignored because only 2 frames are considered by custom stack trace rule (module:m.* max-frames=2)",
    )


def test_min_frames_discards_short_stack_traces() -> None:
    g = grouped(EVENT, project_enhancements="module:m.* +app min-frames=5")
    stacktrace = find(tree(g, "app"), "stacktrace")
    assert stacktrace["contributes"] is False
    assert stacktrace["hint"] == (
        "discarded because stack trace only contains 4 frames which is under the configured threshold "
        "by custom stack trace rule (module:m.* min-frames=5)"
    )
    assert g.hashes == [g.variants["app"].hash]  # the exception type still groups
    assert find(tree(g, "app"), "type")["contributes"] is True


def test_base_rules_apply_per_platform_family() -> None:
    native = exception_event(
        "native",
        {"function": "main", "package": "/app/bin"},
        {"function": "__cxa_throw", "package": "/usr/lib/libc++abi.dylib"},
        {"function": "abort", "package": "/usr/lib/system/libsystem_c.dylib"},
    )
    g = grouped(native)
    system = frames(g, "system")
    assert [c["contributes"] for c in system] == [True, False, False]
    assert system[1]["hint"] == (
        "ignored by built-in stack trace rule (family:native function:__cxa_throw ^-group -group)"
    )
    node = exception_event(
        "node",
        {
            "abs_path": "/srv/node_modules/lib/index.js",
            "filename": "node_modules/lib/index.js",
            "function": "f",
        },
        {"abs_path": "/srv/app/main.js", "filename": "app/main.js", "function": "g"},
    )
    out = grouped(node).event["exception"]["values"][0]["stacktrace"]["frames"]
    assert [f["in_app"] for f in out] == [False, False]
    assert out[0]["data"]["orig_in_app"] == -1


def test_project_rules_change_the_hash() -> None:
    assert grouped(EVENT).hashes != grouped(EVENT, project_enhancements="function:d -group").hashes
