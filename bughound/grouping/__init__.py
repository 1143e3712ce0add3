"""Stage 4: which issue an event belongs to, and how it is titled (pure, versioned).

Everything the digest needs from grouping goes through `calculate()`: it runs the grouping
config pinned to the event's project (Sentry's `newstyle:2023-01-11` for new projects, see
`engine.py`; `bughound:legacy-0` for projects older than it, see `legacy.py`) with the
project's stack trace and fingerprint rules, and, while a project moves to a new config, the
old one too: its hashes only find existing issues.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from bughound.grouping import engine, frame, legacy, parameterization, strategies
from bughound.grouping.settings import DEFAULT_CONFIG_ID, LEGACY_CONFIG_ID, ProjectGrouping
from bughound.grouping.titles import culprit_for, metadata_for, title_for

log = logging.getLogger("bughound.grouping")


@dataclasses.dataclass(frozen=True, slots=True)
class GroupingResult:
    config: str
    hashes: list[str]  # contributing hashes, primary first: they find or create the issue
    title: str
    culprit: str | None
    metadata: dict[str, Any]
    event: dict[str, Any]  # the event as grouping left it (in_app by the rules, final fingerprint)
    secondary_hashes: list[str] = dataclasses.field(default_factory=list)  # only find issues


def _stacktraces(event: dict[str, Any]) -> list[Any]:
    found = []
    for key in ("exception", "threads"):
        container = event.get(key)
        values = container.get("values") if isinstance(container, dict) else None
        for value in values if isinstance(values, list) else []:
            if isinstance(value, dict):
                found.append(value.get("stacktrace"))
    found.append(event.get("stacktrace"))
    return found


def in_app_frame_mix(event: dict[str, Any]) -> str | None:
    """Sentry's `in_app_frame_mix` of the stack traces grouping saw: "in-app-only",
    "system-only" or "mixed" (over all of them); None without frames."""
    mixes = set()
    for stacktrace in _stacktraces(event):
        frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        flags = (
            {bool(f.get("in_app")) for f in frames if isinstance(f, dict)}
            if isinstance(frames, list)
            else set()
        )
        if flags:
            mixes.add("mixed" if len(flags) == 2 else "in-app-only" if True in flags else "system-only")
    if not mixes:
        return None
    return mixes.pop() if len(mixes) == 1 else "mixed"


def clear_event_caches() -> None:
    """Forget what grouping keeps about the events it has seen across rule sets (frames,
    messages, stacks without frames); each loaded rule set keeps its own caches as well."""
    frame._cache.clear()
    parameterization._cache.clear()
    strategies._no_stack_cache.clear()


def known_config_ids() -> list[str]:
    return sorted({*engine.known_config_ids(), LEGACY_CONFIG_ID})


def validate_rules(*, enhancements: str | None = None, fingerprinting: str | None = None) -> str | None:
    """Why project rules are invalid (a message for a 400 response), or None."""
    return engine.validate_rules(enhancements=enhancements, fingerprinting=fingerprinting)


def run(
    event: dict[str, Any], config_id: str, settings: ProjectGrouping
) -> tuple[list[str], dict[str, Any], str | None]:
    """(hashes, grouped event, title from a fingerprint rule) of one config."""
    if config_id == LEGACY_CONFIG_ID:
        return legacy.hashes(event), event, None
    try:
        grouping = engine.group(
            event,
            config_id,
            project_enhancements=settings.enhancements,
            project_fingerprinting=settings.fingerprinting,
            hashes_only=True,
        )
    except engine.UnknownConfig:
        log.warning("unknown grouping config %r; grouping with %s", config_id, DEFAULT_CONFIG_ID)
        return run(event, DEFAULT_CONFIG_ID, settings)
    except ValueError:  # project rules saved before a stricter parser: group without them
        if not (settings.enhancements or settings.fingerprinting):
            raise
        log.warning("invalid project grouping rules; grouping without them", exc_info=True)
        return run(event, config_id, dataclasses.replace(settings, enhancements="", fingerprinting=""))
    return grouping.hashes, grouping.event, grouping.title_override


def calculate(
    event: dict[str, Any], settings: ProjectGrouping | None = None, now: float | None = None
) -> GroupingResult:
    settings = settings or ProjectGrouping()
    config_id = settings.config_id if settings.config_id in known_config_ids() else DEFAULT_CONFIG_ID
    hashes, grouped, title_override = run(event, config_id, settings)
    secondary: list[str] = []
    old = settings.secondary(time.time() if now is None else now)
    if old and old != config_id and old in known_config_ids():
        secondary = [h for h in run(event, old, settings)[0] if h not in hashes]
    metadata = metadata_for(grouped)
    mix = in_app_frame_mix(grouped)
    if mix is not None:  # Sentry stashes it in the metadata of any event with frames
        metadata["in_app_frame_mix"] = mix
    if title_override:
        metadata["title"] = title_override
    title = title_override or title_for(grouped, metadata)
    grouped["fingerprint_hashes"] = hashes
    grouped["grouping_config"] = {"id": config_id, "enhancements": settings.enhancements}
    return GroupingResult(config_id, hashes, title, culprit_for(grouped), metadata, grouped, secondary)


def grouping_info(
    event: dict[str, Any], settings: ProjectGrouping, config_id: str | None = None, stored: bool = False
) -> dict[str, Any]:
    """What Sentry's grouping-info endpoint returns for `event`: `{"grouping_config": id,
    "variants": {key: {contributes, hash, hint, key, type, description, component, ...}}}`.

    A `stored` event is regrouped with the config and stack trace rules stored with it, and its
    fingerprint is what the project's fingerprint rules made of it when it came in (they are
    not applied again, so editing them later changes nothing here); an event never sent gets
    the project's rules. `config_id` overrides the config."""
    pinned = event.get("grouping_config")
    stored_id = pinned.get("id") if isinstance(pinned, dict) else pinned
    enhancements = pinned.get("enhancements") if isinstance(pinned, dict) else None
    config = config_id or stored_id or settings.config_id
    if config == LEGACY_CONFIG_ID:
        return _legacy_info(event)
    if config not in engine.known_config_ids():
        config = DEFAULT_CONFIG_ID
    rules = enhancements if enhancements is not None else settings.enhancements
    try:
        grouping = engine.group(
            event,
            config,
            project_enhancements=rules,
            project_fingerprinting=settings.fingerprinting,
            fingerprinted=stored,
        )
    except ValueError:  # rules saved before a stricter parser: as the digest did, without them
        grouping = engine.group(event, config, fingerprinted=stored)
    stored_hashes = event.get("fingerprint_hashes")
    return grouping.grouping_info(stored_hashes=stored_hashes if isinstance(stored_hashes, list) else None)


def _legacy_info(event: dict[str, Any]) -> dict[str, Any]:
    (value,) = legacy.hashes(event)
    return {
        "grouping_config": LEGACY_CONFIG_ID,
        "variants": {
            "legacy": {
                "contributes": True,
                "hash": value,
                "hashMismatch": value not in (event.get("fingerprint_hashes") or [value]),
                "hint": None,
                "key": "legacy",
                "type": "fallback",
                "description": "Bughound's grouping before Sentry's (exception types and in-app frames)",
                "values": [],
            }
        },
    }
