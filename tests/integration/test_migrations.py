"""The migration history builds exactly the declared schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bughound.config import Settings
from bughound.storage import schema as t
from bughound.storage.db import check_migrated, current_revision, head_revision, migrate, pending_migrations
from bughound.storage.migrations import HEAD
from bughound.storage.schema import metadata
from bughound.storage.store import Store
from tests.factories import Harness, Project, envelope, error_event


def test_migrated_schema_matches_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_migrated_database_is_at_head(store: Store, settings: Settings) -> None:
    assert HEAD == head_revision(), "update bughound.storage.migrations.HEAD with the new revision"
    assert current_revision(store.engine) == HEAD
    assert not pending_migrations(store.engine)
    check_migrated(store.engine)


def _acme_web(conn: sa.Connection, now: float) -> None:
    """Organization 1 (acme) and its project 1 (web), in a database at an old revision."""
    conn.execute(t.organizations.insert().values(id=1, slug="acme", name="acme", date_added=now))
    conn.execute(t.projects.insert().values(id=1, organization_id=1, slug="web", name="web", date_added=now))


def test_upgrade_keeps_existing_issues(store: Store) -> None:
    """0001 -> 0002 rebuilds `groups` on SQLite: nothing that points at it may be lost."""
    migrate(store.engine, "0001")
    now = time.time()
    with store.engine.begin() as conn:
        _acme_web(conn, now)
        for group_id, level in ((1, "error"), (2, "info")):
            conn.execute(
                sa.text(
                    "INSERT INTO groups (id, project_id, short_id, type, title, level, metadata, status, "
                    "first_seen, last_seen, times_seen) VALUES (:id, 1, :id, 'error', 't', :level, '{}', 0, "
                    ":now, :now, 1)"
                ),
                {"id": group_id, "level": level, "now": now},
            )
        conn.execute(
            t.group_hashes.insert().values(
                project_id=1, hash="a" * 32, group_id=1, grouping_config="x", first_seen=now
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO events (project_id, event_id, group_id, type, timestamp, received, size, data) "
                "VALUES (1, :eid, 1, 'error', :now, :now, 1, :data)"
            ),
            {"eid": "b" * 32, "now": now, "data": b"x"},
        )
    migrate(store.engine)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(t.group_hashes.c.group_id)).scalars().all() == [1]
        assert conn.execute(sa.select(t.events.c.group_id)).scalars().all() == [1]
        rows = conn.execute(
            sa.select(t.groups.c.id, t.groups.c.substatus, t.groups.c.priority).order_by(t.groups.c.id)
        )
        assert [tuple(r) for r in rows] == [(1, 7, 75), (2, 7, 25)]


def test_event_tags_move_into_their_event_row_and_back(h: Harness, project: Project, store: Store) -> None:
    """0002 -> 0003 fills `events.tags` and `events.primary_hash` from each payload; the downgrade
    restores `event_tags`."""
    event = error_event(tags={"region": "eu", "shard": "7"}, release="r@1")
    h.post_envelope(project, envelope(({"type": "event"}, event)))
    h.digest()
    with store.engine.connect() as conn:
        expected = json.loads(conn.execute(sa.select(t.events.c.tags)).scalar_one())
        primary_hash = conn.execute(sa.select(t.events.c.primary_hash)).scalar_one()
    assert ["region", "eu"] in expected and ["release", "r@1"] in expected
    assert primary_hash is not None and len(primary_hash) == 32
    migrate(store.engine, "0002")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT "key", "value" FROM event_tags')).all()
    assert {tuple(r) for r in rows} == {(k, v) for k, v in expected if k not in ("level", "release")}
    migrate(store.engine)
    with store.engine.connect() as conn:
        assert json.loads(conn.execute(sa.select(t.events.c.tags)).scalar_one()) == expected
        assert conn.execute(sa.select(t.events.c.primary_hash)).scalar_one() == primary_hash
        assert "event_tags" not in sa.inspect(conn).get_table_names()


def test_issue_logger_and_current_release_columns_come_and_go(store: Store) -> None:
    """0004 -> 0005 adds `groups.logger` and `group_resolutions.current_release_version` to
    existing rows (as nulls); the downgrade drops them and keeps the rows."""
    migrate(store.engine, "0004")
    now = time.time()
    with store.engine.begin() as conn:
        _acme_web(conn, now)
        conn.execute(
            sa.text(
                "INSERT INTO groups (id, project_id, short_id, type, title, level, metadata, status, "
                "first_seen, last_seen, times_seen) VALUES (1, 1, 1, 'error', 't', 'error', '{}', 1, "
                ":now, :now, 1)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO group_resolutions (group_id, type, release, date_added) "
                "VALUES (1, 1, 'r@1', :now)"
            ),
            {"now": now},
        )
    migrate(store.engine)
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(t.groups.c.logger)).scalar_one() is None
        assert conn.execute(sa.select(t.group_resolutions.c.current_release_version)).scalar_one() is None
        conn.execute(t.groups.update().values(logger="app"))
        conn.execute(t.group_resolutions.update().values(current_release_version="r@0"))
    migrate(store.engine, "0004")
    with store.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("groups")}
        assert "logger" not in columns and "title" in columns
        resolution_columns = {c["name"] for c in sa.inspect(conn).get_columns("group_resolutions")}
        assert "current_release_version" not in resolution_columns
        assert conn.execute(sa.text("SELECT release FROM group_resolutions")).scalar_one() == "r@1"
    migrate(store.engine)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(t.groups.c.logger)).scalar_one() is None
        if store.engine.dialect.name == "sqlite":  # ids of deleted issues are still never reused
            sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'groups'")).scalar_one()
            assert "AUTOINCREMENT" in sql
