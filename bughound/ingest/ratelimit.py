"""Per-project-key rate limits (`rateLimit: {window, count}`) in fixed windows.

Windows are fixed like those of Sentry's Redis quotas (aligned to the epoch, shifted by
`org_id % window`), so `Retry-After` is the time left in the current window. Counters live
in this process: with several `serve` processes each admits up to the limit (documented in
docs/ingestion.md).
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


class KeyRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[int, tuple[int, int]] = {}  # key id -> (window index, used)

    def admit(
        self, key_id: int, count: int | None, window: int | None, quantity: int, now: float, shift: int = 0
    ) -> Limited | None:
        """Count `quantity` events against the key; None if admitted, else the limit hit.

        Relay shifts each organization's windows by `org_id % window` (pass it as `shift`) so
        that not every quota resets at once, and caps `Retry-After` at 300 seconds.
        """
        if not count or not window or quantity <= 0:
            return None
        index = int((now - shift) // window)
        current, used = self._windows.get(key_id, (index, 0))
        if current != index:
            used = 0
        if used + quantity > count:
            self._windows[key_id] = (index, used)
            retry_after = min(MAX_RETRY_AFTER, max(1, math.ceil((index + 1) * window + shift - now)))
            return Limited(retry_after, KEY_QUOTA_CATEGORIES, "key", "key_quota")
        self._windows[key_id] = (index, used + quantity)
        return None
