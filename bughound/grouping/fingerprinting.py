"""Fingerprints (pure): what a fingerprint is, and the values of its variables.

A fingerprint is a list of strings; `{{ default }}` stands for the normal grouping, other
`{{ var }}` entries are replaced by event values (`transaction`, `message`, `type`/`error.type`,
`value`/`error.value`, `function`/`stack.function`, `path`/`stack.abs_path`, `stack.filename`,
`module`/`stack.module`, `package`/`stack.package`, `level`, `logger`, `tags.NAME`), with
Sentry's placeholders (`<no-type>`, `<no-value-for-tag-NAME>`, ...) when missing; unknown
variables stay as written (the 2023 config's legacy behaviour).

Server-side fingerprint rules live in `fingerprint_rules.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_VARIABLE",
    "InvalidFingerprinting",
    "crash_frame",
    "expand_title",
    "fingerprint_type",
    "get_path",
    "is_default",
    "resolve_fingerprint",
    "resolve_variable",
    "variable_of",
]

DEFAULT_VARIABLE = "{{ default }}"
_VARIABLE = re.compile(r"\{\{\s*(\S+)\s*\}\}")


class InvalidFingerprinting(ValueError):
    """Fingerprint rules that cannot be parsed; the message is meant for the user."""


def variable_of(entry: object) -> str | None:
    """`var` if `entry` is exactly `{{ var }}` (any spacing), else None."""
    if not isinstance(entry, str):
        return None
    match = _VARIABLE.match(entry)
    return match.group(1) if match is not None and match.end() == len(entry) else None


def is_default(entry: object) -> bool:
    return variable_of(entry) == "default"


def fingerprint_type(fingerprint: Sequence[str]) -> str:
    """`default` (just `{{ default }}`), `hybrid` (`{{ default }}` and more) or `custom`."""
    if len(fingerprint) == 1 and is_default(fingerprint[0]):
        return "default"
    return "hybrid" if any(is_default(e) for e in fingerprint) else "custom"


# --- variables -----------------------------------------------------------------------------------


def get_path(data: Any, *keys: Any) -> Any:
    """`data[k1][k2]...` through dicts and lists (negative list indexes too); None when absent."""
    for key in keys:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def crash_frame(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """Sentry's `get_crash_frame_from_event_data`: in the last exception's (else the event's,
    else the only thread's) frames, the newest in-app frame, else the newest frame."""
    frames = get_path(event, "exception", "values", -1, "stacktrace", "frames") or get_path(
        event, "stacktrace", "frames"
    )
    if not frames:
        threads = get_path(event, "threads", "values")
        if isinstance(threads, list) and len(threads) == 1:
            frames = get_path(threads, 0, "stacktrace", "frames")
    default = None
    for frame in reversed(frames if isinstance(frames, list) else []):
        if not isinstance(frame, dict):
            continue
        if frame.get("in_app"):
            return frame
        if default is None:
            default = frame
    return default


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_FRAME_VARIABLES = {
    "function": (("function",), "<no-function>"),
    "stack.function": (("function",), "<no-function>"),
    "path": (("abs_path", "filename"), "<no-abs-path>"),
    "stack.abs_path": (("abs_path", "filename"), "<no-abs-path>"),
    "stack.filename": (("filename", "abs_path"), "<no-filename>"),
    "module": (("module",), "<no-module>"),
    "stack.module": (("module",), "<no-module>"),
    "package": (("package",), "<no-package>"),
    "stack.package": (("package",), "<no-package>"),
}


def resolve_variable(key: str, event: Mapping[str, Any]) -> str | None:
    """The value of `{{ key }}` for `event`, or None for an unknown variable."""
    if key == "transaction":
        return _text(event.get("transaction")) or "<no-transaction>"
    if key == "message":
        message = (
            get_path(event, "logentry", "formatted")
            or get_path(event, "logentry", "message")
            or get_path(event, "exception", "values", -1, "value")
        )
        return _text(message) or "<no-message>"
    if key in ("type", "error.type"):
        return _text(get_path(event, "exception", "values", -1, "type")) or "<no-type>"
    if key in ("value", "error.value"):
        return _text(get_path(event, "exception", "values", -1, "value")) or "<no-value>"
    if key in _FRAME_VARIABLES:
        fields, placeholder = _FRAME_VARIABLES[key]
        frame = crash_frame(event) or {}
        found = next((v for k in fields if (v := _text(frame.get(k)))), None)
        if found and fields == ("package",):
            found = found.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        return found or placeholder
    if key in ("level", "logger"):
        return _text(event.get(key)) or f"<no-{key}>"
    if key.startswith("tags."):
        tag = key[5:]
        tags = event.get("tags")
        for pair in tags if isinstance(tags, list) else ():
            if isinstance(pair, list | tuple) and len(pair) == 2 and pair[0] == tag and pair[1] is not None:
                return str(pair[1])
        return f"<no-value-for-tag-{tag}>"
    return None


def resolve_fingerprint(fingerprint: Sequence[str], event: Mapping[str, Any]) -> list[str]:
    """Variables replaced by their values; `{{ default }}` spellings become `{{ default }}`."""
    out = []
    for entry in fingerprint:
        key = variable_of(entry)
        if key == "default":
            out.append(DEFAULT_VARIABLE)
        elif key is None:
            out.append(entry)
        else:
            value = resolve_variable(key, event)
            out.append(entry if value is None else value)
    return out


def expand_title(template: str, event: Mapping[str, Any]) -> str:
    """A rule's `title="..."` with its variables filled in."""

    def replace(match: re.Match[str]) -> str:
        value = resolve_variable(match.group(1), event)
        return match.group(0) if value is None else value

    return _VARIABLE.sub(replace, template)
