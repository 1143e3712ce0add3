"""Deleting what is past retention: events, attachments, idle issues, outcomes."""

from __future__ import annotations

import sqlalchemy as sa

from bughound.storage import schema as t
from bughound.storage.store import Store

CHUNK = 1000


def delete_expired(store: Store, cutoff: float) -> int:
    """Delete data older than `cutoff` (epoch seconds) in small transactions; returns events deleted."""
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
        stale = sa.select(g.id).where(g.last_seen < cutoff).scalar_subquery()
        conn.execute(t.group_tag_values.delete().where(t.group_tag_values.c.group_id.in_(stale)))
        conn.execute(t.group_hashes.delete().where(t.group_hashes.c.group_id.in_(stale)))
        conn.execute(t.activities.delete().where(t.activities.c.group_id.in_(stale)))
        conn.execute(t.groups.delete().where(g.last_seen < cutoff))
    return deleted
