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


def item_category(item_type: str) -> str | None:
    return ITEM_CATEGORY.get(item_type)


def rate_limit_categories(item_type: str) -> tuple[str, ...]:
    """The categories that decide whether an item is rate limited."""
    category = ITEM_CATEGORY.get(item_type)
    if category is None:
        return ()
    if category == "error":
        return ("error", "default")  # an event is `default` until its payload shows an exception
    return (category,)
