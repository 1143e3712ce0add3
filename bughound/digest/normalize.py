"""SDK payload -> the normalized event Bughound stores (pure), after Relay's StoreNormalizer.

Only what later stages read is normalized: ids, timestamps (clock drift, future/past bounds),
level, platform, type, logentry, exceptions, breadcrumbs, tags, user ({{auto}} IP), request,
sdk, release/environment validation. Everything else the SDK sent is kept as it came.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from bughound.digest.useragent import add_user_agent_contexts
from bughound.ingest.envelope import normalize_event_id

MINIMUM_CLOCK_DRIFT = 55 * 60  # seconds (Relay clock_drift.rs)
MAX_SECS_IN_FUTURE = 60
VALID_PLATFORMS = frozenset(
    "as3 c cfml cocoa csharp elixir go groovy haskell java javascript native node objc other perl php python "
    "ruby rust swift dart".split()
)
LEVELS = {
    "debug": "debug",
    "info": "info",
    "log": "info",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "fatal": "fatal",
    "critical": "fatal",
}
MAX_TAG_KEY_LENGTH = 200  # a longer key is dropped (its characters are checked by _TAG_KEY_CHARS)
_EXCEPTION_TYPE_VALUE = re.compile(r"(\w+):(.*)")  # fullmatch: a multi-line value is not split
_DROPPED_TAGS = frozenset({"release", "dist", "user", "filename", "function"})
_INVALID_RELEASES = frozenset({"", ".", "..", "latest"})
# Platforms whose events get the client's IP even without `{{auto}}` (Relay's legacy rule).
_INFER_IP_PLATFORMS = frozenset({"javascript", "cocoa", "objc"})


@dataclasses.dataclass(frozen=True)
class Context:
    """What the request told us about an event, besides its payload."""

    received: float
    project_id: int
    key_id: int
    envelope_event_id: str | None = None
    sent_at: float | None = None
    client_ip: str | None = None
    sentry_client: str | None = None
    retention_days: int = 90


def parse_timestamp(value: Any) -> float | None:
    """Float seconds or an RFC 3339 string (naive means UTC) -> float seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if abs(value) < 1e11 else None  # (NaN is not below anything)
    if isinstance(value, str) and value:
        text = value.strip()
        if ":" not in text:  # never in a number; RFC 3339 text has it (a failed float() is slow)
            number = _numeral(text)
            if number is not None:
                return number if abs(number) < 1e11 else None
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def _numeral(text: str) -> float | None:
    """`text` as a plain decimal number (not `nan`, `inf` or `1_000`, which float() also reads)."""
    if not _NUMBER_TEXT.match(text):
        return None
    return float(text)


def _error(event: dict[str, Any], kind: str, **data: Any) -> None:
    event.setdefault("errors", []).append({"type": kind, **data})


def _str_or_none(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        if isinstance(value, bool):
            value = "True" if value else "False"
        elif isinstance(value, int | float):
            value = str(value)
        else:
            return None
    return value[: limit - 3] + "..." if len(value) > limit else value


def _trim_field(holder: dict[str, Any], key: str, limit: int) -> None:
    """`holder[key]` as a string of at most `limit` characters, or removed if it cannot be one."""
    if key in holder:
        value = _str_or_none(holder[key], limit)
        if value is None:
            holder.pop(key)
        else:
            holder[key] = value


def normalize_event(event: dict[str, Any], ctx: Context, item_type: str = "event") -> dict[str, Any]:
    """Normalize `event` in place and return it."""
    if not isinstance(event.get("errors"), list):
        event["errors"] = []
    _event_id(event, ctx)
    _type(event, item_type)
    _timestamps(event, ctx)
    _level_platform(event)
    _logentry(event)
    _stacktraces(event)
    _exceptions(event)
    _contexts(event)
    _breadcrumbs(event)
    _tags(event)
    _request(event)
    add_user_agent_contexts(event)
    _user(event, ctx)
    _sdk(event, ctx)
    _release_environment(event)
    for key, limit in (("logger", 64), ("culprit", 200), ("transaction", 200), ("dist", 64)):
        _trim_field(event, key, limit)
    event.setdefault("logger", "")
    if not isinstance(event.get("extra"), dict):
        event["extra"] = {}
    event["project"] = ctx.project_id
    event["key_id"] = str(ctx.key_id)
    event["version"] = "7"
    return event


def _event_id(event: dict[str, Any], ctx: Context) -> None:
    # The envelope's id wins, as in Relay (its finalize step): it is the id the client was given
    # in the response (ingestion gives an envelope with an event and no id one of its own).
    candidates = (ctx.envelope_event_id, event.get("event_id"))
    for i, candidate in enumerate(candidates):
        if candidate:
            try:
                event["event_id"] = normalize_event_id(candidate)
                return
            except ValueError:
                if i:  # (ingestion has checked the envelope's)
                    _error(event, "invalid_data", name="event_id", value=candidate)
    event["event_id"] = uuid.uuid4().hex


def _type(event: dict[str, Any], item_type: str) -> None:
    declared = event.get("type")
    if item_type == "transaction" or declared == "transaction":
        event["type"] = "transaction"
    elif item_type == "feedback" or declared == "feedback":
        event["type"] = "feedback"
    elif _exception_values(event):
        event["type"] = "error"
    elif declared == "csp" or "csp" in event:
        event["type"] = "csp"
    else:
        event["type"] = "default"


def _exception_values(event: dict[str, Any]) -> list[Any]:
    exception = event.get("exception")
    if isinstance(exception, list):  # legacy: a bare list of values
        exception = event["exception"] = {"values": exception}
    elif isinstance(exception, dict) and "values" not in exception and exception:
        exception = event["exception"] = {"values": [exception]}  # one bare exception (Relay's Values)
    if isinstance(exception, dict):
        values = exception.get("values")
        if isinstance(values, list):
            return values
    return []


def _timestamps(event: dict[str, Any], ctx: Context) -> None:
    """Relay's clock drift correction, then the future/past bounds (both shift every timestamp)."""
    received = ctx.received
    raw = event.get("timestamp")
    # Relay reads an event's timestamp from a number or a date, not from a numeral.
    numeral = isinstance(raw, str) and _NUMBER_TEXT.match(raw) is not None
    timestamp = None if numeral else parse_timestamp(raw)
    if raw is not None and timestamp is None:
        _error(event, "invalid_data", name="timestamp", value=raw, reason=_bad_timestamp_reason(raw))
        event.pop("timestamp")
    shift = 0.0
    if ctx.sent_at is not None and abs(int(received - ctx.sent_at)) >= MINIMUM_CLOCK_DRIFT:
        shift = received - ctx.sent_at
        _error(event, "clock_drift", name="timestamp", sdk_time=_iso(ctx.sent_at), server_time=_iso(received))
    if timestamp is not None:
        corrected = timestamp + shift
        if corrected > received + MAX_SECS_IN_FUTURE or corrected < received - ctx.retention_days * 86400:
            kind = "future_timestamp" if corrected > received else "past_timestamp"
            _error(event, kind, name="timestamp", sdk_time=_iso(corrected), server_time=_iso(received))
            shift = received - timestamp
    _shift_timestamps(event, shift)
    if event.get("timestamp") is None:
        event["timestamp"] = received
    event["received"] = received


_NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_DATE_TEXT = re.compile(r"^\s*\d{4}-\d\d-\d\d")


def _bad_timestamp_reason(raw: Any) -> str:
    """Relay's reason for a timestamp it cannot read."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return "expected a timestamp"
    if not isinstance(raw, str):
        return "timestamp out of range"
    return "input is out of range" if _DATE_TEXT.match(raw) else "input contains invalid characters"


def _shift_timestamps(event: dict[str, Any], shift: float) -> None:
    for key in ("timestamp", "start_timestamp"):
        ts = parse_timestamp(event.get(key))
        if ts is None:
            event.pop(key, None)
        else:
            event[key] = ts + shift
    if not shift:
        return
    for crumb in _breadcrumb_values(event):
        ts = parse_timestamp(crumb.get("timestamp"))
        if ts is not None:
            crumb["timestamp"] = ts + shift
    spans = event.get("spans")
    for span in spans if isinstance(spans, list) else []:
        if isinstance(span, dict):
            for key in ("timestamp", "start_timestamp"):
                ts = parse_timestamp(span.get(key))
                if ts is not None:
                    span[key] = ts + shift


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


_LEVEL_NUMBERS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "fatal"}
# The names Relay's Level accepts, exactly as written ("warn" and "Error" are not levels).
_EVENT_LEVELS = {name: level for name, level in LEVELS.items() if name != "warn"}


def _level_platform(event: dict[str, Any]) -> None:
    default = "info" if event["type"] == "transaction" else "error"
    raw = event.get("level")
    level = None
    if isinstance(raw, str):
        level = _EVENT_LEVELS.get(raw)
        if level is None:
            _error(event, "invalid_data", name="level", value=raw, reason="invalid level")
    elif isinstance(raw, int) and not isinstance(raw, bool):
        level = _LEVEL_NUMBERS.get(raw)
        if level is None:
            _error(event, "invalid_data", name="level", value=raw)
    elif raw is not None:
        _error(event, "invalid_data", name="level", value=raw, reason="expected a level")
    event["level"] = level or default
    platform = event.get("platform")
    event["platform"] = platform if isinstance(platform, str) and platform in VALID_PLATFORMS else "other"


_PERCENT_SPEC = re.compile(r"%(?:\((\w+)\))?([-+ #0]*)(\d*)(?:\.(\d+))?([sdifrxXoeEgGc%])")
_CURLY_SPEC = re.compile(r"\{(\d*|[A-Za-z_]\w*)\}")
MAX_FORMAT_WIDTH = 100  # a bigger width or precision is refused (no 1 GB strings from one event)
MAX_FORMATTED = 8192 * 4


class _FormatError(Exception):
    pass


def _percent(message: str, params: list[Any] | dict[str, Any]) -> str:
    position = 0

    def one(m: re.Match[str]) -> str:
        nonlocal position
        name, flags, width, precision, conversion = m.groups()
        if conversion == "%":
            return "%"
        if (width and int(width) > MAX_FORMAT_WIDTH) or (precision and int(precision) > MAX_FORMAT_WIDTH):
            raise _FormatError
        if name is not None:
            if not isinstance(params, dict) or name not in params:
                raise _FormatError
            value = params[name]
        else:
            if not isinstance(params, list) or position >= len(params):
                raise _FormatError
            value = params[position]
            position += 1
        spec = f"%{flags}{width}{'.' + precision if precision else ''}{conversion}"
        try:
            return spec % (value,)
        except (TypeError, ValueError, OverflowError):
            raise _FormatError from None

    return _PERCENT_SPEC.sub(one, message)


def _curly(message: str, params: list[Any] | dict[str, Any]) -> str:
    position = 0

    def one(m: re.Match[str]) -> str:
        nonlocal position
        field = m.group(1)
        if field == "":
            index: int | str = position
            position += 1
        else:
            index = int(field) if field.isdigit() else field
        try:
            value = params[index]  # type: ignore[index]
        except (IndexError, KeyError, TypeError):
            raise _FormatError from None
        return value if isinstance(value, str) else orjson.dumps(value).decode()

    return _CURLY_SPEC.sub(one, message)


def format_logentry(message: str, params: Any) -> str | None:
    """`message` with `%s`/`%(name)s` placeholders filled, else `{}`/`{0}`/`{name}` ones (no format
    specs), as Relay does; None when the placeholders do not fit the params."""
    if not isinstance(params, list | dict):
        return None
    try:
        if "%" in message:
            formatted = _percent(message, params)
        elif "{" in message:
            formatted = _curly(message, params)
        else:
            return None
    except _FormatError:
        return None
    return formatted if len(formatted) <= MAX_FORMATTED else None


def _logentry(event: dict[str, Any]) -> None:
    logentry = event.get("logentry")
    if not isinstance(logentry, dict):
        logentry = None
        event.pop("logentry", None)
    message = event.pop("message", None)
    if logentry is None and message is not None:
        if isinstance(message, dict):  # the old `sentry.interfaces.Message`
            logentry = message
        elif isinstance(message, str):
            logentry = {"formatted": message}
        else:
            logentry = {"formatted": str(message)}
    if logentry is None:
        return
    msg = _str_or_none(logentry.get("message"), 8192)
    formatted = _str_or_none(logentry.get("formatted"), 8192)
    if formatted is None and msg is None:
        _error(event, "invalid_data", name="logentry", reason="no message present")
        event.pop("logentry", None)
        return
    params = logentry.get("params")
    if formatted is None and msg is not None and params is not None:
        formatted = _str_or_none(format_logentry(msg, params), 8192)
    out: dict[str, Any] = {}
    if formatted is None or msg == formatted:
        out["formatted"] = msg if formatted is None else formatted
    else:
        out["formatted"] = formatted
        if msg is not None:
            out["message"] = msg
    if isinstance(params, dict | list):
        out["params"] = params
    event["logentry"] = out


def _exceptions(event: dict[str, Any]) -> None:
    values = _exception_values(event)
    if not values:
        event.pop("exception", None)
        return
    kept = []
    for value in values:
        if not isinstance(value, dict):
            continue
        ty, val = value.get("type"), value.get("value")
        if not ty and isinstance(val, str):
            match = _EXCEPTION_TYPE_VALUE.fullmatch(val)
            if match:
                value["type"], value["value"] = match.group(1), match.group(2).strip()
                ty, val = value["type"], value["value"]
        for key in ("stacktrace", "raw_stacktrace"):
            _stacktrace(value, key)
        if not ty and not val and not value.get("stacktrace"):
            _error(event, "missing_attribute", name="type")
            continue
        if val is not None and not isinstance(val, str):
            value["value"] = _str_or_none(val, 8192) if not isinstance(val, dict | list) else str(val)
        kept.append(value)
    # A lone top-level stacktrace belongs to the only exception (it was normalized already).
    if len(kept) == 1 and isinstance(event.get("stacktrace"), dict) and not kept[0].get("stacktrace"):
        kept[0]["stacktrace"] = event.pop("stacktrace")
    event["exception"]["values"] = kept
    if not kept:
        event.pop("exception")


def _stacktrace(holder: dict[str, Any], key: str) -> None:
    """`holder[key]` becomes a stacktrace object whose frames are objects, or goes."""
    stacktrace = holder.get(key)
    if stacktrace is None:
        return
    if not isinstance(stacktrace, dict):
        holder.pop(key)
        return
    frames = stacktrace.get("frames")
    stacktrace["frames"] = [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _stacktraces(event: dict[str, Any]) -> None:
    """The top-level stacktrace and the threads' stacktraces, shaped as the exceptions' are."""
    _stacktrace(event, "stacktrace")
    threads = event.get("threads")
    if isinstance(threads, list):  # legacy: a bare list of threads
        threads = event["threads"] = {"values": threads}
    if not isinstance(threads, dict) or not isinstance(threads.get("values"), list):
        event.pop("threads", None)
        return
    threads["values"] = [t for t in threads["values"] if isinstance(t, dict)]
    for thread in threads["values"]:
        for key in ("stacktrace", "raw_stacktrace"):
            _stacktrace(thread, key)


def _contexts(event: dict[str, Any]) -> None:
    contexts = event.get("contexts")
    if not isinstance(contexts, dict):
        event.pop("contexts", None)
        return
    for name in list(contexts):
        context = contexts[name]
        if not isinstance(context, dict):
            del contexts[name]
        elif "type" in context and not isinstance(context["type"], str):
            del context["type"]


def _breadcrumb_values(event: dict[str, Any]) -> list[dict[str, Any]]:
    crumbs = event.get("breadcrumbs")
    if isinstance(crumbs, list):
        crumbs = event["breadcrumbs"] = {"values": crumbs}
    if not isinstance(crumbs, dict) or not isinstance(crumbs.get("values"), list):
        event.pop("breadcrumbs", None)
        return []
    crumbs["values"] = [c for c in crumbs["values"] if isinstance(c, dict)]
    return crumbs["values"]  # type: ignore[no-any-return]


def _breadcrumbs(event: dict[str, Any]) -> None:
    for crumb in _breadcrumb_values(event):
        crumb.setdefault("type", "default")
        level = crumb.get("level")
        crumb["level"] = LEVELS.get(level.lower(), "info") if isinstance(level, str) else "info"
        if "timestamp" in crumb:
            crumb["timestamp"] = parse_timestamp(crumb["timestamp"])


def _tag_text(value: Any) -> str | None:
    text = _str_or_none(value, 200)
    return text.strip() if text is not None else None


_TAG_KEY_CHARS = re.compile(r"[^a-zA-Z0-9_.:-]")


def _tag_ok(event: dict[str, Any], name: str, text: str, invalid: re.Pattern[str] | None) -> bool:
    """Whether a tag key or value is valid; if not, Relay's error for it."""
    if not text:
        _error(event, "invalid_data", name=name, reason="expected a non-empty value")
        return False
    if invalid is None:  # a value: only a line break is refused
        bad = "\n" if "\n" in text else None
    else:
        found = invalid.search(text)
        bad = found.group() if found is not None else None
    if bad is not None:
        _error(event, "invalid_data", name=name, value=text, reason=f"invalid character {bad!r}")
        return False
    return True


def _tags(event: dict[str, Any]) -> None:
    """Tags become `[[key, value], ...]`; invalid pairs are dropped (Sentry ignores them)."""
    raw = event.get("tags")
    pairs: list[tuple[int, Any, Any]] = []  # (index in Relay's array, key, value)
    if isinstance(raw, dict):
        pairs = [(i, k, v) for i, (k, v) in enumerate(sorted(raw.items(), key=lambda kv: str(kv[0])))]
    elif isinstance(raw, list):
        for i, pair in enumerate(raw):
            if isinstance(pair, list | tuple) and len(pair) == 2:
                pairs.append((i, *pair))
            elif pair is not None:
                _error(event, "invalid_data", name=f"tags.{i}", value=pair, reason="expected a tuple")
    elif raw is not None:
        _error(event, "invalid_data", name="tags", value=raw, reason="expected an array")
    moved = {key: event.pop(key) for key in ("server_name", "site") if event.get(key) is not None}
    event.pop("site", None)
    event.pop("server_name", None)
    seen: set[str] = set()
    tags: list[list[str]] = []
    for i, key, value in pairs:
        if not isinstance(key, str):
            continue
        key = key.strip().replace(" ", "-")
        if not _tag_ok(event, f"tags.{i}.0", key, _TAG_KEY_CHARS):
            continue
        if key == "environment":
            if value is not None and not event.get("environment"):
                event["environment"] = value
            continue
        if key in _DROPPED_TAGS or key in moved or key in seen:
            continue
        seen.add(key)
        if isinstance(value, dict | list):
            _error(
                event, "invalid_data", name=f"tags.{i}.1", value=value, reason="expected a primitive value"
            )
            continue
        text = _tag_text(value)
        if text is None or not _tag_ok(event, f"tags.{i}.1", text, None) or len(key) > MAX_TAG_KEY_LENGTH:
            continue
        tags.append([key, text])
    for key, value in moved.items():
        text = _tag_text(value)
        if text and "\n" not in text:
            tags.append([key, text])
    if tags:
        event["tags"] = tags
    else:
        event.pop("tags", None)


def _request(event: dict[str, Any]) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        event.pop("request", None)
        return
    url = request.get("url")
    if isinstance(url, str) and "?" in url and not request.get("query_string"):
        base, _, rest = url.partition("?")
        query_text, _, fragment = rest.partition("#")
        request["url"] = base
        request["query_string"] = query_text
        if fragment and not request.get("fragment"):
            request["fragment"] = fragment
    query: Any = request.get("query_string")
    if isinstance(query, str):
        query = query.lstrip("?")
        request["query_string"] = [[k, v] for k, v in parse_qsl(query, keep_blank_values=True)]
    elif isinstance(query, dict):
        request["query_string"] = [[k, v] for k, v in query.items()]
    if isinstance(request.get("headers"), dict):
        request["headers"] = [[k, v] for k, v in request["headers"].items()]
    elif isinstance(request.get("headers"), list):
        request["headers"] = [
            list(p) for p in request["headers"] if isinstance(p, list | tuple) and len(p) == 2
        ]
    headers = request.get("headers")
    if isinstance(headers, list):
        # Relay parses the Cookie header into `cookies` and drops the header.
        cookie_header = next((v for k, v in headers if isinstance(k, str) and k.lower() == "cookie"), None)
        if isinstance(cookie_header, str):
            request.setdefault("cookies", cookie_header)
            request["headers"] = [
                pair for pair in headers if not (isinstance(pair[0], str) and pair[0].lower() == "cookie")
            ]
    cookies = request.get("cookies")
    if isinstance(cookies, str):
        request["cookies"] = [
            [k.strip(), v.strip()]
            for k, _, v in (part.partition("=") for part in cookies.split(";"))
            if k.strip()
        ]
    elif isinstance(cookies, dict):
        request["cookies"] = [[k, v] for k, v in cookies.items()]
    if isinstance(request.get("method"), str):
        request["method"] = request["method"].upper()


def _user(event: dict[str, Any], ctx: Context) -> None:
    if not isinstance(event.get("user"), dict):
        event.pop("user", None)
    _infer_ip(event, ctx)
    user = event.get("user")
    if user is None:
        return
    for key, limit in (("id", 128), ("username", 128), ("email", 75), ("name", 128)):
        _trim_field(user, key, limit)
    ident = user_ident(user)
    if ident:
        user["sentry_user"] = ident
    if not user:
        event.pop("user")


def _infer_ip(event: dict[str, Any], ctx: Context) -> None:
    """Relay's normalize_ip_addresses: `{{auto}}`, `sdk.settings.infer_ip` and the legacy rules."""
    user: dict[str, Any] | None = event.get("user")
    sdk = event.get("sdk")
    settings = sdk.get("settings") if isinstance(sdk, dict) else None
    infer = settings.get("infer_ip") if isinstance(settings, dict) else None
    ip = user.get("ip_address") if user is not None else None
    if infer == "never":
        if user is not None and ip == "{{auto}}":
            user.pop("ip_address")
        return
    # REMOTE_ADDR, explicitly sent, wins over the address the request came from.
    remote_addr = _remote_addr(event)
    inferred = remote_addr or ctx.client_ip
    if (ip == "{{auto}}" or (ip is None and infer == "auto")) and inferred:
        user = event.setdefault("user", {})
        user["ip_address"] = inferred
    elif ip == "{{auto}}" and user is not None:
        user.pop("ip_address")  # nothing to infer it from
    if infer not in ("auto", "never"):  # legacy SDKs: backfill
        if remote_addr:
            event.setdefault("user", {}).setdefault("ip_address", remote_addr)
        elif inferred and event.get("platform") in _INFER_IP_PLATFORMS:
            user = event.setdefault("user", {})
            if user.get("ip_address") is None:
                user["ip_address"] = inferred


def _remote_addr(event: dict[str, Any]) -> str | None:
    request = event.get("request")
    env = request.get("env") if isinstance(request, dict) else None
    value = env.get("REMOTE_ADDR") if isinstance(env, dict) else None
    return value if isinstance(value, str) and value else None


def _sdk(event: dict[str, Any], ctx: Context) -> None:
    if isinstance(event.get("sdk"), dict) and event["sdk"].get("name"):
        return
    if ctx.sentry_client:
        name, _, version = ctx.sentry_client.replace(" ", "/").partition("/")
        event["sdk"] = {"name": name, "version": version}


def valid_release(value: str) -> bool:
    return (
        len(value) <= 200
        and value.strip() not in _INVALID_RELEASES
        and not any(ch in value for ch in "/\\\t\n\r")
    )


def _release_environment(event: dict[str, Any]) -> None:
    for key, limit in (("release", 200), ("environment", 64)):
        if key not in event:
            continue
        value = event[key]
        if value is None:  # null is absent, not invalid
            event.pop(key)
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or not valid_release(value) or len(value) > limit:
            _error(event, "invalid_data", name=key, value=value)
            event.pop(key)
        else:
            event[key] = value.strip()


def user_ident(user: Any) -> str | None:
    """Sentry's `user` tag: the first of id, username, email, ip_address, prefixed."""
    if not isinstance(user, dict):
        return None
    for key, prefix in (("id", "id"), ("username", "username"), ("email", "email"), ("ip_address", "ip")):
        value = user.get(key)
        if value not in (None, ""):
            return f"{prefix}:{value}"[:200]
    return None
