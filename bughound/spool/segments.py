"""The SQLite deployment's spool: append-only segment files, fsync'd.

Ingestion appends the records of all concurrent requests with one write and one fdatasync
(group commit, `GroupCommitSpool`), and answers once that returned. Files, not a table: a record
is written once, read once and dropped with its whole segment, so a B-tree, its write-ahead log
and per-row deletions buy nothing here (they cost the server and the worker about 50 µs each per
9.5 KB record; appending costs about 13).

    spool/magic                   16 random bytes chosen when the spool is created
    spool/lock                    writers hold an exclusive flock on it while they append
    spool/0000000000000001.seg    records: magic | received, meta and body sizes | crc32 | meta | body

A record's id is where it ends: segment number << 40 | offset after its last byte. Ids grow in
spool order, and the digest's cursor (`worker_state.segment_cursor`, committed with the digested
rows, so a batch is digested exactly once) is where the next read starts; the database also
keeps which spool it is in (`worker_state.segment_spool`), so a spool directory made again is
read from its start. Segments wholly below the cursor are deleted. Only one worker reads a data
directory (`bughound.digest.worker` holds a file lock); any number of processes may append.

Bytes that are not a whole record (a writer killed mid-append, whose records were therefore never
acknowledged) are skipped with an error in the log: up to the next valid record, found by the
spool's magic (which clients cannot know, so a payload cannot pose as a record), or to the end of
a segment that is no longer the newest. At the end of the newest segment they may be an append in
progress, and are read again later. A failed append is never overwritten: the writer goes on in a
new segment, so a position the reader has passed is never written again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bughound.spool.base import GroupCommitSpool, Row, SpoolRecord, decode_meta

if TYPE_CHECKING:
    import sqlalchemy

log = logging.getLogger("bughound.spool")
CURSOR = "segment_cursor"
SPOOL_IDENTITY = "segment_spool"  # which spool the cursor is in: its magic's first 8 bytes
SEGMENT_BYTES = 32 << 20  # a segment is closed once it holds this much
SEGMENT_ID = 1 << 40  # record id = segment number * SEGMENT_ID + offset after the record
READ_BYTES = 1 << 20  # bytes searched at a time for the next record after damaged ones
MAGIC_BYTES = 16
_HEAD = struct.Struct("<dII")  # received, meta size, body size
_CRC = struct.Struct("<I")  # crc32 of the head, meta and body
PREFIX = MAGIC_BYTES + _HEAD.size + _CRC.size
_SEGMENT_NAME = re.compile(r"^(\d{16})\.seg$")


class SegmentSpool(GroupCommitSpool):
    def __init__(
        self,
        path: Path,
        batch_size: int = 256,
        segment_bytes: int = SEGMENT_BYTES,
        legacy: Path | None = None,
    ) -> None:
        """`legacy`: the SQLite spool file of earlier development versions, adopted by the worker."""
        super().__init__(batch_size)
        self.path = Path(path)
        self.legacy = legacy
        self.path.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._magic: bytes | None = None
        self._lock_fd: int | None = None
        self._writing: tuple[int, int] | None = None  # (number, fd) of the segment appended to
        self._reading: tuple[int, int] | None = None  # (number, fd) of the segment last read
        self._cursor: int | None = None  # the committed cursor, as this process's worker knows it
        self._failed = False  # an append failed: the next one starts a new segment
        # (segment, offset, size) where bytes that are not a whole record end the newest segment:
        # not searched again for a record after them until the segment grows.
        self._stuck: tuple[int, int, int] | None = None

    # -- files

    def _file(self, number: int) -> Path:
        return self.path / f"{number:016d}.seg"

    def _segments(self) -> list[int]:
        return sorted(int(m.group(1)) for name in os.listdir(self.path) if (m := _SEGMENT_NAME.match(name)))

    def _sync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _load_magic(self, create: bool) -> bytes | None:
        """The spool's magic; with `create` (under the writer lock), made when it is missing."""
        if self._magic is None:
            path = self.path / "magic"
            try:
                magic = path.read_bytes()
            except FileNotFoundError:
                if not create:
                    return None
                tmp = self.path / "magic.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    _write_all(fd, os.urandom(MAGIC_BYTES))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, path)
                self._sync_dir()
                magic = path.read_bytes()
            if len(magic) != MAGIC_BYTES:
                raise RuntimeError(
                    f"{path} is damaged: remove the spool directory's magic only if it is empty"
                )
            self._magic = magic
        return self._magic

    # -- writing

    def _write_rows(self, rows: list[Row]) -> None:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            magic = self._load_magic(create=True)
            assert magic is not None
            frames: list[bytes] = []
            for received, meta, body in rows:
                head = _HEAD.pack(received, len(meta), len(body))
                crc = zlib.crc32(body, zlib.crc32(meta, zlib.crc32(head)))
                frames += (magic, head, _CRC.pack(crc), meta, body)
            fd = self._append_target()
            try:
                _write_all(fd, b"".join(frames))
                os.fdatasync(fd)
            except BaseException:
                # What reached the file stays there (skipped or digested, never overwritten):
                # later appends go to a new segment.
                self._close_writing()
                self._failed = True
                raise
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _append_target(self) -> int:
        """The fd to append to (under the writer lock): the newest segment, or a new one when it
        is full, when another process started one, or after an append here failed."""
        if self._writing is not None and self._file(self._writing[0] + 1).exists():
            self._close_writing()  # another writer moved on
        if self._writing is None:
            numbers = self._segments()
            if not numbers:
                self._writing = self._new_segment(1)
            elif self._failed:
                self._writing = self._new_segment(numbers[-1] + 1)
            else:
                fd = os.open(self._file(numbers[-1]), os.O_WRONLY | os.O_APPEND)
                self._writing = (numbers[-1], fd)
            self._failed = False
        number, fd = self._writing
        if os.fstat(fd).st_size >= self.segment_bytes:
            self._close_writing()
            self._writing = self._new_segment(number + 1)
        return self._writing[1]

    def _new_segment(self, number: int) -> tuple[int, int]:
        fd = os.open(self._file(number), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._sync_dir()  # the new name is durable before any record in it is acknowledged
        return number, fd

    def _close_writing(self) -> None:
        if self._writing is not None:
            os.close(self._writing[1])
            self._writing = None

    # -- reading (the worker)

    def claim(self, conn: sqlalchemy.Connection, limit: int) -> list[SpoolRecord]:
        import sqlalchemy as sa

        from bughound.storage import schema as t

        state = t.worker_state.c
        if self._cursor is None and self.legacy is not None and self.legacy.exists():
            self._adopt(conn, self.legacy)
        cursor = conn.execute(sa.select(state.value).where(state.name == CURSOR)).scalar() or 0
        cursor = self._check_identity(conn, cursor)
        if cursor != self._cursor:
            self._cursor = cursor
            self._drop_below(cursor)  # segments a crash left behind after their last commit
        records = self.peek(cursor, limit)
        if records:
            last = records[-1].id
            updated = conn.execute(
                t.worker_state.update().where(state.name == CURSOR).values(value=last)
            ).rowcount
            if not updated:
                conn.execute(t.worker_state.insert().values(name=CURSOR, value=last))
        return records

    def _check_identity(self, conn: sqlalchemy.Connection, cursor: int) -> int:
        """`cursor`, or 0 when it was reached in another spool: the database remembers which spool
        its cursor belongs to (`worker_state.segment_spool`, from the magic), so a spool directory
        deleted and made again is read from its start, not from a position in the old one."""
        import sqlalchemy as sa

        from bughound.storage import schema as t

        state = t.worker_state.c
        known = conn.execute(sa.select(state.value).where(state.name == SPOOL_IDENTITY)).scalar()
        magic = self._load_magic(create=False)
        if magic is None:
            # Nothing appended here yet: a cursor from another spool must not be used (nor its
            # segments dropped) once the first record arrives.
            return 0 if known is not None else cursor
        identity = int.from_bytes(magic[:8], "little", signed=True)
        if known == identity:
            return cursor
        if known is None:
            conn.execute(t.worker_state.insert().values(name=SPOOL_IDENTITY, value=identity))
            return cursor
        log.warning("%s is not the spool the digest's cursor was in: reading it from its start", self.path)
        conn.execute(t.worker_state.update().where(state.name == SPOOL_IDENTITY).values(value=identity))
        conn.execute(t.worker_state.update().where(state.name == CURSOR).values(value=0))
        return 0

    def _adopt(self, conn: sqlalchemy.Connection, legacy: Path) -> None:
        """Append the records left in an earlier version's SQLite spool (those above its cursor,
        `worker_state.spool_cursor`), then delete it. A crash in between adopts them again: their
        events are deduplicated, but outcome-only records would count twice."""
        import sqlite3

        import sqlalchemy as sa

        from bughound.storage import schema as t

        state = t.worker_state.c
        done = conn.execute(sa.select(state.value).where(state.name == "spool_cursor")).scalar() or 0
        db = sqlite3.connect(legacy)
        try:
            rows = db.execute("SELECT received, meta, body FROM spool WHERE id > ? ORDER BY id", (done,))
            while batch := rows.fetchmany(self.batch_size):
                self._write_serialized([(float(r), bytes(m), bytes(b)) for r, m, b in batch])
        except sqlite3.OperationalError:  # no spool table: nothing was spooled
            pass
        finally:
            db.close()
        log.info("adopted the records of %s into %s", legacy, self.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{legacy}{suffix}").unlink(missing_ok=True)
        conn.execute(t.worker_state.delete().where(state.name == "spool_cursor"))

    def peek(self, after_id: int, limit: int) -> list[SpoolRecord]:
        magic = self._load_magic(create=False)
        if magic is None:
            return []
        records: list[SpoolRecord] = []
        number, offset = divmod(after_id, SEGMENT_ID)
        numbers = self._segments()
        if numbers and number not in numbers and number > numbers[-1]:
            log.warning("the spool was emptied behind the digest's back: reading it from its start")
            number, offset = numbers[0], 0
        for n in numbers:
            if len(records) >= limit:
                break
            if n < number:
                continue
            if n > number:
                number, offset = n, 0
            sealed = n != numbers[-1]
            offset, at_end = self._read_segment(n, offset, limit, sealed, magic, records)
            if not (at_end and sealed):
                break
        return records

    def _read_segment(
        self, number: int, offset: int, limit: int, sealed: bool, magic: bytes, out: list[SpoolRecord]
    ) -> tuple[int, bool]:
        """Append records of segment `number` from `offset` to `out` until it holds `limit`;
        returns the offset reached and whether that is the end of what the segment holds."""
        reader = _SegmentReader(self._reader_fd(number))
        while len(out) < limit:
            if offset >= reader.size:
                return offset, True
            record = reader.record(number * SEGMENT_ID, offset, magic)
            if record is None:
                if not sealed and self._stuck == (number, offset, reader.size):
                    return offset, False
                found = reader.next_record(offset + 1, magic)
                if found is None and not sealed:
                    self._stuck = (number, offset, reader.size)
                    return offset, False  # perhaps an append in progress: read it again later
                skipped_to = reader.size if found is None else found
                log.error(
                    "spool segment %s: %d bytes at offset %d are not a whole record; skipped",
                    self._file(number).name,
                    skipped_to - offset,
                    offset,
                )
                offset = skipped_to
                continue
            out.append(record)
            offset = record.id - number * SEGMENT_ID
        return offset, offset >= reader.size

    def _reader_fd(self, number: int) -> int:
        if self._reading is not None and self._reading[0] != number:
            self._close_reading()
        if self._reading is None:
            self._reading = (number, os.open(self._file(number), os.O_RDONLY))
        return self._reading[1]

    def _drop_below(self, cursor: int) -> None:
        """Delete the segments wholly below `cursor` (all their records digested)."""
        current = cursor // SEGMENT_ID
        for number in self._segments():
            if number >= current:
                break
            if self._reading is not None and self._reading[0] == number:
                self._close_reading()
            self._file(number).unlink(missing_ok=True)

    def after_commit(self, records: Sequence[SpoolRecord]) -> None:
        if records:
            self._cursor = records[-1].id
            self._drop_below(self._cursor)

    def has_pending(self) -> bool:
        if self._cursor is None:
            return True  # not claimed yet: the cursor lives in the main database
        return bool(self.peek(self._cursor, 1))

    def pending(self) -> int:
        return len(self.peek(self._cursor or 0, 1 << 62))

    def close(self) -> None:
        super().close()
        self._close_writing()
        self._close_reading()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _close_reading(self) -> None:
        if self._reading is not None:
            os.close(self._reading[1])
            self._reading = None


class _SegmentReader:
    """Records read from one segment file (a read per part: no buffer beyond the record)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size

    def record(self, base_id: int, offset: int, magic: bytes) -> SpoolRecord | None:
        """The whole, valid record at `offset` (its id: `base_id` + where it ends), or None."""
        if offset + PREFIX > self.size:
            return None
        prefix = os.pread(self.fd, PREFIX, offset)
        if prefix[:MAGIC_BYTES] != magic:
            return None
        head = prefix[MAGIC_BYTES : MAGIC_BYTES + _HEAD.size]
        received, meta_size, body_size = _HEAD.unpack(head)
        (crc,) = _CRC.unpack(prefix[MAGIC_BYTES + _HEAD.size :])
        end = offset + PREFIX + meta_size + body_size
        if end > self.size:
            return None
        meta = os.pread(self.fd, meta_size, offset + PREFIX)
        body = os.pread(self.fd, body_size, offset + PREFIX + meta_size)
        if zlib.crc32(body, zlib.crc32(meta, zlib.crc32(head))) != crc:
            return None
        try:
            return SpoolRecord(base_id + end, received, decode_meta(meta), body)
        except ValueError:
            return None

    def next_record(self, start: int, magic: bytes) -> int | None:
        """The offset of the first valid record at or after `start`, if any."""
        position = start
        while position < self.size:
            block = os.pread(self.fd, READ_BYTES + MAGIC_BYTES, position)
            hit = block.find(magic)
            if hit < 0:
                position += READ_BYTES
                continue
            if self.record(0, position + hit, magic) is not None:
                return position + hit
            position += hit + 1
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
