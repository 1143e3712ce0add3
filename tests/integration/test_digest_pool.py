"""Digest helper processes: the same results as one process, and no record lost when one fails."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa

from bughound.app import Activity
from bughound.config import Settings
from bughound.digest import pool as pool_module
from bughound.digest.pipeline import DigestBatch, digest_records
from bughound.digest.pool import DigestPool, Helper, Lender, chunked, lend, merge
from bughound.grouping.settings import ProjectGrouping
from bughound.spool.base import SpoolRecord
from bughound.storage import schema as t
from bughound.storage.store import Store
from tests.factories import Project, envelope, error_event, harness

META = {"kind": "envelope", "org_id": 1, "project_id": 1, "key_id": 1}


def _error(kind: int) -> dict[str, Any]:
    return error_event(
        exception={
            "values": [
                {
                    "type": f"Error{kind}",
                    "value": f"failed with {uuid.uuid4().hex}",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": f"app/mod{kind}.py",
                                "function": f"f{kind}",
                                "lineno": kind,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        tags={"customer": f"c{kind % 3}"},
    )


def _records(count: int) -> list[SpoolRecord]:
    """Spool records of every kind the digest handles, in spool order (with the envelope's
    event_id, as ingestion spools them: without it, the digest would make up a random one)."""
    records = []
    for i in range(count):
        headers = {"event_id": uuid.uuid4().hex}
        if i % 10 == 3:
            body = envelope(
                ({"type": "event"}, _error(i % 4)),
                ({"type": "attachment", "filename": "log.txt"}, b"attached"),
                headers=headers,
            )
        elif i % 10 == 5:
            body = envelope(({"type": "event"}, b"{not json"), headers=headers)
        elif i % 10 == 7:
            body = envelope(
                (
                    {"type": "client_report"},
                    {"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 2}]},
                )
            )
        elif i % 10 == 8:
            body = envelope(
                ({"type": "transaction"}, {**error_event(), "type": "transaction", "transaction": "/x"}),
                headers=headers,
            )
        else:
            body = envelope(({"type": "event"}, _error(i % 4)), headers=headers)
        records.append(SpoolRecord(i + 1, time.time(), dict(META), body))
    return records


@pytest.fixture
def pool() -> Iterator[DigestPool]:
    running = DigestPool(2, retention_days=90, max_json_depth=128)
    yield running
    running.close()


def test_chunks_and_merge_keep_spool_order() -> None:
    records = _records(60)
    chunks = chunked(records, 25)
    assert [len(c) for c in chunks] == [25, 25, 10]
    assert [r for c in chunks for r in c] == records
    assert merge([digest_records(c) for c in chunks]) == digest_records(records)


def test_helpers_digest_exactly_what_one_process_digests(pool: DigestPool) -> None:
    records = _records(180)
    expected = digest_records(records)
    given = list(records)
    batch = pool.digest(given, {})
    assert given == []  # the pool takes the records out as it goes
    assert len(pool.helpers) == 2
    assert batch == expected
    assert len(batch.events) > 100 and batch.attachments and batch.outcomes


def test_helpers_do_their_share(pool: DigestPool) -> None:
    records = _records(300)
    batch = pool.digest(list(records), {})
    assert len(batch.events) == len(digest_records(records).events)
    for helper in pool.helpers:
        assert helper.proc.poll() is None
        assert helper.chunk is None  # nothing left in flight


def test_a_helper_that_died_hands_its_chunks_back(pool: DigestPool, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _records(120)
    expected = digest_records(records)
    assert pool.digest(list(records), {}) == expected
    for helper in pool.helpers:
        os.kill(helper.proc.pid, signal.SIGKILL)
        helper.proc.wait()
    assert pool.digest(list(records), {}) == expected  # digested here instead
    assert pool.helpers == []
    monkeypatch.setattr(pool_module, "RESTART_AFTER", 0.0)
    pool._restart_at = 0.0
    assert pool.digest(list(records), {}) == expected
    assert len(pool.helpers) == 2  # started again


def test_a_record_that_fails_in_a_helper_fails_in_the_worker(pool: DigestPool) -> None:
    records = _records(100)
    poison = SpoolRecord(50, time.time(), {**META, "org_id": "not a number"}, records[0].body)
    with pytest.raises(ValueError):
        pool.digest([poison, *records[1:]], {})  # the first chunk goes to a helper
    # No answer from that batch may leak into the next one.
    assert pool.digest(list(records), {}) == digest_records(records)


def test_a_helper_reports_a_chunk_it_cannot_digest_and_goes_on() -> None:
    helper = Helper()
    try:
        poison = SpoolRecord(1, time.time(), {**META, "org_id": "not a number"}, b"{}\n")
        helper.send(0, ([poison], {}, 90, 128))
        with pytest.raises(pool_module.ChunkFailed, match="ValueError"):
            helper.receive()
        helper.send(1, (_records(3), {}, 90, 128))
        assert len(helper.receive().events) == 3
    finally:
        helper.close()


def test_a_helper_stops_when_its_input_closes() -> None:
    helper = Helper()
    helper.send(0, (_records(3), {}, 90, 128))
    assert isinstance(helper.receive(), DigestBatch)
    assert helper.proc.stdin is not None
    helper.proc.stdin.close()
    assert helper.proc.wait(timeout=10) == 0
    helper.close()


def test_a_helper_imports_neither_the_sql_toolkit_nor_asyncio() -> None:
    code = (
        "import sys, bughound.digest.pool; "
        "print(sorted(m for m in ('sqlalchemy', 'asyncio', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_helper_count() -> None:
    assert Settings(digest_helpers=0).digest_helper_count == 0
    assert Settings(digest_helpers=2).digest_helper_count == 2
    cores = os.cpu_count() or 1
    assert Settings().digest_helper_count == max(0, min(cores - 2, 3))


def test_the_worker_with_helpers_digests_every_event_once(
    settings: Settings, store: Store, project: Project
) -> None:
    with harness(dataclasses.replace(settings, digest_helpers=1, digest_batch_size=100), store) as h:
        sent = 0
        for i in range(130):
            assert h.post_envelope(project, envelope(({"type": "event"}, _error(i % 3)))).status_code == 200
            sent += 1
        assert h.digest() == sent
        assert len(h.worker._pool.helpers) == 1
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == sent
        times_seen = conn.execute(sa.select(t.groups.c.times_seen).order_by(t.groups.c.id)).scalars().all()
    assert sorted(times_seen) == [43, 43, 44]


class LendingServer:
    """`lend()` on a thread, as `bughound serve` runs it, with a switch for whether it is idle."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.idle = True
        self.asked = 0
        self.thread = threading.Thread(target=lend, args=(ours, self._available), daemon=True)
        self.thread.start()
        self.channel = Lender(theirs.detach())

    def _available(self) -> bool:
        self.asked += 1
        return self.idle


@pytest.fixture
def lending() -> Iterator[LendingServer]:
    server = LendingServer()
    yield server
    server.channel.close()
    server.thread.join(timeout=10)
    assert not server.thread.is_alive()  # closing the worker's end ends the lending thread


def test_the_serving_process_digests_exactly_what_one_process_digests(lending: LendingServer) -> None:
    pool = DigestPool(0, retention_days=90, max_json_depth=128, lender=lending.channel)
    records = _records(150)
    assert pool.digest(list(records), {}) == digest_records(records)
    assert lending.asked > 0  # it took chunks
    assert pool.lender is lending.channel and lending.channel.chunk is None


def test_a_busy_serving_process_declines_and_the_worker_digests_alone(lending: LendingServer) -> None:
    lending.idle = False
    pool = DigestPool(0, retention_days=90, max_json_depth=128, lender=lending.channel)
    records = _records(150)
    assert pool.digest(list(records), {}) == digest_records(records)
    assert lending.asked == 1  # declined once, then left alone for a while
    assert lending.channel.rest_until > time.monotonic()
    assert pool.lender is lending.channel  # still there for the next batch


def test_a_serving_process_that_went_away_hands_its_chunk_back(lending: LendingServer) -> None:
    pool = DigestPool(0, retention_days=90, max_json_depth=128, lender=lending.channel)
    lending.channel.sock.shutdown(socket.SHUT_RDWR)
    records = _records(150)
    assert pool.digest(list(records), {}) == digest_records(records)
    assert pool.lender is None


def test_a_prefetched_head_of_the_next_batch_is_used_once_claimed(lending: LendingServer) -> None:
    pool = DigestPool(0, retention_days=90, max_json_depth=128, lender=lending.channel)
    records = _records(300)
    pool.prefetch(records[:200], {})
    assert lending.channel.chunk == pool_module._AHEAD
    asked = lending.asked
    assert pool.digest(list(records), {}) == digest_records(records)
    assert pool._ahead is None and lending.channel.chunk is None
    assert lending.asked > asked


@pytest.mark.parametrize("change", ["other records", "other grouping", "a smaller batch"])
def test_a_prefetch_that_does_not_match_the_claimed_batch_is_dropped(
    lending: LendingServer, change: str
) -> None:
    pool = DigestPool(0, retention_days=90, max_json_depth=128, lender=lending.channel)
    records = _records(200)
    pool.prefetch(records, {})
    grouping: dict[int, ProjectGrouping] = {}
    if change == "other records":
        records = records[1:]
    elif change == "other grouping":
        grouping = {1: ProjectGrouping(fingerprinting="type:Error1 -> error-one")}
    else:
        records = records[:1]
    expected = digest_records(records, grouping=grouping)
    assert pool.digest(list(records), grouping) == expected
    assert pool._ahead is None and pool.lender is lending.channel
    assert pool.digest(list(records), grouping) == expected  # no stale answer left to read


def test_the_worker_prefetches_with_the_serving_process(
    settings: Settings, store: Store, project: Project
) -> None:
    with harness(dataclasses.replace(settings, digest_helpers=0, digest_batch_size=60), store) as h:
        server = LendingServer()
        pool = h.worker._pool
        pool.lender = server.channel
        sent = 0
        for i in range(200):
            assert h.post_envelope(project, envelope(({"type": "event"}, _error(i % 3)))).status_code == 200
            sent += 1
        with mock.patch.object(pool, "prefetch", wraps=pool.prefetch) as prefetch:
            assert h.digest() == sent
        assert server.asked > 0
        # Only a worker that is its spool's one reader knows what it claims next (SQLite).
        assert prefetch.call_count >= 2 if settings.is_sqlite else prefetch.call_count == 0
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == sent
        times_seen = conn.execute(sa.select(t.groups.c.times_seen).order_by(t.groups.c.id)).scalars().all()
    assert sorted(times_seen) == [66, 67, 67]
    server.thread.join(timeout=10)  # the harness closed the worker, and with it the lender
    assert not server.thread.is_alive()


def test_the_server_lends_only_while_no_request_is_in_flight() -> None:
    activity = Activity()
    assert activity.idle()
    activity.in_flight = 1
    assert not activity.idle()
    activity.in_flight = 0
    activity.last_end = time.monotonic()
    assert not activity.idle()  # just served one: more may follow
    activity.last_end -= Activity.IDLE_AFTER
    assert activity.idle()


def test_lending_can_be_switched_off() -> None:
    assert Settings().digest_in_server is True
    assert Settings.from_env({"BUGHOUND_DIGEST_IN_SERVER": "false"}).digest_in_server is False
    assert Settings.from_env({"BUGHOUND_DIGEST_IN_SERVER": "1"}).digest_in_server is True
    with pytest.raises(ValueError, match="true or false"):
        Settings.from_env({"BUGHOUND_DIGEST_IN_SERVER": "sometimes"})
