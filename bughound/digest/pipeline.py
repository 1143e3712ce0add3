"""Stage 3: spool records -> what storage writes (pure: no I/O, no clock).

`digest_records()` parses each spooled envelope, normalizes, scrubs and groups its events,
collects attachments and user reports, and counts every item in the outcomes rollup. Storage
(`bughound.storage.digestion`) then writes the batch in one transaction, deduplicating events on
`(project_id, event_id)` so a record digested twice adds nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import orjson
import zstandard

from bughound.digest.normalize import Context, normalize_event, parse_timestamp, user_ident
from bughound.digest.scrub import scrub_event
from bughound.digest.tags import derive_tags
from bughound.grouping import GroupingResult, calculate
from bughound.grouping.settings import ProjectGrouping
from bughound.grouping.titles import message_of, metadata_for, title_for
from bughound.ingest import envelope as envelope_format
from bughound.ingest.categories import ITEM_CATEGORY, Outcome, item_quantities
from bughound.spool.base import SpoolRecord

OutcomeKey = tuple[int, int, int, int, str, int, str]  # org, project, key, hour, category, outcome, reason
_LOCAL = threading.local()  # a compressor per thread: one may not be used by two at once


@dataclasses.dataclass(slots=True)  # a batch holds hundreds: no __dict__ each
class PreparedEvent:
    org_id: int
    project_id: int
    key_id: int
    event_id: str
    type: str
    category: str
    timestamp: float
    received: float
    level: str | None
    environment: str | None
    release: str | None
    dist: str | None
    platform: str | None
    user_ident: str | None
    title: str
    message: str
    culprit: str
    logger: str | None
    transaction: str | None
    trace_id: str | None
    tags: list[list[str]]
    grouping: GroupingResult | None  # None: not grouped into an issue (transactions, feedback)
    size: int
    data: bytes  # zstd-compressed normalized JSON


@dataclasses.dataclass(slots=True)
class PreparedAttachment:
    project_id: int
    event_id: str
    name: str
    content_type: str | None
    attachment_type: str
    data: bytes
    date_added: float


@dataclasses.dataclass(slots=True)
class PreparedUserReport:
    project_id: int
    event_id: str
    name: str
    email: str
    comments: str
    date_added: float


@dataclasses.dataclass
class DigestBatch:
    events: list[PreparedEvent] = dataclasses.field(default_factory=list)
    attachments: list[PreparedAttachment] = dataclasses.field(default_factory=list)
    user_reports: list[PreparedUserReport] = dataclasses.field(default_factory=list)
    outcomes: collections.Counter[OutcomeKey] = dataclasses.field(default_factory=collections.Counter)


def hour_of(ts: float) -> int:
    return int(ts // 3600 * 3600)


def json_depth_ok(value: Any, limit: int) -> bool:
    """False if `value` nests deeper than `limit` (Relay/serde's recursion limit is 128)."""
    if limit > 0:
        # Indented JSON puts the members of a container `limit` levels deep at 2 * limit spaces:
        # without such a line no container is deeper than `limit`. orjson writes it much faster
        # than Python walks the tree; the walk decides when the text cannot.
        try:
            text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            pass
        else:
            if b"\n" + b" " * (2 * limit) not in text:
                return True
    return _walk_depth_ok(value, limit)


def _walk_depth_ok(value: Any, limit: int) -> bool:
    if limit <= 0:
        return False
    children = value.values() if type(value) is dict else value if type(value) is list else ()
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and not _walk_depth_ok(child, limit - 1):
            return False
    return True


class InvalidItem(ValueError):
    """An item payload that cannot be used; `reason` is Relay's discard reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_json(payload: bytes, max_depth: int) -> Any:
    """The item's JSON; InvalidItem if it is malformed or nested deeper than `max_depth`."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidItem("invalid_json") from None
    # Fewer opening brackets than the limit cannot nest deeper than it: skip the walk.
    if payload.count(b"{") + payload.count(b"[") >= max_depth and not json_depth_ok(value, max_depth):
        raise InvalidItem("nesting_too_deep")
    return value


def compress(data: bytes) -> bytes:
    try:
        compressor = _LOCAL.compressor
    except AttributeError:
        compressor = _LOCAL.compressor = zstandard.ZstdCompressor(level=1)  # as small as 3, and faster
    return compressor.compress(data)


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(data)


class _Digester:
    def __init__(
        self,
        batch: DigestBatch,
        record: SpoolRecord,
        *,
        retention_days: int,
        max_json_depth: int,
        grouping: ProjectGrouping,
    ) -> None:
        meta = record.meta
        self.batch = batch
        self.record = record
        self.org_id = int(meta["org_id"])
        self.project_id = int(meta["project_id"])
        self.key_id = int(meta.get("key_id") or 0)
        self.hour = hour_of(record.received)
        self.retention_days = retention_days
        self.max_json_depth = max_json_depth
        self.grouping = grouping

    def outcome(
        self, category: str, outcome: Outcome, reason: str = "", quantity: int = 1, hour: int | None = None
    ) -> None:
        if quantity > 0:
            key = (
                self.org_id,
                self.project_id,
                self.key_id,
                self.hour if hour is None else hour,
                category,
                int(outcome),
                reason,
            )
            self.batch.outcomes[key] += quantity

    def json_object(self, item: envelope_format.Item) -> dict[str, Any]:
        value = parse_json(item.payload, self.max_json_depth)
        if not isinstance(value, dict):
            raise InvalidItem("invalid_json")
        return value

    def run(self) -> None:
        meta = self.record.meta
        for category, outcome, reason, quantity in meta.get("outcomes") or []:
            self.outcome(category, Outcome(outcome), reason, quantity)
        if meta.get("kind") == "outcomes" or not self.record.body:
            return
        try:
            env = envelope_format.parse(self.record.body)
        except Exception:  # ingestion checked the framing; a record that fails now is corrupt
            self.outcome("error", Outcome.INVALID, "invalid_envelope")
            return
        event_id = env.event_id
        # The envelope's event comes first: its attachments share its fate.
        event_items = [item for item in env.items if item.type in envelope_format.EVENT_ITEM_TYPES]
        event_failure: str | None = None
        for i, item in enumerate(event_items):
            if i:  # one event per envelope, as in Relay
                self.invalid(item, "duplicate_item")
                continue
            try:
                self.event(item, env, event_id)
            except InvalidItem as invalid:
                event_failure = invalid.reason
                self.invalid(item, invalid.reason)
        for item in env.items:
            kind = item.type
            try:
                if kind in envelope_format.EVENT_ITEM_TYPES:
                    continue
                if kind == "attachment":
                    if event_failure:
                        self.invalid(item, event_failure)
                    else:
                        self.attachment(item, event_id)
                elif kind == "user_report":
                    self.user_report(item)
                elif kind == "client_report":
                    self.client_report(item)
                elif kind in ("session", "sessions"):
                    self.sessions(item)
                elif kind in ("log", "span", "trace_metric", "otel_span"):
                    self.container(item)
                else:
                    category = ITEM_CATEGORY.get(kind)
                    if category is not None and kind != "replay_recording":
                        self.outcome(category, Outcome.ACCEPTED)
                    # unknown item types are accepted and ignored
            except InvalidItem as invalid:
                # Relay emits no outcomes for broken client reports or user reports.
                if kind not in ("client_report", "user_report"):
                    self.invalid(item, invalid.reason)

    def invalid(self, item: envelope_format.Item, reason: str) -> None:
        for category, quantity in item.quantities():
            self.outcome(category, Outcome.INVALID, reason, quantity)

    def event(self, item: envelope_format.Item, env: envelope_format.Envelope, event_id: str | None) -> None:
        payload = self.json_object(item)
        meta = self.record.meta
        ctx = Context(
            received=self.record.received,
            project_id=self.project_id,
            key_id=self.key_id,
            envelope_event_id=event_id,
            sent_at=parse_timestamp(env.headers.get("sent_at")),
            client_ip=meta.get("client_ip"),
            sentry_client=meta.get("client"),
            retention_days=self.retention_days,
        )
        item_type = "feedback" if item.type in ("feedback", "user_report_v2") else item.type
        event = normalize_event(payload, ctx, item_type)
        scrub_event(event)
        kind = event["type"]
        # Relay counts default (message) events as `error` too.
        category = {"transaction": "transaction", "feedback": "feedback", "csp": "security"}.get(
            kind, "error"
        )
        grouping = calculate(event, self.grouping) if kind in ("error", "default", "csp") else None
        if grouping is not None:
            event = grouping.event  # with the in_app and fingerprint grouping decided
            # The batch keeps the result until it is written: not the whole event with it.
            grouping = dataclasses.replace(grouping, event={})
            event["culprit"] = grouping.culprit or ""  # Sentry's culprit is never null: "" when unknown
            event["metadata"] = grouping.metadata
            event["title"] = grouping.title
        else:
            event["metadata"] = metadata_for(event)
            event["title"] = title_for(event, event["metadata"])
        event["tags"] = derive_tags(event)
        raw = orjson.dumps(event)
        contexts = event.get("contexts") or {}
        trace = contexts.get("trace") if isinstance(contexts, dict) else None
        self.batch.events.append(
            PreparedEvent(
                org_id=self.org_id,
                project_id=self.project_id,
                key_id=self.key_id,
                event_id=event["event_id"],
                type=kind,
                category=category,
                timestamp=event["timestamp"],
                received=event["received"],
                level=event.get("level"),
                environment=event.get("environment"),
                release=event.get("release"),
                dist=event.get("dist"),
                platform=event.get("platform"),
                user_ident=user_ident(event.get("user")),
                title=event["title"],
                message=message_of(event),
                culprit=event.get("culprit") or "",
                logger=event.get("logger") or None,
                transaction=event.get("transaction"),
                trace_id=str(trace.get("trace_id"))[:32]
                if isinstance(trace, dict) and trace.get("trace_id")
                else None,
                tags=event["tags"],
                grouping=grouping,
                size=len(item.payload),
                data=compress(raw),
            )
        )

    def attachment(self, item: envelope_format.Item, event_id: str | None) -> None:
        if not event_id:
            self.outcome("attachment", Outcome.INVALID, "missing_event_id", len(item.payload))
            return
        filename = item.headers.get("filename")
        self.batch.attachments.append(
            PreparedAttachment(
                project_id=self.project_id,
                event_id=event_id,
                name=str(filename)[:256] if filename else "attachment",
                content_type=str(item.headers["content_type"])[:128]
                if item.headers.get("content_type")
                else None,
                attachment_type=str(item.headers.get("attachment_type") or "event.attachment")[:64],
                data=item.payload,
                date_added=self.record.received,
            )
        )
        for category, quantity in item.quantities():
            self.outcome(category, Outcome.ACCEPTED, quantity=quantity)

    def user_report(self, item: envelope_format.Item) -> None:
        payload = self.json_object(item)
        try:
            event_id = envelope_format.normalize_event_id(payload.get("event_id"))
        except ValueError:
            return
        self.batch.user_reports.append(
            PreparedUserReport(
                project_id=self.project_id,
                event_id=event_id,
                name=str(payload.get("name") or "")[:128],
                email=str(payload.get("email") or "")[:75],
                comments=str(payload.get("comments") or "")[:4096],
                date_added=self.record.received,
            )
        )

    def client_report(self, item: envelope_format.Item) -> None:
        payload = self.json_object(item)
        ts = parse_timestamp(payload.get("timestamp"))
        hour = hour_of(ts) if ts is not None and abs(ts - self.record.received) < 30 * 86400 else self.hour
        for field, outcome in (
            ("discarded_events", Outcome.CLIENT_DISCARD),
            ("rate_limited_events", Outcome.RATE_LIMITED),
            ("filtered_events", Outcome.FILTERED),
            ("filtered_sampling_events", Outcome.FILTERED),
        ):
            for entry in payload.get(field) or []:
                if not isinstance(entry, dict):
                    continue
                reason, category, quantity = entry.get("reason"), entry.get("category"), entry.get("quantity")
                if (
                    not isinstance(reason, str)
                    or not isinstance(category, str)
                    or not isinstance(quantity, int)
                ):
                    continue
                if quantity <= 0 or not reason or len(reason) > 200:
                    continue
                self.outcome(category[:32], outcome, reason, quantity, hour)

    def sessions(self, item: envelope_format.Item) -> None:
        payload = self.json_object(item)
        if item.type == "session":
            self.outcome("session", Outcome.ACCEPTED)
            return
        total = 0
        for aggregate in payload.get("aggregates") or []:
            if isinstance(aggregate, dict):
                total += sum(
                    v
                    for k in ("exited", "errored", "abnormal", "crashed")
                    if isinstance(v := aggregate.get(k), int) and v > 0
                )
        self.outcome("session", Outcome.ACCEPTED, quantity=total)

    def container(self, item: envelope_format.Item) -> None:
        count = item.headers.get("item_count")
        if not isinstance(count, int) or count < 0:
            items = self.json_object(item).get("items")
            count = len(items) if isinstance(items, list) else 1
        for category, quantity in item_quantities(item.type, count, len(item.payload)):
            self.outcome(category, Outcome.ACCEPTED, quantity=quantity)


_DEFAULT_GROUPING = ProjectGrouping()


def digest_records(
    records: list[SpoolRecord],
    *,
    retention_days: int = 90,
    max_json_depth: int = 128,
    grouping: Mapping[int, ProjectGrouping] | None = None,
) -> DigestBatch:
    """`grouping`: each project's grouping settings (a project missing from it gets the defaults)."""
    batch = DigestBatch()
    settings = grouping or {}
    for record in records:
        project_id = int(record.meta.get("project_id") or 0)
        _Digester(
            batch,
            record,
            retention_days=retention_days,
            max_json_depth=max_json_depth,
            grouping=settings.get(project_id) or _DEFAULT_GROUPING,
        ).run()
    return batch


def sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()
