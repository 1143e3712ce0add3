"""Reads of issues for the web API: the issue row, its figures, activity, tags and hashes."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import sqlalchemy as sa

from bughound.storage import schema as t
from bughound.storage.issues import expired_snooze, users_seen
from bughound.storage.lifecycle import Activity, Status, parse_qualified_short_id

HIDDEN_STATUSES = (int(Status.PENDING_DELETION), int(Status.DELETION_IN_PROGRESS), int(Status.PENDING_MERGE))


def _group_select() -> sa.Select[Any]:
    g, p, o = t.groups.c, t.projects.c, t.organizations.c
    return (
        sa.select(
            t.groups,
            p.slug.label("project_slug"),
            p.name.label("project_name"),
            p.platform.label("project_platform"),
            p.organization_id,
            o.slug.label("organization_slug"),
        )
        .join_from(t.groups, t.projects, g.project_id == p.id)
        .join(t.organizations, p.organization_id == o.id)
        .where(g.status.notin_(HIDDEN_STATUSES))
    )


def find_group(conn: sa.Connection, issue_id: str, org: str | None = None) -> sa.Row[Any] | None:
    """An issue by numeric id, or (within an organization) by qualified short id `PROJ-1A`."""
    g, p, o = t.groups.c, t.projects.c, t.organizations.c
    query = _group_select()
    if org is not None:
        query = query.where(o.id == int(org)) if org.isdigit() else query.where(o.slug == org)
    if issue_id.isdigit():
        return conn.execute(query.where(g.id == int(issue_id))).first()
    short = parse_qualified_short_id(issue_id) if org is not None else None
    if short is None:
        return None
    slug, number = short
    return conn.execute(query.where(sa.func.lower(p.slug) == slug, g.short_id == number)).first()


def groups_by_ids(conn: sa.Connection, ids: list[int], project_id: int | None = None) -> list[sa.Row[Any]]:
    g = t.groups.c
    query = _group_select().where(g.id.in_(ids))
    if project_id is not None:
        query = query.where(g.project_id == project_id)
    return list(conn.execute(query.order_by(g.id)))


def groups_by_status(
    conn: sa.Connection,
    org_id: int,
    statuses: list[int] | None,
    project_id: int | None,
    limit: int,
    now: float | None = None,
) -> list[sa.Row[Any]]:
    """Issues in `statuses` as the API shows them: an ignored issue whose snooze ran out of time
    counts as unresolved, also before the worker has cleared the snooze."""
    g, p = t.groups.c, t.projects.c
    query = _group_select().where(p.organization_id == org_id)
    if statuses is not None:
        expired = expired_snooze(time.time() if now is None else now)
        ignored = int(Status.IGNORED)
        shown = [
            sa.and_(g.status == status, ~expired) if status == ignored else g.status == status
            for status in statuses
        ]
        if int(Status.UNRESOLVED) in statuses and ignored not in statuses:
            shown.append(sa.and_(g.status == ignored, expired))
        query = query.where(sa.or_(*shown))
    if project_id is not None:
        query = query.where(g.project_id == project_id)
    return list(conn.execute(query.order_by(g.last_seen.desc(), g.id.desc()).limit(limit)))


@dataclasses.dataclass(frozen=True)
class IssueFigures:
    user_count: int
    num_comments: int
    is_unhandled: bool


def figures(conn: sa.Connection, group_id: int) -> IssueFigures:
    v, a = t.group_tag_values.c, t.activities.c
    notes = conn.execute(
        sa.select(sa.func.count()).where(a.group_id == group_id, a.type == int(Activity.NOTE))
    ).scalar_one()
    unhandled = conn.execute(
        sa.select(v.id).where(v.group_id == group_id, v.key == "handled", v.value == "no").limit(1)
    ).first()
    return IssueFigures(users_seen(conn, group_id), int(notes), unhandled is not None)


def activities(conn: sa.Connection, group_id: int, limit: int = 100) -> list[sa.Row[Any]]:
    """The issue's activity, newest first."""
    a = t.activities.c
    return list(
        conn.execute(
            sa.select(t.activities)
            .where(a.group_id == group_id)
            .order_by(a.date_added.desc(), a.id.desc())
            .limit(limit)
        )
    )


def activity(conn: sa.Connection, activity_id: int) -> sa.Row[Any]:
    return conn.execute(sa.select(t.activities).where(t.activities.c.id == activity_id)).one()


def tag_totals(conn: sa.Connection, group_id: int) -> list[tuple[str, int]]:
    v = t.group_tag_values.c
    rows = conn.execute(
        sa.select(v.key, sa.func.sum(v.times_seen))
        .where(v.group_id == group_id)
        .group_by(v.key)
        .order_by(v.key)
    )
    return [(key, int(total)) for key, total in rows]


def counts_by_bucket(conn: sa.Connection, group_id: int, since: float, bucket: int) -> dict[int, int]:
    """Events of the issue since `since`, counted per `bucket`-second bucket (bucket start -> n)."""
    e = t.events.c
    index = sa.cast(sa.func.floor(e.timestamp / bucket), sa.BigInteger)
    rows = conn.execute(
        sa.select(index, sa.func.count()).where(e.group_id == group_id, e.timestamp >= since).group_by(index)
    )
    return {int(i) * bucket: int(n) for i, n in rows}


def latest_event_by_primary_hash(
    conn: sa.Connection, group_id: int, offset: int, limit: int
) -> list[sa.Row[Any]]:
    """The issue's latest event of each primary hash, newest first (Sentry's hashes endpoint:
    the events' primary hashes, ordered by their latest event)."""
    e = t.events.c
    rank = (
        sa.func.row_number()
        .over(partition_by=e.primary_hash, order_by=(e.timestamp.desc(), e.id.desc()))
        .label("rank")
    )
    ranked = sa.select(t.events, rank).where(e.group_id == group_id, e.primary_hash.is_not(None)).subquery()
    return list(
        conn.execute(
            sa.select(ranked)
            .where(ranked.c.rank == 1)
            .order_by(ranked.c.timestamp.desc(), ranked.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )


def user_by_id(conn: sa.Connection, user_id: int) -> sa.Row[Any] | None:
    return conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()


def org_member_user(conn: sa.Connection, org_id: int, ident: str) -> sa.Row[Any] | None:
    """A member of the organization by user id, email or username (= email here)."""
    u, m = t.users.c, t.members.c
    query = (
        sa.select(t.users).join_from(t.users, t.members, m.user_id == u.id).where(m.organization_id == org_id)
    )
    if ident.isdigit():
        return conn.execute(query.where(u.id == int(ident))).first()
    return conn.execute(query.where(sa.func.lower(u.email) == ident.lower())).first()


def org_team(conn: sa.Connection, org_id: int, team_id: int) -> sa.Row[Any] | None:
    c = t.teams.c
    return conn.execute(sa.select(t.teams).where(c.organization_id == org_id, c.id == team_id)).first()


def team_has_project(conn: sa.Connection, team_id: int, project_id: int) -> bool:
    c = t.project_teams.c
    return (
        conn.execute(sa.select(c.id).where(c.team_id == team_id, c.project_id == project_id)).first()
        is not None
    )


def user_report_count(conn: sa.Connection, group_id: int) -> int:
    e, r = t.events.c, t.user_reports.c
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(t.user_reports)
            .join(t.events, sa.and_(e.project_id == r.project_id, e.event_id == r.event_id))
            .where(e.group_id == group_id)
        ).scalar_one()
    )
