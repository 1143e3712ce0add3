"""SDK payload -> stored event (Relay store normalization; PROTOCOL.md §9-10, ingest_facts.md §6-8)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given

from bughound.digest.normalize import (
    MINIMUM_CLOCK_DRIFT,
    Context,
    format_logentry,
    normalize_event,
    parse_timestamp,
    user_ident,
    valid_release,
)
from tests.unit import strategies
from tests.unit.strategies import EVENT_ID, PROPERTY_SETTINGS, RECEIVED, avoid_known_bugs

CTX = Context(received=RECEIVED, project_id=42, key_id=7)


def norm(event: dict[str, Any], ctx: Context = CTX, item_type: str = "event") -> dict[str, Any]:
    return normalize_event(copy.deepcopy(event), ctx, item_type)


def errors_of(event: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in event["errors"] if e["type"] == kind]


# --- ids, bookkeeping ----------------------------------------------------------------------------


def test_minimal_event_defaults() -> None:
    event = norm({})
    assert len(event["event_id"]) == 32
    assert event["type"] == "default"
    assert event["timestamp"] == RECEIVED
    assert event["received"] == RECEIVED
    assert event["level"] == "error"
    assert event["platform"] == "other"
    assert event["logger"] == ""
    assert event["extra"] == {}
    assert event["errors"] == []
    assert (event["project"], event["key_id"], event["version"]) == (42, "7", "7")


def test_event_id_from_the_envelope_then_the_payload() -> None:
    assert norm({"event_id": EVENT_ID.upper()})["event_id"] == EVENT_ID
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, envelope_event_id=EVENT_ID)
    assert norm({}, ctx)["event_id"] == EVENT_ID
    assert norm({"event_id": "9ec79c33-ec99-42ab-8353-589fcb2e04dc"})["event_id"] == EVENT_ID
    # As in Relay, the envelope's id wins: it is the one the client was answered with.
    assert norm({"event_id": "a" * 32}, ctx)["event_id"] == EVENT_ID


def test_invalid_event_id_is_replaced() -> None:
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, envelope_event_id=EVENT_ID)
    event = norm({"event_id": "nope"}, ctx)
    assert event["event_id"] == EVENT_ID
    assert errors_of(event, "invalid_data") == []  # the envelope's id replaced the field whole
    event = norm({"event_id": "nope"})
    assert len(event["event_id"]) == 32
    assert errors_of(event, "invalid_data") == [{"type": "invalid_data", "name": "event_id", "value": "nope"}]


@pytest.mark.parametrize(
    ("payload", "item_type", "expected"),
    [
        ({}, "event", "default"),
        ({"exception": {"values": [{"type": "E"}]}}, "event", "error"),
        ({"exception": [{"type": "E"}]}, "event", "error"),
        ({"exception": {"values": []}}, "event", "default"),
        ({}, "transaction", "transaction"),
        ({"type": "transaction"}, "event", "transaction"),
        ({}, "feedback", "feedback"),
        ({"csp": {"blocked_uri": "x"}}, "event", "csp"),
        ({"type": "error"}, "event", "default"),  # the type is inferred, not trusted
    ],
)
def test_type_inference(payload: dict[str, Any], item_type: str, expected: str) -> None:
    assert norm(payload, item_type=item_type)["type"] == expected


# --- timestamps ----------------------------------------------------------------------------------


def test_missing_timestamp_is_received() -> None:
    assert norm({})["timestamp"] == RECEIVED
    assert norm({"timestamp": None})["timestamp"] == RECEIVED
    assert norm({"timestamp": "garbage"})["timestamp"] == RECEIVED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (RECEIVED - 10, RECEIVED - 10),
        (int(RECEIVED) - 10, RECEIVED - 10),
        ("2023-11-14T22:13:10Z", RECEIVED - 10),
        ("2023-11-14T22:13:10.500000Z", RECEIVED - 9.5),
        ("2023-11-14T22:13:10.5+00:00", RECEIVED - 9.5),
        ("2023-11-15T00:13:10+02:00", RECEIVED - 10),
        ("2023-11-14T22:13:10", RECEIVED - 10),  # naive means UTC
    ],
)
def test_timestamp_formats(value: Any, expected: float) -> None:
    event = norm({"timestamp": value})
    assert event["timestamp"] == pytest.approx(expected, abs=1e-6)
    assert event["errors"] == []


def test_a_numeral_is_not_a_timestamp() -> None:
    # Relay reads an event's timestamp from a number or an RFC 3339 date, not from a numeral.
    event = norm({"timestamp": str(RECEIVED - 10)})
    assert event["timestamp"] == RECEIVED
    assert errors_of(event, "invalid_data") == [
        {
            "type": "invalid_data",
            "name": "timestamp",
            "value": str(RECEIVED - 10),
            "reason": "input contains invalid characters",
        }
    ]


def test_parse_timestamp() -> None:
    assert parse_timestamp(1.5) == 1.5
    assert parse_timestamp("1.5") == 1.5
    assert parse_timestamp("1970-01-01T00:00:01Z") == 1.0
    invalid: list[Any] = [None, True, False, "", "x", [], {}, float("nan"), 1e12, "2023-13-01T00:00:00Z"]
    for value in invalid:
        assert parse_timestamp(value) is None


def test_clock_drift_shifts_every_timestamp() -> None:
    sent_at = RECEIVED - 7200  # the SDK clock is 2 h behind
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, sent_at=sent_at)
    event = norm(
        {
            "timestamp": sent_at - 5,
            "start_timestamp": sent_at - 10,
            "breadcrumbs": {"values": [{"timestamp": sent_at - 20}, {"message": "no ts"}]},
            "spans": [{"start_timestamp": sent_at - 9, "timestamp": sent_at - 6}],
        },
        ctx,
        "transaction",
    )
    assert event["timestamp"] == RECEIVED - 5
    assert event["start_timestamp"] == RECEIVED - 10
    assert event["breadcrumbs"]["values"][0]["timestamp"] == RECEIVED - 20
    assert "timestamp" not in event["breadcrumbs"]["values"][1]
    assert event["spans"] == [{"start_timestamp": RECEIVED - 9, "timestamp": RECEIVED - 6}]
    assert event["received"] == RECEIVED
    assert event["errors"] == [
        {
            "type": "clock_drift",
            "name": "timestamp",
            "sdk_time": "2023-11-14T20:13:20+00:00",
            "server_time": "2023-11-14T22:13:20+00:00",
        }
    ]


def test_clock_drift_ahead() -> None:
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, sent_at=RECEIVED + 3 * 3600)
    event = norm({"timestamp": RECEIVED + 3 * 3600 - 1}, ctx)
    assert event["timestamp"] == RECEIVED - 1
    assert [e["type"] for e in event["errors"]] == ["clock_drift"]


@pytest.mark.parametrize("drift", [0, 60, MINIMUM_CLOCK_DRIFT - 1, -(MINIMUM_CLOCK_DRIFT - 1)])
def test_small_drift_is_not_corrected(drift: int) -> None:
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, sent_at=RECEIVED - drift)
    event = norm({"timestamp": RECEIVED - 1}, ctx)
    assert event["timestamp"] == RECEIVED - 1
    assert event["errors"] == []


def test_drift_of_exactly_55_minutes_is_corrected() -> None:
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, sent_at=RECEIVED - MINIMUM_CLOCK_DRIFT)
    event = norm({"timestamp": RECEIVED - MINIMUM_CLOCK_DRIFT}, ctx)
    assert event["timestamp"] == RECEIVED
    assert [e["type"] for e in event["errors"]] == ["clock_drift"]


def test_future_timestamp_is_replaced_by_received() -> None:
    event = norm({"timestamp": RECEIVED + 120, "breadcrumbs": [{"timestamp": RECEIVED + 100}]})
    assert event["timestamp"] == RECEIVED
    # The whole event is shifted, breadcrumbs included.
    assert event["breadcrumbs"]["values"][0]["timestamp"] == RECEIVED - 20
    assert event["errors"] == [
        {
            "type": "future_timestamp",
            "name": "timestamp",
            "sdk_time": "2023-11-14T22:15:20+00:00",
            "server_time": "2023-11-14T22:13:20+00:00",
        }
    ]


@pytest.mark.parametrize("spans", [True, 5, 1.5])
def test_non_list_spans_do_not_break_the_timestamp_shift(spans: Any) -> None:
    # Bug: `for span in event.get("spans") or []` raises TypeError when the event is shifted.
    event = norm({"timestamp": RECEIVED + 3600, "spans": spans}, item_type="transaction")
    assert event["timestamp"] == RECEIVED


def test_slightly_future_timestamp_is_kept() -> None:
    event = norm({"timestamp": RECEIVED + 60})
    assert event["timestamp"] == RECEIVED + 60
    assert event["errors"] == []


def test_past_timestamp_is_replaced_by_received() -> None:
    event = norm({"timestamp": RECEIVED - 91 * 86400})
    assert event["timestamp"] == RECEIVED
    assert [(e["type"], e["name"]) for e in event["errors"]] == [("past_timestamp", "timestamp")]
    assert event["errors"][0]["server_time"] == "2023-11-14T22:13:20+00:00"


def test_past_limit_follows_retention() -> None:
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, retention_days=30)
    assert norm({"timestamp": RECEIVED - 31 * 86400}, ctx)["timestamp"] == RECEIVED
    assert norm({"timestamp": RECEIVED - 29 * 86400}, ctx)["timestamp"] == RECEIVED - 29 * 86400
    assert norm({"timestamp": RECEIVED - 89 * 86400})["timestamp"] == RECEIVED - 89 * 86400


def test_clock_drift_then_future_timestamp() -> None:
    # After the drift correction the timestamp is still in the future: both errors, timestamp = received.
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, sent_at=RECEIVED - 7200)
    event = norm({"timestamp": RECEIVED}, ctx)
    assert event["timestamp"] == RECEIVED
    assert [e["type"] for e in event["errors"]] == ["clock_drift", "future_timestamp"]


# --- level, platform -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("debug", "debug"),
        ("info", "info"),
        ("log", "info"),
        ("warning", "warning"),
        ("warn", "error"),  # Relay 26.9's Level has no "warn" (an invalid_data error)
        ("error", "error"),
        ("fatal", "fatal"),
        ("critical", "fatal"),
        ("WARNING", "error"),  # nor capitals
        (30, "warning"),
        (50, "fatal"),
        ("nonsense", "error"),
        (None, "error"),
        (True, "error"),
        ([], "error"),
    ],
)
def test_levels(level: Any, expected: str) -> None:
    assert norm({"level": level})["level"] == expected


def test_transaction_level_defaults_to_info() -> None:
    assert norm({}, item_type="transaction")["level"] == "info"
    assert norm({"level": "warning"}, item_type="transaction")["level"] == "warning"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("python", "python"),
        ("javascript", "javascript"),
        ("node", "node"),
        ("native", "native"),
        ("cobol", "other"),
        ("", "other"),
        (None, "other"),
        (3, "other"),
        ([], "other"),  # bug: TypeError (unhashable) in `platform in VALID_PLATFORMS`
        ({}, "other"),
    ],
)
def test_platforms(platform: Any, expected: str) -> None:
    assert norm({"platform": platform})["platform"] == expected


# --- logentry ------------------------------------------------------------------------------------


def test_legacy_message_string_becomes_logentry_formatted() -> None:
    event = norm({"message": "hello"})
    assert event["logentry"] == {"formatted": "hello"}
    assert "message" not in event


def test_legacy_message_is_dropped_when_logentry_exists() -> None:
    event = norm({"message": "legacy", "logentry": {"formatted": "new"}})
    assert event["logentry"] == {"formatted": "new"}
    assert "message" not in event


def test_legacy_message_object_is_a_logentry() -> None:
    event = norm({"message": {"message": "hello %s", "params": ["world"]}})
    assert event["logentry"] == {"formatted": "hello world", "message": "hello %s", "params": ["world"]}


def test_non_string_message_is_stringified() -> None:
    assert norm({"message": 42})["logentry"] == {"formatted": "42"}


def test_logentry_percent_params() -> None:
    event = norm({"logentry": {"message": "hello, %s!", "params": ["world"]}})
    assert event["logentry"] == {"formatted": "hello, world!", "message": "hello, %s!", "params": ["world"]}


def test_logentry_named_percent_params() -> None:
    event = norm({"logentry": {"message": "hello, %(name)s!", "params": {"name": "world"}}})
    assert event["logentry"]["formatted"] == "hello, world!"


@pytest.mark.parametrize("message", ["hello, {}!", "hello, {0}!"])
def test_logentry_curly_params(message: str) -> None:
    event = norm({"logentry": {"message": message, "params": ["world"]}})
    assert event["logentry"]["formatted"] == "hello, world!"
    assert event["logentry"]["message"] == message


def test_logentry_named_curly_params() -> None:
    event = norm({"logentry": {"message": "hello, {name}!", "params": {"name": "world"}}})
    assert event["logentry"]["formatted"] == "hello, world!"


def test_logentry_without_params_moves_message_to_formatted() -> None:
    event = norm({"logentry": {"message": "hello, %s!"}})
    assert event["logentry"] == {"formatted": "hello, %s!"}


def test_logentry_existing_formatted_wins() -> None:
    event = norm({"logentry": {"message": "hello, %s!", "params": ["x"], "formatted": "given"}})
    assert event["logentry"]["formatted"] == "given"
    assert event["logentry"]["message"] == "hello, %s!"


def test_logentry_equal_message_and_formatted() -> None:
    event = norm({"logentry": {"message": "same", "formatted": "same"}})
    assert event["logentry"] == {"formatted": "same"}


def test_logentry_failed_formatting_keeps_the_template() -> None:
    event = norm({"logentry": {"message": "%s and %s", "params": ["only one"]}})
    assert event["logentry"]["formatted"] == "%s and %s"
    assert "message" not in event["logentry"]


def test_logentry_without_any_message_is_removed() -> None:
    event = norm({"logentry": {"params": ["x"]}})
    assert "logentry" not in event
    assert event["errors"] == [{"type": "invalid_data", "name": "logentry", "reason": "no message present"}]


def test_logentry_messages_are_trimmed() -> None:
    event = norm({"logentry": {"formatted": "x" * 9000}})
    assert event["logentry"]["formatted"] == "x" * 8189 + "..."


def test_format_logentry() -> None:
    assert format_logentry("%s-%d", ["a", 1]) == "a-1"
    assert format_logentry("100%% %s", ["sure"]) == "100% sure"
    assert format_logentry("%(a)s/%(b)s", {"a": 1, "b": "x"}) == "1/x"
    assert format_logentry("{}-{}", ["a", "b"]) == "a-b"
    assert format_logentry("{1}{0}", ["a", "b"]) == "ba"
    assert format_logentry("{name}!", {"name": "x"}) == "x!"
    # None: nothing to format, or the placeholders do not fit the params.
    assert format_logentry("plain", ["a"]) is None
    assert format_logentry("%s", None) is None
    assert format_logentry("%s", []) is None
    assert format_logentry("%s %s", ["a"]) is None
    assert format_logentry("{missing}", {"x": 1}) is None
    assert format_logentry("%(missing)s", {"x": 1}) is None
    assert format_logentry("{}", {"x": 1}) is None


# Bugs: Python's `%`/`str.format` are not Relay's dynfmt (logentry.rs `format_message`).


@pytest.mark.parametrize(
    ("message", "params"),
    [
        ("{0[x]}", ["abc"]),  # TypeError: string indices must be integers
        ("%c", [10**7]),  # OverflowError: %c arg not in range(0x110000)
        ("%(a)c", {"a": 10**7}),  # OverflowError
    ],
)
def test_logentry_formatting_never_raises(message: str, params: Any) -> None:
    event = norm({"logentry": {"message": message, "params": params}})
    assert event["logentry"]["formatted"] == message


def test_logentry_positional_placeholder_with_object_params_is_not_formatted() -> None:
    # dynfmt: positional arguments need an array; with an object the formatting fails and
    # `formatted` falls back to the template. Python's `%` would print the dict instead.
    event = norm({"logentry": {"message": "hello %s", "params": {"a": 1}}})
    assert event["logentry"]["formatted"] == "hello %s"


def test_logentry_formatting_output_is_bounded() -> None:
    # Relay formats into a buffer limited to 8192 * 4 bytes and gives up when it overflows, so a
    # tiny template like "%40000d" cannot blow up; "%2000000000d" would allocate 2 GB here.
    event = norm({"logentry": {"message": "%40000d", "params": [1]}})
    assert len(event["logentry"]["formatted"]) <= 8192


def test_logentry_formatted_from_params_is_trimmed() -> None:
    # `logentry.formatted` has max_chars = 8192 whether the SDK sent it or Relay computed it.
    event = norm({"logentry": {"message": "%s", "params": ["x" * 9000]}})
    assert event["logentry"]["formatted"] == "x" * 8189 + "..."


# --- exceptions ----------------------------------------------------------------------------------


def test_exception_name_value_split() -> None:
    event = norm({"exception": {"values": [{"value": "ZeroDivisionError: division by zero"}]}})
    assert event["exception"]["values"] == [{"type": "ZeroDivisionError", "value": "division by zero"}]


def test_exception_split_only_without_type() -> None:
    event = norm({"exception": {"values": [{"type": "E", "value": "Name: rest"}]}})
    assert event["exception"]["values"] == [{"type": "E", "value": "Name: rest"}]


def test_exception_value_without_name_is_kept() -> None:
    event = norm({"exception": {"values": [{"value": "no colon here"}]}})
    assert event["exception"]["values"] == [{"value": "no colon here"}]


def test_exception_multiline_value_is_not_split() -> None:
    # Relay's `^(\w+):(.*)$` (event.rs normalize_exception) is a Rust regex: `.` does not match
    # "\n" and `$` is the end of the text, so a multi-line value keeps an empty type.
    event = norm({"exception": {"values": [{"value": "Error: first line\nsecond line"}]}})
    assert event["exception"]["values"] == [{"value": "Error: first line\nsecond line"}]


def test_exception_without_type_and_value_is_dropped() -> None:
    event = norm({"exception": {"values": [{}, {"type": "Kept"}]}})
    assert event["exception"]["values"] == [{"type": "Kept"}]
    assert errors_of(event, "missing_attribute") == [{"type": "missing_attribute", "name": "type"}]


def test_exception_with_only_a_stacktrace_is_kept() -> None:
    event = norm({"exception": {"values": [{"stacktrace": {"frames": [{"function": "f"}, "junk"]}}]}})
    assert event["exception"]["values"] == [{"stacktrace": {"frames": [{"function": "f"}]}}]


def test_lone_stacktrace_moves_into_the_only_exception() -> None:
    st_ = {"frames": [{"function": "f"}]}
    event = norm({"exception": {"values": [{"type": "E"}]}, "stacktrace": st_})
    assert event["exception"]["values"] == [{"type": "E", "stacktrace": st_}]
    assert "stacktrace" not in event


def test_lone_stacktrace_is_normalized_like_the_exception_stacktraces() -> None:
    # Bug: _exceptions moves the top-level stacktrace into the exception after the exception
    # stacktraces were cleaned, so the moved one keeps junk frames (or lacks `frames`) until the
    # event is normalized a second time.
    event = norm(
        {"exception": {"values": [{"type": "E"}]}, "stacktrace": {"frames": [{"function": "f"}, "junk"]}}
    )
    assert event["exception"]["values"] == [{"type": "E", "stacktrace": {"frames": [{"function": "f"}]}}]
    assert norm(event) == event


def test_non_string_exception_values_are_stringified() -> None:
    event = norm({"exception": {"values": [{"type": "E", "value": 42}]}})
    assert event["exception"]["values"][0]["value"] == "42"


# --- breadcrumbs ---------------------------------------------------------------------------------


def test_breadcrumb_defaults() -> None:
    event = norm({"breadcrumbs": [{"message": "a"}, "junk", {"level": "WARN", "type": "http"}]})
    assert event["breadcrumbs"] == {
        "values": [
            {"message": "a", "type": "default", "level": "info"},
            {"level": "warning", "type": "http"},
        ]
    }


def test_breadcrumb_timestamps_are_parsed() -> None:
    event = norm({"breadcrumbs": {"values": [{"timestamp": "2023-11-14T22:13:10Z"}]}})
    assert event["breadcrumbs"]["values"][0]["timestamp"] == RECEIVED - 10


# --- tags ----------------------------------------------------------------------------------------


def test_tags_as_dict_are_sorted_pairs() -> None:
    assert norm({"tags": {"b": "2", "a": "1"}})["tags"] == [["a", "1"], ["b", "2"]]


def test_tags_as_list_keep_their_order() -> None:
    assert norm({"tags": [["b", "2"], ["a", "1"], ["bad"], "junk"]})["tags"] == [["b", "2"], ["a", "1"]]


def test_tag_values_are_lenient_strings() -> None:
    assert norm({"tags": {"n": 5, "t": True, "f": 1.5}})["tags"] == [["f", "1.5"], ["n", "5"], ["t", "True"]]


def test_environment_tag_is_moved() -> None:
    event = norm({"tags": {"environment": "prod", "a": "1"}})
    assert event["environment"] == "prod"
    assert event["tags"] == [["a", "1"]]


def test_environment_tag_does_not_override_the_environment() -> None:
    event = norm({"environment": "staging", "tags": {"environment": "prod"}})
    assert event["environment"] == "staging"
    assert "tags" not in event


@pytest.mark.parametrize("key", ["release", "dist", "user", "filename", "function"])
def test_reserved_tags_are_dropped(key: str) -> None:
    assert norm({"tags": {key: "x", "a": "1"}})["tags"] == [["a", "1"]]


def test_duplicate_tags_keep_the_first() -> None:
    assert norm({"tags": [["a", "1"], ["a", "2"]]})["tags"] == [["a", "1"]]


def test_long_tag_values_are_trimmed() -> None:
    tags = norm({"tags": {"long": "v" * 300}})["tags"]
    assert tags == [["long", "v" * 197 + "..."]]
    assert len(tags[0][1]) == 200


def test_tag_keys_are_cleaned() -> None:
    assert norm({"tags": {" my key ": " value "}})["tags"] == [["my-key", "value"]]


def test_invalid_tags_are_dropped() -> None:
    event = norm({"tags": {"bad/key": "1", "empty": "", "newline": "a\nb", "ok": "1"}})
    assert event["tags"] == [["ok", "1"]]


def test_server_name_and_site_become_tags() -> None:
    event = norm({"server_name": "web-1", "site": "eu", "tags": {"a": "1"}})
    assert event["tags"] == [["a", "1"], ["server_name", "web-1"], ["site", "eu"]]
    assert "site" not in event


def test_server_name_is_moved_into_tags_not_copied() -> None:
    # Relay normalize_event_tags: `std::mem::take(&mut event.server_name)` then `tags.insert`, as
    # for `site`. Keeping `server_name` on the event also makes a second normalization reorder
    # the tags ([..., site, server_name]).
    event = norm({"server_name": "web-1", "site": "eu"})
    assert "server_name" not in event
    assert event["tags"] == [["server_name", "web-1"], ["site", "eu"]]
    assert norm(event)["tags"] == event["tags"]


# --- request -------------------------------------------------------------------------------------


def test_request_url_query_is_split_into_pairs() -> None:
    event = norm({"request": {"url": "https://example.com/path?a=1&b=two&c=#frag", "method": "post"}})
    assert event["request"] == {
        "url": "https://example.com/path",
        "query_string": [["a", "1"], ["b", "two"], ["c", ""]],
        "fragment": "frag",
        "method": "POST",
    }


def test_request_query_string_forms() -> None:
    assert norm({"request": {"query_string": "?x=1&y=%20"}})["request"]["query_string"] == [
        ["x", "1"],
        ["y", " "],
    ]
    assert norm({"request": {"query_string": {"x": "1"}}})["request"]["query_string"] == [["x", "1"]]
    pairs = [["x", "1"]]
    assert norm({"request": {"query_string": pairs}})["request"]["query_string"] == pairs


def test_explicit_query_string_keeps_the_url() -> None:
    event = norm({"request": {"url": "https://e.com/?a=1", "query_string": "b=2"}})
    assert event["request"]["url"] == "https://e.com/?a=1"
    assert event["request"]["query_string"] == [["b", "2"]]


def test_cookie_header_is_moved_into_cookies() -> None:
    event = norm({"request": {"headers": {"Cookie": "a=1; sessionid=xyz", "User-Agent": "ua"}}})
    assert event["request"]["headers"] == [["User-Agent", "ua"]]
    assert event["request"]["cookies"] == [["a", "1"], ["sessionid", "xyz"]]


def test_cookie_header_is_dropped_when_cookies_exist() -> None:
    event = norm({"request": {"headers": [["cookie", "a=1"]], "cookies": {"b": "2"}}})
    assert event["request"]["headers"] == []
    assert event["request"]["cookies"] == [["b", "2"]]


def test_non_dict_request_is_removed() -> None:
    assert "request" not in norm({"request": "junk"})


# --- user ----------------------------------------------------------------------------------------


def _ctx(**kwargs: Any) -> Context:
    return Context(received=RECEIVED, project_id=1, key_id=1, **kwargs)


def test_auto_ip_is_replaced_by_the_client_ip() -> None:
    event = norm({"user": {"id": "1", "ip_address": "{{auto}}"}}, _ctx(client_ip="203.0.113.9"))
    assert event["user"] == {"id": "1", "ip_address": "203.0.113.9", "sentry_user": "id:1"}


def test_auto_ip_without_a_client_ip_is_removed() -> None:
    assert norm({"user": {"id": "1", "ip_address": "{{auto}}"}})["user"] == {"id": "1", "sentry_user": "id:1"}
    assert "user" not in norm({"user": {"ip_address": "{{auto}}"}})


def test_auto_ip_from_remote_addr() -> None:
    event = norm({"user": {"ip_address": "{{auto}}"}, "request": {"env": {"REMOTE_ADDR": "10.0.0.1"}}})
    assert event["user"] == {"ip_address": "10.0.0.1", "sentry_user": "ip:10.0.0.1"}


def test_remote_addr_wins_over_the_client_ip() -> None:
    # Relay event.rs normalize_ip_addresses: "IP address in REMOTE_ADDR will have precedence over
    # client_ip because it's explicitly sent while client_ip is taken from X-Forwarded-For".
    event = norm(
        {"user": {"ip_address": "{{auto}}"}, "request": {"env": {"REMOTE_ADDR": "10.0.0.1"}}},
        _ctx(client_ip="203.0.113.9"),
    )
    assert event["user"] == {"ip_address": "10.0.0.1", "sentry_user": "ip:10.0.0.1"}


def test_legacy_remote_addr_backfills_the_user_ip() -> None:
    # Relay (legacy infer_ip): a REMOTE_ADDR fills a missing user.ip_address on any platform.
    event = norm({"platform": "python", "request": {"env": {"REMOTE_ADDR": "10.0.0.1"}}})
    assert event["user"] == {"ip_address": "10.0.0.1", "sentry_user": "ip:10.0.0.1"}


@pytest.mark.parametrize(
    "payload",
    [
        {"user": None, "platform": "javascript"},
        {"user": None, "sdk": {"name": "s", "settings": {"infer_ip": "auto"}}},
    ],
)
def test_null_user_with_ip_inference(payload: dict[str, Any]) -> None:
    # Bug: `event.setdefault("user", {})` returns the existing None, then `user["ip_address"] = ...`
    # raises TypeError. A JSON null is an absent user in Relay, which then creates one.
    event = norm(payload, _ctx(client_ip="203.0.113.9"))
    assert event["user"]["ip_address"] == "203.0.113.9"


def test_explicit_ip_is_kept() -> None:
    event = norm({"user": {"ip_address": "1.1.1.1"}}, _ctx(client_ip="203.0.113.9"))
    assert event["user"] == {"ip_address": "1.1.1.1", "sentry_user": "ip:1.1.1.1"}


@pytest.mark.parametrize("platform", ["javascript", "cocoa", "objc"])
def test_legacy_platforms_get_the_client_ip(platform: str) -> None:
    event = norm({"platform": platform}, _ctx(client_ip="203.0.113.9"))
    assert event["user"] == {"ip_address": "203.0.113.9", "sentry_user": "ip:203.0.113.9"}


def test_other_platforms_do_not_get_the_client_ip() -> None:
    assert "user" not in norm({"platform": "python"}, _ctx(client_ip="203.0.113.9"))


def test_infer_ip_auto() -> None:
    event = norm(
        {"platform": "python", "sdk": {"name": "s", "settings": {"infer_ip": "auto"}}},
        _ctx(client_ip="203.0.113.9"),
    )
    assert event["user"] == {"ip_address": "203.0.113.9", "sentry_user": "ip:203.0.113.9"}


def test_infer_ip_never() -> None:
    sdk = {"name": "sentry.javascript.browser", "settings": {"infer_ip": "never"}}
    ctx = _ctx(client_ip="203.0.113.9")
    event = norm({"platform": "javascript", "sdk": sdk, "user": {"id": "1", "ip_address": "{{auto}}"}}, ctx)
    assert "ip_address" not in event["user"]
    assert "user" not in norm({"platform": "javascript", "sdk": sdk}, ctx)
    assert norm({"sdk": sdk, "user": {"ip_address": "1.1.1.1"}}, ctx)["user"]["ip_address"] == "1.1.1.1"


def test_infer_ip_never_still_normalizes_the_user() -> None:
    # Bug: the `infer_ip == "never"` branch of `_user` returns early, so the user's fields are not
    # stringified/trimmed, `user.sentry_user` is not set and an emptied user is kept as {}. The
    # browser SDK sends `infer_ip: "never"` whenever sendDefaultPii is off. Relay's
    # normalize_ip_addresses only skips the IP inference; normalize_user runs regardless.
    sdk = {"name": "sentry.javascript.browser", "settings": {"infer_ip": "never"}}
    event = norm({"platform": "javascript", "sdk": sdk, "user": {"id": 5, "ip_address": "{{auto}}"}})
    assert event["user"] == {"id": "5", "sentry_user": "id:5"}
    assert "user" not in norm({"sdk": sdk, "user": {"ip_address": "{{auto}}"}})


def test_user_fields_are_stringified_and_trimmed() -> None:
    event = norm({"user": {"id": 5, "username": "u" * 200, "email": {"x": 1}, "other": [1]}})
    assert event["user"] == {"id": "5", "username": "u" * 125 + "...", "other": [1], "sentry_user": "id:5"}


def test_non_dict_user_is_removed() -> None:
    assert "user" not in norm({"user": "bob"})


def test_sentry_user_follows_the_first_identifier() -> None:
    # Relay normalize_user: sentry_user = id, else username, else email, else ip (after inference).
    assert norm({"user": {"email": "a@b.c", "username": "bob"}})["user"]["sentry_user"] == "username:bob"
    assert norm({"user": {"email": "a@b.c"}})["user"]["sentry_user"] == "email:a@b.c"
    assert "sentry_user" not in norm({"user": {"name": "Bob"}})["user"]


def test_user_ident() -> None:
    assert user_ident({"id": "1", "email": "a@b.c"}) == "id:1"
    assert user_ident({"username": "bob", "email": "a@b.c"}) == "username:bob"
    assert user_ident({"email": "a@b.c", "ip_address": "1.1.1.1"}) == "email:a@b.c"
    assert user_ident({"ip_address": "1.1.1.1"}) == "ip:1.1.1.1"
    assert user_ident({"id": "", "name": "x"}) is None
    assert user_ident(None) is None


# --- sdk, release, environment -------------------------------------------------------------------


def test_sdk_from_sentry_client() -> None:
    assert norm({}, _ctx(sentry_client="sentry.python/2.75.0"))["sdk"] == {
        "name": "sentry.python",
        "version": "2.75.0",
    }
    assert norm({}, _ctx(sentry_client="raven-js 3.27.0"))["sdk"] == {"name": "raven-js", "version": "3.27.0"}


def test_sdk_in_the_payload_wins() -> None:
    sdk = {"name": "sentry.javascript.node", "version": "11.12.0"}
    assert norm({"sdk": sdk}, _ctx(sentry_client="sentry.python/2.75.0"))["sdk"] == sdk


def test_no_sdk_without_client() -> None:
    assert "sdk" not in norm({})


@pytest.mark.parametrize("release", ["1.0.0", "my-app@1.2.3+build", "a" * 200, 5])
def test_valid_releases_are_kept(release: Any) -> None:
    event = norm({"release": release})
    assert event["release"] == str(release)
    assert event["errors"] == []


@pytest.mark.parametrize(
    "release", ["a/b", "a\\b", "a\tb", "a\nb", ".", "..", "latest", "", "   ", "a" * 201, [], {}]
)
def test_invalid_release_is_dropped_with_an_error(release: Any) -> None:
    event = norm({"release": release, "message": "kept"})
    assert "release" not in event
    assert event["errors"] == [{"type": "invalid_data", "name": "release", "value": release}]
    assert event["logentry"] == {"formatted": "kept"}  # the event itself is kept


@pytest.mark.parametrize("key", ["release", "environment"])
def test_null_release_or_environment_is_no_error(key: str) -> None:
    # In Relay a JSON null is an absent value (an empty Annotated without meta errors); only
    # values that fail validation produce an `invalid_data` error.
    event = norm({key: None})
    assert key not in event
    assert event["errors"] == []


def test_release_is_stripped() -> None:
    assert norm({"release": " 1.0 "})["release"] == "1.0"


def test_valid_release() -> None:
    assert valid_release("1.0")
    assert not valid_release("latest")
    assert not valid_release(" latest ")


def test_invalid_environment_is_dropped() -> None:
    event = norm({"environment": "e" * 65})
    assert "environment" not in event
    assert [e["name"] for e in event["errors"]] == ["environment"]
    assert norm({"environment": "production"})["environment"] == "production"


def test_other_string_fields_are_trimmed() -> None:
    event = norm({"culprit": "c" * 300, "transaction": 5, "logger": {"x": 1}, "dist": "d" * 100})
    assert event["culprit"] == "c" * 197 + "..."
    assert event["transaction"] == "5"
    assert event["logger"] == ""
    assert event["dist"] == "d" * 61 + "..."


def test_contexts_must_be_an_object() -> None:
    assert "contexts" not in norm({"contexts": "junk"})
    assert norm({"contexts": {"os": {"name": "Linux"}}})["contexts"] == {"os": {"name": "Linux"}}


def test_unknown_keys_are_kept() -> None:
    assert norm({"my_field": {"a": [1, 2]}})["my_field"] == {"a": [1, 2]}


# --- properties ----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(payload=strategies.payloads, ctx=strategies.contexts_without_drift, item_type=strategies.item_types)
def test_normalize_never_raises(payload: dict[str, Any], ctx: Context, item_type: str) -> None:
    avoid_known_bugs(payload)
    out = normalize_event(payload, ctx, item_type)
    assert out is payload
    assert isinstance(out["event_id"], str) and len(out["event_id"]) == 32
    assert isinstance(out["timestamp"], float)
    assert out["received"] == RECEIVED
    assert out["level"] in ("debug", "info", "warning", "error", "fatal")
    assert out["type"] in ("default", "error", "transaction", "feedback", "csp")
    assert isinstance(out["errors"], list)
    for key, value in out.get("tags", []):
        assert isinstance(key, str) and isinstance(value, str) and 0 < len(value) <= 200


@PROPERTY_SETTINGS
@given(payload=strategies.payloads, ctx=strategies.contexts_without_drift, item_type=strategies.item_types)
def test_normalize_is_idempotent(payload: dict[str, Any], ctx: Context, item_type: str) -> None:
    # The contexts carry no clock drift: a drift correction is relative to the envelope's
    # `sent_at` and, by design, shifts again when applied twice.
    avoid_known_bugs(payload)
    # Pinned by test_server_name_is_moved_into_tags_not_copied.
    assume(not ("server_name" in payload and "site" in payload))
    # An `sdk` object without a name is replaced by one built from `sentry_client`, which drops
    # its `settings.infer_ip`, so a second pass may infer differently.
    sdk = payload.get("sdk")
    assume(not (isinstance(sdk, dict) and not sdk.get("name") and ctx.sentry_client))
    once = normalize_event(copy.deepcopy(payload), ctx, item_type)
    # An event whose every exception was dropped stays an `error` (Relay infers the type from the
    # exception slots, which it keeps as nulls); normalizing it again would then say `default`.
    assume(not (once["type"] == "error" and "exception" not in once))
    twice = normalize_event(copy.deepcopy(once), ctx, item_type)
    assert twice == once


def test_a_bare_exception_object_is_one_value() -> None:
    # Relay reads `exception` as Values<Exception>: a list, {"values": [...]}, or one exception.
    event = norm({"exception": {"type": "ValueError", "value": "bad"}})
    assert event["exception"] == {"values": [{"type": "ValueError", "value": "bad"}]}


@pytest.mark.parametrize(
    "value", ["nan", "inf", "-Infinity", "1_700_000_000", float("nan"), float("inf"), 1e300]
)
def test_timestamps_float_would_read_are_refused(value: Any) -> None:
    # float() reads these; Relay does not, and they must not break the digest (an OverflowError
    # on "inf" used to set the whole record aside).
    assert parse_timestamp(str(value) if isinstance(value, float) else value) is None
    ctx = Context(received=RECEIVED, project_id=1, key_id=1, sent_at=parse_timestamp(value))
    event = norm({"timestamp": value}, ctx)
    assert event["timestamp"] == RECEIVED
    assert [e["name"] for e in errors_of(event, "invalid_data")] == ["timestamp"]
