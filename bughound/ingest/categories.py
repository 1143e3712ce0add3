"""Envelope item types -> Relay's data categories and Sentry's outcome numbers."""

from __future__ import annotations

import enum


class Outcome(enum.IntEnum):
    """Sentry's `Outcome` (sentry.utils.outcomes), as stored in the outcomes rollup."""

    ACCEPTED = 0
    FILTERED = 1
    RATE_LIMITED = 2
    INVALID = 3
    ABUSE = 4
    CLIENT_DISCARD = 5
    CARDINALITY_LIMITED = 6


# The category an item counts under before its payload is read (Relay's envelope summary);
# an `event` becomes `default` once the digest sees it has no exception.
ITEM_CATEGORY = {
    "event": "error",
    "transaction": "transaction",
    "security": "security",
    "raw_security": "security",
    "attachment": "attachment",
    "session": "session",
    "sessions": "session",
    "check_in": "monitor",
    "feedback": "feedback",
    "user_report_v2": "feedback",
    "profile": "profile",
    "profile_chunk": "profile_chunk",
    "replay_event": "replay",
    "replay_recording": "replay",
    "replay_video": "replay",
    "log": "log_item",
    "span": "span",
    "otel_span": "span",
    "trace_metric": "trace_metric",
}

# Categories Sentry's per-project-key quota applies to (quotas/base.py: error categories).
KEY_QUOTA_CATEGORIES = ("default", "error", "security")


def item_quantities(item_type: str, item_count: object, size: int) -> list[tuple[str, int]]:
    """What an item counts as in outcomes, before its payload is read (Relay's Item::quantities)."""
    category = ITEM_CATEGORY.get(item_type)
    if category is None:
        return []
    if item_type == "attachment":
        return [("attachment", max(1, size)), ("attachment_item", 1)]
    count = 1
    if isinstance(item_count, int) and not isinstance(item_count, bool) and item_count > 0:
        count = item_count
    if item_type == "log":
        return [("log_item", count), ("log_byte", max(1, size))]
    return [(category, count)]


def discard_item_type(item_type: str, attachment_type: object = None) -> str:
    """Relay's DiscardItemType name, as used in `too_large:<type>` reasons."""
    if item_type == "attachment":
        kind = str(attachment_type or "event.attachment").removeprefix("event.").removeprefix("unreal.")
        return f"attachment:{kind}"
    known = item_type in ITEM_CATEGORY or item_type in ("client_report", "user_report")
    return item_type if known else "unknown"


def rate_limit_categories(item_type: str) -> tuple[str, ...]:
    """The categories that decide whether an item is rate limited."""
    category = ITEM_CATEGORY.get(item_type)
    if category is None:
        return ()
    if category == "error":
        return ("error", "default")  # an event is `default` until its payload shows an exception
    return (category,)
