"""Issue titles, culprits and metadata derived from an event (pure), as Sentry derives them.

After Sentry's `eventtypes` (ErrorEvent / DefaultEvent `extract_metadata` and `compute_title`)
and `event_manager.generate_culprit` / `get_frame_culprit`.
"""

from __future__ import annotations

from typing import Any

TITLE_LIMIT = 100
CULPRIT_LIMIT = 200
_NO_FUNCTION = (None, "", "<redacted>", "<unknown>")


def truncatechars(text: str, limit: int) -> str:
    """Django's truncatechars: at most `limit` characters, the last three `...` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    lines = text.splitlines()
    return lines[0] if lines else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def exceptions_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    exception = event.get("exception")
    return _dicts(exception.get("values")) if isinstance(exception, dict) else []


def frames_of(holder: Any) -> list[dict[str, Any]]:
    return _dicts(holder.get("frames")) if isinstance(holder, dict) else []


def _is_synthetic(exception: dict[str, Any] | None) -> bool:
    mechanism = (exception or {}).get("mechanism")
    return isinstance(mechanism, dict) and bool(mechanism.get("synthetic"))


def _crash_frame(event: dict[str, Any]) -> dict[str, Any] | None:
    """The newest in-app frame with a function, else the newest frame with one."""
    exceptions = exceptions_of(event)
    frames = frames_of(exceptions[-1].get("stacktrace")) if exceptions else []
    if not frames:
        frames = frames_of(event.get("stacktrace"))
    if not frames:
        threads = event.get("threads")
        values = _dicts(threads.get("values")) if isinstance(threads, dict) else []
        frames = frames_of(values[0].get("stacktrace")) if len(values) == 1 else []
    usable = [f for f in frames if f.get("function") not in _NO_FUNCTION]
    in_app = [f for f in usable if f.get("in_app")]
    candidates = in_app or usable
    return candidates[-1] if candidates else None


def message_of(event: dict[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        return str(logentry.get("formatted") or logentry.get("message") or "")
    return ""


def metadata_for(event: dict[str, Any]) -> dict[str, Any]:
    kind = event.get("type")
    if kind == "error":
        exceptions = exceptions_of(event)
        exception = exceptions[-1] if exceptions else {}
        metadata: dict[str, Any] = {"value": truncatechars(str(exception.get("value") or ""), 1024)}
        if not _is_synthetic(exception):
            metadata = {"type": truncatechars(str(exception.get("type") or "Error"), 128), **metadata}
        frame = _crash_frame(event)
        if frame:
            filename = frame.get("filename") or frame.get("abs_path")
            if filename:
                metadata["filename"] = filename
            metadata["function"] = frame["function"]
        return metadata
    if kind == "transaction":
        return {"title": str(event.get("transaction") or "<unlabeled transaction>")}
    return {"title": title_for(event)}


def title_for(event: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
    """The event's title; an error's comes from its metadata (pass it if already computed)."""
    kind = event.get("type")
    if kind == "error":
        metadata = metadata if metadata is not None else metadata_for(event)
        ty = metadata.get("type")
        if not ty:
            return str(metadata.get("function") or "<unknown>")
        value = _first_line(metadata.get("value") or "")
        return f"{ty}: {truncatechars(value, TITLE_LIMIT)}" if value else str(ty)
    if kind == "transaction":
        return str(event.get("transaction") or "<unlabeled transaction>")
    if kind == "feedback":
        contexts = event.get("contexts")
        feedback = contexts.get("feedback") if isinstance(contexts, dict) else None
        message = str(feedback.get("message") or "") if isinstance(feedback, dict) else ""
        return truncatechars(f"User Feedback: {_first_line(message.strip())}", TITLE_LIMIT)
    message = _first_line(message_of(event).strip())
    return truncatechars(message, TITLE_LIMIT) if message else "<unlabeled event>"


def _frame_culprit(frame: dict[str, Any], platform: Any) -> str:
    platform = frame.get("platform") or platform
    if platform in ("objc", "cocoa", "native"):
        return str(frame.get("function") or "?")
    location = frame.get("module") or frame.get("filename")
    if not location:
        return ""
    function = frame.get("function") or "?"
    if platform in ("javascript", "node"):
        return f"{function}({location})"
    return f"{location} in {function}"


def _stacktrace_culprit(frames: list[dict[str, Any]], platform: Any) -> str | None:
    fallback = None
    for frame in reversed(frames):
        if frame.get("in_app"):
            culprit = _frame_culprit(frame, platform)
            if culprit:
                return culprit
        elif fallback is None:
            fallback = _frame_culprit(frame, platform)
    return fallback


def culprit_for(event: dict[str, Any]) -> str:
    """The event's culprit, else its transaction, else one generated from its stack."""
    for key in ("culprit", "transaction"):
        if isinstance(event.get(key), str) and event[key]:
            return truncatechars(event[key], CULPRIT_LIMIT)
    exceptions = exceptions_of(event)
    if exceptions and _is_synthetic(exceptions[-1]):
        return ""  # synthetic events get no culprit
    stacks = [frames for e in exceptions if (frames := frames_of(e.get("stacktrace")))]
    top_level = frames_of(event.get("stacktrace"))
    if not stacks and top_level:
        stacks = [top_level]
    culprit = _stacktrace_culprit(stacks[-1], event.get("platform")) if stacks else None
    if not culprit:
        request = event.get("request")
        url = request.get("url") if isinstance(request, dict) else None
        culprit = url if isinstance(url, str) else None
    return truncatechars(culprit or "", CULPRIT_LIMIT)
