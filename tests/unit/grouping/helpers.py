"""Shared helpers for the grouping unit tests: build, normalize and group small events."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from bughound.digest.normalize import Context, normalize_event
from bughound.grouping import clear_event_caches, enhancements
from bughound.grouping.engine import Grouping, group

CTX = Context(received=1_700_000_000.0, project_id=1, key_id=1)


def clear_caches() -> None:
    """Forget every grouping cache (variants, prepared stacks, frames, messages)."""
    enhancements.load_enhancements.cache_clear()
    clear_event_caches()


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    return normalize_event(copy.deepcopy(event), CTX)


def grouped(event: dict[str, Any], **kwargs: Any) -> Grouping:
    """`event` through our normalization, then `group()` (keyword arguments go to `group`)."""
    return group(normalized(event), **kwargs)


def exception_event(
    platform: str, *frames: dict[str, Any], type: str = "Error", value: str = "boom"
) -> dict[str, Any]:
    return {
        "platform": platform,
        "exception": {"values": [{"type": type, "value": value, "stacktrace": {"frames": list(frames)}}]},
    }


def tree(grouping: Grouping, variant: str = "app") -> dict[str, Any]:
    return grouping.variants[variant].as_dict()["component"]  # type: ignore[no-any-return]


def walk(component: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield component
    for value in component["values"]:
        if isinstance(value, dict):
            yield from walk(value)


def find_all(component: dict[str, Any], id: str) -> list[dict[str, Any]]:
    return [c for c in walk(component) if c["id"] == id]


def find(component: dict[str, Any], id: str) -> dict[str, Any]:
    found = find_all(component, id)
    assert found, f"no {id!r} component"
    return found[0]


def parts(frame: dict[str, Any]) -> dict[str, tuple[list[Any], bool, str | None]]:
    """A frame component's children: id -> (values, contributes, hint)."""
    return {c["id"]: (c["values"], c["contributes"], c["hint"]) for c in frame["values"]}


def frames(grouping: Grouping, variant: str = "app") -> list[dict[str, Any]]:
    return find_all(tree(grouping, variant), "frame")


def first_frame(frame: dict[str, Any], platform: str = "python") -> dict[str, Any]:
    """The component of a one-frame exception event on `platform` (system variant: all frames)."""
    return frames(grouped(exception_event(platform, frame)), "system")[0]
