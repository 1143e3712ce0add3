"""The envelope wire format (Relay `envelope/mod.rs`, `envelope/item.rs`; PROTOCOL.md §4)."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bughound.ingest.envelope import (
    MAX_ITEMS,
    Envelope,
    Item,
    from_event,
    normalize_event_id,
    parse,
)
from bughound.ingest.errors import IngestError

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _parse_error(body: bytes) -> IngestError:
    with pytest.raises(IngestError) as info:
        parse(body)
    return info.value


# --- framing -------------------------------------------------------------------------------------


def test_item_with_explicit_length() -> None:
    body = (
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n'
        b'{"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}\n'
        b"\xef\xbb\xbfHello\r\n\n"
        b'{"type":"event","length":41}\n'
        b'{"message":"hello world","level":"error"}\n'
    )
    env = parse(body)
    assert [item.type for item in env.items] == ["attachment", "event"]
    # A length-delimited payload may contain "\r\n"; the "\r" belongs to the payload.
    assert env.items[0].payload == b"\xef\xbb\xbfHello\r\n"
    assert env.items[0].headers["filename"] == "hello.txt"
    assert env.items[1].payload == b'{"message":"hello world","level":"error"}'
    assert env.event_id == EVENT_ID


def test_item_without_length_runs_to_the_next_newline() -> None:
    body = b'{}\n{"type":"attachment"}\nhelloworld\n{"type":"replay_recording"}\nhelloworld'
    env = parse(body)
    assert [(item.type, item.payload) for item in env.items] == [
        ("attachment", b"helloworld"),
        ("replay_recording", b"helloworld"),
    ]


def test_item_without_length_keeps_carriage_return() -> None:
    env = parse(b'{}\n{"type":"attachment"}\nline\r\n')
    assert env.items[0].payload == b"line\r"


def test_empty_envelope_header_is_valid() -> None:
    env = parse(b'{}\n{"type":"session"}\n{"sid":"x"}\n')
    assert env.headers == {}
    assert env.event_id is None  # no event item: no id is generated
    assert env.items[0].payload == b'{"sid":"x"}'


def test_header_only_envelope() -> None:
    env = parse(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}')
    assert env.items == []
    assert env.event_id == EVENT_ID


def test_zero_length_item_followed_by_blank_line() -> None:
    # `{"type":"attachment","length":0}\n\n` is an empty payload and its terminating newline.
    env = parse(b'{}\n{"type":"attachment","length":0}\n\n{"type":"attachment","length":2}\nab\n')
    assert [item.payload for item in env.items] == [b"", b"ab"]


def test_zero_length_item_at_the_end() -> None:
    env = parse(b'{}\n{"type":"attachment","length":0}\n\n')
    assert len(env.items) == 1
    assert env.items[0].payload == b""


def test_item_header_at_eof_has_an_empty_payload() -> None:
    env = parse(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"attachment"}')
    assert len(env.items) == 1
    assert env.items[0].payload == b""


@pytest.mark.parametrize("trailer", [b"", b"\n"])
def test_trailing_newline_is_optional(trailer: bytes) -> None:
    with_length = parse(b'{}\n{"type":"attachment","length":5}\nhello' + trailer)
    without_length = parse(b'{}\n{"type":"attachment"}\nhello' + trailer)
    assert with_length.items[0].payload == b"hello"
    assert without_length.items[0].payload == b"hello"
    assert len(with_length.items) == len(without_length.items) == 1


def test_payload_may_contain_newlines_when_length_is_given() -> None:
    env = parse(b'{}\n{"type":"attachment","length":6}\na\nb\n\nc\n')
    assert env.items[0].payload == b"a\nb\n\nc"


def test_missing_newline_after_length_payload_is_an_error() -> None:
    error = _parse_error(b'{}\n{"type":"attachment","length":3}\nhelloworld\n')
    assert error.status == 400
    assert error.detail.startswith("invalid event envelope")


def test_payload_shorter_than_length_is_an_error() -> None:
    error = _parse_error(b'{}\n{"type":"attachment","length":100}\nhello\n')
    assert error.status == 400
    assert error.detail.startswith("invalid event envelope")


@pytest.mark.parametrize("length", ["-1", '"5"', "1.5", "true"])
def test_invalid_length_is_an_error(length: str) -> None:
    error = _parse_error(b'{}\n{"type":"attachment","length":' + length.encode() + b"}\nhello\n")
    assert error.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"not json\n",
        b"[1,2]\n",
        b'{}\n{"type":"event"\n{}\n',
        b'{}\n{"length":2}\nab\n',
        b'{}\n{"type":""}\nab\n',
        b'{}\n"event"\nab\n',
    ],
)
def test_bad_headers_are_errors(body: bytes) -> None:
    error = _parse_error(body)
    assert error.status == 400
    assert error.detail.startswith("invalid event envelope")


@pytest.mark.parametrize("body", [b"", b"  \n\n"])
def test_empty_body(body: bytes) -> None:
    error = _parse_error(body)
    assert (error.status, error.detail) == (400, "empty request body")


def test_max_items_is_accepted() -> None:
    body = b"{}\n" + b'{"type":"attachment"}\nhello world\n' * MAX_ITEMS
    assert len(parse(body).items) == MAX_ITEMS == 500


def test_too_many_items() -> None:
    body = b"{}\n" + b'{"type":"attachment"}\nhello world\n' * (MAX_ITEMS + 1)
    error = _parse_error(body)
    assert (error.status, error.detail) == (400, "too many individual items")


def test_unknown_item_types_and_headers_are_kept() -> None:
    env = parse(b'{"custom":1}\n{"type":"invalid_unknown","x":{"y":2}}\nhelloworld\n')
    assert env.headers == {"custom": 1}
    assert env.items[0].type == "invalid_unknown"
    assert env.items[0].headers == {"type": "invalid_unknown", "x": {"y": 2}}


@pytest.mark.parametrize(
    ("types", "internal"),
    [
        (["integration"], True),
        (["event", "integration"], True),
        (["event", "attachment", "client_report"], False),
        (["metric_buckets", "statsd", "integrations", "something_new"], False),
        ([], False),
    ],
)
def test_internal_items(types: list[str], internal: bool) -> None:
    body = b"{}\n" + b"".join(b'{"type":"' + t.encode() + b'"}\n{}\n' for t in types)
    assert parse(body).has_internal_items is internal


# --- event_id ------------------------------------------------------------------------------------


@pytest.mark.parametrize("item_type", ["event", "transaction", "security", "feedback"])
def test_event_id_generated_when_an_event_item_exists(item_type: str) -> None:
    env = parse(b'{}\n{"type":"' + item_type.encode() + b'"}\n{}\n')
    assert env.event_id is not None
    assert HEX32.match(env.event_id)
    assert env.headers["event_id"] == env.event_id


@pytest.mark.parametrize("item_type", ["attachment", "session", "client_report", "log"])
def test_no_event_id_generated_without_an_event_item(item_type: str) -> None:
    env = parse(b'{}\n{"type":"' + item_type.encode() + b'"}\n{}\n')
    assert env.event_id is None
    assert "event_id" not in env.headers


def test_event_id_null_is_replaced_for_event_items() -> None:
    env = parse(b'{"event_id":null}\n{"type":"event"}\n{}\n')
    assert env.event_id is not None and HEX32.match(env.event_id)


def test_event_id_is_kept_when_present() -> None:
    env = parse(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{}\n')
    assert env.event_id == EVENT_ID


def test_uuid_with_dashes_is_normalized() -> None:
    env = parse(b'{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC"}\n{"type":"event"}\n{}\n')
    assert env.event_id == EVENT_ID


@pytest.mark.parametrize(
    "event_id",
    [
        '"xyz"',
        '"9ec79c33ec9942ab8353589fcb2e04d"',
        '"9ec79c33ec9942ab8353589fcb2e04dcc"',
        "42",
        '"9ec79c33ec9942ab8353589fcb2e04dg"',
    ],
)
def test_invalid_event_id_is_rejected(event_id: str) -> None:
    error = _parse_error(b'{"event_id":' + event_id.encode() + b'}\n{"type":"event"}\n{}\n')
    assert error.status == 400
    assert error.detail.startswith("invalid event envelope")


def test_normalize_event_id() -> None:
    assert normalize_event_id("9EC79C33EC9942AB8353589FCB2E04DC") == EVENT_ID
    assert normalize_event_id("9ec79c33-ec99-42ab-8353-589fcb2e04dc") == EVENT_ID
    for bad in [
        "",
        "9ec79c33-ec99-42ab-8353-589fcb2e04d",
        None,
        5,
        "-" * 36,
        "9ec79c33ec99-42ab8353589fcb2e04dc",
    ]:
        with pytest.raises(ValueError):
            normalize_event_id(bad)


# --- serialize / from_event ----------------------------------------------------------------------


def test_serialize_round_trip() -> None:
    env = Envelope(
        {"event_id": EVENT_ID, "sent_at": "2024-01-01T00:00:00Z"},
        [
            Item({"type": "event"}, b'{"message":"hi"}'),
            Item({"type": "attachment", "filename": "a.txt"}, b"line1\nline2\r\n"),
            Item({"type": "attachment", "length": 999}, b""),
        ],
    )
    body = env.serialize()
    assert body.endswith(b"\n")
    parsed = parse(body)
    assert parsed.headers == env.headers
    assert [item.payload for item in parsed.items] == [item.payload for item in env.items]
    # serialize() writes the real length of every payload.
    assert [item.headers["length"] for item in parsed.items] == [16, 13, 0]
    assert parsed.items[1].headers["filename"] == "a.txt"


def test_serialize_writes_one_json_line_per_header() -> None:
    body = Envelope({}, [Item({"type": "session"}, b"{}")]).serialize()
    assert body == b'{}\n{"type":"session","length":2}\n{}\n'


def test_from_event() -> None:
    env = from_event(b"{}", {"event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC"})
    assert env.event_id == EVENT_ID
    assert [(item.type, item.payload) for item in env.items] == [("event", b"{}")]
    assert from_event(b"{}", {"type": "transaction"}).items[0].type == "transaction"
    assert from_event(b"{}", {"type": "csp"}).items[0].type == "security"
    generated = from_event(b"{}", {}).event_id
    assert generated is not None and HEX32.match(generated)
    with pytest.raises(IngestError) as info:
        from_event(b"{}", {"event_id": "nope"})
    assert info.value.status == 400


# --- property: parse(serialize(x)) == x ----------------------------------------------------------

_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_item_types = st.sampled_from(["event", "attachment", "session", "transaction", "client_report"]) | st.text(
    min_size=1, max_size=12
)
_items = st.lists(
    st.tuples(
        _item_types,
        st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("type", "length")), _json, max_size=3),
        st.binary(max_size=64) | st.text(alphabet="a\n\r{}", max_size=20).map(str.encode),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(items=_items, with_id=st.booleans())
def test_serialize_parse_round_trip(items: list[tuple[str, dict[str, Any], bytes]], with_id: bool) -> None:
    headers: dict[str, Any] = {"event_id": EVENT_ID} if with_id else {"sdk": {"name": "x"}}
    env = Envelope(dict(headers), [Item({"type": ty, **extra}, payload) for ty, extra, payload in items])
    parsed = parse(env.serialize())
    assert [item.payload for item in parsed.items] == [payload for _, _, payload in items]
    assert [item.headers for item in parsed.items] == [
        {"type": ty, **extra, "length": len(payload)} for ty, extra, payload in items
    ]
    expected_headers = dict(headers)
    if not with_id and any(ty in ("event", "transaction") for ty, _, _ in items):
        assert parsed.event_id is not None and HEX32.match(parsed.event_id)
        expected_headers["event_id"] = parsed.event_id
    assert parsed.headers == expected_headers
    # Serializing the parsed envelope again is byte-for-byte stable.
    assert parsed.serialize() == Envelope(parsed.headers, parsed.items).serialize()
    assert orjson.loads(parsed.serialize().split(b"\n", 1)[0]) == parsed.headers
