"""The pure issue lifecycle rules (ISSUE_LIFECYCLE.md): short ids, releases, resolutions, snoozes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bughound.storage.lifecycle import (
    IN_NEXT_RELEASE,
    IN_RELEASE,
    Priority,
    Resolution,
    Snooze,
    SnoozeFigures,
    Status,
    SubStatus,
    base32_decode,
    base32_encode,
    escalation_threshold,
    initial_priority,
    is_newer,
    parse_qualified_short_id,
    qualified_short_id,
    resolution_holds,
    semver_key,
    snooze_verdict,
    unresolved_substatus,
)
from tests.unit.strategies import PROPERTY_SETTINGS


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0"), (1, "1"), (31, "Z"), (32, "10"), (6654, "6FY"), (1024, "100")]
)
def test_base32_as_sentry(number: int, text: str) -> None:
    assert base32_encode(number) == text
    assert base32_decode(text) == number


def test_base32_decode_reads_lookalikes() -> None:
    assert base32_decode("o") == 0
    assert base32_decode("iL") == 33
    with pytest.raises(ValueError):
        base32_decode("U")


@PROPERTY_SETTINGS
@given(st.integers(min_value=0, max_value=2**62))
def test_base32_round_trip(number: int) -> None:
    assert base32_decode(base32_encode(number)) == number
    assert base32_decode(base32_encode(number).lower()) == number


def test_qualified_short_ids() -> None:
    assert qualified_short_id("pump-station", 1) == "PUMP-STATION-1"
    assert parse_qualified_short_id("PUMP-STATION-1A") == ("pump-station", 42)
    assert parse_qualified_short_id("nodash") is None
    assert parse_qualified_short_id("WEB-!") is None


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        ("fatal", Priority.HIGH),
        ("error", Priority.HIGH),
        ("warning", Priority.MEDIUM),
        ("info", Priority.LOW),
    ],
)
def test_initial_priority(level: str, priority: Priority) -> None:
    assert initial_priority(level) == priority


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.0.0", "1.0.1"),
        ("1.9.0", "1.10.0"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-beta"),
        ("1.0.0-rc.2", "1.0.0-rc.10"),
        ("app@1.2", "app@1.10"),
        ("v2.0.0", "v3.0.0"),
    ],
)
def test_semver_ordering(older: str, newer: str) -> None:
    assert semver_key(older) is not None and semver_key(newer) is not None
    assert semver_key(older) < semver_key(newer)  # type: ignore[operator]
    assert is_newer(newer, None, older, None) and not is_newer(older, None, newer, None)


def test_non_semver_releases_are_ordered_by_first_seen() -> None:
    assert semver_key("abc123") is None
    assert is_newer("deadbeef", 200.0, "abc123", 100.0)
    assert not is_newer("deadbeef", 100.0, "abc123", 200.0)


def test_plain_resolution_never_holds() -> None:
    assert not resolution_holds(None, "1.0", None)
    assert not resolution_holds(None, None, None)


@pytest.mark.parametrize(
    ("event_release", "holds"), [("1.0.0", True), ("0.9.0", True), ("1.0.1", False), (None, True)]
)
def test_resolved_in_next_release(event_release: str | None, holds: bool) -> None:
    resolution = Resolution(IN_NEXT_RELEASE, "1.0.0")
    assert resolution_holds(resolution, event_release, None) is holds


@pytest.mark.parametrize(
    ("event_release", "holds"), [("1.0.0", False), ("0.9.0", True), ("1.0.1", False), (None, True)]
)
def test_resolved_in_release(event_release: str | None, holds: bool) -> None:
    resolution = Resolution(IN_RELEASE, "1.0.0")
    assert resolution_holds(resolution, event_release, None) is holds


def test_snooze_until() -> None:
    snooze = Snooze(until=100.0)
    assert snooze_verdict(snooze, SnoozeFigures(now=99.0, times_seen=5, users_seen=0)) is None
    assert snooze_verdict(snooze, SnoozeFigures(now=100.0, times_seen=5, users_seen=0)) == SubStatus.ONGOING


def test_snooze_count_from_the_moment_of_ignoring() -> None:
    snooze = Snooze(count=10, times_seen_at_start=40)
    assert snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=49, users_seen=0)) is None
    assert snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=50, users_seen=0)) == SubStatus.ESCALATING


def test_snooze_count_in_a_window() -> None:
    snooze = Snooze(count=3, window=60)
    assert (
        snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=99, users_seen=0, events_in_window=2)) is None
    )
    verdict = snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=99, users_seen=0, events_in_window=3))
    assert verdict == SubStatus.ESCALATING


def test_snooze_user_counts() -> None:
    snooze = Snooze(user_count=2, users_seen_at_start=5)
    assert snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=0, users_seen=6)) is None
    assert snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=0, users_seen=7)) == SubStatus.ESCALATING
    windowed = Snooze(user_count=2, user_window=30)
    figures = SnoozeFigures(now=0, times_seen=0, users_seen=100, users_in_window=1)
    assert snooze_verdict(windowed, figures) is None


def test_until_escalating() -> None:
    assert escalation_threshold(0) == 10 and escalation_threshold(20) == 30
    snooze = Snooze(until_escalating=True, escalation_baseline=20)
    assert (
        snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=0, users_seen=0, events_last_hour=30)) is None
    )
    verdict = snooze_verdict(snooze, SnoozeFigures(now=0, times_seen=0, users_seen=0, events_last_hour=31))
    assert verdict == SubStatus.ESCALATING


def test_expired_snooze_data() -> None:
    assert Snooze(until=0.0, count=5, window=60).as_expired() == {
        "until": "1970-01-01T00:00:00Z",
        "count": 5,
        "window": 60,
        "user_count": None,
        "user_window": None,
    }


DAY = 86400.0


@pytest.mark.parametrize(
    ("requested", "previous", "age_days", "single", "expected"),
    [
        # Sentry's infer_substatus: one issue, nothing requested.
        (None, Status.RESOLVED, 30, True, SubStatus.REGRESSED),
        (None, Status.IGNORED, 2, True, SubStatus.NEW),
        (None, Status.IGNORED, 8, True, SubStatus.ONGOING),
        (None, Status.UNRESOLVED, 2, True, SubStatus.ONGOING),
        # Several issues at once are all ongoing.
        (None, Status.RESOLVED, 2, False, SubStatus.ONGOING),
        (None, Status.IGNORED, 2, False, SubStatus.ONGOING),
        # A requested unresolved substatus is kept, an archived one is ignored.
        (SubStatus.ESCALATING, Status.RESOLVED, 2, True, SubStatus.ESCALATING),
        (SubStatus.NEW, Status.IGNORED, 30, False, SubStatus.NEW),
        (SubStatus.ONGOING, Status.RESOLVED, 2, True, SubStatus.ONGOING),
        (SubStatus.FOREVER, Status.RESOLVED, 2, True, SubStatus.REGRESSED),
        (SubStatus.UNTIL_ESCALATING, Status.IGNORED, 2, True, SubStatus.NEW),
    ],
)
def test_unresolved_substatus_as_sentry_infers_it(
    requested: SubStatus | None, previous: Status, age_days: float, single: bool, expected: SubStatus
) -> None:
    now = 1_800_000_000.0
    got = unresolved_substatus(requested, previous, now - age_days * DAY, now, single=single)
    assert got == expected


def test_next_release_resolution_with_a_current_release_semver() -> None:
    """Sentry stores "next release" of a semver project as in release R with R as its current
    release: R and older hold, anything newer reopens."""
    res = Resolution(IN_RELEASE, "app@1.2.0", None, "app@1.2.0")
    assert resolution_holds(res, "app@1.2.0", None)
    assert resolution_holds(res, "app@1.1.9", None)
    assert not resolution_holds(res, "app@1.2.1", None)
    # A base release (latest by date) older than the current one: still only newer than current reopens.
    res = Resolution(IN_RELEASE, "app@1.0.0", None, "app@1.2.0")
    assert resolution_holds(res, "app@1.1.0", None)
    assert not resolution_holds(res, "app@1.3.0", None)


def test_next_release_resolution_with_a_current_release_by_date() -> None:
    res = Resolution(IN_NEXT_RELEASE, "beta", 200.0, "alpha", 100.0)
    assert resolution_holds(res, "alpha", 100.0)
    assert resolution_holds(res, "older", 50.0)
    assert not resolution_holds(res, "beta", 200.0)
    assert not resolution_holds(res, "gamma", 300.0)
