"""`bughound:legacy-0`: the temporary grouping Bughound used before Sentry's algorithm (pure).

It hashes the exception types and in-app frames (or the message) and honours client
fingerprints. Projects created before Sentry's grouping keep it (their issues were made with it)
until their owner switches them to a Sentry config.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bughound.grouping.titles import exceptions_of, frames_of

CONFIG_ID = "bughound:legacy-0"


def _default_components(event: dict[str, Any]) -> list[str]:
    values = exceptions_of(event)
    if values:
        parts: list[str] = []
        for value in values:
            parts.append(str(value.get("type") or ""))
            frames = frames_of(value.get("stacktrace"))
            in_app = [f for f in frames if f.get("in_app")] or frames
            if in_app:
                parts += [
                    f"{f.get('module') or f.get('filename') or ''}:{f.get('function') or ''}" for f in in_app
                ]
            else:
                parts.append(str(value.get("value") or ""))
        return parts
    logentry = event.get("logentry") or {}
    message = logentry.get("message") or logentry.get("formatted")
    if message:
        return [str(message)]
    return [str(event.get("transaction") or event.get("culprit") or "")]


def _md5(parts: list[str]) -> str:
    return hashlib.md5("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def hashes(event: dict[str, Any]) -> list[str]:
    default = _default_components(event)
    fingerprint = event.get("fingerprint")
    if isinstance(fingerprint, list) and fingerprint:
        parts: list[str] = []
        for entry in fingerprint:
            text = str(entry)
            if text.replace(" ", "") in ("{{default}}",):
                parts += default
            else:
                parts.append(text)
        return [_md5(parts)]
    return [_md5(default)]
