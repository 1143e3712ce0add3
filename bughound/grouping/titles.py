"""Issue titles, culprits and metadata derived from an event (pure), as Sentry shows them."""

from __future__ import annotations

from typing import Any

TITLE_LIMIT = 100


def _truncate(text: str, limit: int = TITLE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text.strip() else ""


def _main_exception(event: dict[str, Any]) -> dict[str, Any] | None:
    exception = event.get("exception")
    values = (
        [v for v in (exception or {}).get("values") or [] if isinstance(v, dict)]
        if isinstance(exception, dict)
        else []
    )
    return values[-1] if values else None  # the raised exception comes last


def _crash_frame(event: dict[str, Any]) -> dict[str, Any] | None:
    exception = _main_exception(event)
    stacktrace = (exception or {}).get("stacktrace") or event.get("stacktrace")
    frames = (
        [f for f in (stacktrace or {}).get("frames") or [] if isinstance(f, dict)]
        if isinstance(stacktrace, dict)
        else []
    )
    if not frames:
        return None
    in_app = [f for f in frames if f.get("in_app")]
    return (in_app or frames)[-1]


def message_of(event: dict[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        return str(logentry.get("formatted") or logentry.get("message") or "")
    return ""


def metadata_for(event: dict[str, Any]) -> dict[str, Any]:
    kind = event.get("type")
    if kind == "error":
        exception = _main_exception(event) or {}
        metadata: dict[str, Any] = {}
        if exception.get("type"):
            metadata["type"] = str(exception["type"])
        value = exception.get("value")
        if value is not None:
            metadata["value"] = _truncate(_first_line(str(value)), 1024)
        frame = _crash_frame(event)
        if frame:
            if frame.get("filename") or frame.get("abs_path"):
                metadata["filename"] = frame.get("filename") or frame.get("abs_path")
            if frame.get("function"):
                metadata["function"] = frame["function"]
        return metadata
    if kind == "transaction":
        return {"title": str(event.get("transaction") or "<unlabeled transaction>")}
    return {"title": title_for(event)}


def title_for(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "error":
        exception = _main_exception(event) or {}
        ty = str(exception.get("type") or "Error")
        value = _first_line(str(exception.get("value") or ""))
        return _truncate(f"{ty}: {value}" if value else ty)
    if kind == "transaction":
        return str(event.get("transaction") or "<unlabeled transaction>")
    if kind == "feedback":
        feedback = (event.get("contexts") or {}).get("feedback") or {}
        return _truncate(f"User Feedback: {_first_line(str(feedback.get('message') or ''))}")
    message = _first_line(message_of(event))
    return _truncate(message) if message else "<unlabeled event>"


def culprit_for(event: dict[str, Any]) -> str | None:
    if isinstance(event.get("culprit"), str) and event["culprit"]:
        return str(event["culprit"])[:200]
    if isinstance(event.get("transaction"), str) and event["transaction"]:
        return str(event["transaction"])[:200]
    frame = _crash_frame(event)
    if frame is None:
        return ""
    location = frame.get("module") or frame.get("filename")
    if not location:
        return ""
    function = frame.get("function") or "?"
    if event.get("platform") in ("javascript", "node"):
        return f"{function}({location})"[:200]
    return f"{location} in {function}"[:200]


def location_for(event: dict[str, Any]) -> str | None:
    frame = _crash_frame(event)
    return str(frame.get("filename")) if frame and frame.get("filename") else None
