"""Deleting what is past retention: events, attachments, idle issues, outcomes; and old rate
limit windows."""

from __future__ import annotations

import time

import sqlalchemy as sa

from bughound.storage import schema as t
from bughound.storage.store import Store

CHUNK = 1000
RATE_LIMIT_WINDOWS_KEPT = 2 * 86400  # a rate limit window lasts at most a day


def delete_expired(store: Store, cutoff: float, now: float | None = None) -> int:
    """Delete data older than `cutoff` (epoch seconds) in small transactions, and rate limit
    windows two days old; returns events deleted."""
    e, a, g = t.events.c, t.attachments.c, t.groups.c
    deleted = 0
    while True:
        with store.write() as conn:
            ids = [r.id for r in conn.execute(sa.select(e.id).where(e.timestamp < cutoff).limit(CHUNK))]
            if not ids:
                break
            conn.execute(t.events.delete().where(e.id.in_(ids)))
            deleted += len(ids)
    with store.write() as conn:
        conn.execute(t.attachments.delete().where(a.date_added < cutoff))
        conn.execute(t.outcomes.delete().where(t.outcomes.c.hour < cutoff - 3600))
        old_windows = (time.time() if now is None else now) - RATE_LIMIT_WINDOWS_KEPT
        conn.execute(t.rate_limit_windows.delete().where(t.rate_limit_windows.c.window_start < old_windows))
        stale = sa.select(g.id).where(g.last_seen < cutoff).scalar_subquery()
        conn.execute(t.group_tag_values.delete().where(t.group_tag_values.c.group_id.in_(stale)))
        conn.execute(t.group_hashes.delete().where(t.group_hashes.c.group_id.in_(stale)))
        conn.execute(t.activities.delete().where(t.activities.c.group_id.in_(stale)))
        conn.execute(t.groups.delete().where(g.last_seen < cutoff))
    return deleted
