"""Stage 1: the SDK endpoints. Authenticate, bound the size, rate limit, spool, acknowledge.

`POST [/prefix]/api/{project_id}/envelope/`, `POST|GET [/prefix]/api/{project_id}/store/` and
`POST /api/store/`, as Relay serves them. A pure ASGI app (the hot path skips the framework);
nothing here parses event payloads, groups or touches the main database on the hot path.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from anyio import to_thread

from bughound import __version__
from bughound.config import Settings
from bughound.ingest import envelope as envelope_format
from bughound.ingest.auth import Auth, auth_from_request, parse_dsn
from bughound.ingest.categories import (
    KEY_QUOTA_CATEGORIES,
    Outcome,
    discard_item_type,
    rate_limit_categories,
)
from bughound.ingest.decode import decode_body, is_legacy_python_client, repair_python_json
from bughound.ingest.errors import IngestError, bad_request, too_large
from bughound.ingest.ratelimit import KeyRateLimiter, Limited
from bughound.spool.base import Spool
from bughound.storage.ratelimits import SharedKeyRateLimiter
from bughound.storage.store import ProjectKey, Store

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("bughound.ingest")
INGEST_PATH = re.compile(r"^(?:/.*)?/api/(?:(\d+)/)?(envelope|store)/$")
_SLASHES = re.compile(r"/{2,}")
RATE_LIMITED_DETAIL = (
    "Sentry dropped data due to a quota or internal rate limit being reached. This will not affect your "
    "application. See https://docs.sentry.io/product/accounts/quotas/ for more information."
)
_GIF = base64.b64decode("R0lGODlhAQABAAAAACH5BAEAAAAALAAAAAABAAEAAAI=")

CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-sentry-error, x-sentry-rate-limits, retry-after"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"server", f"bughound/{__version__}".encode()),
]
PREFLIGHT_HEADERS = [  # sent with CORS_HEADERS
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, content-type, "
        b"authentication, authorization, content-encoding, transfer-encoding",
    ),
    (b"access-control-max-age", b"3600"),
]


def match_ingest_path(path: str) -> tuple[str | None, str] | None:
    """(project id or None, "envelope"|"store") if `path` is an ingestion route."""
    m = INGEST_PATH.match(_SLASHES.sub("/", path))
    return (m.group(1), m.group(2)) if m else None


class KeyCache:
    """Project keys by public key, re-read from the database at most every `ttl` seconds."""

    def __init__(self, store: Store, ttl: float = 10.0) -> None:
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ProjectKey | None]] = {}

    async def get(self, public_key: str, now: float) -> ProjectKey | None:
        hit = self._cache.get(public_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        keys = await to_thread.run_sync(self.store.project_keys, public_key)
        key = keys[0] if keys else None
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[public_key] = (now + self.ttl, key)
        return key


def client_ip(headers: dict[str, str], scope: Scope) -> str | None:
    for name in ("cf-connecting-ip", "x-vercel-forwarded-for", "x-sentry-forwarded-for", "x-forwarded-for"):
        value = headers.get(name, "").split(",")[0].strip()
        if value:
            return value
    client = scope.get("client")
    return str(client[0]) if client else None


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IngestError(400, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _legacy_store_body(body: bytes) -> bytes:
    """Old clients send base64, or base64 of zlib, on /store/."""
    if body.lstrip()[:1] == b"{":
        return body
    try:
        decoded = base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        raise bad_request("invalid event payload: not JSON or base64") from None
    if decoded.lstrip()[:1] != b"{":
        try:
            decoded = zlib.decompress(decoded)
        except zlib.error:
            raise bad_request("invalid event payload") from None
    return decoded


def _load_event(body: bytes, auth: Auth | None) -> tuple[bytes, Any]:
    """The JSON of a `/store/` body, and the body to keep (repaired for old Python clients)."""
    try:
        return body, orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # Only now, so that a valid body never pays for the scan.
    repaired = repair_python_json(body) if auth is not None and is_legacy_python_client(auth.client) else None
    if repaired is not None:
        try:
            return repaired, orjson.loads(repaired)
        except orjson.JSONDecodeError:
            pass
    raise bad_request("invalid event payload: invalid JSON")


class IngestApp:
    def __init__(self, settings: Settings, store: Store, spool: Spool) -> None:
        self.settings = settings
        self.keys = KeyCache(store)
        self.spool = spool
        self.limiter: KeyRateLimiter | SharedKeyRateLimiter = (
            KeyRateLimiter() if settings.is_sqlite else SharedKeyRateLimiter(store)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = match_ingest_path(scope["path"])
        assert matched is not None
        path_project, kind = matched
        method = scope["method"]
        if method == "OPTIONS":
            await self._send(send, 200, b"", PREFLIGHT_HEADERS)
            return
        try:
            if method == "POST" or (method == "GET" and kind == "store"):
                status, body, headers = await self._handle(scope, receive, path_project, kind)
            else:
                raise IngestError(405, f'Method "{method}" not allowed.')
        except IngestError as error:
            detail = orjson.dumps({"detail": error.detail})
            await self._send(send, error.status, detail, [(b"x-sentry-error", error.detail.encode()[:200])])
            return
        await self._send(send, status, body, headers)

    async def _send(self, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        content_type = b"image/gif" if body[:3] == b"GIF" else b"application/json"
        all_headers = [
            *CORS_HEADERS,
            *headers,
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": all_headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(
        self, scope: Scope, receive: Receive, path_project: str | None, kind: str
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        received = time.time()
        settings = self.settings
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query_string = scope.get("query_string", b"").decode("latin-1")
        auth = auth_from_request(headers, query_string)
        raw = await read_body(receive, settings.max_request_size)
        is_gif = False
        if scope["method"] == "GET":  # legacy GET /store/?sentry_data=<payload>
            raw = dict(parse_qsl(query_string)).get("sentry_data", "").encode()
            is_gif = True
        body = decode_body(raw, headers.get("content-encoding", ""), settings.max_envelope_size)
        if kind == "envelope" or headers.get("content-type", "").startswith("application/x-sentry-envelope"):
            env = envelope_format.parse(body)
        else:
            body = _legacy_store_body(body)
            if len(body) > settings.max_event_size:
                raise too_large()
            body, event = _load_event(body, auth)
            if not isinstance(event, dict):
                raise bad_request("invalid event payload: not a JSON object")
            env = envelope_format.from_event(body, event)
        auth = self._auth_with_envelope(auth, env, path_project)
        if env.has_internal_items:  # Relay's BadStoreRequest::InternalEnvelope, before the project lookup
            raise bad_request("envelope contains internal items")
        try:
            key = await self.keys.get(auth.public_key, received)
        except Exception:
            log.exception("project key lookup failed")
            raise IngestError(503, "project configuration is unavailable") from None
        if key is None or (path_project is not None and int(path_project) != key.project_id):
            raise IngestError(403, "event submission rejected with_reason: ProjectId")
        meta: dict[str, Any] = {
            "kind": "envelope",
            "org_id": key.organization_id,
            "project_id": key.project_id,
            "key_id": key.id,
            "client_ip": client_ip(headers, scope),
            "client": auth.client or headers.get("user-agent"),
        }
        if not key.is_active:
            await self._spool_discarded(received, meta, env, "project_id")
            raise IngestError(403, "event submission rejected with_reason: ProjectId")
        oversized = self._size_violation(env)
        if oversized is not None:
            await self._spool_discarded(received, meta, env, f"too_large:{oversized}")
            raise too_large(
                f"envelope exceeded size limits for type '{oversized.split(':')[0]}' "
                "(https://develop.sentry.dev/sdk/envelopes/#size-limits)"
            )
        limited, dropped = await self._rate_limit(env, key, received)
        if dropped:
            meta["outcomes"] = dropped
        if env.items or dropped:
            await self._spool(received, meta, env.serialize() if env.items else b"")
        if is_gif:
            return 200, _GIF, []
        if limited is not None:
            detail = orjson.dumps({"detail": RATE_LIMITED_DETAIL})
            retry_after = str(limited.retry_after).encode()
            return (
                429,
                detail,
                [(b"retry-after", retry_after), (b"x-sentry-rate-limits", limited.header().encode())],
            )
        event_id = env.event_id
        return 200, orjson.dumps({"id": event_id} if event_id else {}), []

    def _auth_with_envelope(
        self, auth: Auth | None, env: envelope_format.Envelope, path_project: str | None
    ) -> Auth:
        dsn_value = env.headers.get("dsn")
        if dsn_value is None:
            if auth is None:
                raise IngestError(401, "missing authorization information")
            return auth
        dsn = parse_dsn(dsn_value)
        if auth is None:
            return Auth(public_key=dsn.public_key)
        if dsn.public_key != auth.public_key:
            raise bad_request("public key header mismatch between envelope and request")
        if path_project is not None and dsn.project_id != path_project:
            raise bad_request("project id header mismatch between envelope and request")
        return auth

    async def _spool(self, received: float, meta: dict[str, Any], body: bytes) -> None:
        try:
            await self.spool.put(received, meta, body)
        except Exception:
            log.exception("spooling failed")
            raise IngestError(503, "event submission rejected: the spool is unavailable") from None

    async def _spool_discarded(
        self, received: float, meta: dict[str, Any], env: envelope_format.Envelope, reason: str
    ) -> None:
        """Count every item of a rejected envelope as an `invalid` outcome."""
        outcomes = [
            [category, int(Outcome.INVALID), reason, quantity]
            for item in env.items
            for category, quantity in item.quantities()
        ]
        if outcomes:
            await self._spool(received, {**meta, "kind": "outcomes", "outcomes": outcomes}, b"")

    def _size_violation(self, env: envelope_format.Envelope) -> str | None:
        """Relay's DiscardItemType of the first item over its size limit, if any."""
        s = self.settings
        attachments = 0
        for item in env.items:
            size = len(item.payload)
            if item.type in envelope_format.EVENT_ITEM_TYPES:
                limit = s.max_event_size
            elif item.type == "attachment":
                limit = s.max_attachment_size
                attachments += size
            else:
                limit = s.max_item_size
            if size > limit or attachments > s.max_attachments_size:
                return discard_item_type(item.type, item.headers.get("attachment_type"))
        return None

    async def _rate_limit(
        self, env: envelope_format.Envelope, key: ProjectKey, now: float
    ) -> tuple[Limited | None, list[list[Any]]]:
        """Apply the key's quota to the envelope's event; drop what it rejects (and what depends on it)."""
        if not key.rate_limit_count or not key.rate_limit_window:
            return None, []
        events = [i for i in env.items if set(rate_limit_categories(i.type)) & set(KEY_QUOTA_CATEGORIES)]
        if not events:
            return None, []
        window = key.rate_limit_window
        args = (key.id, key.rate_limit_count, window, len(events), now, key.organization_id % window)
        if isinstance(self.limiter, SharedKeyRateLimiter):
            try:
                limited = await to_thread.run_sync(self.limiter.admit, *args)
            except Exception:
                log.exception("rate limit counter unavailable")
                raise IngestError(503, "project configuration is unavailable") from None
        else:
            limited = self.limiter.admit(*args)
        if limited is None:
            return None, []
        dropped: list[list[Any]] = []
        kept = []
        limited_items = {id(i) for i in events}
        for item in env.items:
            if id(item) in limited_items:
                category = "security" if item.type in ("security", "raw_security") else "error"
                dropped.append([category, int(Outcome.RATE_LIMITED), limited.reason_code, 1])
            elif item.type == "attachment":  # attachments depend on the event
                dropped += [
                    [category, int(Outcome.RATE_LIMITED), limited.reason_code, quantity]
                    for category, quantity in item.quantities()
                ]
            else:
                kept.append(item)
        env.items = kept
        return limited, dropped
