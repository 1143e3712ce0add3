"""Stored event -> Sentry's event JSON (Sentry EventSerializer and interfaces; event_api_facts.md)."""

from __future__ import annotations

from typing import Any

import pytest

from bughound.api.serializers import (
    EMPTY_META,
    contexts,
    entries,
    full_event,
    iso,
    message,
    simple_event,
    stacktrace,
    tags,
    user,
)

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
TS = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def _event(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": EVENT_ID,
        "type": "error",
        "platform": "python",
        "timestamp": TS,
        "received": TS + 1,
        **fields,
    }


def _types(event: dict[str, Any]) -> list[str]:
    return [entry["type"] for entry in entries(event)]


# --- iso dates -----------------------------------------------------------------------------------


def test_iso_format() -> None:
    assert iso(TS) == "2023-11-14T22:13:20Z"
    assert iso(TS + 0.5) == "2023-11-14T22:13:20.500000Z"
    assert iso(1592432816.098086) == "2020-06-17T22:26:56.098086Z"
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(None) is None


# --- entries -------------------------------------------------------------------------------------


def test_entries_order_does_not_follow_the_payload() -> None:
    event = _event(
        request={"url": "https://e.com/"},
        breadcrumbs={"values": [{"message": "b"}]},
        exception={"values": [{"type": "E", "value": "v"}]},
        logentry={"formatted": "hi"},
    )
    assert _types(event) == ["message", "exception", "breadcrumbs", "request"]


def test_full_error_entries_order() -> None:
    event = _event(
        debug_meta={"images": [{"type": "elf"}]},
        request={"url": "https://e.com/"},
        breadcrumbs={"values": [{"message": "b"}]},
        threads={"values": [{"id": 1}]},
        exception={"values": [{"type": "E"}]},
        template={"filename": "t.html", "lineno": 1},
        logentry={"formatted": "hi"},
    )
    assert _types(event) == [
        "message",
        "exception",
        "threads",
        "template",
        "breadcrumbs",
        "request",
        "debugmeta",
    ]


def test_transaction_entries_order() -> None:
    event = _event(
        type="transaction", request={"url": "u"}, breadcrumbs={"values": [{"message": "b"}]}, spans=[]
    )
    assert entries(event)[0] == {"type": "spans", "data": []}  # spans are emitted even when empty
    assert _types(event) == ["spans", "breadcrumbs", "request"]


def test_empty_interfaces_are_not_entries() -> None:
    event = _event(
        exception={"values": []},
        breadcrumbs={"values": []},
        logentry={},
        debug_meta={"images": []},
        user={"id": "1"},
    )
    assert entries(event) == []


def test_message_entry() -> None:
    assert entries(_event(logentry={"formatted": "hi"})) == [{"type": "message", "data": {"formatted": "hi"}}]
    data = entries(_event(logentry={"formatted": "hi x", "message": "hi %s", "params": ["x"]}))[0]["data"]
    assert data == {"formatted": "hi x", "message": "hi %s", "params": ["x"]}


def test_exception_entry() -> None:
    frame = {"function": "f", "module": "m", "in_app": True, "lineno": 3}
    event = _event(
        exception={
            "values": [
                {
                    "type": "ValueError",
                    "value": "bad",
                    "module": "builtins",
                    "mechanism": {"type": "generic", "handled": False, "data": None},
                    "stacktrace": {"frames": [frame]},
                }
            ]
        }
    )
    data = entries(event)[0]["data"]
    assert data["hasSystemFrames"] is True
    assert data["excOmitted"] is None
    [value] = data["values"]
    assert list(value) == ["type", "value", "mechanism", "threadId", "module", "stacktrace", "rawStacktrace"]
    assert value["type"] == "ValueError"
    assert value["value"] == "bad"
    assert value["mechanism"] == {"type": "generic", "handled": False}
    assert value["threadId"] is None
    assert value["rawStacktrace"] is None
    assert value["stacktrace"]["frames"][0]["function"] == "f"


def test_breadcrumbs_entry() -> None:
    event = _event(breadcrumbs={"values": [{"timestamp": TS, "message": "m", "data": {}}, {"category": "c"}]})
    assert entries(event)[0]["data"]["values"] == [
        {
            "type": "default",
            "timestamp": "2023-11-14T22:13:20Z",
            "level": "info",
            "message": "m",
            "category": None,
            "data": None,
            "event_id": None,
        },
        {
            "type": "default",
            "timestamp": None,
            "level": "info",
            "message": None,
            "category": "c",
            "data": None,
            "event_id": None,
        },
    ]


def test_request_entry() -> None:
    event = _event(
        request={
            "url": "https://e.com/p",
            "method": "GET",
            "query_string": [["a", "1"]],
            "headers": {"b": "2", "a": "1"},
            "cookies": [["c", "3"]],
            "env": {},
        }
    )
    assert entries(event)[0]["data"] == {
        "method": "GET",
        "url": "https://e.com/p",
        "query": [["a", "1"]],
        "fragment": None,
        "data": None,
        "headers": [["a", "1"], ["b", "2"]],
        "cookies": [["c", "3"]],
        "env": None,
        "inferredContentType": None,
    }


# --- frames --------------------------------------------------------------------------------------


def test_frame_context_lines() -> None:
    frame = {
        "lineno": 71,
        "pre_context": [f"pre{i}" for i in range(5)],
        "context_line": "line",
        "post_context": [f"post{i}" for i in range(5)],
    }
    context = stacktrace({"frames": [frame]})["frames"][0]["context"]  # type: ignore[index]
    assert context == (
        [[66 + i, f"pre{i}"] for i in range(5)] + [[71, "line"]] + [[72 + i, f"post{i}"] for i in range(5)]
    )


def test_frame_context_edge_cases() -> None:
    def context(frame: dict[str, Any]) -> Any:
        return stacktrace({"frames": [frame]})["frames"][0]["context"]  # type: ignore[index]

    assert context({"lineno": 5, "context_line": "x"}) == [[5, "x"]]
    assert context({"lineno": 5, "pre_context": ["a"]}) == [[4, "a"], [5, None]]
    assert context({"lineno": 5}) == []
    assert context({"context_line": "x", "pre_context": ["a"]}) == []


def test_frame_keys() -> None:
    frame = {
        "filename": "a.py",
        "abs_path": "/a.py",
        "function": "f",
        "lineno": 1,
        "colno": 2,
        "in_app": False,
    }
    out = stacktrace({"frames": [frame, "junk"]})
    assert out is not None
    assert list(out) == ["frames", "framesOmitted", "registers", "hasSystemFrames"]
    assert out["hasSystemFrames"] is False
    [rendered] = out["frames"]
    assert list(rendered) == [
        "filename",
        "absPath",
        "module",
        "package",
        "platform",
        "instructionAddr",
        "symbolAddr",
        "function",
        "rawFunction",
        "symbol",
        "context",
        "lineNo",
        "colNo",
        "inApp",
        "trust",
        "errors",
        "lock",
        "sourceLink",
        "vars",
    ]
    assert (rendered["absPath"], rendered["lineNo"], rendered["colNo"], rendered["inApp"]) == (
        "/a.py",
        1,
        2,
        False,
    )


def test_frame_addr_mode() -> None:
    assert "addrMode" not in stacktrace({"frames": [{"addr_mode": "abs"}]})["frames"][0]  # type: ignore[index]
    assert stacktrace({"frames": [{"addr_mode": "rel:0"}]})["frames"][0]["addrMode"] == "rel:0"  # type: ignore[index]


# --- tags, user, contexts, message ---------------------------------------------------------------


def test_tags_are_sorted() -> None:
    out = tags([["server_name", "web"], ["level", "error"], ["environment", "prod"]])
    assert out == [
        {"key": "environment", "value": "prod"},
        {"key": "level", "value": "error"},
        {"key": "server_name", "value": "web"},
    ]


def test_tags_unsorted_when_asked() -> None:
    assert [t["key"] for t in tags([["b", "1"], ["a", "2"]], sort=False)] == ["b", "a"]


def test_sentry_prefix_is_stripped() -> None:
    assert tags([["sentry:release", "1.0"]]) == [{"key": "release", "value": "1.0"}]


@pytest.mark.parametrize(
    ("value", "query"),
    [
        ("id:1", 'user.id:"1"'),
        ("username:bob", 'user.username:"bob"'),
        ("email:a@b.c", 'user.email:"a@b.c"'),
        ("ip:1.2.3.4", 'user.ip:"1.2.3.4"'),
        ('id:a"b', 'user.id:"a\\"b"'),
        ("id:a:b", 'user.id:"a:b"'),
    ],
)
def test_user_tag_query(value: str, query: str) -> None:
    assert tags([["user", value]]) == [{"key": "user", "value": value, "query": query}]


@pytest.mark.parametrize("pair", [["user", "name:bob"], ["user", "plain"], ["other", "id:1"]])
def test_no_query_for_other_tags(pair: list[str]) -> None:
    assert "query" not in tags([pair])[0]


def test_invalid_tag_pairs_are_skipped() -> None:
    assert tags([["a", "1"], ["b"], "junk", ["c", "3"]], sort=False) == [
        {"key": "a", "value": "1"},
        {"key": "c", "value": "3"},
    ]


def test_user() -> None:
    assert user({"id": "1", "extra": "x"}) == {
        "id": "1",
        "email": None,
        "username": None,
        "ip_address": None,
        "name": None,
        "data": None,
    }
    assert user({"id": "1", "geo": {"country_code": "AT"}})["geo"] == {"country_code": "AT"}  # type: ignore[index]
    assert user({}) is None
    assert user(None) is None


def test_contexts() -> None:
    assert contexts(
        {
            "os": {"name": "Linux", "version": None, "build": ""},
            "custom": {"a": 1},
            "renamed": {"type": "runtime", "name": "CPython"},
            "junk": "x",
        }
    ) == {
        "os": {"name": "Linux", "type": "os"},
        "custom": {"a": 1, "type": "default"},
        "renamed": {"name": "CPython", "type": "runtime"},
    }
    assert contexts(None) == {}


def test_message() -> None:
    assert message({"logentry": {"formatted": "f", "message": "m"}}) == "f"
    assert message({"logentry": {"message": "m"}}) == "m"
    assert message({"exception": {}}) == ""


# --- full / simple events ------------------------------------------------------------------------


def test_full_error_event() -> None:
    event = _event(
        title="ValueError: bad",
        culprit="app in f",
        metadata={"type": "ValueError", "value": "bad", "filename": "app.py"},
        tags=[["level", "error"]],
        fingerprint_hashes=["a" * 32],
        grouping_config="bughound:legacy-0",
        sdk={"name": "sentry.python", "version": "2.75.0", "integrations": ["x"]},
        extra={"k": "v"},
        modules={"django": "5.0"},
        dist="d1",
        _size=123,
    )
    out = full_event(event, group_id=5, project_id=42)
    assert out["id"] == out["eventID"] == EVENT_ID
    assert (out["groupID"], out["projectID"], out["size"]) == ("5", "42", 123)
    assert out["dateCreated"] == "2023-11-14T22:13:20Z"
    assert out["dateReceived"] == "2023-11-14T22:13:21Z"
    assert out["title"] == "ValueError: bad"
    assert out["location"] == "app.py"
    assert out["culprit"] == "app in f"
    assert out["message"] == ""
    assert out["sdk"] == {"name": "sentry.python", "version": "2.75.0"}
    assert out["context"] == {"k": "v"}
    assert out["packages"] == {"django": "5.0"}
    assert out["dist"] == "d1"
    assert out["crashFile"] is None
    assert out["fingerprints"] == ["a" * 32]
    assert out["groupingConfig"] == {"id": "bughound:legacy-0", "enhancements": ""}
    assert out["contexts"] == {}
    assert out["occurrence"] is None
    assert out["tags"] == [{"key": "level", "value": "error"}]
    assert "startTimestamp" not in out


def test_transaction_event_timestamps() -> None:
    event = _event(type="transaction", start_timestamp=TS - 1.5, measurements={"lcp": {"value": 1}})
    out = full_event(event, group_id=None, project_id=1)
    assert out["startTimestamp"] == TS - 1.5
    assert out["endTimestamp"] == TS
    assert out["measurements"] == {"lcp": {"value": 1}}
    assert out["breakdowns"] is None
    assert out["groupID"] is None
    assert out["location"] is None
    for key in ("dateCreated", "crashFile", "culprit", "fingerprints", "groupingConfig"):
        assert key not in out


def test_default_meta_shape() -> None:
    out = full_event(_event(), group_id=1, project_id=1)
    assert out["_meta"] == {
        "entries": {},
        "message": None,
        "user": None,
        "contexts": None,
        "sdk": None,
        "context": None,
        "packages": None,
        "tags": {},
    }
    assert out["_meta"] == EMPTY_META


def test_meta_from_scrubbing() -> None:
    remark = {"password": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 7}}}
    out = full_event(_event(_meta={"user": remark, "extra": remark}), group_id=1, project_id=1)
    assert out["_meta"]["user"] == remark
    assert out["_meta"]["context"] == remark
    assert out["_meta"]["entries"] == {}


def test_errors_are_filtered_and_described() -> None:
    event = _event(
        errors=[
            {"type": "clock_drift", "name": "timestamp", "sdk_time": "a", "server_time": "b"},
            {"type": "invalid_data", "name": "tags.0.1"},
            {"type": "invalid_data", "name": "breadcrumbs.values.0.type"},
            {"type": "invalid_data", "name": "exception.values.0.stacktrace.frames.0.vars"},
            {"type": "weird"},
            "junk",
        ]
    )
    assert full_event(event, group_id=1, project_id=1)["errors"] == [
        {
            "type": "clock_drift",
            "message": "Clock drift detected in SDK",
            "data": {"name": "timestamp", "sdk_time": "a", "server_time": "b"},
        },
        {"type": "weird", "message": "Unknown error", "data": {}},
    ]


def test_simple_event_keys() -> None:
    out = simple_event(_event(title="T", tags=[["b", "2"], ["a", "1"]]), group_id=None, project_id=3)
    assert list(out) == [
        "id",
        "event.type",
        "groupID",
        "eventID",
        "projectID",
        "message",
        "title",
        "location",
        "culprit",
        "user",
        "tags",
        "platform",
        "dateCreated",
        "crashFile",
        "metadata",
    ]
    assert out["event.type"] == "error"
    assert out["groupID"] is None
    assert out["projectID"] == "3"
    assert out["dateCreated"] == "2023-11-14T22:13:20Z"
    assert [t["key"] for t in out["tags"]] == ["a", "b"]
    assert out["metadata"] == {}


def test_untitled_event() -> None:
    assert full_event(_event(), group_id=None, project_id=1)["title"] == "<untitled>"


# --- stored shapes that crash the serializer -----------------------------------------------------


@pytest.mark.parametrize("frames", [1, True])
def test_non_list_frames_do_not_crash(frames: Any) -> None:
    # Bug: `for f in st.get("frames") or []` raises TypeError; normalize leaves the top-level
    # stacktrace as the SDK sent it.
    out = full_event(_event(stacktrace={"frames": frames}), group_id=1, project_id=1)
    assert isinstance(out["entries"], list)


@pytest.mark.parametrize("key", ["exception", "threads"])
def test_interface_values_that_are_not_a_list(key: str) -> None:
    # Bug: `[v for v in data.get("values") or [] ...]` raises TypeError for {"values": true}, a
    # shape normalize keeps.
    assert full_event(_event(**{key: {"values": True}}), group_id=1, project_id=1)["entries"] == []


def test_thread_stacktrace_that_is_not_an_object() -> None:
    # Bug: `(t.get("stacktrace") or {}).get("frames")` raises AttributeError for a list.
    out = full_event(_event(threads={"values": [{"id": 1, "stacktrace": [1, 2]}]}), group_id=1, project_id=1)
    assert out["entries"][0]["data"]["values"][0]["stacktrace"] is None


def test_unhashable_context_type() -> None:
    # Bug: `kind in KNOWN_CONTEXT_TYPES` raises TypeError for a list `type`.
    assert contexts({"custom": {"type": ["x"], "a": 1}}) == {"custom": {"a": 1, "type": "default"}}
