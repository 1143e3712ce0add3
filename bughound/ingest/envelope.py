"""The envelope wire format (pure: bytes in, items out), after Relay's `envelope/mod.rs`.

    Envelope = Headers { "\n" Item } [ "\n" ]      Item = Headers "\n" Payload

An item with `length` takes exactly that many bytes, which must be followed by `\n` or the
end; an item without `length` runs to the next `\n`. Payloads are not parsed here.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import orjson

from bughound.ingest.categories import item_quantities
from bughound.ingest.errors import bad_request

MAX_ITEMS = 500
_EVENT_ID = re.compile(r"^[0-9a-fA-F]{32}$")
# Item types that make an event: the envelope needs an event_id if it carries one of these.
EVENT_ITEM_TYPES = frozenset(
    {"event", "transaction", "security", "raw_security", "feedback", "user_report_v2"}
)
# Relay's internal item types (`ItemType::is_internal`): made by its own integration endpoints
# (OTLP, Vercel, ...) and never accepted from a client.
INTERNAL_ITEM_TYPES = frozenset({"integration"})


@dataclasses.dataclass
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def quantities(self) -> list[tuple[str, int]]:
        """(data category, quantity) pairs this item counts as in outcomes."""
        return item_quantities(self.type, self.headers.get("item_count"), len(self.payload))


@dataclasses.dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[Item]

    @property
    def has_internal_items(self) -> bool:
        return any(item.type in INTERNAL_ITEM_TYPES for item in self.items)

    @property
    def event_id(self) -> str | None:
        value = self.headers.get("event_id")
        return value if isinstance(value, str) else None

    def serialize(self) -> bytes:
        """The canonical form: every item with an explicit `length`."""
        out = [orjson.dumps(self.headers)]
        for item in self.items:
            headers = dict(item.headers, length=len(item.payload))
            out += [orjson.dumps(headers), item.payload]
        return b"\n".join(out) + b"\n"


def invalid(reason: str) -> Exception:
    return bad_request(f"invalid event envelope: {reason}")


def normalize_event_id(value: Any) -> str:
    """32 lowercase hex digits; UUIDs with dashes are accepted."""
    if isinstance(value, str):
        text = value.replace("-", "") if len(value) == 36 else value
        if _EVENT_ID.match(text):
            return text.lower()
    raise ValueError(f"invalid event id {value!r}")


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise invalid(f"invalid {what} JSON") from None
    if not isinstance(value, dict):
        raise invalid(f"{what} is not a JSON object")
    return value


def parse(body: bytes) -> Envelope:
    if not body.strip():
        raise bad_request("empty request body")
    end = body.find(b"\n")
    end = len(body) if end < 0 else end
    headers = _json_object(body[:end], "envelope header")
    if "event_id" in headers and headers["event_id"] is not None:
        try:
            headers["event_id"] = normalize_event_id(headers["event_id"])
        except ValueError:
            raise invalid("invalid event_id in envelope header") from None
    items: list[Item] = []
    pos = end + 1
    size = len(body)
    while pos < size:
        if not body[pos:].strip():
            break  # trailing whitespace after the last item
        line_end = body.find(b"\n", pos)
        line_end = size if line_end < 0 else line_end
        item_headers = _json_object(body[pos:line_end], "item header")
        if not isinstance(item_headers.get("type"), str) or not item_headers["type"]:
            raise invalid("item header has no type")
        pos = line_end + 1
        length = item_headers.get("length")
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise invalid("invalid item length")
            if pos + length > size:
                raise invalid("item payload is shorter than its length")
            payload = body[pos : pos + length]
            pos += length
            if pos < size:
                if body[pos : pos + 1] != b"\n":
                    raise invalid("missing newline after item payload")
                pos += 1
        else:
            payload_end = body.find(b"\n", pos)
            payload_end = size if payload_end < 0 else payload_end
            payload = body[pos:payload_end]
            pos = payload_end + 1
        items.append(Item(item_headers, payload))
        if len(items) > MAX_ITEMS:
            raise bad_request("too many individual items")
    envelope = Envelope(headers, items)
    if envelope.event_id is None and any(item.type in EVENT_ITEM_TYPES for item in items):
        headers["event_id"] = uuid.uuid4().hex
    return envelope


def from_event(payload: bytes, event: dict[str, Any]) -> Envelope:
    """Wrap a legacy `/store/` event into an envelope with one item."""
    try:
        event_id = normalize_event_id(event.get("event_id")) if event.get("event_id") else uuid.uuid4().hex
    except ValueError:
        raise bad_request("invalid event_id") from None
    kind = event.get("type")
    item_type = "transaction" if kind == "transaction" else "security" if kind == "csp" else "event"
    return Envelope({"event_id": event_id}, [Item({"type": item_type}, payload)])
