"""The spool contract, and group commit shared by the backends.

A spool record is `(received, meta, body)`: `meta` is versioned JSON (`"v": 1`) so that a record
written by one release can be digested by the next. The digest claims records inside its own
database transaction, so a batch is digested exactly once even if the worker is killed.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:  # the digest's helper processes import this module without these
    import asyncio

    import sqlalchemy as sa

SPOOL_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class SpoolRecord:
    id: int
    received: float
    meta: dict[str, Any]
    body: bytes


def encode_meta(meta: dict[str, Any]) -> bytes:
    return orjson.dumps({"v": SPOOL_FORMAT_VERSION, **meta})


def decode_meta(raw: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = orjson.loads(raw)
    return meta


Row = tuple[float, bytes, bytes]  # received, encoded meta, body


class Spool(Protocol):
    async def put(self, received: float, meta: dict[str, Any], body: bytes) -> None:
        """Return once the record is durable (fsync'd or committed)."""

    def put_sync(self, received: float, meta: dict[str, Any], body: bytes) -> None: ...

    def claim(self, conn: sa.Connection, limit: int) -> list[SpoolRecord]:
        """Up to `limit` records, oldest first, consumed when `conn`'s transaction commits."""

    def peek(self, after_id: int, limit: int) -> list[SpoolRecord]:
        """Up to `limit` records after `after_id`, read without claiming them, for a worker that
        is the spool's only reader; [] where several workers share it (what the next claim
        returns is unknown)."""

    def after_commit(self, records: Sequence[SpoolRecord]) -> None:
        """Housekeeping once the digest transaction that claimed `records` has committed
        (the worker passes only the last of them: the spool reads no more)."""

    def has_pending(self) -> bool:
        """Cheap check, outside any transaction, whether `claim` may find records."""

    def pending(self) -> int: ...

    def close(self) -> None: ...


class GroupCommitter:
    """Writes records from many requests in one transaction, so one fsync serves them all.

    `write_rows` runs on a dedicated thread; each `put` waits until the batch holding its
    record is durable, and fails if the batch failed.
    """

    def __init__(self, write_rows: Any, max_batch: int = 256) -> None:
        self._write_rows = write_rows
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Row, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="spool-writer", daemon=True)
        self._thread.start()

    async def put(self, row: Row) -> None:
        import asyncio  # here: the digest's helper processes import this module without it

        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((row, future))
        await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                self._write_rows([row for row, _ in batch])
            except BaseException as exc:  # reported to every waiting request
                error = exc
            for _, future in batch:
                future.get_loop().call_soon_threadsafe(_settle, future, error)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)


class GroupCommitSpool:
    """The write side shared by the backends: `put` goes through a GroupCommitter over the
    backend's `_write_rows`, `put_sync` writes one record directly; writes never overlap."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._committer: GroupCommitter | None = None
        self._committer_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def _write_rows(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def _write_serialized(self, rows: list[Row]) -> None:
        with self._write_lock:
            self._write_rows(rows)

    async def put(self, received: float, meta: dict[str, Any], body: bytes) -> None:
        if self._committer is None:
            with self._committer_lock:
                if self._committer is None:
                    self._committer = GroupCommitter(self._write_serialized, self.batch_size)
        await self._committer.put((received, encode_meta(meta), body))

    def put_sync(self, received: float, meta: dict[str, Any], body: bytes) -> None:
        self._write_serialized([(received, encode_meta(meta), body)])

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
            self._committer = None


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
