"""Per-key rate limits in fixed windows (Sentry `quotas/redis.py`, Relay `utils/rate_limits.rs`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bughound.ingest.ratelimit import MAX_RETRY_AFTER, KeyRateLimiter, Limited

WINDOW = 60


def test_admits_up_to_count_then_limits() -> None:
    limiter = KeyRateLimiter()
    now = 1_700_000_000.0 - 1_700_000_000.0 % WINDOW + 10  # 10 s into a window
    assert [limiter.admit(1, 3, WINDOW, 1, now) for _ in range(3)] == [None, None, None]
    limited = limiter.admit(1, 3, WINDOW, 1, now)
    assert limited == Limited(50, ("default", "error", "security"), "key", "key_quota")


def test_header_format() -> None:
    limited = Limited(42, ("default", "error", "security"), "key", "key_quota")
    assert limited.header() == "42:default;error;security:key:key_quota"


def test_limited_header_from_the_limiter() -> None:
    limiter = KeyRateLimiter()
    limiter.admit(7, 1, WINDOW, 1, 120.0)
    limited = limiter.admit(7, 1, WINDOW, 1, 150.25)
    assert limited is not None
    assert limited.header() == "30:default;error;security:key:key_quota"


@pytest.mark.parametrize(
    ("now", "retry_after"),
    [(120.0, 60), (120.5, 60), (150.0, 30), (178.9, 2), (179.0, 1), (179.99, 1)],
)
def test_windows_are_aligned_to_the_epoch(now: float, retry_after: int) -> None:
    limiter = KeyRateLimiter()
    assert limiter.admit(1, 1, WINDOW, 1, 120.0) is None
    limited = limiter.admit(1, 1, WINDOW, 1, now)
    assert limited is not None
    assert limited.retry_after == retry_after


def test_counts_reset_in_the_next_window() -> None:
    limiter = KeyRateLimiter()
    assert limiter.admit(1, 2, WINDOW, 2, 179.0) is None
    assert limiter.admit(1, 2, WINDOW, 1, 179.9) is not None
    assert limiter.admit(1, 2, WINDOW, 1, 180.0) is None  # a new window starts at 180
    assert limiter.admit(1, 2, WINDOW, 1, 200.0) is None
    assert limiter.admit(1, 2, WINDOW, 1, 239.0) is not None
    assert limiter.admit(1, 2, WINDOW, 1, 1000.0) is None  # several windows later


def test_rejected_requests_are_not_counted() -> None:
    limiter = KeyRateLimiter()
    assert limiter.admit(1, 3, WINDOW, 2, 0.0) is None
    assert limiter.admit(1, 3, WINDOW, 2, 1.0) is not None  # 2 + 2 > 3
    assert limiter.admit(1, 3, WINDOW, 1, 2.0) is None  # 2 + 1 == 3 still fits
    assert limiter.admit(1, 3, WINDOW, 1, 3.0) is not None


def test_quantity_larger_than_the_count() -> None:
    assert KeyRateLimiter().admit(1, 5, WINDOW, 6, 0.0) is not None


def test_keys_are_counted_separately() -> None:
    limiter = KeyRateLimiter()
    assert limiter.admit(1, 1, WINDOW, 1, 0.0) is None
    assert limiter.admit(2, 1, WINDOW, 1, 0.0) is None
    assert limiter.admit(1, 1, WINDOW, 1, 1.0) is not None
    assert limiter.admit(2, 1, WINDOW, 1, 1.0) is not None


@pytest.mark.parametrize(("count", "window"), [(None, 60), (0, 60), (5, None), (5, 0), (None, None)])
def test_no_limit_without_count_or_window(count: int | None, window: int | None) -> None:
    limiter = KeyRateLimiter()
    assert all(limiter.admit(1, count, window, 1, float(i)) is None for i in range(100))


def test_zero_quantity_is_always_admitted() -> None:
    limiter = KeyRateLimiter()
    assert limiter.admit(1, 1, WINDOW, 1, 0.0) is None
    assert limiter.admit(1, 1, WINDOW, 0, 0.0) is None


@settings(max_examples=200, deadline=None)
@given(
    window=st.integers(1, 86400),
    count=st.integers(1, 10),
    start=st.floats(0, 2e9, allow_nan=False),
    steps=st.lists(st.floats(0, 100, allow_nan=False), max_size=30),
)
def test_retry_after_is_within_the_window(window: int, count: int, start: float, steps: list[float]) -> None:
    limiter = KeyRateLimiter()
    now = start
    admitted: dict[int, int] = {}
    for step in steps:
        now += step
        index = int(now // window)
        limited = limiter.admit(1, count, window, 1, now)
        if limited is None:
            admitted[index] = admitted.get(index, 0) + 1
            assert admitted[index] <= count
        else:
            assert admitted.get(index, 0) == count
            assert 1 <= limited.retry_after <= window
            # Retrying after `retry_after` lands in a later window, unless the wait was capped
            # at Relay's 300 seconds.
            if limited.retry_after < MAX_RETRY_AFTER:
                assert int((now + limited.retry_after) // window) > index
            else:
                assert limited.retry_after == MAX_RETRY_AFTER


def test_windows_are_shifted_per_organization_and_retry_after_is_capped() -> None:
    limiter = KeyRateLimiter()
    assert limiter.admit(1, 1, 60, 1, 1000.0, shift=30) is None  # window [990, 1050)
    limited = limiter.admit(1, 1, 60, 1, 1049.0, shift=30)
    assert limited is not None and limited.retry_after == 1
    assert limiter.admit(1, 1, 60, 1, 1050.0, shift=30) is None  # the next window
    long_window = KeyRateLimiter()
    assert long_window.admit(2, 1, 3600, 1, 0.0) is None
    limited = long_window.admit(2, 1, 3600, 1, 1.0)
    assert limited is not None and limited.retry_after == 300
