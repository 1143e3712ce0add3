"""The PostgreSQL deployment's spool: the `spool` table of the main database.

Ingestion commits rows (PostgreSQL fsyncs its WAL on commit); any number of workers claim
them with `DELETE ... FOR UPDATE SKIP LOCKED RETURNING` inside their digest transaction, so a
record disappears exactly when its digested data is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bughound.spool.base import GroupCommitSpool, Row, SpoolRecord, decode_meta

_INSERT = "INSERT INTO spool (received, meta, body) VALUES (%s, %s, %s)"
_CLAIM = sa.text(
    "DELETE FROM spool WHERE id IN "
    "(SELECT id FROM spool ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED) "
    "RETURNING id, received, meta, body"
)


class PostgresSpool(GroupCommitSpool):
    def __init__(self, engine: sa.Engine, batch_size: int = 256) -> None:
        super().__init__(batch_size)
        self.engine = engine
        self._conn: Any = None

    def _write_rows(self, rows: list[Row]) -> None:
        if self._conn is None:
            self._conn = self.engine.raw_connection()
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_INSERT, rows)
            self._conn.commit()
        except BaseException:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()
            finally:
                raise

    def claim(self, conn: sa.Connection, limit: int) -> list[SpoolRecord]:
        rows = sorted(conn.execute(_CLAIM, {"limit": limit}).all(), key=lambda r: r.id)
        return [SpoolRecord(r.id, r.received, decode_meta(bytes(r.meta)), bytes(r.body)) for r in rows]

    def peek(self, after_id: int, limit: int) -> list[SpoolRecord]:
        return []  # other workers may claim them first

    def after_commit(self, records: Sequence[SpoolRecord]) -> None:
        pass

    def has_pending(self) -> bool:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT 1 FROM spool LIMIT 1").first() is not None

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM spool").scalar() or 0)

    def close(self) -> None:
        super().close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
