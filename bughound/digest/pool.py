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

The serving process is a helper too, one that costs no memory of its own (`bughound serve`
already holds the digest's code): `lend()` runs on a thread there and takes chunks over a
socket while no HTTP request is being handled, and declines them while one is, so that
acknowledging events always goes first. A server busy with requests has no core to spare; an
idle one (the backlog left after a burst) digests beside the worker on the other core.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import pickle
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from bughound.digest.pipeline import DigestBatch, digest_records
from bughound.grouping.settings import ProjectGrouping
from bughound.spool.base import SpoolRecord

log = logging.getLogger("bughound.worker")
CHUNK = 25  # records per chunk: small enough to balance the load, large enough to amortize a round trip
RESTART_AFTER = 30.0  # seconds before a helper that died is started again
HELPER_TIMEOUT = 120.0  # seconds a chunk may take in a helper before the worker digests it itself
LENDER_REST = 0.25  # seconds the worker leaves a lender alone after it declined a chunk
PREFETCH = 5 * CHUNK  # records of the next batch a channel starts on while the worker writes
_AHEAD = -1  # a channel's `chunk` while it digests records of the next batch
_HEADER = struct.Struct("!Q")

Task = tuple[list[SpoolRecord], Mapping[int, ProjectGrouping], int, int]


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next value, or EOFError when the other side has gone."""
    return pickle.loads(_read_frame_data(stream))


def _read_frame_data(stream: IO[bytes]) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return data


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


class Declined(Exception):
    """A lender was busy serving requests and did not take the chunk."""


class Channel:
    """Where the worker sends chunks and reads their results: a helper process or a lender."""

    label = "a digest helper"
    writer: IO[bytes]
    reader: IO[bytes]  # what the worker waits on

    def __init__(self) -> None:
        self.chunk: int | None = None  # index of the chunk it is working on
        self.rest_until = 0.0  # no chunks for it before this (monotonic) time

    def send(self, index: int, task: Task) -> None:
        write_frame(self.writer, task)
        self.chunk = index

    def receive(self) -> DigestBatch:
        """The result of the chunk it was given: ChunkFailed if digesting it raised, Declined if
        a lender did not take it, another exception if the other side died or answered garbage."""
        self.chunk = None
        result = read_frame(self.reader)
        if isinstance(result, DigestBatch):
            return result
        if isinstance(result, str):
            raise ChunkFailed(result)
        if result is None:
            raise Declined
        raise TypeError(f"{self.label} answered a {type(result).__name__}")

    def close(self, kill: bool = False) -> None:
        raise NotImplementedError


class Helper(Channel):
    """One helper process, seen from the worker."""

    def __init__(self) -> None:
        super().__init__()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bughound.digest.pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.writer, self.reader = self.proc.stdin, self.proc.stdout
        self.label = f"digest helper {self.proc.pid}"

    def close(self, kill: bool = False) -> None:
        """Stop it: by closing its input (it finishes its chunk first), or by SIGKILL."""
        try:
            if kill:
                self.proc.kill()
            self.writer.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.reader.close()


class Lender(Channel):
    """The serving process's `lend()` thread, seen from its worker (over an inherited socket)."""

    label = "the serving process"

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.sock = socket.socket(fileno=fd)
        self.writer, self.reader = self.sock.makefile("wb"), self.sock.makefile("rb")

    def close(self, kill: bool = False) -> None:
        """Closing the socket ends the serving process's lending thread."""
        for stream in (self.writer, self.reader, self.sock):
            try:
                stream.close()
            except OSError:
                pass


@dataclasses.dataclass
class _Ahead:
    """Records of the next batch that a channel is digesting while the worker writes."""

    channel: Channel
    ids: list[int]
    grouping: dict[int, ProjectGrouping | None]  # the settings it used, for each of their projects


def project_ids(records: list[SpoolRecord]) -> set[int]:
    """The projects whose grouping settings digesting `records` reads (0: none given)."""
    return {int(r.meta.get("project_id") or 0) for r in records}


class DigestPool:
    """`digest()` is `digest_records()` spread over this process, `processes` helpers and the
    serving process's `lender` (with none of them, it digests here, a chunk at a time).
    `prefetch()` keeps a channel busy with the next batch while the worker writes this one."""

    def __init__(
        self, processes: int, *, retention_days: int, max_json_depth: int, lender: Lender | None = None
    ) -> None:
        self.processes = processes
        self.retention_days = retention_days
        self.max_json_depth = max_json_depth
        self.helpers: list[Helper] = []
        self.lender = lender
        self._ahead: _Ahead | None = None
        self._restart_at = 0.0
        self._last_used = time.monotonic()

    @property
    def channels(self) -> list[Channel]:
        return [*self.helpers, self.lender] if self.lender is not None else [*self.helpers]

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

    def _drop(self, channel: Channel) -> None:
        if channel is self.lender:
            log.warning("the serving process stopped lending its spare time to the digest")
            self.lender = None  # it is not started again: a new serving process starts a new worker
        else:
            assert isinstance(channel, Helper)
            log.warning("%s stopped (exit code %s)", channel.label, channel.proc.poll())
            self.helpers.remove(channel)
            self._restart_at = time.monotonic() + RESTART_AFTER
        channel.close(kill=True)

    def digest(self, records: list[SpoolRecord], grouping: Mapping[int, ProjectGrouping]) -> DigestBatch:
        """Takes the records out of `records` (it is empty afterwards), so that each one's body
        is freed as soon as it is digested rather than when the batch has been written."""
        ahead = self._take_ahead(records, grouping)
        if ahead is None:
            chunks = chunked(records)
        else:  # its records are the first chunk, already in its hands
            chunks = [records[: len(ahead.ids)], *chunked(records[len(ahead.ids) :])]
        records.clear()
        if len(chunks) > 1:
            self._ensure_helpers()
        if ahead is None and (not self.channels or len(chunks) < 2):
            parts = []
            for index, chunk in enumerate(chunks):
                parts.append(self._local(chunk, grouping))
                chunks[index] = []
            return merge(parts)
        if self.helpers:
            self._last_used = time.monotonic()
        run = _Run(self, chunks, grouping, ahead.channel if ahead is not None else None)
        try:
            return run.digest()
        except BaseException:
            # A channel still busy with this batch would answer into the next one: stop it.
            for channel in [c for c in self.channels if c.chunk is not None]:
                self._drop(channel)
            raise

    def prefetch(self, records: list[SpoolRecord], grouping: Mapping[int, ProjectGrouping]) -> None:
        """Hand the first of `records` (the next batch's, read but not claimed) to an idle channel
        while this process writes the current batch. `digest()` uses the result only if its
        batch starts with the same records and their projects' grouping settings are unchanged."""
        if self._ahead is not None or len(records) < 2 * CHUNK:
            return
        self._ensure_helpers()
        now = time.monotonic()
        channel = next((c for c in self.channels if c.chunk is None and c.rest_until <= now), None)
        if channel is None:
            return
        head = records[:PREFETCH]
        try:
            channel.send(_AHEAD, (head, grouping, self.retention_days, self.max_json_depth))
        except OSError:
            self._drop(channel)
            return
        used = {project_id: grouping.get(project_id) for project_id in project_ids(head)}
        self._ahead = _Ahead(channel, [r.id for r in head], used)

    def _take_ahead(
        self, records: list[SpoolRecord], grouping: Mapping[int, ProjectGrouping]
    ) -> _Ahead | None:
        """The prefetch this batch can use (its channel then holds chunk 0), if any; a prefetch
        of other records is waited for and its result dropped."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if [r.id for r in records[: len(ahead.ids)]] == ahead.ids and all(
            grouping.get(project_id) == used for project_id, used in ahead.grouping.items()
        ):
            ahead.channel.chunk = 0
            return ahead
        channel = ahead.channel
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(channel.reader, selectors.EVENT_READ)
                if not selector.select(timeout=HELPER_TIMEOUT):
                    raise TimeoutError(f"{channel.label} did not answer in {HELPER_TIMEOUT:.0f} s")
            channel.receive()
        except (ChunkFailed, Declined):
            pass
        except Exception:
            log.exception("%s failed", channel.label)
            self._drop(channel)
        return None

    def _local(self, records: list[SpoolRecord], grouping: Mapping[int, ProjectGrouping]) -> DigestBatch:
        return digest_records(
            records,
            retention_days=self.retention_days,
            max_json_depth=self.max_json_depth,
            grouping=grouping,
        )

    def stop_helpers(self) -> None:
        """Stop the helper processes (started again by the next batch that needs them)."""
        if self._ahead is not None and self._ahead.channel in self.helpers:
            self._ahead = None
        for helper in self.helpers:
            helper.close()
        self.helpers = []

    def close(self) -> None:
        self._ahead = None
        self.stop_helpers()
        if self.lender is not None:
            self.lender.close()
            self.lender = None


class _Run:
    """One batch being digested by the pool: which chunk is where, and the results so far."""

    def __init__(
        self,
        pool: DigestPool,
        chunks: list[list[SpoolRecord]],
        grouping: Mapping[int, ProjectGrouping],
        ahead: Channel | None = None,
    ) -> None:
        self.pool = pool
        self.chunks = chunks
        self.grouping = grouping
        self.results: list[DigestBatch | None] = [None] * len(chunks)
        self.todo = list(range(len(chunks) - 1, -1, -1))  # popped from the end: first chunk first
        self.returned: list[int] = []  # chunks a helper could not digest: done here
        self.selector = selectors.DefaultSelector()
        if ahead is not None:  # already digesting chunk 0
            self.todo.pop()
            self.selector.register(ahead.reader, selectors.EVENT_READ, ahead)

    def digest(self) -> DigestBatch:
        with self.selector:
            now = time.monotonic()
            for channel in self.pool.channels:
                if self.todo and channel.chunk is None and channel.rest_until <= now:
                    self._hand_out(channel)
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

    def _hand_out(self, channel: Channel) -> None:
        index = self.todo.pop()
        task = (self.chunks[index], self.grouping, self.pool.retention_days, self.pool.max_json_depth)
        try:
            channel.send(index, task)
        except OSError:
            self.returned.append(index)
            self.pool._drop(channel)
            return
        self.selector.register(channel.reader, selectors.EVENT_READ, channel)

    def _collect(self, channel: Channel) -> None:
        self.selector.unregister(channel.reader)
        index = channel.chunk
        assert index is not None
        try:
            self.results[index] = channel.receive()
            self.chunks[index] = []
        except Declined:
            self.todo.append(index)  # next in line again
            channel.rest_until = time.monotonic() + LENDER_REST
            return
        except ChunkFailed:
            # Digested here instead: a record that fails there fails here too, and the worker's
            # own error handling (records one by one, a bad one set aside) takes over.
            self.returned.append(index)
        except Exception:
            self.returned.append(index)
            self.pool._drop(channel)
            return
        if self.todo:
            self._hand_out(channel)

    def _give_up(self) -> None:
        """Channels silent for HELPER_TIMEOUT are stopped; their chunks are digested here."""
        for key in list(self.selector.get_map().values()):
            channel: Channel = key.data
            self.selector.unregister(channel.reader)
            assert channel.chunk is not None
            self.returned.append(channel.chunk)
            log.error("%s did not answer in %.0f s", channel.label, HELPER_TIMEOUT)
            self.pool._drop(channel)


def serve(stdin: IO[bytes], stdout: IO[bytes], available: Callable[[], bool] | None = None) -> None:
    """The helper's loop: a task in, its DigestBatch (or the error's text) out, until EOF.
    While `available()` is false, each task is declined (answered None) without being read."""
    tasks = 0
    while True:
        try:
            data = _read_frame_data(stdin)
        except EOFError:
            return
        if available is not None and not available():
            write_frame(stdout, None)
            continue
        records, grouping, retention_days, max_json_depth = pickle.loads(data)
        del data
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


def lend(conn: socket.socket, available: Callable[[], bool]) -> None:
    """In the serving process: digest its worker's chunks while `available()` (no request is
    being handled), until the worker closes `conn`. Runs on a thread of its own."""
    reader, writer = conn.makefile("rb"), conn.makefile("wb")
    try:
        serve(reader, writer, available)
    except OSError:
        pass  # the worker went away mid-answer
    except Exception:
        log.exception("lending to the digest failed; the worker digests alone")
    finally:
        for stream in (reader, writer, conn):
            try:
                stream.close()
            except OSError:
                pass


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
