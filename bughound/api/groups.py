"""Sentry's issue (group), activity and user shapes (ENDPOINTS.md §3.7)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from bughound.api.serializers import iso
from bughound.storage import issue_queries as q
from bughound.storage import issues
from bughound.storage.lifecycle import (
    IN_RELEASE,
    PRIORITY_NAMES,
    STATUS_NAMES,
    SUBSTATUS_NAMES,
    Activity,
    Priority,
    Status,
    SubStatus,
    qualified_short_id,
)

# Sentry's labels of well-known tag keys (tagstore's get_tag_key_label); others are title-cased.
TAG_LABELS = {
    "exc_type": "Exception Type",
    "user": "User",
    "release": "Release",
    "dist": "Distribution",
    "os": "OS",
    "url": "URL",
    "server_name": "Server",
}


def tag_label(key: str) -> str:
    return TAG_LABELS.get(key) or key.replace("_", " ").title()


def user(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": str(row.id),
        "name": row.name or row.email,
        "username": row.email,
        "email": row.email,
        "avatarUrl": "",
        "isActive": bool(row.is_active),
        "isSuspended": False,
        "hasPasswordAuth": False,
        "isManaged": False,
        "dateJoined": iso(row.date_joined),
        "lastLogin": None,
        "has2fa": False,
        "lastActive": None,
        "isSuperuser": False,
        "isStaff": False,
        "experiments": {},
        "emails": [{"id": str(row.id), "email": row.email, "is_verified": True}],
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": ""},
    }


def activity(row: Any, actor: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "user": actor,
        "sentry_app": None,
        "type": Activity(row.type).name.lower(),
        "data": row.data or {},
        "dateCreated": iso(row.date_added),
    }


def _ignore_details(conn: sa.Connection, group: Any, now: float) -> tuple[dict[str, Any], bool]:
    """(statusDetails, still ignored) of an ignored issue, from its snooze (Sentry's _get_status):
    `{}` without one (forever, or until escalating: Sentry keeps no snooze for that), else the
    five condition fields, nulls included, and the actor."""
    row = issues.snooze_of(conn, group.id)
    if row is None:
        return {}, True
    snooze = issues.snooze_from_row(row)
    if snooze.until is not None and now >= snooze.until:
        return {}, False  # the time ran out: shown as unresolved until the worker clears it
    if snooze.until_escalating and not (snooze.until or snooze.count or snooze.user_count):
        return {}, True
    actor_id = row._mapping["actor_id"]
    return {
        # Counts without a window are what remains of them.
        "ignoreCount": snooze.count - (group.times_seen - snooze.times_seen_at_start)
        if snooze.count and not snooze.window
        else snooze.count,
        "ignoreUntil": iso(snooze.until) if snooze.until is not None else None,
        "ignoreUserCount": snooze.user_count
        - (issues.users_seen(conn, group.id) - snooze.users_seen_at_start)
        if snooze.user_count and not snooze.user_window
        else snooze.user_count,
        "ignoreUserWindow": snooze.user_window,
        "ignoreWindow": snooze.window,
        "actor": user(q.user_by_id(conn, actor_id)) if actor_id else None,
    }, True


def status_of(
    conn: sa.Connection, group: Any, now: float | None = None
) -> tuple[str, dict[str, Any], str | None]:
    """(status, statusDetails, substatus) as the API reports them."""
    now = time.time() if now is None else now
    status = Status(group.status)
    substatus = SUBSTATUS_NAMES.get(SubStatus(group.substatus)) if group.substatus else None
    if status == Status.IGNORED:
        details, ignored = _ignore_details(conn, group, now)
        if not ignored:
            return "unresolved", {}, SUBSTATUS_NAMES[SubStatus.ONGOING]
        return "ignored", details, substatus
    if status == Status.RESOLVED:
        resolution = issues.resolution_of(conn, group.id)
        if resolution is None:  # plain, in commit, or by age
            return "resolved", dict(group.status_details or {}), None
        # Sentry reads a release resolution's kind from the resolution, and always names its actor.
        details = (
            {"inRelease": resolution.release} if resolution.type == IN_RELEASE else {"inNextRelease": True}
        )
        details["actor"] = user(q.user_by_id(conn, resolution.actor_id)) if resolution.actor_id else None
        return "resolved", details, None
    return STATUS_NAMES[status], {}, substatus


def assigned_to(conn: sa.Connection, group: Any) -> dict[str, Any] | None:
    if group.assignee_user_id is not None:
        row = q.user_by_id(conn, group.assignee_user_id)
        if row is not None:
            return {"type": "user", "id": str(row.id), "name": row.name or row.email, "email": row.email}
    if group.assignee_team_id is not None:
        team = q.org_team(conn, group.organization_id, group.assignee_team_id)
        if team is not None:
            return {"type": "team", "id": str(team.id), "name": team.slug}
    return None


def base(conn: sa.Connection, group: Any, base_url: str) -> dict[str, Any]:
    """The base issue serializer plus the seen stats (`count`, `userCount`, first/last seen)."""
    status, details, substatus = status_of(conn, group)
    figures = q.figures(conn, group.id)
    priority = priority_name(group)
    return {
        "id": str(group.id),
        "shareId": None,
        "shortId": qualified_short_id(group.project_slug, group.short_id),
        "title": group.title,
        "culprit": group.culprit or "",  # (issues stored by earlier versions may hold null)
        "permalink": f"{base_url}/organizations/{group.organization_slug}/issues/{group.id}/",
        "logger": group.logger or None,
        "level": group.level,
        "status": status,
        "statusDetails": details,
        "substatus": substatus,
        "isPublic": False,
        "platform": group.platform,
        "priority": priority,
        "priorityLockedAt": None,
        "project": {
            "id": str(group.project_id),
            "name": group.project_name,
            "slug": group.project_slug,
            "platform": group.project_platform,
        },
        "type": group.type,
        "issueType": "error",
        "issueCategory": "error",
        "metadata": group.metadata or {},
        "numComments": figures.num_comments,
        "assignedTo": assigned_to(conn, group),
        "isBookmarked": False,
        "isSubscribed": False,
        "subscriptionDetails": None,
        "hasSeen": False,
        "annotations": [],
        "isUnhandled": figures.is_unhandled,
        "count": str(group.times_seen),
        "userCount": figures.user_count,
        "firstSeen": iso(group.first_seen),
        "lastSeen": iso(group.last_seen),
        "seerFixabilityScore": None,  # Sentry's AI fields: no such service here
        "seerAutofixLastTriggered": None,
        "seerExplorerAutofixLastTriggered": None,
    }


def _series(conn: sa.Connection, group_id: int, now: float, bucket: int, buckets: int) -> list[list[int]]:
    start = (int(now) // bucket - buckets + 1) * bucket
    counts = q.counts_by_bucket(conn, group_id, start, bucket)
    return [[ts, counts.get(ts, 0)] for ts in range(start, start + buckets * bucket, bucket)]


def priority_name(group: Any) -> str | None:
    return PRIORITY_NAMES.get(Priority(group.priority)) if group.priority else None


def activity_log(conn: sa.Connection, group: Any) -> list[dict[str, Any]]:
    """The issue's activity, newest first, ending with Sentry's synthetic `first_seen`."""
    actors: dict[int, dict[str, Any] | None] = {}

    def actor(user_id: int | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        if user_id not in actors:
            actors[user_id] = user(q.user_by_id(conn, user_id))
        return actors[user_id]

    log = [activity(row, actor(row.user_id)) for row in q.activities(conn, group.id)]
    priority = priority_name(group)
    first_seen = {
        "id": "0",
        "user": None,
        "sentry_app": None,
        "type": "first_seen",
        "data": {"priority": priority},
        "dateCreated": iso(group.first_seen),
    }
    return [*log, first_seen]


def detail(conn: sa.Connection, group: Any, base_url: str) -> dict[str, Any]:
    out = base(conn, group, base_url)
    now = time.time()
    last = issues.last_release(conn, group.id)
    out.update(
        {
            "activity": activity_log(conn, group),
            "seenBy": [],
            "userReportCount": q.user_report_count(conn, group.id),
            "participants": [],
            "firstRelease": {"version": group.first_release} if group.first_release else None,
            "lastRelease": {"version": last} if last else None,
            "tags": [
                {"key": key, "name": tag_label(key), "totalValues": total}
                for key, total in q.tag_totals(conn, group.id)
            ],
            "stats": {
                "24h": _series(conn, group.id, now, 3600, 24),
                "30d": _series(conn, group.id, now, 86400, 30),
            },
            "pluginActions": [],
            "pluginIssues": [],
            "pluginContexts": [],
            "inbox": None,
        }
    )
    out["tags"].sort(key=lambda tag: tag["name"])
    return out
