"""The digest's write path: one DigestBatch -> rows, inside the caller's transaction.

Idempotent: events already stored (same project and event id) are skipped, and only the
events actually inserted count towards issues, tag values and accepted outcomes.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bughound.digest.pipeline import DigestBatch, OutcomeKey, PreparedEvent, hour_of, sha1
from bughound.ingest.categories import Outcome
from bughound.storage import schema as t


@dataclasses.dataclass
class WriteStats:
    inserted: int = 0
    duplicates: int = 0
    new_groups: int = 0


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _greatest(column: Any, value: Any) -> Any:
    return sa.case((column < value, value), else_=column)


def _least(column: Any, value: Any) -> Any:
    return sa.case((column > value, value), else_=column)


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_batch(conn: sa.Connection, batch: DigestBatch) -> WriteStats:
    stats = WriteStats()
    outcomes: collections.Counter[OutcomeKey] = collections.Counter(batch.outcomes)
    events = _new_events(conn, batch.events, stats)
    group_ids = _assign_groups(conn, [e for e in events if e.grouping is not None], stats)
    inserted = _insert_events(conn, events, group_ids)
    stats.inserted = len(inserted)
    stats.duplicates += len(events) - len(inserted)
    kept = [(pk, e) for e in events if (pk := inserted.get((e.project_id, e.event_id))) is not None]
    _insert_tags(conn, kept, group_ids)
    _update_groups(conn, [e for _, e in kept], group_ids)
    _record_releases_environments(conn, [e for _, e in kept])
    for _, e in kept:
        outcomes[
            (e.org_id, e.project_id, e.key_id, hour_of(e.received), e.category, int(Outcome.ACCEPTED), "")
        ] += 1
    _insert_attachments(conn, batch)
    if batch.user_reports:
        conn.execute(
            _insert(conn, t.user_reports).on_conflict_do_nothing(index_elements=["project_id", "event_id"]),
            [dataclasses.asdict(r) for r in batch.user_reports],
        )
    _upsert_outcomes(conn, outcomes)
    return stats


def _new_events(conn: sa.Connection, events: list[PreparedEvent], stats: WriteStats) -> list[PreparedEvent]:
    """Drop events already stored, or repeated within the batch (first one wins)."""
    seen: set[tuple[int, str]] = set()
    by_project: dict[int, list[str]] = collections.defaultdict(list)
    for e in events:
        by_project[e.project_id].append(e.event_id)
    c = t.events.c
    for project_id, ids in by_project.items():
        for chunk in _chunks(ids):
            rows = conn.execute(
                sa.select(c.event_id).where(c.project_id == project_id, c.event_id.in_(chunk))
            )
            seen.update((project_id, r.event_id) for r in rows)
    fresh = []
    for e in events:
        key = (e.project_id, e.event_id)
        if key in seen:
            stats.duplicates += 1
            continue
        seen.add(key)
        fresh.append(e)
    return fresh


def _assign_groups(conn: sa.Connection, events: list[PreparedEvent], stats: WriteStats) -> dict[str, int]:
    """event_id -> group id: a known hash decides; otherwise a new issue is created."""
    h = t.group_hashes.c
    known: dict[tuple[int, str], int] = {}
    wanted: dict[int, set[str]] = collections.defaultdict(set)
    for e in events:
        assert e.grouping is not None
        wanted[e.project_id].update(e.grouping.hashes)
    for project_id, hashes in wanted.items():
        for chunk in _chunks(sorted(hashes)):
            rows = conn.execute(
                sa.select(h.hash, h.group_id).where(h.project_id == project_id, h.hash.in_(chunk))
            )
            known.update(((project_id, r.hash), r.group_id) for r in rows)
    assigned: dict[str, int] = {}
    for e in events:
        assert e.grouping is not None
        group_id = next(
            (known[(e.project_id, x)] for x in e.grouping.hashes if (e.project_id, x) in known), None
        )
        if group_id is None:
            group_id = _create_group(conn, e)
            stats.new_groups += 1
        for x in e.grouping.hashes:
            if (e.project_id, x) not in known:
                group_id = _add_hash(conn, e, x, group_id)
                known[(e.project_id, x)] = group_id
        assigned[e.event_id] = group_id
    return assigned


def _create_group(conn: sa.Connection, e: PreparedEvent) -> int:
    p = t.projects.c
    short_id = conn.execute(
        t.projects.update()
        .where(p.id == e.project_id)
        .values(next_short_id=p.next_short_id + 1)
        .returning(p.next_short_id - 1)
    ).scalar_one()
    assert e.grouping is not None
    return int(
        conn.execute(
            t.groups.insert().values(
                project_id=e.project_id,
                short_id=short_id,
                type=e.type,
                title=e.title,
                culprit=e.culprit,
                message=e.message,
                level=e.level or "error",
                platform=e.platform,
                metadata=e.grouping.metadata,
                status=0,
                first_seen=e.timestamp,
                last_seen=e.timestamp,
                times_seen=0,
                first_release=e.release,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def _add_hash(conn: sa.Connection, e: PreparedEvent, hash_: str, group_id: int) -> int:
    """Attach a hash to the group; if another worker attached it first, theirs wins."""
    assert e.grouping is not None
    result = conn.execute(
        _insert(conn, t.group_hashes)
        .values(
            project_id=e.project_id,
            hash=hash_,
            group_id=group_id,
            grouping_config=e.grouping.config,
            first_seen=e.timestamp,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "hash"])
    )
    if result.rowcount:
        return group_id
    h = t.group_hashes.c
    return int(
        conn.execute(sa.select(h.group_id).where(h.project_id == e.project_id, h.hash == hash_)).scalar_one()
    )


def _insert_events(
    conn: sa.Connection, events: list[PreparedEvent], group_ids: dict[str, int]
) -> dict[tuple[int, str], int]:
    """Insert, skipping conflicts; returns (project_id, event_id) -> row id of rows inserted."""
    if not events:
        return {}
    rows = [
        {
            "project_id": e.project_id,
            "event_id": e.event_id,
            "group_id": group_ids.get(e.event_id),
            "type": e.type,
            "timestamp": e.timestamp,
            "received": e.received,
            "level": e.level,
            "environment": e.environment,
            "release": e.release,
            "dist": e.dist,
            "platform": e.platform,
            "user_ident": e.user_ident,
            "title": e.title,
            "message": e.message,
            "culprit": e.culprit,
            "transaction": e.transaction,
            "trace_id": e.trace_id,
            "size": e.size,
            "data": e.data,
        }
        for e in events
    ]
    c = t.events.c
    stmt = (
        _insert(conn, t.events)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(c.id, c.project_id, c.event_id)
    )
    inserted: dict[tuple[int, str], int] = {}
    for chunk in _chunks(rows):
        for r in conn.execute(stmt, chunk):
            inserted[(r.project_id, r.event_id)] = r.id
    return inserted


def _insert_tags(
    conn: sa.Connection, kept: list[tuple[int, PreparedEvent]], group_ids: dict[str, int]
) -> None:
    rows = [
        {
            "event_pk": pk,
            "project_id": e.project_id,
            "group_id": group_ids.get(e.event_id),
            "timestamp": e.timestamp,
            "key": key,
            "value": value,
        }
        for pk, e in kept
        for key, value in e.tags
    ]
    for chunk in _chunks(rows, 2000):
        conn.execute(t.event_tags.insert(), chunk)
    # Per-issue tag value counts.
    counts: dict[tuple[int, str, str], list[Any]] = {}
    for _, e in kept:
        group_id = group_ids.get(e.event_id)
        if group_id is None:
            continue
        for key, value in e.tags:
            entry = counts.get((group_id, key, value))
            if entry is None:
                counts[(group_id, key, value)] = [e.project_id, 1, e.timestamp, e.timestamp]
            else:
                entry[1] += 1
                entry[2] = min(entry[2], e.timestamp)
                entry[3] = max(entry[3], e.timestamp)
    if not counts:
        return
    stmt = _insert(conn, t.group_tag_values)
    c = t.group_tag_values.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["group_id", "key", "value"],
        set_={
            "times_seen": c.times_seen + stmt.excluded.times_seen,
            "first_seen": _least(c.first_seen, stmt.excluded.first_seen),
            "last_seen": _greatest(c.last_seen, stmt.excluded.last_seen),
        },
    )
    rows = [
        {
            "group_id": g,
            "key": k,
            "value": v,
            "project_id": p,
            "times_seen": n,
            "first_seen": first,
            "last_seen": last,
        }
        for (g, k, v), (p, n, first, last) in sorted(counts.items())
    ]
    for chunk in _chunks(rows):
        conn.execute(stmt, chunk)


def _update_groups(conn: sa.Connection, events: list[PreparedEvent], group_ids: dict[str, int]) -> None:
    per_group: dict[int, list[Any]] = {}
    per_hash: collections.Counter[tuple[int, str]] = collections.Counter()
    for e in events:
        group_id = group_ids.get(e.event_id)
        if group_id is None or e.grouping is None:
            continue
        per_hash.update((e.project_id, x) for x in e.grouping.hashes)
        entry = per_group.get(group_id)
        if entry is None:
            per_group[group_id] = [1, e.timestamp, e.timestamp]
        else:
            entry[0] += 1
            entry[1] = min(entry[1], e.timestamp)
            entry[2] = max(entry[2], e.timestamp)
    g = t.groups.c
    for group_id, (count, first, last) in sorted(per_group.items()):
        conn.execute(
            t.groups.update()
            .where(g.id == group_id)
            .values(
                times_seen=g.times_seen + count,
                first_seen=_least(g.first_seen, first),
                last_seen=_greatest(g.last_seen, last),
            )
        )
    h = t.group_hashes.c
    for (project_id, hash_), count in sorted(per_hash.items()):
        conn.execute(
            t.group_hashes.update()
            .where(h.project_id == project_id, h.hash == hash_)
            .values(times_seen=h.times_seen + count)
        )


def _record_releases_environments(conn: sa.Connection, events: list[PreparedEvent]) -> None:
    releases: dict[tuple[int, int, str], list[float]] = {}
    environments: dict[tuple[int, int, str], list[float]] = {}
    for e in events:
        for target, name in ((releases, e.release), (environments, e.environment)):
            if name:
                span = target.setdefault((e.org_id, e.project_id, name), [e.timestamp, e.timestamp])
                span[0], span[1] = min(span[0], e.timestamp), max(span[1], e.timestamp)
    for (org_id, project_id, version), (first, last) in sorted(releases.items()):
        release_id = _ensure(
            conn, t.releases, {"organization_id": org_id, "version": version}, {"date_added": first}
        )
        _seen(conn, t.release_projects, {"release_id": release_id, "project_id": project_id}, first, last)
    for (org_id, project_id, name), (first, last) in sorted(environments.items()):
        env_id = _ensure(
            conn, t.environments, {"organization_id": org_id, "name": name}, {"date_added": first}
        )
        _seen(conn, t.environment_projects, {"environment_id": env_id, "project_id": project_id}, first, last)


def _ensure(conn: sa.Connection, table: sa.Table, key: dict[str, Any], extra: dict[str, Any]) -> int:
    conn.execute(_insert(conn, table).values(**key, **extra).on_conflict_do_nothing(index_elements=list(key)))
    where = [table.c[k] == v for k, v in key.items()]
    return int(conn.execute(sa.select(table.c.id).where(*where)).scalar_one())


def _seen(conn: sa.Connection, table: sa.Table, key: dict[str, Any], first: float, last: float) -> None:
    stmt = _insert(conn, table).values(**key, first_seen=first, last_seen=last)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={
            "first_seen": _least(table.c.first_seen, stmt.excluded.first_seen),
            "last_seen": _greatest(table.c.last_seen, stmt.excluded.last_seen),
        },
    )
    conn.execute(stmt)


def _insert_attachments(conn: sa.Connection, batch: DigestBatch) -> None:
    c = t.attachments.c
    for a in batch.attachments:
        digest = sha1(a.data)
        exists = conn.execute(
            sa.select(c.id).where(
                c.project_id == a.project_id, c.event_id == a.event_id, c.name == a.name, c.sha1 == digest
            )
        ).first()
        if exists:
            continue
        conn.execute(
            t.attachments.insert().values(
                project_id=a.project_id,
                event_id=a.event_id,
                name=a.name,
                content_type=a.content_type,
                attachment_type=a.attachment_type,
                size=len(a.data),
                sha1=digest,
                data=a.data,
                date_added=a.date_added,
            )
        )


def _upsert_outcomes(conn: sa.Connection, outcomes: collections.Counter[OutcomeKey]) -> None:
    if not outcomes:
        return
    stmt = _insert(conn, t.outcomes)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org_id", "project_id", "key_id", "hour", "category", "outcome", "reason"],
        set_={"quantity": t.outcomes.c.quantity + stmt.excluded.quantity},
    )
    rows = [
        {
            "org_id": org,
            "project_id": project,
            "key_id": key,
            "hour": hour,
            "category": category,
            "outcome": outcome,
            "reason": reason,
            "quantity": quantity,
        }
        for (org, project, key, hour, category, outcome, reason), quantity in sorted(outcomes.items())
    ]
    for chunk in _chunks(rows):
        conn.execute(stmt, chunk)
