"""The digest worker: claim spooled records -> digest -> write, in one transaction per batch.

Runs inside `bughound serve` (as a child process, so it never shares the HTTP server's GIL) or
alone as `bughound worker`. Several workers may share a PostgreSQL database; a SQLite database
has exactly one, guarded by a file lock. The worker also deletes data past retention.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO

import orjson
import sqlalchemy as sa

from bughound.config import Settings
from bughound.digest.pipeline import DigestBatch
from bughound.digest.pool import PREFETCH, DigestPool, Lender, project_ids
from bughound.spool.base import Spool, SpoolRecord
from bughound.storage.digestion import write_batch
from bughound.storage.issues import auto_ongoing, auto_resolve, clear_expired_snoozes
from bughound.storage.retention import delete_expired
from bughound.storage.store import Store, project_grouping

log = logging.getLogger("bughound.worker")
IDLE_SLEEP = 0.05  # seconds between polls of an empty spool
RETENTION_EVERY = 3600.0
UPKEEP_EVERY = 600.0  # how often issues are checked for the ongoing and auto-resolve transitions
FREEZE_EVERY = 20  # batches between collect-and-freeze passes of the garbage collector
HELPERS_IDLE_STOP = 60.0  # seconds without a backlog after which the digest helpers are stopped


class Worker:
    def __init__(self, settings: Settings, store: Store, spool: Spool, lender_fd: int | None = None) -> None:
        """`lender_fd`: a socket to `bughound serve`'s lending thread (see `bughound.digest.pool`)."""
        self.settings = settings
        self.store = store
        self.spool = spool
        self.stop = threading.Event()
        self._next_retention = 0.0
        self._next_upkeep = 0.0
        self._batches = 0
        self._lock_file: IO[str] | None = None
        self._pool = DigestPool(
            settings.digest_helper_count,
            retention_days=settings.retention_days,
            max_json_depth=settings.max_json_depth,
            lender=Lender(lender_fd) if lender_fd is not None else None,
        )

    def acquire_lock(self) -> None:
        """SQLite: one worker per data directory (the spool cursor assumes it)."""
        if not self.settings.is_sqlite:
            return
        path = Path(self.settings.data_dir) / "worker.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(path, "w")  # held for the life of the worker
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another worker is digesting %s; waiting for it to stop", self.settings.data_dir)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)

    def run_once(self) -> int:
        """Digest one batch; returns how many spool records it consumed."""
        if not self.spool.has_pending():
            return 0
        try:
            with self.store.write() as conn:
                records = self.spool.claim(conn, self.settings.digest_batch_size)
                claimed, last = len(records), records[-1:]
                if records:
                    batch = self._digest(conn, records)  # empties `records`
                    if claimed == self.settings.digest_batch_size:  # a backlog: start on what follows
                        self._prefetch(conn, last[0].id)
                    write_batch(conn, batch)
        except Exception:
            log.exception("digest of a batch failed; retrying its records one by one")
            return self._run_one_by_one()
        self.spool.after_commit(last)
        return claimed

    def _digest(self, conn: sa.Connection, records: list[SpoolRecord]) -> DigestBatch:
        """The batch digested from `records`, which is emptied on the way."""
        return self._pool.digest(records, project_grouping(conn, project_ids(records)))

    def _prefetch(self, conn: sa.Connection, after_id: int) -> None:
        """Let the helpers (or the serving process) start on the next batch while this one is written."""
        if not self._pool.channels:
            return
        ahead = self.spool.peek(after_id, PREFETCH)
        if ahead:
            self._pool.prefetch(ahead, project_grouping(conn, project_ids(ahead)))

    def _run_one_by_one(self) -> int:
        done = 0
        for _ in range(self.settings.digest_batch_size):
            record: SpoolRecord | None = None
            try:
                with self.store.write() as conn:
                    claimed = self.spool.claim(conn, 1)
                    if not claimed:
                        break
                    record = claimed[0]
                    try:
                        with conn.begin_nested():
                            write_batch(conn, self._digest(conn, claimed))
                    except Exception:
                        log.exception("spool record %s cannot be digested; set aside", record.id)
                        self._set_aside(record)
            except Exception:
                log.exception("digest failed; will retry")
                time.sleep(1.0)
                return done
            if record is not None:
                self.spool.after_commit([record])
            done += 1
        return done

    def _set_aside(self, record: SpoolRecord) -> None:
        """Keep a record that cannot be digested, for a later release or a bug report."""
        folder = Path(self.settings.data_dir) / "failed"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record.id}.envelope").write_bytes(record.body)
        (folder / f"{record.id}.meta.json").write_bytes(
            orjson.dumps({"received": record.received, **record.meta})
        )

    def maybe_expire(self, now: float) -> None:
        if now < self._next_retention:
            return
        self._next_retention = now + RETENTION_EVERY
        try:
            removed = delete_expired(self.store, now - self.settings.retention_days * 86400)
            if removed:
                log.info(
                    "retention: deleted %d events older than %d days", removed, self.settings.retention_days
                )
        except Exception:
            log.exception("retention cleanup failed")

    def maybe_upkeep(self, now: float) -> None:
        """The time-driven issue transitions: expired ignores -> unresolved, new/regressed ->
        ongoing, and auto-resolve."""
        if now < self._next_upkeep:
            return
        self._next_upkeep = now + UPKEEP_EVERY
        try:
            with self.store.write() as conn:
                unignored = clear_expired_snoozes(conn, now)
                ongoing = auto_ongoing(conn, now)
                resolved = auto_resolve(conn, now)
            if unignored or ongoing or resolved:
                log.info(
                    "%d ignores expired, %d issues became ongoing, %d were resolved by age",
                    unignored,
                    ongoing,
                    resolved,
                )
        except Exception:
            log.exception("issue upkeep failed")

    def run_forever(self, parent_pid: int | None = None) -> None:
        self.acquire_lock()
        if self.settings.worker_nice > 0:
            os.nice(self.settings.worker_nice)
        # Everything loaded so far lives as long as the process: keep the collector from
        # re-scanning it on every full collection (measured: about 10% of the digest's CPU).
        gc.collect()
        gc.freeze()
        self.store.checkpoint_in_background()
        log.info("digest worker started (pid %d)", os.getpid())
        try:
            self._loop(parent_pid)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the digest helpers (they also stop by themselves when this process is gone)."""
        self._pool.close()
        self.store.stop_background_checkpoints()

    def _loop(self, parent_pid: int | None) -> None:
        while not self.stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("parent process went away; stopping")
                break
            now = time.time()
            self.maybe_expire(now)
            self.maybe_upkeep(now)
            if self.run_once() == 0:
                if self._pool.idle_for() > HELPERS_IDLE_STOP:
                    self._pool.stop_helpers()  # their memory back until the next backlog starts them
                self.stop.wait(IDLE_SLEEP)
            else:
                self._batches += 1
                if self._batches % FREEZE_EVERY == 0:
                    # What survived a few batches is mostly the grouping caches, which live as
                    # long as the process: collect once, then keep them out of later scans too.
                    gc.collect()
                    gc.freeze()
