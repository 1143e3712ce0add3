"""The SQLite deployment's spool: segment files, torn appends, several writers, the cursor."""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bughound.config import Settings
from bughound.spool import open_spool
from bughound.spool.segments import SEGMENT_ID, SegmentSpool
from bughound.storage import schema as t
from bughound.storage.store import Store


def put(spool: SegmentSpool, *bodies: bytes) -> None:
    for body in bodies:
        spool.put_sync(time.time(), {"kind": "envelope", "n": body[:8].decode("latin-1")}, body)


def bodies_of(spool: SegmentSpool, after: int = 0) -> list[bytes]:
    return [r.body for r in spool.peek(after, 1 << 30)]


def segment_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.seg"))


def test_records_come_back_in_order_with_growing_ids(tmp_path: Path) -> None:
    spool = SegmentSpool(tmp_path)
    put(spool, b"first", b"second" * 1000, b"", b"fourth")
    records = spool.peek(0, 10)
    assert [r.body for r in records] == [b"first", b"second" * 1000, b"", b"fourth"]
    assert [r.meta["n"] for r in records] == ["first", "secondse", "", "fourth"]
    assert all(a.id < b.id for a, b in itertools.pairwise(records))
    assert bodies_of(spool, records[1].id) == [b"", b"fourth"]
    assert spool.peek(records[-1].id, 10) == []
    assert spool.peek(0, 2) == records[:2]


def test_full_segments_are_closed_and_digested_ones_deleted(tmp_path: Path) -> None:
    spool = SegmentSpool(tmp_path, segment_bytes=2000)
    put(spool, *(bytes([65 + i]) * 700 for i in range(10)))
    assert len(segment_files(tmp_path)) == 4  # a segment is closed once it holds 2,000 bytes
    records = spool.peek(0, 100)
    assert len(records) == 10
    spool.after_commit(records[:6])
    # Three records fill a segment: the sixth ends the second, so only the first is wholly digested.
    assert records[5].id // SEGMENT_ID == 2
    assert [p.name for p in segment_files(tmp_path)] == [f"{n:016d}.seg" for n in (2, 3, 4)]
    assert bodies_of(spool, records[5].id) == [r.body for r in records[6:]]


def test_an_append_cut_short_is_waited_for_then_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = SegmentSpool(tmp_path)
    put(spool, b"one", b"two", b"three" * 100)
    (segment,) = segment_files(tmp_path)
    os.truncate(segment, segment.stat().st_size - 200)  # a writer killed in the middle of "three"
    # At the end of the newest segment it may be an append in progress: not read, not skipped.
    assert bodies_of(spool) == [b"one", b"two"]
    assert spool.pending() == 2
    put(spool, b"four")  # a later append goes after the torn bytes
    with caplog.at_level(logging.ERROR, logger="bughound.spool"):
        assert bodies_of(spool) == [b"one", b"two", b"four"]
    assert "are not a whole record; skipped" in caplog.text


def test_a_torn_end_of_an_older_segment_is_skipped(tmp_path: Path) -> None:
    spool = SegmentSpool(tmp_path, segment_bytes=1000)
    put(spool, b"a" * 400, b"b" * 400, b"c" * 400)  # "c" fills the first segment
    first = segment_files(tmp_path)[0]
    os.truncate(first, first.stat().st_size - 10)
    put(spool, b"d" * 400)
    assert bodies_of(spool) == [b"a" * 400, b"b" * 400, b"d" * 400]


def test_damaged_bytes_in_the_middle_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = SegmentSpool(tmp_path)
    put(spool, b"one", b"two" * 50, b"three")
    (segment,) = segment_files(tmp_path)
    data = bytearray(segment.read_bytes())
    data[data.index(b"two" * 50) + 7] ^= 0xFF  # a flipped bit: the checksum no longer holds
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="bughound.spool"):
        assert bodies_of(spool) == [b"one", b"three"]
    assert "skipped" in caplog.text


def test_a_failed_append_never_has_its_place_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = SegmentSpool(tmp_path)
    put(spool, b"one")

    def failing_fdatasync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as m:
        m.setattr(os, "fdatasync", failing_fdatasync)
        with pytest.raises(OSError):
            put(spool, b"failed")
    # The reader may already have passed the failed record: later records must not go where it is.
    passed = spool.peek(0, 10)[-1].id
    put(spool, b"three")
    assert len(segment_files(tmp_path)) == 2
    assert bodies_of(spool, passed) == [b"three"]
    # Its client got an error (and will send it again: events are deduplicated by id).
    assert bodies_of(spool) == [b"one", b"failed", b"three"]


def test_spools_have_their_own_magic(tmp_path: Path) -> None:
    """A payload cannot pose as a record: it does not know the magic that starts one."""
    a, b = SegmentSpool(tmp_path / "a"), SegmentSpool(tmp_path / "b")
    put(b, b"inner")
    inner = segment_files(tmp_path / "b")[0].read_bytes()
    put(a, b"x" * 10, inner, b"y")
    (segment,) = segment_files(tmp_path / "a")
    data = segment.read_bytes()
    os.truncate(segment, data.index(inner) + 5)  # cut in the record that carries the other spool's
    put(a, b"z")
    assert bodies_of(a) == [b"x" * 10, b"z"]


@given(
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=12),
    cut=st.floats(0, 1, exclude_max=True),
)
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_cut_anywhere_loses_only_what_follows_it(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], cut: float
) -> None:
    path = tmp_path_factory.mktemp("spool")
    spool = SegmentSpool(path)
    bodies = [bytes([i % 256]) * size for i, size in enumerate(sizes)]
    put(spool, *bodies)
    ends = [r.id % SEGMENT_ID for r in spool.peek(0, 100)]
    (segment,) = segment_files(path)
    at = int(segment.stat().st_size * cut)
    os.truncate(segment, at)
    whole = sum(1 for end in ends if end <= at)
    assert bodies_of(spool) == bodies[:whole]
    put(spool, b"after")
    assert bodies_of(spool) == [*bodies[:whole], b"after"]


_WRITER = """
import sys, time
from bughound.spool.segments import SegmentSpool
spool = SegmentSpool(sys.argv[1], segment_bytes=20000)
for i in range(int(sys.argv[3])):
    spool.put_sync(time.time(), {"writer": sys.argv[2], "i": i}, b"x" * (i % 700))
spool.close()
"""


def test_several_processes_append_at_once(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name, "300"])
        for name in ("a", "b", "c")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    records = SegmentSpool(tmp_path).peek(0, 10000)
    assert len(records) == 900
    for name in ("a", "b", "c"):
        assert [r.meta["i"] for r in records if r.meta["writer"] == name] == list(range(300))
    assert len(segment_files(tmp_path)) > 3


@pytest.fixture
def sqlite_store(settings: Settings, store: Store) -> Store:
    if not settings.is_sqlite:
        pytest.skip("the segment spool is the SQLite deployment's")
    return store


def test_a_claim_moves_the_committed_cursor(settings: Settings, sqlite_store: Store) -> None:
    spool = open_spool(settings, sqlite_store.engine)
    assert isinstance(spool, SegmentSpool)
    put(spool, b"one", b"two", b"three")
    with sqlite_store.write() as conn:
        assert [r.body for r in spool.claim(conn, 2)] == [b"one", b"two"]
    with pytest.raises(RuntimeError), sqlite_store.write() as conn:
        assert [r.body for r in spool.claim(conn, 2)] == [b"three"]
        raise RuntimeError("the worker dies before its transaction commits")
    with sqlite_store.write() as conn:
        claimed = spool.claim(conn, 2)
        assert [r.body for r in claimed] == [b"three"]
    spool.after_commit(claimed)
    with sqlite_store.read() as conn:
        cursor = conn.execute(
            sa.select(t.worker_state.c.value).where(t.worker_state.c.name == "segment_cursor")
        )
        assert cursor.scalar_one() == claimed[-1].id
    assert not spool.has_pending()
    put(spool, b"four")
    assert spool.has_pending()
    spool.close()


def test_a_spool_made_again_is_read_from_its_start(
    settings: Settings, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def fill(prefix: bytes) -> SegmentSpool:
        spool = SegmentSpool(settings.spool_dir, segment_bytes=100)
        put(spool, *(prefix + b" %d " % i + b"." * 100 for i in range(5)))  # a segment each
        return spool

    spool = fill(b"old")
    with sqlite_store.write() as conn:
        claimed = spool.claim(conn, 3)
    spool.after_commit(claimed)
    spool.close()
    # The operator deletes the spool directory and keeps the database: the new spool's segment
    # numbers start again, and the old cursor is not a position in them.
    for path in settings.spool_dir.iterdir():
        path.unlink()
    spool = SegmentSpool(settings.spool_dir, segment_bytes=100)
    with sqlite_store.write() as conn:  # claimed while the new spool is still empty
        assert spool.claim(conn, 10) == []
    spool.close()
    spool = fill(b"new")
    with caplog.at_level(logging.WARNING, logger="bughound.spool"), sqlite_store.write() as conn:
        claimed = spool.claim(conn, 10)
    assert [r.body[:5] for r in claimed] == [b"new %d" % i for i in range(5)]
    assert "is not the spool the digest's cursor was in" in caplog.text
    spool.after_commit(claimed)
    put(spool, b"six")
    with sqlite_store.write() as conn:
        assert [r.body for r in spool.claim(conn, 10)] == [b"six"]
    spool.close()


def test_an_earlier_versions_sqlite_spool_is_adopted(settings: Settings, sqlite_store: Store) -> None:
    legacy = settings.legacy_spool_path
    db = sqlite3.connect(legacy)
    db.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY, received FLOAT, meta BLOB, body BLOB)")
    db.executemany(
        "INSERT INTO spool VALUES (?, ?, ?, ?)",
        [(i, 1.5 * i, b'{"v": 1, "kind": "envelope"}', f"body {i}".encode()) for i in (1, 2, 3)],
    )
    db.commit()
    db.close()
    with sqlite_store.write() as conn:
        conn.execute(t.worker_state.insert().values(name="spool_cursor", value=1))  # record 1 was digested
    spool = open_spool(settings, sqlite_store.engine)
    with sqlite_store.write() as conn:
        claimed = spool.claim(conn, 10)
    assert [(r.received, r.body) for r in claimed] == [(3.0, b"body 2"), (4.5, b"body 3")]
    assert not legacy.exists()
    with sqlite_store.read() as conn:
        names = conn.execute(sa.select(t.worker_state.c.name)).scalars().all()
    assert sorted(names) == ["segment_cursor", "segment_spool"]
    spool.close()
