"""Stored events -> Sentry's event JSON (pure), after Sentry's EventSerializer and interfaces.

`full_event()` is the EventSerializer shape (detail endpoints and `?full=1` lists),
`simple_event()` the SimpleEventSerializer shape (lists).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# (data key, entry type, display score, score): entries sort by display score, then score.
_INTERFACES = (
    ("logentry", "message", 2050, 0),
    ("exception", "exception", 2000, 2000),
    ("stacktrace", "stacktrace", 1950, 1950),
    ("spans", "spans", 1950, 1950),
    ("threads", "threads", 1900, 1900),
    ("csp", "csp", 1300, 1300),
    ("hpkp", "hpkp", 1300, 1300),
    ("expectct", "expectct", 1300, 1300),
    ("expectstaple", "expectstaple", 1300, 1300),
    ("template", "template", 1100, 1100),
    ("breadcrumbs", "breadcrumbs", 1100, 800),
    ("request", "request", 1000, 800),
    ("debug_meta", "debugmeta", 0, 0),
    ("nel", "nel", 0, 0),
)
KNOWN_CONTEXT_TYPES = frozenset(
    "default app device runtime browser os gpu monitor trace profile replay response otel cloud_resource "
    "culture state flags feedback".split()
)
EMPTY_META: dict[str, Any] = {
    "entries": {},
    "message": None,
    "user": None,
    "contexts": None,
    "sdk": None,
    "context": None,
    "packages": None,
    "tags": {},
}


def iso(ts: float | None) -> str | None:
    """Sentry's date format: `2020-06-17T22:26:56.098086Z`, microseconds only when non-zero."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _context_lines(frame: dict[str, Any]) -> list[list[Any]]:
    lineno = frame.get("lineno")
    pre, line, post = (
        frame.get("pre_context") or [],
        frame.get("context_line"),
        frame.get("post_context") or [],
    )
    if not isinstance(lineno, int) or (line is None and not pre and not post):
        return []
    out = [[lineno - len(pre) + i, text] for i, text in enumerate(pre)]
    out.append([lineno, line])
    out += [[lineno + 1 + i, text] for i, text in enumerate(post)]
    return out


def _frame(frame: dict[str, Any]) -> dict[str, Any]:
    out = {
        "filename": frame.get("filename"),
        "absPath": frame.get("abs_path"),
        "module": frame.get("module"),
        "package": frame.get("package"),
        "platform": frame.get("platform"),
        "instructionAddr": frame.get("instruction_addr"),
        "symbolAddr": frame.get("symbol_addr"),
        "function": frame.get("function"),
        "rawFunction": frame.get("raw_function"),
        "symbol": frame.get("symbol"),
        "context": _context_lines(frame),
        "lineNo": frame.get("lineno"),
        "colNo": frame.get("colno"),
        "inApp": frame.get("in_app"),
        "trust": frame.get("trust"),
        "errors": frame.get("errors"),
        "lock": frame.get("lock"),
        "sourceLink": frame.get("source_link"),
        "vars": frame.get("vars"),
    }
    if frame.get("addr_mode") not in (None, "abs"):
        out["addrMode"] = frame["addr_mode"]
    return out


def stacktrace(st: Any) -> dict[str, Any] | None:
    if not isinstance(st, dict):
        return None
    frames = _dicts(st.get("frames"))
    return {
        "frames": [_frame(f) for f in frames],
        "framesOmitted": st.get("frames_omitted"),
        "registers": st.get("registers"),
        "hasSystemFrames": any(f.get("in_app") for f in frames),
    }


def _exception(data: dict[str, Any]) -> dict[str, Any] | None:
    values = _dicts(data.get("values"))
    if not values:
        return None
    out: list[dict[str, Any]] = []
    for v in values:
        mechanism = v.get("mechanism")
        out.append(
            {
                "type": v.get("type"),
                "value": str(v["value"]) if v.get("value") else None,
                "mechanism": _prune(mechanism) if isinstance(mechanism, dict) else None,
                "threadId": v.get("thread_id"),
                "module": v.get("module"),
                "stacktrace": stacktrace(v.get("stacktrace")),
                "rawStacktrace": stacktrace(v.get("raw_stacktrace")),
            }
        )
    return {
        "values": out,
        "hasSystemFrames": any(v["stacktrace"] and v["stacktrace"]["hasSystemFrames"] for v in out),
        "excOmitted": data.get("exc_omitted"),
    }


def _message(data: dict[str, Any]) -> dict[str, Any] | None:
    out = _prune(
        {
            "message": data.get("message"),
            "formatted": data.get("formatted"),
            "params": data.get("params") or None,
        }
    )
    return out or None


def _breadcrumbs(data: dict[str, Any]) -> dict[str, Any] | None:
    values = _dicts(data.get("values"))
    if not values:
        return None
    return {
        "values": [
            {
                "type": c.get("type", "default"),
                "timestamp": iso(c["timestamp"]) if isinstance(c.get("timestamp"), int | float) else None,
                "level": c.get("level", "info"),
                "message": c.get("message"),
                "category": c.get("category"),
                "data": c.get("data") or None,
                "event_id": c.get("event_id"),
            }
            for c in values
        ]
    }


def _pairs(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [[k, v] for k, v in sorted(value.items())]
    return list(value) if isinstance(value, list) else []


def _request(data: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "method": data.get("method"),
        "url": data.get("url"),
        "query": _pairs(data.get("query_string")),
        "fragment": data.get("fragment"),
        "data": data.get("data"),
        "headers": _pairs(data.get("headers")),
        "cookies": _pairs(data.get("cookies")),
        "env": data.get("env") or None,
        "inferredContentType": data.get("inferred_content_type"),
    }


def _threads(data: dict[str, Any]) -> dict[str, Any] | None:
    values = _dicts(data.get("values"))
    if not values:
        return None
    return {
        "values": [
            {
                "id": t.get("id"),
                "current": bool(t.get("current")),
                "crashed": bool(t.get("crashed")),
                "name": t.get("name"),
                "stacktrace": stacktrace(t["stacktrace"]) if _frames_of(t.get("stacktrace")) else None,
                "rawStacktrace": stacktrace(t.get("raw_stacktrace")),
            }
            for t in values
        ]
    }


def _frames_of(stacktrace: Any) -> list[dict[str, Any]]:
    return _dicts(stacktrace.get("frames")) if isinstance(stacktrace, dict) else []


def _debug_meta(data: dict[str, Any]) -> dict[str, Any] | None:
    return (
        _prune(
            {
                "images": data.get("images") or None,
                "sdk_info": data.get("sdk_info") or None,
                "is_debug_build": data.get("is_debug_build"),
            }
        )
        or None
    )


def _template(data: dict[str, Any]) -> dict[str, Any] | None:
    return {"lineNo": data.get("lineno"), "filename": data.get("filename"), "context": _context_lines(data)}


_RENDER = {
    "logentry": _message,
    "exception": _exception,
    "stacktrace": stacktrace,
    "threads": _threads,
    "breadcrumbs": _breadcrumbs,
    "request": _request,
    "debug_meta": _debug_meta,
    "template": _template,
}


def entries(event: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[tuple[int, int, dict[str, Any]]] = []
    for key, kind, display, score in _INTERFACES:
        data = event.get(key)
        if key == "spans":
            if isinstance(data, list):
                found.append(
                    (display, score, {"type": kind, "data": [_prune(s) for s in data if isinstance(s, dict)]})
                )
            continue
        if not isinstance(data, dict) or not data:
            continue
        render = _RENDER.get(key, _prune)
        rendered = render(data)
        if rendered:
            found.append((display, score, {"type": kind, "data": rendered}))
    found.sort(key=lambda f: (-f[0], -f[1]))
    return [f[2] for f in found]


def user(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict) or not data:
        return None
    out = {k: data.get(k) for k in ("id", "email", "username", "ip_address", "name")}
    out["data"] = data.get("data")
    if data.get("geo"):
        out["geo"] = data["geo"]
    return out


def contexts(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    out = {}
    for alias, ctx in data.items():
        if not isinstance(ctx, dict):
            continue
        kind = ctx.get("type", alias)
        rendered = {k: v for k, v in ctx.items() if v is not None and v != "" and k != "type"}
        rendered["type"] = kind if isinstance(kind, str) and kind in KNOWN_CONTEXT_TYPES else "default"
        out[alias] = rendered
    return out


def _user_tag_query(key: str, value: str) -> str | None:
    if key != "user" or ":" not in value:
        return None
    sub, _, rest = value.partition(":")
    if sub not in ("id", "username", "email", "ip"):
        return None
    escaped = rest.replace('"', '\\"')
    return f'user.{sub}:"{escaped}"'


def tags(pairs: list[Any], *, sort: bool = True) -> list[dict[str, str]]:
    out = []
    for pair in sorted(pairs) if sort else pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2 or pair[0] is None or pair[1] is None:
            continue
        key = str(pair[0]).split("sentry:", 1)[-1]
        tag = {"key": key, "value": str(pair[1])}
        query = _user_tag_query(key, tag["value"])
        if query:
            tag["query"] = query
        out.append(tag)
    return out


def message(event: dict[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        return str(logentry.get("formatted") or logentry.get("message") or "")
    return ""


def _errors(event: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for error in event.get("errors") or []:
        if not isinstance(error, dict):
            continue
        name = error.get("name")
        if isinstance(name, str) and (
            name.startswith(("breadcrumbs.", "extra.", "tags.")) or ".frames." in name
        ):
            continue
        kind = str(error.get("type", "unknown_error"))
        out.append(
            {
                "type": kind,
                "message": ERROR_MESSAGES.get(kind, "Unknown error"),
                "data": {k: v for k, v in error.items() if k != "type"},
            }
        )
    return out


ERROR_MESSAGES = {
    "invalid_data": "Discarded invalid value",
    "invalid_attribute": "Discarded unknown attribute",
    "missing_attribute": "Missing value for required attribute",
    "value_too_long": "Discarded value due to exceeding maximum length",
    "future_timestamp": "Invalid timestamp (in future)",
    "past_timestamp": "Invalid timestamp (too old)",
    "clock_drift": "Clock drift detected in SDK",
    "unknown_error": "Unknown error",
}


def _sdk(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    return {"name": data.get("name"), "version": data.get("version")}


def location(event: dict[str, Any]) -> str | None:
    if event.get("type") != "error":
        return None
    metadata = event.get("metadata") or {}
    return metadata.get("filename") if isinstance(metadata, dict) else None


def full_event(event: dict[str, Any], *, group_id: int | None, project_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": event["event_id"],
        "groupID": str(group_id) if group_id is not None else None,
        "eventID": event["event_id"],
        "projectID": str(project_id),
        "size": event.get("_size", 0),
        "entries": entries(event),
        "dist": event.get("dist"),
        "message": message(event),
        "title": event.get("title") or "<untitled>",
        "location": location(event),
        "user": user(event.get("user")),
        "contexts": contexts(event.get("contexts")),
        "sdk": _sdk(event.get("sdk")),
        "context": event.get("extra") or {},
        "packages": event.get("modules") or {},
        "type": event.get("type", "default"),
        "metadata": event.get("metadata") or {},
        "tags": tags(event.get("tags") or []),
        "platform": event.get("platform"),
        "dateReceived": iso(event.get("received")),
        "errors": _errors(event),
        "occurrence": None,
        "_meta": _meta(event),
    }
    if out["type"] == "transaction":
        out["startTimestamp"] = event.get("start_timestamp")
        out["endTimestamp"] = event.get("timestamp")
        out["measurements"] = event.get("measurements")
        out["breakdowns"] = event.get("breakdowns")
    else:
        out["crashFile"] = None
        out["culprit"] = event.get("culprit")
        out["dateCreated"] = iso(event.get("timestamp"))
        out["fingerprints"] = event.get("fingerprint_hashes") or []
        config = event.get("grouping_config")
        if not isinstance(config, dict):  # events stored before the config was a {id, enhancements} pair
            config = {"id": config or "", "enhancements": ""}
        out["groupingConfig"] = {
            "id": config.get("id") or "",
            "enhancements": config.get("enhancements") or "",
        }
    return out


def _meta(event: dict[str, Any]) -> dict[str, Any]:
    meta = event.get("_meta")
    if not isinstance(meta, dict) or not meta:
        return dict(EMPTY_META)
    return {
        **EMPTY_META,
        "user": meta.get("user"),
        "contexts": meta.get("contexts"),
        "context": meta.get("extra"),
        "sdk": meta.get("sdk"),
    }


def simple_event(event: dict[str, Any], *, group_id: int | None, project_id: int) -> dict[str, Any]:
    return {
        "id": event["event_id"],
        "event.type": event.get("type", "default"),
        "groupID": str(group_id) if group_id is not None else None,
        "eventID": event["event_id"],
        "projectID": str(project_id),
        "message": message(event),
        "title": event.get("title") or "<untitled>",
        "location": location(event),
        "culprit": event.get("culprit"),
        "user": user(event.get("user")),
        "tags": tags(event.get("tags") or []),
        "platform": event.get("platform"),
        "dateCreated": iso(event.get("timestamp")),
        "crashFile": None,
        "metadata": event.get("metadata") or {},
    }
