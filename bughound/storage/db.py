"""Engines and migrations: the only place that knows SQLite from PostgreSQL connection details."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bughound.storage.migrations import HEAD

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Execution option marking a connection that will write (see Store.write()).
WRITE_OPTION = "bughound_write"


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3; anything else is passed through."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" hook below opens transactions
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a digested batch survives power loss once committed (its spool rows are then gone).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front (no deadlock on lock upgrade); readers stay deferred.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(database_url: str, **kwargs: Any) -> sa.Engine:
    url = sqlalchemy_url(database_url)
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


# Alembic is imported only to migrate: serve and worker processes stay lighter without it.


def head_revision() -> str | None:
    """The newest revision of the migration history (read by Alembic from the scripts)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def pending_migrations(engine: sa.Engine) -> bool:
    return current_revision(engine) != HEAD


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade to `revision`, or downgrade to it when the database is newer."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    current = current_revision(engine)
    if revision != "head" and current is not None and int(current) > int(revision):
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


class MigrationsPending(RuntimeError):
    def __init__(self) -> None:
        super().__init__("the database has migrations pending: run `bughound migrate` first")


def check_migrated(engine: sa.Engine) -> None:
    if pending_migrations(engine):
        raise MigrationsPending()
