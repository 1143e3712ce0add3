"""Grouping hashes, titles, culprits and metadata (Sentry `eventtypes/{base,error}.py`,
`event_manager.get_culprit`, `stacktraces`; event_api_facts.md §3)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given

from bughound.api.serializers import location
from bughound.digest.normalize import Context, normalize_event
from bughound.grouping import calculate
from bughound.grouping.settings import DEFAULT_CONFIG_ID as CONFIG_ID
from bughound.grouping.titles import culprit_for, message_of, metadata_for, title_for
from tests.unit import strategies
from tests.unit.strategies import PROPERTY_SETTINGS, avoid_known_bugs

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def error(value: Any = "division by zero", ty: Any = "ZeroDivisionError", **fields: Any) -> dict[str, Any]:
    exc: dict[str, Any] = {}
    if ty is not None:
        exc["type"] = ty
    if value is not None:
        exc["value"] = value
    frames = fields.pop("frames", None)
    if frames is not None:
        exc["stacktrace"] = {"frames": frames}
    return {"type": "error", "platform": "python", "exception": {"values": [exc]}, **fields}


def default(message: Any, **fields: Any) -> dict[str, Any]:
    return {"type": "default", "platform": "python", "logentry": {"formatted": message}, **fields}


PY_FRAMES = [
    {
        "module": "django.core.handlers",
        "function": "inner",
        "filename": "django/core/handlers.py",
        "in_app": False,
    },
    {"module": "app.views", "function": "index", "filename": "app/views.py", "in_app": True},
    {"module": "app.util", "function": "divide", "filename": "app/util.py", "in_app": True},
    {"module": "decimal", "function": "__truediv__", "filename": "decimal.py", "in_app": False},
]


# --- titles --------------------------------------------------------------------------------------


def test_error_title() -> None:
    assert title_for(error()) == "ZeroDivisionError: division by zero"


def test_error_title_uses_the_first_line_of_the_value() -> None:
    assert title_for(error("first line\nsecond line")) == "ZeroDivisionError: first line"


def test_error_title_without_value_is_the_type() -> None:
    assert title_for(error(None)) == "ZeroDivisionError"
    assert title_for(error("")) == "ZeroDivisionError"


def test_error_title_without_type() -> None:
    assert title_for(error("boom", ty=None)) == "Error: boom"


def test_error_title_uses_the_last_exception() -> None:
    event = error()
    event["exception"]["values"].insert(0, {"type": "KeyError", "value": "'x'"})
    assert title_for(event) == "ZeroDivisionError: division by zero"


def test_error_title_truncates_the_value_not_the_title() -> None:
    # Sentry ErrorEvent.compute_title: `type + ": " + truncatechars(value.splitlines()[0], 100)`,
    # so the type comes on top of a value of up to 100 characters.
    assert title_for(error("x" * 95, ty="ValueError")) == "ValueError: " + "x" * 95
    assert title_for(error("x" * 150, ty="ValueError")) == "ValueError: " + "x" * 97 + "..."


def test_default_title_is_the_first_line_of_the_message() -> None:
    assert title_for(default("hello\nworld")) == "hello"
    assert title_for(default("m" * 150)) == "m" * 97 + "..."
    assert title_for({"type": "default", "logentry": {"message": "tmpl %s"}}) == "tmpl %s"


@pytest.mark.parametrize(
    "event", [{"type": "default"}, default(""), default("   "), {"type": "default", "logentry": "x"}]
)
def test_unlabeled_event(event: dict[str, Any]) -> None:
    assert title_for(event) == "<unlabeled event>"


def test_default_title_strips_before_taking_the_first_line() -> None:
    # Sentry DefaultEvent.extract_metadata: `message = strip(formatted or message)` and only then
    # `truncatechars(message.splitlines()[0], 100)`.
    assert title_for(default("\n  hello\nworld")) == "hello"


def test_transaction_and_feedback_titles() -> None:
    assert title_for({"type": "transaction", "transaction": "/api/users"}) == "/api/users"
    assert title_for({"type": "transaction"}) == "<unlabeled transaction>"
    event = {"type": "feedback", "contexts": {"feedback": {"message": "Broken\nbutton"}}}
    assert title_for(event) == "User Feedback: Broken"


def test_feedback_title_with_a_non_object_feedback_context() -> None:
    # Bug: `(contexts.get("feedback") or {}).get("message")` raises AttributeError for a string;
    # normalize keeps any `contexts.feedback` value, and the digest calls title_for on feedback.
    event = normalize_event(
        {"contexts": {"feedback": "Broken button"}},
        Context(received=1.7e9, project_id=1, key_id=1),
        "feedback",
    )
    assert title_for(event).startswith("User Feedback")


def test_message_of() -> None:
    assert message_of(default("f")) == "f"
    assert message_of({"logentry": {"message": "m"}}) == "m"
    assert message_of({}) == ""


# --- culprit -------------------------------------------------------------------------------------


def test_python_culprit_is_module_in_function() -> None:
    assert culprit_for(error(frames=PY_FRAMES)) == "app.util in divide"


def test_javascript_culprit_is_function_of_module() -> None:
    frames = [{"filename": "app.js", "function": "onClick", "in_app": True}]
    assert culprit_for(error(frames=frames, platform="javascript")) == "onClick(app.js)"
    assert culprit_for(error(frames=frames, platform="node")) == "onClick(app.js)"


def test_culprit_falls_back_to_filename_and_question_mark() -> None:
    assert culprit_for(error(frames=[{"filename": "a.py"}])) == "a.py in ?"
    assert culprit_for(error(frames=[{"filename": "a.js"}], platform="javascript")) == "?(a.js)"


def test_culprit_uses_the_newest_frame_without_in_app_frames() -> None:
    frames = [{"module": "a", "function": "f"}, {"module": "b", "function": "g"}]
    assert culprit_for(error(frames=frames)) == "b in g"


def test_explicit_culprit_and_transaction_win() -> None:
    assert culprit_for(error(frames=PY_FRAMES, culprit="given")) == "given"
    assert culprit_for(error(frames=PY_FRAMES, transaction="/books/new/")) == "/books/new/"


def test_culprit_without_frames_is_empty() -> None:
    assert culprit_for(error()) == ""
    assert culprit_for(default("hi")) == ""


def test_culprit_is_cut_to_200_characters() -> None:
    assert len(culprit_for(error(frames=[{"module": "m" * 300, "function": "f"}])) or "") <= 200


@pytest.mark.parametrize(
    ("event_platform", "frame", "expected"),
    [
        ("native", {"function": "crash", "filename": "main.c", "in_app": True}, "crash"),
        ("cocoa", {"function": "-[A b]", "module": "App", "in_app": True}, "-[A b]"),
        ("objc", {"filename": "x.m", "in_app": True}, "?"),
        # The frame's own platform wins over the event's.
        ("python", {"function": "f", "module": "m", "platform": "javascript", "in_app": True}, "f(m)"),
    ],
)
def test_culprit_platform_rules(event_platform: str, frame: dict[str, Any], expected: str) -> None:
    # Sentry Frame.get_culprit_string: frame.platform or the event's; objc/cocoa/native give
    # `function or "?"`, javascript/node `function(module)`, others `module in function`.
    assert culprit_for(error(frames=[frame], platform=event_platform)) == expected


def test_culprit_falls_back_to_the_request_url() -> None:
    # Sentry event_manager.generate_culprit: `if not culprit and data.get("request"): culprit = request.url`.
    assert (
        culprit_for(default("hi", request={"url": "https://example.com/checkout"}))
        == "https://example.com/checkout"
    )


def test_synthetic_exception_has_no_culprit() -> None:
    # generate_culprit: "Synthetic events no longer get a culprit".
    event = error(frames=PY_FRAMES)
    event["exception"]["values"][0]["mechanism"] = {"type": "signalhandler", "synthetic": True}
    assert culprit_for(event) == ""


# --- metadata and location -----------------------------------------------------------------------


def test_error_metadata() -> None:
    assert metadata_for(error(frames=PY_FRAMES)) == {
        "type": "ZeroDivisionError",
        "value": "division by zero",
        "filename": "app/util.py",
        "function": "divide",
    }
    # The API's `location` is the stored metadata's filename.
    with_frames = error(frames=PY_FRAMES)
    assert location({**with_frames, "metadata": metadata_for(with_frames)}) == "app/util.py"
    assert location({**error(), "metadata": metadata_for(error())}) is None


def test_error_metadata_keeps_the_whole_value() -> None:
    # ErrorEvent.extract_metadata: `{"value": trim(exception.value or "", 1024)}`; only the
    # title takes the first line.
    assert metadata_for(error("first\nsecond"))["value"] == "first\nsecond"


def test_error_metadata_type_defaults_to_error() -> None:
    # ErrorEvent.extract_metadata: `rv["type"] = trim(type or "Error", 128)` unless synthetic.
    assert metadata_for(error("boom", ty=None)) == {"type": "Error", "value": "boom"}


def test_synthetic_exception_title_and_metadata() -> None:
    # A synthetic exception's type is not shown: metadata has no `type` and the title is the
    # crash frame's function (ErrorEvent.compute_title: `title or metadata["function"]`).
    event = error(
        "SIGSEGV", ty="EXC_BAD_ACCESS", frames=[{"function": "crash", "filename": "main.c", "in_app": True}]
    )
    event["exception"]["values"][0]["mechanism"] = {"type": "signalhandler", "synthetic": True}
    assert "type" not in metadata_for(event)
    assert title_for(event) == "crash"


def test_default_and_transaction_metadata() -> None:
    assert metadata_for(default("hello\nworld")) == {"title": "hello"}
    assert metadata_for({"type": "transaction", "transaction": "/x"}) == {"title": "/x"}


# --- hashes and fingerprints ---------------------------------------------------------------------


def test_calculate() -> None:
    result = calculate(error(frames=PY_FRAMES))
    assert result.config == CONFIG_ID
    assert result.hashes and all(HEX32.match(h) for h in result.hashes)
    assert result.title == "ZeroDivisionError: division by zero"
    assert result.culprit == "app.util in divide"
    assert result.metadata["function"] == "divide"


def test_same_error_same_hash_different_error_different_hash() -> None:
    a = calculate(error(frames=PY_FRAMES)).hashes
    assert calculate(error("another value", frames=PY_FRAMES)).hashes == a  # values do not count with frames
    assert calculate(error(ty="KeyError", frames=PY_FRAMES)).hashes != a
    assert calculate(error(frames=PY_FRAMES[:2])).hashes != a


def test_messages_group_by_message() -> None:
    assert calculate(default("a")).hashes == calculate(default("a")).hashes
    assert calculate(default("a")).hashes != calculate(default("b")).hashes


@pytest.mark.parametrize("variable", ["{{ default }}", "{{default}}", "{{  default  }}"])
def test_default_fingerprint_is_the_default_hash(variable: str) -> None:
    assert (
        calculate(error(frames=PY_FRAMES, fingerprint=[variable])).hashes
        == calculate(error(frames=PY_FRAMES)).hashes
    )


def test_default_fingerprint_plus_a_value_changes_the_hash() -> None:
    plain = calculate(error(frames=PY_FRAMES)).hashes
    extended = calculate(error(frames=PY_FRAMES, fingerprint=["{{ default }}", "tenant-a"])).hashes
    other = calculate(error(frames=PY_FRAMES, fingerprint=["{{ default }}", "tenant-b"])).hashes
    assert len({plain[0], extended[0], other[0]}) == 3


def test_custom_fingerprint_ignores_the_content() -> None:
    a = calculate(error(frames=PY_FRAMES, fingerprint=["db-timeout"])).hashes
    b = calculate(default("totally different", fingerprint=["db-timeout"])).hashes
    assert a == b
    assert calculate(default("x", fingerprint=["db-timeout", "x"])).hashes != a


def test_empty_fingerprint_is_ignored() -> None:
    assert calculate(default("a", fingerprint=[])).hashes == calculate(default("a")).hashes


def test_non_list_frames_do_not_crash_grouping() -> None:
    # Bug: titles._crash_frame iterates `stacktrace.get("frames") or []`; normalize leaves the
    # top-level stacktrace as sent, so {"frames": 1} raises TypeError in the digest.
    event = normalize_event({"stacktrace": {"frames": 1}}, Context(received=1.7e9, project_id=1, key_id=1))
    assert HEX32.match(calculate(event).hashes[0])


# --- property ------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(payload=strategies.payloads, ctx=strategies.contexts_without_drift)
def test_calculate_never_raises(payload: dict[str, Any], ctx: Context) -> None:
    # The digest always normalizes before grouping (pipeline.py), so the input is a normalized
    # event built from an arbitrary payload.
    avoid_known_bugs(payload)
    event = normalize_event(payload, ctx)
    before = copy.deepcopy(event)
    result = calculate(event)
    assert event == before  # grouping does not change the event
    assert result.hashes and all(HEX32.match(h) for h in result.hashes)
    assert isinstance(result.title, str) and result.title
    assert result.culprit is None or len(result.culprit) <= 200
    assert calculate(event) == result  # deterministic
