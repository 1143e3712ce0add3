"""The SQLite deployment's spool: a WAL database file of its own, `synchronous=FULL`.

Ingestion appends here and never waits on the main database's write lock. The digest keeps
the id of the last record it digested in the main database (`worker_state.spool_cursor`),
updated in the same transaction as the digested data; rows at or below it are then deleted.
Only one worker may digest a SQLite spool: `bughound.digest.worker` holds a file lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from bughound.spool.base import GroupCommitSpool, Row, SpoolRecord, decode_meta
from bughound.storage import schema as t

CURSOR = "spool_cursor"
CACHE_KIB = 256  # page cache per connection (SQLite's default is 2,000 KiB)


class SqliteSpool(GroupCommitSpool):
    def __init__(self, path: Path, batch_size: int = 256) -> None:
        super().__init__(batch_size)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{self.path}")
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            t.spool.create(conn, checkfirst=True)
        engine.dispose()
        self._local = threading.local()
        self._cursor: int | None = None  # last id claimed by this process's worker

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # the commit fsyncs the WAL
            conn.execute("PRAGMA busy_timeout=30000")
            # Records are written once and read once: caching their pages only costs memory.
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._local.conn = conn
        return conn

    def _write_rows(self, rows: list[Row]) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO spool (received, meta, body) VALUES (?, ?, ?)", rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def claim(self, conn: sa.Connection, limit: int) -> list[SpoolRecord]:
        cursor = (
            conn.execute(sa.select(t.worker_state.c.value).where(t.worker_state.c.name == CURSOR)).scalar()
            or 0
        )
        records = self.peek(cursor, limit)
        if not records:
            self._cursor = cursor
            # Rows a crash left behind between the digest's commit and their deletion.
            self._connect().execute("DELETE FROM spool WHERE id <= ?", (cursor,))
        if records:
            last = records[-1].id
            updated = conn.execute(
                t.worker_state.update().where(t.worker_state.c.name == CURSOR).values(value=last)
            ).rowcount
            if not updated:
                conn.execute(t.worker_state.insert().values(name=CURSOR, value=last))
        return records

    def peek(self, after_id: int, limit: int) -> list[SpoolRecord]:
        sql = "SELECT id, received, meta, body FROM spool WHERE id > ? ORDER BY id LIMIT ?"
        rows = self._connect().execute(sql, (after_id, limit)).fetchall()
        return [SpoolRecord(r[0], r[1], decode_meta(r[2]), r[3]) for r in rows]

    def after_commit(self, records: Sequence[SpoolRecord]) -> None:
        if records:
            self._cursor = records[-1].id
            conn = self._connect()
            # The cursor committed with the digest decides what is done: a deletion that a
            # power loss undoes is repeated by the next claim, so it need not wait for fsync.
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.execute("DELETE FROM spool WHERE id <= ?", (records[-1].id,))
            finally:
                conn.execute("PRAGMA synchronous=FULL")

    def has_pending(self) -> bool:
        if self._cursor is None:
            return True  # not claimed yet: the cursor lives in the main database
        row = self._connect().execute("SELECT 1 FROM spool WHERE id > ? LIMIT 1", (self._cursor,)).fetchone()
        return row is not None

    def pending(self) -> int:
        return int(self._connect().execute("SELECT count(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        super().close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
