"""The spool and the digest worker: exactly-once digestion, concurrency, poison records, retention."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from bughound.config import Settings
from bughound.digest.pipeline import digest_records
from bughound.digest.worker import Worker
from bughound.spool import open_spool
from bughound.storage import schema as t
from bughound.storage.digestion import write_batch
from bughound.storage.retention import delete_expired
from bughound.storage.store import Store
from tests.factories import Harness, Project, envelope, error_event


def count(store: Store, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_failed_batch_is_digested_again_not_lost(h: Harness, project: Project, store: Store) -> None:
    for _ in range(3):
        assert h.post_envelope(project, envelope(({"type": "event"}, error_event()))).status_code == 200
    with pytest.raises(RuntimeError), store.write() as conn:
        records = h.worker.spool.claim(conn, 10)
        assert len(records) == 3
        write_batch(conn, digest_records(records))
        raise RuntimeError("the worker dies before its transaction commits")
    assert count(store, t.events) == 0  # rolled back, and the spool still holds the records
    assert h.digest() == 3
    assert count(store, t.events) == 3
    assert h.digest() == 0
    assert h.worker.spool.pending() == 0


def test_a_poison_record_is_set_aside_and_the_rest_digested(
    h: Harness, project: Project, store: Store, settings: Settings
) -> None:
    h.post_envelope(project, envelope(({"type": "event"}, error_event())))
    h.spool.put_sync(time.time(), {"kind": "envelope", "org_id": "not a number"}, b"{}\n")
    h.post_envelope(project, envelope(({"type": "event"}, error_event())))
    h.digest()
    assert count(store, t.events) == 2
    failed = list((Path(settings.data_dir) / "failed").glob("*.meta.json"))
    assert len(failed) == 1
    assert h.worker.spool.pending() == 0


@pytest.mark.postgres
def test_workers_share_a_postgres_spool(settings: Settings, store: Store, project: Project) -> None:
    if settings.is_sqlite:
        pytest.skip("several workers need PostgreSQL (SQLite has one worker per data directory)")
    spool = open_spool(settings, store.engine)
    ids = []
    for _ in range(300):
        event = error_event()
        ids.append(event["event_id"])
        spool.put_sync(
            time.time(),
            {"kind": "envelope", "org_id": 1, "project_id": project.id, "key_id": 1},
            envelope(({"type": "event"}, event)),
        )
    workers = [
        Worker(Settings(**{**settings.__dict__, "digest_batch_size": 7}), store, spool) for _ in range(3)
    ]
    done = [0, 0, 0]

    def run(i: int) -> None:
        while n := workers[i].run_once():
            done[i] += n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(done) == 300
    assert count(store, t.events) == 300
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.sum(t.groups.c.times_seen))).scalar_one() == 300
    spool.close()


def test_retention_deletes_old_events_and_idle_issues(h: Harness, project: Project, store: Store) -> None:
    now = time.time()
    old = error_event(exception={"values": [{"type": "Old", "value": "x"}]}, tags={"k": "v"})
    new = error_event(tags={"k": "v"})
    h.post_envelope(project, envelope(({"type": "event"}, old)))
    h.post_envelope(project, envelope(({"type": "event"}, new)))
    h.digest()
    with store.write() as conn:  # age one event (and its issue) past retention
        conn.execute(
            t.events.update()
            .where(t.events.c.event_id == old["event_id"])
            .values(timestamp=now - 100 * 86400)
        )
        conn.execute(
            t.groups.update().where(t.groups.c.title == "Old: x").values(last_seen=now - 100 * 86400)
        )
    assert delete_expired(store, now - 90 * 86400) == 1
    with store.read() as conn:
        assert [r.event_id for r in conn.execute(sa.select(t.events.c.event_id))] == [new["event_id"]]
        assert [r.title for r in conn.execute(sa.select(t.groups.c.title))] == ["ValueError: bad value"]
        tag_groups = set(conn.execute(sa.select(t.group_tag_values.c.group_id)).scalars())
        assert tag_groups == set(conn.execute(sa.select(t.groups.c.id)).scalars())


def test_retention_deletes_rate_limit_windows_two_days_old(store: Store) -> None:
    now = time.time()
    with store.write() as conn:
        for start in (now - 3 * 86400, now - 3600):
            conn.execute(t.rate_limit_windows.insert().values(key_id=1, window_start=int(start), used=3))
    delete_expired(store, now - 90 * 86400, now)
    with store.read() as conn:
        starts = list(conn.execute(sa.select(t.rate_limit_windows.c.window_start)).scalars())
    assert starts == [int(now - 3600)]


def test_the_worker_checkpoints_sqlites_wal_on_a_thread(settings: Settings, store: Store) -> None:
    if not settings.is_sqlite:
        pytest.skip("a WAL of SQLite's")
    database = Path(store.engine.url.database or "")
    with closing(sqlite3.connect(database)) as db:  # everything so far in the database file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = database.stat().st_mtime_ns
    store.checkpoint_in_background()
    try:
        with store.write() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # no commit waits for one
            conn.execute(t.worker_state.insert().values(name="test", value=1))
        assert database.stat().st_mtime_ns == before  # committed to the WAL only
        deadline = time.monotonic() + 10
        while database.stat().st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert database.stat().st_mtime_ns != before  # the thread copied it into the database file
    finally:
        store.stop_background_checkpoints()
    with store.write() as conn:  # commits checkpoint by themselves again
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
