"""The issue lifecycle as Sentry defines it (pure): statuses, short ids, resolutions, snoozes.

Numbers and strings are Sentry's (`GroupStatus`, `GroupSubStatus`, `ActivityType`), so that stored
rows, API payloads and activity data read the same as in Sentry. The storage layer
(`storage/issues.py`) applies these decisions to rows; nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
from typing import Any

AUTO_ONGOING_AFTER_DAYS = 7  # NEW, REGRESSED and ESCALATING issues become ONGOING after this
MAX_IGNORE_WINDOW = 7 * 24 * 60  # minutes (Sentry: ignoreWindow / ignoreUserWindow <= 10080)


class Status(enum.IntEnum):
    UNRESOLVED = 0
    RESOLVED = 1
    IGNORED = 2
    PENDING_DELETION = 3
    DELETION_IN_PROGRESS = 4
    PENDING_MERGE = 5
    REPROCESSING = 6


STATUS_NAMES = {
    Status.UNRESOLVED: "unresolved",
    Status.RESOLVED: "resolved",
    Status.IGNORED: "ignored",
    Status.PENDING_DELETION: "pending_deletion",
    Status.DELETION_IN_PROGRESS: "pending_deletion",
    Status.PENDING_MERGE: "pending_merge",
    Status.REPROCESSING: "reprocessing",
}


class SubStatus(enum.IntEnum):
    UNTIL_ESCALATING = 1
    ESCALATING = 2
    ONGOING = 3
    UNTIL_CONDITION_MET = 4
    FOREVER = 5
    REGRESSED = 6
    NEW = 7


SUBSTATUS_NAMES = {
    SubStatus.UNTIL_ESCALATING: "archived_until_escalating",
    SubStatus.ESCALATING: "escalating",
    SubStatus.ONGOING: "ongoing",
    SubStatus.UNTIL_CONDITION_MET: "archived_until_condition_met",
    SubStatus.FOREVER: "archived_forever",
    SubStatus.REGRESSED: "regressed",
    SubStatus.NEW: "new",
}
SUBSTATUS_BY_NAME = {name: value for value, name in SUBSTATUS_NAMES.items()}
IGNORED_SUBSTATUSES = {SubStatus.UNTIL_ESCALATING, SubStatus.UNTIL_CONDITION_MET, SubStatus.FOREVER}
UNRESOLVED_SUBSTATUSES = {SubStatus.ONGOING, SubStatus.ESCALATING, SubStatus.REGRESSED, SubStatus.NEW}


class Activity(enum.IntEnum):
    SET_RESOLVED = 1
    SET_UNRESOLVED = 2
    SET_IGNORED = 3
    SET_PUBLIC = 4
    SET_PRIVATE = 5
    SET_REGRESSION = 6
    CREATE_ISSUE = 7
    NOTE = 8
    FIRST_SEEN = 9
    RELEASE = 10
    ASSIGNED = 11
    UNASSIGNED = 12
    SET_RESOLVED_IN_RELEASE = 13
    MERGE = 14
    SET_RESOLVED_BY_AGE = 15
    SET_RESOLVED_IN_COMMIT = 16
    DEPLOY = 17
    NEW_PROCESSING_ISSUES = 18
    UNMERGE_SOURCE = 19
    UNMERGE_DESTINATION = 20
    SET_RESOLVED_IN_PULL_REQUEST = 21
    REPROCESS = 22
    MARK_REVIEWED = 23
    AUTO_SET_ONGOING = 24
    SET_ESCALATING = 25
    SET_PRIORITY = 26


class Priority(enum.IntEnum):
    LOW = 25
    MEDIUM = 50
    HIGH = 75


PRIORITY_NAMES = {Priority.LOW: "low", Priority.MEDIUM: "medium", Priority.HIGH: "high"}
PRIORITY_BY_NAME = {name: value for value, name in PRIORITY_NAMES.items()}


def initial_priority(level: str | None) -> Priority:
    """Sentry's priority of a new issue from its level (without the ML severity score)."""
    if level in ("fatal", "error", None):
        return Priority.HIGH
    if level == "warning":
        return Priority.MEDIUM
    return Priority.LOW


def unresolved_substatus(
    requested: SubStatus | None, previous: Status, first_seen: float, now: float, *, single: bool
) -> SubStatus:
    """The substatus of an issue a user sets unresolved (Sentry's `infer_substatus`).

    A requested unresolved substatus is kept (an archived one is dropped, not refused); else one
    issue that was ignored is `new` again while first seen within 7 days, one that was resolved is
    `regressed`, and anything else, such as several issues at once, is `ongoing`."""
    if requested in UNRESOLVED_SUBSTATUSES:
        return requested
    if single and previous == Status.IGNORED:
        recent = first_seen > now - AUTO_ONGOING_AFTER_DAYS * 86400
        return SubStatus.NEW if recent else SubStatus.ONGOING
    if single and previous == Status.RESOLVED:
        return SubStatus.REGRESSED
    return SubStatus.ONGOING


# --- short ids ---------------------------------------------------------------------------------

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32, as Sentry's base32_encode
_DECODE = {ch: i for i, ch in enumerate(_ALPHABET)} | {"O": 0, "I": 1, "L": 1}
_QUALIFIED = re.compile(r"^(?P<slug>.+)-(?P<code>[0-9A-Za-z]+)$")


def base32_encode(number: int) -> str:
    if number < 0:
        raise ValueError("short ids are not negative")
    digits = ""
    while True:
        number, rest = divmod(number, 32)
        digits = _ALPHABET[rest] + digits
        if not number:
            return digits


def base32_decode(text: str) -> int:
    value = 0
    for ch in text.upper():
        if ch not in _DECODE:
            raise ValueError(f"not a short id: {text!r}")
        value = value * 32 + _DECODE[ch]
    return value


def qualified_short_id(project_slug: str, short_id: int) -> str:
    return f"{project_slug.upper()}-{base32_encode(short_id)}"


def parse_qualified_short_id(text: str) -> tuple[str, int] | None:
    """`PROJ-1A` -> ("proj", 42); None if `text` is not a qualified short id."""
    match = _QUALIFIED.match(text)
    if not match:
        return None
    try:
        return match["slug"].lower(), base32_decode(match["code"])
    except ValueError:
        return None


# --- resolutions -------------------------------------------------------------------------------

IN_RELEASE = 0
IN_NEXT_RELEASE = 1

_SEMVER = re.compile(
    r"^(?:[^@\s]+@)?v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?(?:\.(?P<revision>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)


def semver_key(version: str) -> tuple[Any, ...] | None:
    """A sort key for `[package@]1.2.3[-pre][+build]`, None when `version` is not semver.

    A pre-release sorts before its release, as in Sentry's semver ordering."""
    match = _SEMVER.match(version)
    if not match:
        return None
    numbers = tuple(int(match[part] or 0) for part in ("major", "minor", "patch", "revision"))
    pre = match["pre"]
    pre_key: tuple[Any, ...] = (
        (1,) if pre is None else (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))
    )
    return (*numbers, pre_key, match["build"] or "")


@dataclasses.dataclass(frozen=True)
class Resolution:
    type: int  # IN_RELEASE or IN_NEXT_RELEASE
    release: str  # the release it names (for "next release": the latest one when resolved)
    release_date: float | None = None  # when that release was first seen (for non-semver ordering)
    # "Next release": the issue's latest release when resolved (Sentry's current_release_version)
    current_release: str | None = None
    current_release_date: float | None = None


def is_newer(version: str, version_date: float | None, than: str, than_date: float | None) -> bool:
    """Whether release `version` comes after `than`: by semver when both follow it, else by the
    time each release was first seen (Sentry's date_added ordering)."""
    a, b = semver_key(version), semver_key(than)
    if a is not None and b is not None:
        return a > b
    if version_date is None or than_date is None:
        return version != than
    return version_date > than_date


def resolution_holds(
    resolution: Resolution | None, event_release: str | None, event_release_date: float | None
) -> bool:
    """True when an event of `event_release` does not reopen an issue resolved by `resolution`
    (Sentry's GroupResolution.has_resolution).

    Plain resolutions (None) never hold; an event without a release counts as older."""
    if resolution is None:
        return False
    if not event_release:
        return True
    current = resolution.current_release
    if current:
        # Resolved in the release after `current`: `current` and older releases still hold.
        current_key, event_key = semver_key(current), semver_key(event_release)
        if current_key is not None and event_key is not None:
            if current_key >= event_key:
                return True
            resolved_key = semver_key(resolution.release)
            return resolved_key is not None and resolved_key > event_key
        if resolution.current_release_date is not None and event_release_date is not None:
            return event_release == current or resolution.current_release_date > event_release_date
    if resolution.type == IN_NEXT_RELEASE:
        # Fixed in whatever came after the latest release: that release and older still hold.
        return event_release == resolution.release or not is_newer(
            event_release, event_release_date, resolution.release, resolution.release_date
        )
    # Fixed in this very release: the release itself and newer ones reopen the issue.
    if event_release == resolution.release:
        return False
    return not is_newer(event_release, event_release_date, resolution.release, resolution.release_date)


# --- snoozes (ignore conditions) ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Snooze:
    until: float | None = None
    count: int | None = None
    window: int | None = None  # minutes
    user_count: int | None = None
    user_window: int | None = None  # minutes
    times_seen_at_start: int = 0  # the issue's times_seen when it was ignored (count without window)
    users_seen_at_start: int = 0  # its distinct users then (user count without window)
    until_escalating: bool = False
    escalation_baseline: int = 0  # highest hourly event count of the 7 days before ignoring

    def as_expired(self) -> dict[str, Any]:
        """The `expired_snooze` data of a SET_ESCALATING activity."""
        return {
            "until": _iso_or_none(self.until),
            "count": self.count,
            "window": self.window,
            "user_count": self.user_count,
            "user_window": self.user_window,
        }


@dataclasses.dataclass(frozen=True)
class SnoozeFigures:
    """What an ignored issue looks like now, as far as its snooze is concerned."""

    now: float
    times_seen: int
    users_seen: int
    events_in_window: int | None = None  # events in the last `window` minutes
    users_in_window: int | None = None  # distinct users in the last `user_window` minutes
    events_last_hour: int | None = None  # for "until escalating"


ESCALATION_FLOOR = 10  # an archived-until-escalating issue needs at least this many events in an hour


def escalation_threshold(baseline: int) -> int:
    """Events in an hour above which an issue archived until escalating escalates.

    Sentry forecasts this from the issue's history; Bughound uses a documented approximation:
    more than 1.5x the busiest hour of the week before archiving, and at least ESCALATION_FLOOR."""
    return max(ESCALATION_FLOOR, (baseline * 3 + 1) // 2)


def snooze_verdict(snooze: Snooze, figures: SnoozeFigures) -> SubStatus | None:
    """None while the snooze holds; else the substatus the issue goes back to (unresolved):
    ONGOING when its time ran out, ESCALATING when a count, user count or escalation fired."""
    if snooze.until is not None and figures.now >= snooze.until:
        return SubStatus.ONGOING
    if snooze.count:
        if snooze.window:
            if figures.events_in_window is not None and figures.events_in_window >= snooze.count:
                return SubStatus.ESCALATING
        elif figures.times_seen - snooze.times_seen_at_start >= snooze.count:
            return SubStatus.ESCALATING
    if snooze.user_count:
        if snooze.user_window:
            if figures.users_in_window is not None and figures.users_in_window >= snooze.user_count:
                return SubStatus.ESCALATING
        elif figures.users_seen >= snooze.user_count + snooze.users_seen_at_start:
            return SubStatus.ESCALATING
    if snooze.until_escalating and figures.events_last_hour is not None:
        if figures.events_last_hour > escalation_threshold(snooze.escalation_baseline):
            return SubStatus.ESCALATING
    return None


def _iso_or_none(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")
