"""Engines and migrations: the only place that knows SQLite from PostgreSQL connection details."""

from __future__ import annotations

import logging
import sqlite3
import threading
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


def check_database_url(database_url: str) -> None:
    """Raise ValueError unless this is a URL Bughound can use: SQLite or PostgreSQL with psycopg 3.

    The message never repeats the URL (it may hold a password)."""
    try:
        url = sa.make_url(sqlalchemy_url(database_url))
    except sa.exc.ArgumentError:
        raise ValueError("not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB") from None
    backend, _, driver = url.drivername.partition("+")
    if (backend, driver or "pysqlite") not in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
        raise ValueError(
            f"unsupported database {url.drivername!r}; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )


def redacted(database_url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages and logs."""
    try:
        return sa.make_url(database_url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparsable URL)"


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


class WalCheckpointer:
    """SQLite's WAL checkpoints on a thread of their own, for the digest worker.

    A commit that finds the WAL over SQLite's auto-checkpoint threshold (1,000 pages) copies it
    into the database file and fsyncs that before it returns: with the digest's batches (about
    4 MB of pages each) that was nearly every commit, 35-50 ms of the worker's ~300 ms per 500
    events. The engine's connections turn auto-checkpoints off instead, and `kick()` after each
    commit wakes this thread, whose PASSIVE checkpoint (it never waits for, nor blocks, a reader
    or a writer) runs beside the next batch: sqlite3 releases the GIL while it works. The next
    write transaction after a complete checkpoint starts the WAL over, so it stays bounded.
    """

    INTERVAL = 1.0  # seconds between checkpoints when no commit asks for one

    def __init__(self, engine: sa.Engine) -> None:
        path = engine.url.database
        assert engine.dialect.name == "sqlite" and path, "only for SQLite database files"
        self.path = path
        self.engine = engine
        sa.event.listen(engine, "connect", _no_autocheckpoint)
        engine.dispose()  # pooled connections made before the listener open again with it
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)  # made and used on this thread
        try:
            while not self._stopping:
                self._wake.wait(self.INTERVAL)
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    logging.getLogger("bughound.storage").exception("WAL checkpoint failed")
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint; the engine's commits checkpoint again."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)
        sa.event.remove(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()


def _no_autocheckpoint(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


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
