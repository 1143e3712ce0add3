"""The migration history builds exactly the declared schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bughound.config import Settings
from bughound.storage.db import check_migrated, current_revision, head_revision, pending_migrations
from bughound.storage.migrations import HEAD
from bughound.storage.schema import metadata
from bughound.storage.store import Store


def test_migrated_schema_matches_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_migrated_database_is_at_head(store: Store, settings: Settings) -> None:
    assert HEAD == head_revision(), "update bughound.storage.migrations.HEAD with the new revision"
    assert current_revision(store.engine) == HEAD
    assert not pending_migrations(store.engine)
    check_migrated(store.engine)
