"""Per-project-key rate limits (`rateLimit: {window, count}`) in fixed windows.

Windows are fixed like those of Sentry's Redis quotas (aligned to the epoch, shifted by
`org_id % window`), so `Retry-After` is the time left in the current window. Counters live
in this process (`KeyRateLimiter`, the one SQLite server), or in PostgreSQL for every `serve`
process that shares it (`bughound.storage.ratelimits.SharedKeyRateLimiter`).
"""

from __future__ import annotations

import dataclasses
import math

from bughound.ingest.categories import KEY_QUOTA_CATEGORIES


@dataclasses.dataclass(frozen=True)
class Limited:
    retry_after: int
    categories: tuple[str, ...]
    scope: str
    reason_code: str

    def header(self) -> str:
        """One entry of `X-Sentry-Rate-Limits`: `<retry_after>:<categories>:<scope>:<reason_code>`."""
        return f"{self.retry_after}:{';'.join(self.categories)}:{self.scope}:{self.reason_code}"


MAX_RETRY_AFTER = 300  # Relay's processing.max_rate_limit


def window_start(now: float, window: int, shift: int) -> int:
    """Where the fixed window holding `now` starts (epoch seconds): windows are aligned to the
    epoch and shifted by `shift`, Relay's `org_id % window`, so that not every quota resets at once."""
    return int((now - shift) // window) * window + shift


def over_limit(start: int, window: int, now: float) -> Limited:
    """The key's quota is used up until the window that started at `start` ends (`Retry-After`
    capped at 300 seconds, as Relay does)."""
    retry_after = min(MAX_RETRY_AFTER, max(1, math.ceil(start + window - now)))
    return Limited(retry_after, KEY_QUOTA_CATEGORIES, "key", "key_quota")


class KeyRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[int, tuple[int, int]] = {}  # key id -> (window start, used)

    def admit(
        self, key_id: int, count: int | None, window: int | None, quantity: int, now: float, shift: int = 0
    ) -> Limited | None:
        """Count `quantity` events against the key; None if admitted, else the limit hit
        (`shift`: see `window_start`)."""
        if not count or not window or quantity <= 0:
            return None
        start = window_start(now, window, shift)
        current, used = self._windows.get(key_id, (start, 0))
        if current != start:
            used = 0
        if used + quantity > count:
            self._windows[key_id] = (start, used)
            return over_limit(start, window, now)
        self._windows[key_id] = (start, used + quantity)
        return None
