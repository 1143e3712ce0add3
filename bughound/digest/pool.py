"""Digest a batch on more than one core: helper processes run the pure stage in parallel.

`digest_records` (parse, normalize, scrub, group, compress) is most of the worker's time and
needs nothing but its input, so the worker hands chunks of a claimed batch to helper
processes and digests chunks itself while they work; the results are put back in spool order
and written by the worker in its one transaction, exactly as if it had digested them alone.

A helper is a fresh interpreter (`python -m bughound.digest.pool`) that imports only the
digest stage (no SQL toolkit, no web framework), so each costs little memory. Parent and
helper speak length-prefixed pickles over the helper's stdin and stdout. A helper that dies or
fails hands its chunk back: the worker digests it itself (and a record that cannot be digested
fails there, as it would without helpers). A helper exits when its stdin closes, so it never
outlives the worker, even one killed with SIGKILL.
"""

from __future__ import annotations

import gc
import logging
import pickle
import selectors
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from bughound.digest.pipeline import DigestBatch, digest_records
from bughound.grouping.settings import ProjectGrouping
from bughound.spool.base import SpoolRecord

log = logging.getLogger("bughound.worker")
CHUNK = 25  # records per chunk: small enough to balance the load, large enough to amortize a round trip
RESTART_AFTER = 30.0  # seconds before a helper that died is started again
HELPER_TIMEOUT = 120.0  # seconds a chunk may take in a helper before the worker digests it itself
_HEADER = struct.Struct("!Q")

Task = tuple[list[SpoolRecord], Mapping[int, ProjectGrouping], int, int]


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next value, or EOFError when the other side has gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def merge(parts: list[DigestBatch]) -> DigestBatch:
    """One batch with the parts' contents in the parts' order."""
    merged = DigestBatch()
    for part in parts:
        merged.events.extend(part.events)
        merged.attachments.extend(part.attachments)
        merged.user_reports.extend(part.user_reports)
        merged.outcomes.update(part.outcomes)
    return merged


def chunked(records: list[SpoolRecord], size: int = CHUNK) -> list[list[SpoolRecord]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


class ChunkFailed(Exception):
    """A helper could not digest its chunk (the text is the error it met); it is still running."""


class Helper:
    """One helper process, seen from the worker."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bughound.digest.pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.chunk: int | None = None  # index of the chunk it is working on

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def send(self, index: int, task: Task) -> None:
        assert self.proc.stdin is not None
        write_frame(self.proc.stdin, task)
        self.chunk = index

    def receive(self) -> DigestBatch:
        """The result of the chunk it was given: ChunkFailed if digesting it raised, another
        exception if the helper died or answered garbage."""
        self.chunk = None
        result = read_frame(self.stdout)
        if isinstance(result, DigestBatch):
            return result
        if isinstance(result, str):
            raise ChunkFailed(result)
        raise TypeError(f"digest helper answered a {type(result).__name__}")

    def close(self, kill: bool = False) -> None:
        """Stop it: by closing its input (it finishes its chunk first), or by SIGKILL."""
        try:
            if kill:
                self.proc.kill()
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class DigestPool:
    """`digest()` is `digest_records()` spread over this process and `processes` helpers
    (with none, it digests here, a chunk at a time)."""

    def __init__(self, processes: int, *, retention_days: int, max_json_depth: int) -> None:
        self.processes = processes
        self.retention_days = retention_days
        self.max_json_depth = max_json_depth
        self.helpers: list[Helper] = []
        self._restart_at = 0.0
        self._last_used = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since helpers last digested a chunk (0 while none are running)."""
        return time.monotonic() - self._last_used if self.helpers else 0.0

    def _ensure_helpers(self) -> None:
        if len(self.helpers) >= self.processes or time.monotonic() < self._restart_at:
            return
        try:
            while len(self.helpers) < self.processes:
                self.helpers.append(Helper())
        except OSError:
            log.exception("cannot start a digest helper; digesting in the worker alone")
            self._restart_at = time.monotonic() + RESTART_AFTER

    def _drop(self, helper: Helper) -> None:
        log.warning("digest helper %d stopped (exit code %s)", helper.proc.pid, helper.proc.poll())
        self.helpers.remove(helper)
        helper.close(kill=True)
        self._restart_at = time.monotonic() + RESTART_AFTER

    def digest(self, records: list[SpoolRecord], grouping: Mapping[int, ProjectGrouping]) -> DigestBatch:
        """Takes the records out of `records` (it is empty afterwards), so that each one's body
        is freed as soon as it is digested rather than when the batch has been written."""
        chunks = chunked(records)
        records.clear()
        if len(chunks) > 1:
            self._ensure_helpers()
        if not self.helpers or len(chunks) < 2:
            parts = []
            for index, chunk in enumerate(chunks):
                parts.append(self._local(chunk, grouping))
                chunks[index] = []
            return merge(parts)
        self._last_used = time.monotonic()
        run = _Run(self, chunks, grouping)
        try:
            return run.digest()
        except BaseException:
            # A helper still busy with this batch would answer into the next one: stop it.
            for helper in [h for h in self.helpers if h.chunk is not None]:
                self._drop(helper)
            raise

    def _local(self, records: list[SpoolRecord], grouping: Mapping[int, ProjectGrouping]) -> DigestBatch:
        return digest_records(
            records,
            retention_days=self.retention_days,
            max_json_depth=self.max_json_depth,
            grouping=grouping,
        )

    def close(self) -> None:
        for helper in self.helpers:
            helper.close()
        self.helpers = []


class _Run:
    """One batch being digested by the pool: which chunk is where, and the results so far."""

    def __init__(
        self, pool: DigestPool, chunks: list[list[SpoolRecord]], grouping: Mapping[int, ProjectGrouping]
    ) -> None:
        self.pool = pool
        self.chunks = chunks
        self.grouping = grouping
        self.results: list[DigestBatch | None] = [None] * len(chunks)
        self.todo = list(range(len(chunks) - 1, -1, -1))  # popped from the end: first chunk first
        self.returned: list[int] = []  # chunks a helper could not digest: done here
        self.selector = selectors.DefaultSelector()

    def digest(self) -> DigestBatch:
        with self.selector:
            for helper in list(self.pool.helpers):
                if self.todo:
                    self._hand_out(helper)
            while self.todo or self.returned or self.selector.get_map():
                for key, _ in self.selector.select(timeout=0):
                    self._collect(key.data)
                if self.returned or self.todo:
                    self._digest_here((self.returned or self.todo).pop())
                elif self.selector.get_map():  # only helpers left to wait for
                    ready = self.selector.select(timeout=HELPER_TIMEOUT)
                    for key, _ in ready:
                        self._collect(key.data)
                    if not ready:
                        self._give_up()
        return merge([r for r in self.results if r is not None])

    def _digest_here(self, index: int) -> None:
        """Digest a chunk in this process, a record at a time: between two records, a helper
        that has finished gets its next chunk instead of waiting for the whole chunk."""
        parts = []
        for record in self.chunks[index]:
            parts.append(self.pool._local([record], self.grouping))
            for key, _ in self.selector.select(timeout=0):
                self._collect(key.data)
        self.results[index] = merge(parts)
        self.chunks[index] = []

    def _hand_out(self, helper: Helper) -> None:
        index = self.todo.pop()
        task = (self.chunks[index], self.grouping, self.pool.retention_days, self.pool.max_json_depth)
        try:
            helper.send(index, task)
        except OSError:
            self.returned.append(index)
            self.pool._drop(helper)
            return
        self.selector.register(helper.stdout, selectors.EVENT_READ, helper)

    def _collect(self, helper: Helper) -> None:
        self.selector.unregister(helper.stdout)
        index = helper.chunk
        assert index is not None
        try:
            self.results[index] = helper.receive()
            self.chunks[index] = []
        except ChunkFailed:
            # Digested here instead: a record that fails there fails here too, and the worker's
            # own error handling (records one by one, a bad one set aside) takes over.
            self.returned.append(index)
        except Exception:
            self.returned.append(index)
            self.pool._drop(helper)
            return
        if self.todo:
            self._hand_out(helper)

    def _give_up(self) -> None:
        """Helpers silent for HELPER_TIMEOUT are stopped; their chunks are digested here."""
        for key in list(self.selector.get_map().values()):
            helper: Helper = key.data
            self.selector.unregister(helper.stdout)
            assert helper.chunk is not None
            self.returned.append(helper.chunk)
            log.error("digest helper %d did not answer in %.0f s", helper.proc.pid, HELPER_TIMEOUT)
            self.pool._drop(helper)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The helper's loop: a task in, its DigestBatch (or the error's text) out, until EOF."""
    tasks = 0
    while True:
        try:
            records, grouping, retention_days, max_json_depth = read_frame(stdin)
        except EOFError:
            return
        try:
            result: Any = digest_records(
                records, retention_days=retention_days, max_json_depth=max_json_depth, grouping=grouping
            )
        except Exception as exc:
            result = f"{type(exc).__name__}: {exc}"
        del records
        write_frame(stdout, result)
        tasks += 1
        if tasks & (tasks - 1) == 0 or tasks % 200 == 0:
            # What survives is mostly the grouping caches: keep them out of later collections.
            gc.collect()
            gc.freeze()


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the result stream
    gc.collect()
    gc.freeze()
    try:
        serve(stdin, stdout)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
