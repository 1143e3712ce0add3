"""Stage 4: which issue an event belongs to, and how it is titled (pure, versioned).

Everything the digest needs from grouping goes through `calculate()`. This is the
temporary `bughound:legacy-0` config: it hashes the exception types and in-app frames (or the
message) and honours client fingerprints; Sentry's own algorithm replaces it behind the same
function (issue #3), with its config id stored beside every hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from bughound.grouping.titles import culprit_for, exceptions_of, frames_of, metadata_for, title_for

CONFIG_ID = "bughound:legacy-0"


@dataclasses.dataclass(frozen=True)
class GroupingResult:
    config: str
    hashes: list[str]
    title: str
    culprit: str | None
    metadata: dict[str, Any]


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


def calculate(event: dict[str, Any]) -> GroupingResult:
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
        hashes = [_md5(parts)]
    else:
        hashes = [_md5(default)]
    metadata = metadata_for(event)
    return GroupingResult(CONFIG_ID, hashes, title_for(event, metadata), culprit_for(event), metadata)
