"""The digest's write path: one DigestBatch -> rows, inside the caller's transaction.

Idempotent: events already stored (same project and event id) are skipped, and only the
events actually inserted count towards issues, tag values and accepted outcomes.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bughound.digest.pipeline import DigestBatch, OutcomeKey, PreparedEvent, hour_of, sha1
from bughound.ingest.categories import Outcome
from bughound.storage import issues
from bughound.storage import schema as t
from bughound.storage.lifecycle import Status, SubStatus, initial_priority


@dataclasses.dataclass
class WriteStats:
    inserted: int = 0
    duplicates: int = 0
    new_groups: int = 0


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _shaped_chunks(items: list[Any], largest: int = 256) -> Iterable[list[Any]]:
    """`items` in chunks whose sizes are powers of two, largest first, for statements whose text
    grows with the chunk (multi-row VALUES, IN lists). They then come in 9 shapes at most, so the
    drivers' caches of prepared statements stay small: cached in every batch size seen, the
    events INSERT held about 1.7 MB of SQLite memory per size."""
    start, size = 0, largest
    while start < len(items):
        while size > len(items) - start:
            size //= 2
        yield items[start : start + size]
        start += size


def write_batch(conn: sa.Connection, batch: DigestBatch) -> WriteStats:
    stats = WriteStats()
    outcomes: collections.Counter[OutcomeKey] = collections.Counter(batch.outcomes)
    events = _new_events(conn, batch.events, stats)
    group_ids = _assign_groups(conn, [e for e in events if e.grouping is not None], stats)
    inserted = _insert_events(conn, events, group_ids)
    stats.inserted = len(inserted)
    stats.duplicates += len(events) - len(inserted)
    kept = [e for e in events if (e.project_id, e.event_id) in inserted]
    _count_tag_values(conn, kept, group_ids)
    _update_groups(conn, kept, group_ids)
    issues.after_new_events(
        conn,
        [
            issues.IssueEvent(group_ids[e.event_id], e.event_id, e.timestamp, e.release)
            for e in kept
            if e.event_id in group_ids
        ],
    )
    _record_releases_environments(conn, kept)
    for e in kept:
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
        for chunk in _shaped_chunks(ids):
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
        wanted[e.project_id].update(e.grouping.secondary_hashes)
    for project_id, hashes in wanted.items():
        for chunk in _shaped_chunks(sorted(hashes)):
            rows = conn.execute(
                sa.select(h.hash, h.group_id).where(h.project_id == project_id, h.hash.in_(chunk))
            )
            known.update(((project_id, r.hash), r.group_id) for r in rows)
    assigned: dict[str, int] = {}
    for e in events:
        assert e.grouping is not None
        # Any known hash decides, primary hashes first; a secondary hash (the project's previous
        # grouping config, during a transition) only ever finds an existing issue.
        group_id = next(
            (
                known[(e.project_id, x)]
                for x in (*e.grouping.hashes, *e.grouping.secondary_hashes)
                if (e.project_id, x) in known
            ),
            None,
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
                logger=e.logger,
                message=e.message,
                level=e.level or "error",
                platform=e.platform,
                metadata=e.grouping.metadata,
                status=int(Status.UNRESOLVED),
                substatus=int(SubStatus.NEW),
                priority=int(initial_priority(e.level)),
                active_at=e.timestamp,
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
) -> set[tuple[int, str]]:
    """Insert, skipping conflicts; returns the (project_id, event_id) of the rows inserted."""
    if not events:
        return set()
    rows = [
        (
            e.project_id,
            e.event_id,
            group_ids.get(e.event_id),
            e.type,
            e.timestamp,
            e.received,
            e.level,
            e.environment,
            e.release,
            e.dist,
            e.platform,
            e.user_ident,
            e.title,
            e.message,
            e.culprit,
            e.transaction,
            e.trace_id,
            e.size,
            e.grouping.hashes[0] if e.grouping is not None and e.grouping.hashes else None,
            orjson.dumps(e.tags).decode(),
            e.data,
        )
        for e in events
    ]
    # One multi-row INSERT per chunk, straight to the driver (SQLAlchemy's per-row parameter
    # processing was a tenth of the write); RETURNING tells which rows were new.
    inserted: set[tuple[int, str]] = set()
    row_sql = "(" + ", ".join("?" * len(_EVENT_COLUMNS)) + ")"
    for chunk in _shaped_chunks(rows):
        sql = _dialect_sql(
            conn,
            f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES {', '.join([row_sql] * len(chunk))} "
            "ON CONFLICT (project_id, event_id) DO NOTHING RETURNING project_id, event_id",
        )
        params = [value for row in chunk for value in row]
        inserted.update(
            (project_id, event_id) for project_id, event_id in conn.exec_driver_sql(sql, tuple(params))
        )
    return inserted


_EVENT_COLUMNS = tuple(
    f'"{name}"'
    for name in (
        "project_id", "event_id", "group_id", "type", "timestamp", "received", "level", "environment",
        "release", "dist", "platform", "user_ident", "title", "message", "culprit", "transaction",
        "trace_id", "size", "primary_hash", "tags", "data",
    )
)  # fmt: skip


def _executemany(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Hand rows straight to the driver's executemany: the hot bulk writes skip SQLAlchemy's
    per-row parameter processing. `sql` uses `?` placeholders, and `{min}`/`{max}` for the
    two-argument minimum/maximum (scalar min/max on SQLite, LEAST/GREATEST on PostgreSQL) and
    `{json}` for a JSON text parameter."""
    if not rows:
        return
    sql = _dialect_sql(conn, sql)
    for chunk in _chunks(rows, 2000):
        conn.exec_driver_sql(sql, chunk)  # type: ignore[arg-type]


def _dialect_sql(conn: sa.Connection, sql: str) -> str:
    postgres = conn.dialect.name == "postgresql"
    sql = sql.format(
        min="LEAST" if postgres else "min",
        max="GREATEST" if postgres else "max",
        json="CAST(? AS JSON)" if postgres else "?",
    )
    return sql.replace("?", "%s") if postgres else sql


_GROUP_TAG_VALUE_COLUMNS = 'group_id, project_id, "key", "value", times_seen, first_seen, last_seen'
_STAGE_GROUP_TAG_VALUES = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS stage_group_tag_values "
    "(LIKE group_tag_values INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_UPSERT_GROUP_TAG_VALUES = (
    f"INSERT INTO group_tag_values ({_GROUP_TAG_VALUE_COLUMNS}) {{source}} "
    'ON CONFLICT (group_id, "key", "value") DO UPDATE SET '
    "times_seen = group_tag_values.times_seen + excluded.times_seen, "
    "first_seen = {min}(group_tag_values.first_seen, excluded.first_seen), "
    "last_seen = {max}(group_tag_values.last_seen, excluded.last_seen)"
)
_UPDATE_GROUPS = (
    "UPDATE groups SET times_seen = times_seen + ?, first_seen = {min}(first_seen, ?), "
    "last_seen = {max}(last_seen, ?), level = ?, culprit = ? WHERE id = ?"
)
# Title and metadata follow the latest event too, but a placeholder never replaces a real title.
_UPDATE_GROUP_TITLES = "UPDATE groups SET title = ?, metadata = {json} WHERE id = ?"
PLACEHOLDER_TITLES = frozenset({"<unlabeled event>", "<untitled>", "<no title>", "<unknown>"})
_UPDATE_GROUP_HASHES = "UPDATE group_hashes SET times_seen = times_seen + ? WHERE project_id = ? AND hash = ?"


def _count_tag_values(conn: sa.Connection, kept: list[PreparedEvent], group_ids: dict[str, int]) -> None:
    """Per-issue tag value counts (the event's own tags are a column of its row)."""
    # (group, key, value) -> [project, count, first seen, last seen]; oldest events first, so
    # that the first sight of a value is its first seen and the last its last seen.
    counts: dict[tuple[int, str, str], list[Any]] = {}
    for e in sorted(kept, key=lambda e: e.timestamp):
        group_id = group_ids.get(e.event_id)
        if group_id is None:
            continue
        project_id, timestamp = e.project_id, e.timestamp
        for key, value in e.tags:
            entry = counts.get((group_id, key, value))
            if entry is None:
                counts[(group_id, key, value)] = [project_id, 1, timestamp, timestamp]
            else:
                entry[1] += 1
                entry[3] = timestamp
    values = [(g, p, k, v, n, first, last) for (g, k, v), (p, n, first, last) in counts.items()]
    if not values:
        return
    if conn.dialect.name == "postgresql":
        # COPY is ~10x faster than executemany; the upsert goes through a staging table, in key
        # order (concurrent workers then lock the rows they share in the same order).
        conn.exec_driver_sql(_STAGE_GROUP_TAG_VALUES)
        _copy(conn, f"COPY stage_group_tag_values ({_GROUP_TAG_VALUE_COLUMNS}) FROM STDIN", values)
        source = (
            f'SELECT {_GROUP_TAG_VALUE_COLUMNS} FROM stage_group_tag_values ORDER BY group_id, "key", "value"'
        )
        conn.exec_driver_sql(_dialect_sql(conn, _UPSERT_GROUP_TAG_VALUES.replace("{source}", source)))
        conn.exec_driver_sql("TRUNCATE stage_group_tag_values")
    else:  # one writer at a time: any order will do
        _executemany(
            conn, _UPSERT_GROUP_TAG_VALUES.replace("{source}", "VALUES (?, ?, ?, ?, ?, ?, ?)"), values
        )


def _copy(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL COPY FROM STDIN on the transaction's own connection."""
    if not rows:
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


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
            per_group[group_id] = [1, e.timestamp, e.timestamp, e]
        else:
            entry[0] += 1
            entry[1] = min(entry[1], e.timestamp)
            entry[2] = max(entry[2], e.timestamp)
            entry[3] = e  # the latest event processed decides level, culprit and title (Sentry)
    _executemany(
        conn,
        _UPDATE_GROUPS,
        [
            (n, first, last, latest.level or "error", latest.culprit, group_id)
            for group_id, (n, first, last, latest) in sorted(per_group.items())
        ],
    )
    _executemany(
        conn,
        _UPDATE_GROUP_TITLES,
        [
            (latest.title, orjson.dumps(latest.grouping.metadata).decode(), group_id)
            for group_id, (_, _, _, latest) in sorted(per_group.items())
            if latest.title not in PLACEHOLDER_TITLES and latest.grouping is not None
        ],
    )
    _executemany(
        conn,
        _UPDATE_GROUP_HASHES,
        [(n, project_id, hash_) for (project_id, hash_), n in sorted(per_hash.items())],
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
    """Upsert a (release|environment, project) row, widening its first/last seen."""
    columns = ", ".join(key)
    placeholders = ", ".join("?" * (len(key) + 2))
    sql = (
        f"INSERT INTO {table.name} ({columns}, first_seen, last_seen) VALUES ({placeholders}) "
        f"ON CONFLICT ({columns}) DO UPDATE SET "
        f"first_seen = {{min}}({table.name}.first_seen, excluded.first_seen), "
        f"last_seen = {{max}}({table.name}.last_seen, excluded.last_seen)"
    )
    _executemany(conn, sql, [(*key.values(), first, last)])


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
