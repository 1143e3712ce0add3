"""Per-key rate limit counters in PostgreSQL, shared by every `serve` process of a deployment.

Each envelope with an event for a rate-limited key is one atomic upsert: the window's counter
grows only while it stays within the key's count, so concurrent servers never admit more than
the limit between them. The worker's retention deletes windows two days old
(`bughound.storage.retention`).
"""

from __future__ import annotations

from bughound.ingest.ratelimit import Limited, over_limit, window_start
from bughound.storage.store import Store

_ADMIT = (
    "INSERT INTO rate_limit_windows (key_id, window_start, used) VALUES (%s, %s, %s) "
    "ON CONFLICT (key_id, window_start) DO UPDATE SET used = rate_limit_windows.used + excluded.used "
    "WHERE rate_limit_windows.used + excluded.used <= %s RETURNING used"
)


class SharedKeyRateLimiter:
    """`KeyRateLimiter`'s `admit`, counted in the database (it blocks: call it off the event loop)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def admit(
        self, key_id: int, count: int | None, window: int | None, quantity: int, now: float, shift: int = 0
    ) -> Limited | None:
        if not count or not window or quantity <= 0:
            return None
        start = window_start(now, window, shift)
        if quantity <= count:
            with self.store.write() as conn:
                admitted = conn.exec_driver_sql(_ADMIT, (key_id, start, quantity, count)).first()
            if admitted is not None:
                return None
        return over_limit(start, window, now)
