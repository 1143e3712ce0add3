"""The issue lifecycle on rows: regressions and expired ignores on new events, status changes,
assignment, notes and the periodic "ongoing" transition. Decisions come from `lifecycle`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bughound.storage import schema as t
from bughound.storage.lifecycle import (
    AUTO_ONGOING_AFTER_DAYS,
    IGNORED_SUBSTATUSES,
    IN_NEXT_RELEASE,
    IN_RELEASE,
    Activity,
    Resolution,
    Snooze,
    SnoozeFigures,
    Status,
    SubStatus,
    resolution_holds,
    semver_key,
    snooze_verdict,
    unresolved_substatus,
)

DAY = 86400.0
HOUR = 3600.0


@dataclasses.dataclass(frozen=True)
class IssueEvent:
    """What the lifecycle needs to know of one newly stored event of an issue."""

    group_id: int
    event_id: str
    timestamp: float
    release: str | None


def record_activity(
    conn: sa.Connection,
    project_id: int,
    group_id: int,
    kind: Activity,
    data: dict[str, Any] | None = None,
    user_id: int | None = None,
    at: float | None = None,
) -> int:
    result = conn.execute(
        t.activities.insert().values(
            project_id=project_id,
            group_id=group_id,
            type=int(kind),
            user_id=user_id,
            data=data or {},
            date_added=time.time() if at is None else at,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


# --- on new events ------------------------------------------------------------------------------


def after_new_events(conn: sa.Connection, events: Sequence[IssueEvent], now: float | None = None) -> None:
    """Reopen resolved issues that regressed and un-ignore issues whose ignore condition ran out,
    for the issues these newly stored events joined (their counters are already updated)."""
    if not events:
        return
    now = time.time() if now is None else now
    g = t.groups.c
    group_ids = sorted({e.group_id for e in events})
    closed = {
        r.id: r
        for r in conn.execute(
            sa.select(g.id, g.project_id, g.status, g.last_seen, g.times_seen).where(
                g.id.in_(group_ids), g.status.in_([int(Status.RESOLVED), int(Status.IGNORED)])
            )
        )
    }
    if not closed:
        return
    for group_id, row in closed.items():
        mine = [e for e in events if e.group_id == group_id]
        if row.status == Status.RESOLVED:
            _maybe_regress(conn, row, mine)
        else:
            _maybe_unignore(conn, row, mine, now)


def _release_dates(conn: sa.Connection, project_id: int, versions: set[str]) -> dict[str, float]:
    if not versions:
        return {}
    r, p = t.releases.c, t.projects.c
    org_id = sa.select(p.organization_id).where(p.id == project_id).scalar_subquery()
    # Whether a resolution holds compares when releases were first seen (Sentry's `date_added`);
    # "the latest" release is picked by when they shipped (`most_recent_release`).
    rows = conn.execute(
        sa.select(r.version, r.date_added).where(r.organization_id == org_id, r.version.in_(sorted(versions)))
    )
    return {row.version: row.date_added for row in rows}


def resolution_of(conn: sa.Connection, group_id: int) -> sa.Row[Any] | None:
    c = t.group_resolutions.c
    return conn.execute(sa.select(t.group_resolutions).where(c.group_id == group_id)).first()


def snooze_of(conn: sa.Connection, group_id: int) -> sa.Row[Any] | None:
    c = t.group_snoozes.c
    return conn.execute(sa.select(t.group_snoozes).where(c.group_id == group_id)).first()


def _maybe_regress(conn: sa.Connection, group: Any, events: list[IssueEvent]) -> None:
    row = resolution_of(conn, group.id)
    named = {row.release, row.current_release_version} - {None} if row else set()
    dates = _release_dates(conn, group.project_id, {e.release for e in events if e.release} | named)
    resolution = (
        Resolution(
            row.type,
            row.release,
            dates.get(row.release),
            row.current_release_version,
            dates.get(row.current_release_version or ""),
        )
        if row
        else None
    )
    for e in events:
        if resolution_holds(resolution, e.release, dates.get(e.release or "")):
            continue
        g = t.groups.c
        conn.execute(
            t.groups.update()
            .where(g.id == group.id)
            .values(
                status=int(Status.UNRESOLVED),
                substatus=int(SubStatus.REGRESSED),
                status_details=None,
                resolved_at=None,
                active_at=max(e.timestamp, group.last_seen),
            )
        )
        data: dict[str, Any] = {"event_id": e.event_id, "version": e.release or ""}
        if row is not None:
            data["follows_semver"] = semver_key(row.release) is not None
            data["resolved_in_version"] = row.release
            conn.execute(t.group_resolutions.delete().where(t.group_resolutions.c.id == row.id))
            if e.release:  # "in next release": now it is known which release that was
                _fill_next_release_version(conn, group.id, e.release)
        record_activity(conn, group.project_id, group.id, Activity.SET_REGRESSION, data, at=e.timestamp)
        return


def _fill_next_release_version(conn: sa.Connection, group_id: int, version: str) -> None:
    a = t.activities.c
    latest = conn.execute(
        sa.select(a.id, a.data)
        .where(a.group_id == group_id, a.type == int(Activity.SET_RESOLVED_IN_RELEASE))
        .order_by(a.date_added.desc(), a.id.desc())
        .limit(1)
    ).first()
    if latest is not None and not (latest.data or {}).get("version"):
        conn.execute(
            t.activities.update()
            .where(a.id == latest.id)
            .values(data={**(latest.data or {}), "version": version})
        )


def snooze_from_row(row: sa.Row[Any]) -> Snooze:
    values = row._mapping  # `count` is also a tuple method
    state = values["state"] or {}
    return Snooze(
        until=values["until"],
        count=values["count"],
        window=values["window"],
        user_count=values["user_count"],
        user_window=values["user_window"],
        times_seen_at_start=int(state.get("times_seen") or 0),
        users_seen_at_start=int(state.get("users_seen") or 0),
        until_escalating=bool(state.get("until_escalating")),
        escalation_baseline=int(state.get("baseline") or 0),
    )


def users_seen(conn: sa.Connection, group_id: int) -> int:
    v = t.group_tag_values.c
    return int(
        conn.execute(sa.select(sa.func.count()).where(v.group_id == group_id, v.key == "user")).scalar_one()
    )


def _events_since(conn: sa.Connection, group_id: int, since: float) -> int:
    e = t.events.c
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(e.group_id == group_id, e.timestamp >= since)
        ).scalar_one()
    )


def _users_since(conn: sa.Connection, group_id: int, since: float) -> int:
    e = t.events.c
    return int(
        conn.execute(
            sa.select(sa.func.count(sa.distinct(e.user_ident))).where(
                e.group_id == group_id, e.timestamp >= since, e.user_ident.is_not(None)
            )
        ).scalar_one()
    )


def busiest_hour(conn: sa.Connection, group_id: int, since: float) -> int:
    """The highest number of events in one clock hour since `since`."""
    e = t.events.c
    hour = sa.cast(e.timestamp / HOUR, sa.Integer)
    counts = (
        sa.select(sa.func.count().label("n"))
        .where(e.group_id == group_id, e.timestamp >= since)
        .group_by(hour)
        .subquery()
    )
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(counts.c.n), 0))).scalar_one())


def snooze_figures(
    conn: sa.Connection, group_id: int, times_seen: int, snooze: Snooze, now: float
) -> SnoozeFigures:
    return SnoozeFigures(
        now=now,
        times_seen=times_seen,
        users_seen=users_seen(conn, group_id) if snooze.user_count and not snooze.user_window else 0,
        events_in_window=_events_since(conn, group_id, now - snooze.window * 60)
        if snooze.count and snooze.window
        else None,
        users_in_window=_users_since(conn, group_id, now - snooze.user_window * 60)
        if snooze.user_count and snooze.user_window
        else None,
        events_last_hour=_events_since(conn, group_id, now - HOUR) if snooze.until_escalating else None,
    )


def _maybe_unignore(conn: sa.Connection, group: Any, events: list[IssueEvent], now: float) -> None:
    row = snooze_of(conn, group.id)
    if row is None:
        return  # ignored forever
    snooze = snooze_from_row(row)
    verdict = snooze_verdict(snooze, snooze_figures(conn, group.id, group.times_seen, snooze, now))
    if verdict is None:
        return
    event = events[-1]
    g = t.groups.c
    conn.execute(t.group_snoozes.delete().where(t.group_snoozes.c.id == row.id))
    conn.execute(
        t.groups.update()
        .where(g.id == group.id)
        .values(status=int(Status.UNRESOLVED), substatus=int(verdict), status_details=None, active_at=now)
    )
    if verdict == SubStatus.ONGOING:
        record_activity(
            conn, group.project_id, group.id, Activity.SET_UNRESOLVED, {"event_id": event.event_id}
        )
    else:
        record_activity(
            conn,
            group.project_id,
            group.id,
            Activity.SET_ESCALATING,
            {"event_id": event.event_id, "expired_snooze": snooze.as_expired()},
        )


# --- status changes from the API --------------------------------------------------------------


def _clear_conditions(conn: sa.Connection, group_id: int) -> None:
    conn.execute(t.group_snoozes.delete().where(t.group_snoozes.c.group_id == group_id))
    conn.execute(t.group_resolutions.delete().where(t.group_resolutions.c.group_id == group_id))


def _project_releases(conn: sa.Connection, project_id: int) -> list[sa.Row[Any]]:
    r, rp = t.releases.c, t.release_projects.c
    return list(
        conn.execute(
            sa.select(
                r.id, r.version, r.date_added, sa.func.coalesce(r.date_released, r.date_added).label("sort")
            )
            .join(t.release_projects, rp.release_id == r.id)
            .where(rp.project_id == project_id)
        )
    )


def most_recent_release(conn: sa.Connection, project_id: int) -> str | None:
    """The project's release that shipped (else was first seen) last: Sentry's "latest" release
    for `inRelease: "latest"` and the basis of `inNextRelease`."""
    rows = _project_releases(conn, project_id)
    return str(max(rows, key=lambda row: (row.sort, row.id)).version) if rows else None


def follows_semver(conn: sa.Connection, project_id: int, version: str | None = None) -> bool:
    """Sentry's follows_semver_versioning_scheme, on the project's ten newest releases (by when
    they were first seen, newest first): with one or two, the newest is semver; with fewer than
    ten, one of the newest three is; with ten, one of the newest three and at least three of the
    ten are. `version`, if given, must be semver too."""
    rows = sorted(_project_releases(conn, project_id), key=lambda row: (row.date_added, row.id))[-10:][::-1]
    semver = [semver_key(row.version) is not None for row in rows]
    if not semver:
        return False
    if len(semver) <= 2:
        follows = semver[0]
    elif len(semver) < 10:
        follows = any(semver[:3])
    else:
        follows = any(semver[:3]) and sum(semver) >= 3
    return follows and (version is None or semver_key(version) is not None)


def greatest_semver_release(conn: sa.Connection, project_id: int) -> str | None:
    keyed = [
        (key, row.version) for row in _project_releases(conn, project_id) if (key := semver_key(row.version))
    ]
    return str(max(keyed)[1]) if keyed else None


def release_to_resolve_by(conn: sa.Connection, project_id: int) -> str | None:
    """The release `{"status": "resolvedInNextRelease"}` starts from (Sentry's
    get_release_to_resolve_by): the greatest semver one if the project follows semver, else the
    most recent."""
    if follows_semver(conn, project_id):
        return greatest_semver_release(conn, project_id)
    return most_recent_release(conn, project_id)


def _release_after(conn: sa.Connection, project_id: int, version: str) -> str | None:
    """The project's first release seen after `version` was (by date_added, then id), in shipping
    order: the release that fixes an issue last seen in `version`."""
    r = t.releases.c
    p = t.projects.c
    org_id = sa.select(p.organization_id).where(p.id == project_id).scalar_subquery()
    current = conn.execute(
        sa.select(r.id, r.date_added).where(r.organization_id == org_id, r.version == version)
    ).first()
    if current is None:
        return None
    later = [
        row
        for row in _project_releases(conn, project_id)
        if (row.date_added, row.id) > (current.date_added, current.id)
    ]
    return str(min(later, key=lambda row: (row.sort, row.id)).version) if later else None


def last_release(conn: sa.Connection, group_id: int) -> str | None:
    """The release of the issue's latest event that has one."""
    e = t.events.c
    return conn.execute(
        sa.select(e.release)
        .where(e.group_id == group_id, e.release.is_not(None))
        .order_by(e.timestamp.desc())
        .limit(1)
    ).scalar()


def set_resolved(
    conn: sa.Connection,
    group: sa.Row[Any],
    actor_id: int | None,
    *,
    in_release: str | None = None,
    in_next_release: bool = False,
    next_release_base: str | None = None,
    in_commit: dict[str, str] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Resolve; returns the statusDetails of Sentry's update delta (without `actor`).

    `in_release`: an existing release of the project. `in_next_release`: resolved in the release
    after `next_release_base` (the release the API picked, None when the project has none: then
    nothing holds it, the next event reopens it). As Sentry does, when the project follows semver
    this becomes "in release" of that base with the greatest semver release as
    `current_release_version`; otherwise, when a release newer than the issue's own last one
    already exists, it becomes "in release" of that one.

    Resolving in a commit is recorded (statusDetails and activity as Sentry's), but Bughound
    does not know which release contains a commit, so it reopens on the next event like a plain
    resolution (Sentry waits until the commit is released)."""
    now = time.time() if now is None else now
    _clear_conditions(conn, group.id)
    details: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    kind = Activity.SET_RESOLVED
    data: dict[str, Any] = {}
    resolution: dict[str, Any] | None = None
    if in_next_release:
        kind = Activity.SET_RESOLVED_IN_RELEASE
        details, data = {"inNextRelease": True}, {"version": ""}
        if next_release_base is not None:
            resolution = {"type": IN_NEXT_RELEASE, "release": next_release_base}
            semver = follows_semver(conn, group.project_id, next_release_base)
            current = (
                greatest_semver_release(conn, group.project_id) if semver else last_release(conn, group.id)
            )
            if current:
                resolution["current_release_version"] = current
                if semver:
                    data["current_release_version"] = current
                    resolution["type"] = IN_RELEASE
                elif (after := _release_after(conn, group.project_id, current)) is not None:
                    resolution.update(type=IN_RELEASE, release=after)
                    data["version"] = after
    elif in_release is not None:
        kind = Activity.SET_RESOLVED_IN_RELEASE
        resolution = {"type": IN_RELEASE, "release": in_release}
        details, data = {"inRelease": in_release}, {"version": in_release}
    elif in_commit is not None:
        kind = Activity.SET_RESOLVED_IN_COMMIT
        details, data = {"inCommit": in_commit}, {"commit": in_commit}
        stored = details
    if resolution is not None:
        conn.execute(
            t.group_resolutions.insert().values(
                group_id=group.id, actor_id=actor_id, date_added=now, **resolution
            )
        )
    g = t.groups.c
    conn.execute(
        t.groups.update()
        .where(g.id == group.id)
        .values(status=int(Status.RESOLVED), substatus=None, status_details=stored, resolved_at=now)
    )
    if group.status != Status.RESOLVED or kind != Activity.SET_RESOLVED:
        record_activity(conn, group.project_id, group.id, kind, data, actor_id, now)
    return details


def set_unresolved(
    conn: sa.Connection,
    group: sa.Row[Any],
    actor_id: int | None,
    now: float | None = None,
    *,
    substatus: SubStatus | None = None,
    single: bool = True,
) -> None:
    """Unresolve (or un-ignore). An issue already unresolved keeps its substatus, as in Sentry;
    else `substatus` (if an unresolved one) or the one Sentry infers; `single`: the only issue
    of the update (several at once all become `ongoing`)."""
    now = time.time() if now is None else now
    _clear_conditions(conn, group.id)
    g = t.groups.c
    if group.status == Status.UNRESOLVED:
        new_substatus = group.substatus
    else:
        previous = Status(group.status)
        new_substatus = int(unresolved_substatus(substatus, previous, group.first_seen, now, single=single))
    conn.execute(
        t.groups.update()
        .where(g.id == group.id)
        .values(
            status=int(Status.UNRESOLVED),
            substatus=new_substatus,
            status_details=None,
            resolved_at=None,
            active_at=now if group.status != Status.UNRESOLVED else group.active_at,
        )
    )
    if group.status != Status.UNRESOLVED:
        record_activity(conn, group.project_id, group.id, Activity.SET_UNRESOLVED, {}, actor_id, now)


@dataclasses.dataclass(frozen=True)
class IgnoreRequest:
    # The five condition fields: None when not set (a 0 sent is None here too).
    duration: int | None = None  # minutes
    count: int | None = None
    window: int | None = None
    user_count: int | None = None
    user_window: int | None = None
    until_escalating: bool = False
    condition_given: bool = False  # one of the five fields was sent, even as 0
    substatus: SubStatus | None = None  # an archived substatus asked for

    @property
    def has_condition(self) -> bool:
        return bool(self.duration or self.count or self.user_count)


def ignored_substatus(request: IgnoreRequest) -> SubStatus:
    """Sentry's infer_substatus for ignoring: the archived substatus asked for; else until
    escalating; else until a condition is met when any condition field was sent (even 0); else
    forever."""
    if request.substatus in IGNORED_SUBSTATUSES:
        return request.substatus
    if request.until_escalating:
        return SubStatus.UNTIL_ESCALATING
    if request.condition_given:
        return SubStatus.UNTIL_CONDITION_MET
    return SubStatus.FOREVER


def set_ignored(
    conn: sa.Connection,
    group: sa.Row[Any],
    actor_id: int | None,
    request: IgnoreRequest,
    now: float | None = None,
) -> dict[str, Any]:
    """Ignore (archive); returns the statusDetails of Sentry's update delta, without `actor`:
    `{"ignoreUntilEscalating": true}` until escalating, the five condition fields (nulls
    included) when there is a condition, else `{}`. A condition whose fields are all 0 or null
    sets none: ignored like forever, but `archived_until_condition_met`, as in Sentry."""
    now = time.time() if now is None else now
    _clear_conditions(conn, group.id)
    until = now + request.duration * 60 if request.duration else None
    substatus = ignored_substatus(request)
    escalating = substatus == SubStatus.UNTIL_ESCALATING
    if escalating or request.has_condition:
        state: dict[str, Any] = {}
        if request.count and not request.window:
            state["times_seen"] = group.times_seen
        if request.user_count and not request.user_window:
            state["users_seen"] = users_seen(conn, group.id)
        if escalating:
            state["until_escalating"] = True
            state["baseline"] = busiest_hour(conn, group.id, now - 7 * DAY)
        conn.execute(
            t.group_snoozes.insert().values(
                group_id=group.id,
                until=until,
                count=request.count,
                window=request.window,
                user_count=request.user_count,
                user_window=request.user_window,
                state=state,
                actor_id=actor_id,
                date_added=now,
            )
        )
    g = t.groups.c
    conn.execute(
        t.groups.update()
        .where(g.id == group.id)
        .values(status=int(Status.IGNORED), substatus=int(substatus), status_details=None, resolved_at=None)
    )
    until_iso = Snooze(until=until).as_expired()["until"]
    record_activity(
        conn,
        group.project_id,
        group.id,
        Activity.SET_IGNORED,
        {
            "ignoreCount": request.count,
            "ignoreDuration": request.duration,
            "ignoreUntil": until_iso,
            "ignoreUserCount": request.user_count,
            "ignoreUserWindow": request.user_window,
            "ignoreWindow": request.window,
            "ignoreUntilEscalating": request.until_escalating,
        },
        actor_id,
        now,
    )
    if escalating:
        return {"ignoreUntilEscalating": True}
    if not request.has_condition:
        return {}
    return {
        "ignoreCount": request.count,
        "ignoreUntil": until_iso,
        "ignoreUserCount": request.user_count,
        "ignoreUserWindow": request.user_window,
        "ignoreWindow": request.window,
    }


def assign(
    conn: sa.Connection,
    group: sa.Row[Any],
    actor_id: int | None,
    *,
    user: sa.Row[Any] | None = None,
    team: sa.Row[Any] | None = None,
) -> None:
    """Assign to a user or a team, or unassign (both None); records ASSIGNED / UNASSIGNED."""
    g = t.groups.c
    before_user, before_team = group.assignee_user_id, group.assignee_team_id
    after_user = user.id if user is not None else None
    after_team = team.id if team is not None else None
    if (before_user, before_team) == (after_user, after_team):
        return
    conn.execute(
        t.groups.update()
        .where(g.id == group.id)
        .values(assignee_user_id=after_user, assignee_team_id=after_team)
    )
    if user is not None:
        data = {"assignee": str(user.id), "assigneeEmail": user.email, "assigneeType": "user"}
        record_activity(conn, group.project_id, group.id, Activity.ASSIGNED, data, actor_id)
    elif team is not None:
        data = {"assignee": str(team.id), "assigneeEmail": None, "assigneeType": "team"}
        record_activity(conn, group.project_id, group.id, Activity.ASSIGNED, data, actor_id)
    else:
        kind = "team" if before_team is not None else "user"
        data = {
            "assignee": str(before_team if before_team is not None else before_user),
            "assigneeType": kind,
        }
        record_activity(conn, group.project_id, group.id, Activity.UNASSIGNED, data, actor_id)


def add_note(conn: sa.Connection, group: sa.Row[Any], actor_id: int | None, text: str) -> int:
    return record_activity(
        conn, group.project_id, group.id, Activity.NOTE, {"text": text, "mentions": []}, actor_id
    )


# --- periodic -----------------------------------------------------------------------------------


def auto_ongoing(conn: sa.Connection, now: float | None = None) -> int:
    """NEW issues first seen, and REGRESSED/ESCALATING issues active, more than 7 days ago
    become ONGOING (Sentry's auto_ongoing_issues task); returns how many changed."""
    now = time.time() if now is None else now
    cutoff = now - AUTO_ONGOING_AFTER_DAYS * DAY
    g = t.groups.c
    due = sa.and_(
        g.status == int(Status.UNRESOLVED),
        sa.or_(
            sa.and_(g.substatus == int(SubStatus.NEW), g.first_seen < cutoff),
            sa.and_(
                g.substatus.in_([int(SubStatus.REGRESSED), int(SubStatus.ESCALATING)]),
                sa.func.coalesce(g.active_at, g.first_seen) < cutoff,
            ),
        ),
    )
    changed = 0
    for row in conn.execute(sa.select(g.id, g.project_id).where(due)).all():
        # Still due when updated: a change made in between (the API, an event, another
        # worker's upkeep) is neither overwritten nor recorded twice.
        if conn.execute(
            t.groups.update().where(g.id == row.id, due).values(substatus=int(SubStatus.ONGOING))
        ).rowcount:
            record_activity(
                conn,
                row.project_id,
                row.id,
                Activity.AUTO_SET_ONGOING,
                {"after_days": AUTO_ONGOING_AFTER_DAYS},
                at=now,
            )
            changed += 1
    return changed


def clear_expired_snoozes(conn: sa.Connection, now: float | None = None) -> int:
    """Ignored issues whose `ignoreUntil` has passed become unresolved/ongoing, with a
    `set_unresolved` activity without data or user (Sentry's clear_expired_snoozes task), and every
    expired snooze is deleted; returns how many issues changed. Until this runs, the API already
    shows such issues as unresolved and `is:unresolved` selects them."""
    now = time.time() if now is None else now
    s, g = t.group_snoozes.c, t.groups.c
    expired = conn.execute(
        sa.select(s.id, s.group_id, g.project_id, g.status)
        .join(t.groups, g.id == s.group_id)
        .where(s.until.is_not(None), s.until <= now)
    ).all()
    if not expired:
        return 0
    conn.execute(t.group_snoozes.delete().where(s.id.in_([row.id for row in expired])))
    changed = 0
    for row in expired:
        if row.status != Status.IGNORED:
            continue
        # Still ignored when updated: a resolve through the API in between, or another worker's
        # upkeep, is not overwritten (nor recorded twice).
        updated = conn.execute(
            t.groups.update()
            .where(g.id == row.group_id, g.status == int(Status.IGNORED))
            .values(status=int(Status.UNRESOLVED), substatus=int(SubStatus.ONGOING), status_details=None)
        ).rowcount
        if updated:
            record_activity(conn, row.project_id, row.group_id, Activity.SET_UNRESOLVED, {}, at=now)
            changed += 1
    return changed


def expired_snooze(now: float) -> sa.ColumnElement[bool]:
    """The issue's snooze ran out of time (the issue is unresolved, whatever its row says)."""
    s = t.group_snoozes.c
    return sa.select(s.id).where(s.group_id == t.groups.c.id, s.until.is_not(None), s.until <= now).exists()


def auto_resolve(conn: sa.Connection, now: float | None = None) -> int:
    """Resolve unresolved issues not seen for the project's `resolveAge` hours (Sentry's
    auto-resolve, activity SET_RESOLVED_BY_AGE); returns how many were resolved."""
    now = time.time() if now is None else now
    p, g = t.projects.c, t.groups.c
    resolved = 0
    for project in conn.execute(sa.select(p.id, p.options).where(p.options.is_not(None))).all():
        age = (project.options or {}).get("sentry:resolve_age")
        if not isinstance(age, int) or isinstance(age, bool) or age <= 0:
            continue
        stale = sa.and_(
            g.project_id == project.id,
            g.status == int(Status.UNRESOLVED),
            g.last_seen < now - age * HOUR,
        )
        for group_id in conn.execute(sa.select(g.id).where(stale)).scalars().all():
            updated = conn.execute(
                t.groups.update()
                .where(g.id == group_id, stale)  # still stale: an event in between keeps it open
                .values(
                    status=int(Status.RESOLVED),
                    substatus=None,
                    resolved_at=now,
                    status_details={"autoResolved": True},
                )
            ).rowcount
            if updated:
                record_activity(
                    conn, project.id, group_id, Activity.SET_RESOLVED_BY_AGE, {"age": age}, at=now
                )
                resolved += 1
    return resolved
