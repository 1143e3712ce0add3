"""Ingestion benchmark: how fast Bughound acknowledges and digests realistic error events.

What it measures
    N realistic events (sentry-python 2.x style exceptions of 8-11 KB, 9.2 KB on average: a
    chained cause, 15-21 frames with source context and local variables, breadcrumbs, request,
    user, tags, contexts, modules; 50 distinct error types, each with its own stack, so 50
    issues) are wrapped in envelopes exactly as the SDK does (each with a new event_id),
    compressed (brotli quality 4 or gzip level 9, as the SDK does) and POSTed to
    /api/{project_id}/envelope/ over C keep-alive HTTP/1.1 connections. It reports:

    * accepted events/s: 200 responses divided by the time from the first request sent to the
      last response received; latency p50/p99/max per request; every non-200 status;
    * time until all accepted events are digested (rows in the `events` table), counted from
      the first request sent, and the resulting end-to-end events/s;
    * the peak resident memory of the server and its children (the digest worker), sampled
      every 50 ms over the whole run: the peak of the sum, and each process's own peak;
    * CPU seconds used by the server, the worker and the load generator during the measured
      phase, to see where the machine's cores went.

    and compares them to the targets from the issue (2-core machine, SQLite, load generator on
    the same machine, 20,000 events at concurrency 32): >= 3,000 events/s acknowledged,
    >= 1,500 events/s digested end to end, < 150 MB peak RSS.

    All request bodies are built before the timed phase, and the load generator is raw asyncio
    streams (uvloop when installed) that write pre-encoded requests and parse responses
    minimally, so it takes as little CPU as possible from the server it shares the machine with.
    A warm-up (500 events by default, sent and digested first) is not counted.

How to run it
    make bench
    .venv/bin/python bench/ingest.py --events 20000 --concurrency 32
    .venv/bin/python bench/ingest.py --compression gzip --json
    .venv/bin/python bench/ingest.py --database-url postgresql://user:pw@localhost/postgres

    By default the script starts its own server on a free port with a fresh data directory
    (`bughound migrate`, `bughound setup --json`, `bughound serve`) and stops it at the end.
    With --database-url postgresql://... it creates a database `bughound_bench_<pid>` on that
    server (connecting to the URL's database, with autocommit) and drops it afterwards.

    Against a server that is already running:
    .venv/bin/python bench/ingest.py --dsn http://KEY@127.0.0.1:8000/1 --token TOKEN --server-pid PID
        [--database-url URL]   # to measure digestion by counting rows in its database

    The server's output goes to server.log in the temporary data directory; on failure the
    script prints its last lines (and keeps the directory).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import io
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import psutil

TARGET_ACK_RATE = 3000.0  # events/s acknowledged
TARGET_DIGEST_RATE = 1500.0  # events/s digested, end to end
TARGET_RSS_MB = 150.0  # peak RSS of the server and its children
SDK_VERSION = "2.75.0"
SDK_CLIENT = f"sentry.python/{SDK_VERSION}"
ERROR_TYPES = 50
POLL_INTERVAL = 0.05  # seconds between samples of RSS and of the digested count
MB = 1024 * 1024


def log(message: str) -> None:
    """Progress goes to stderr, so that --json output stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Events: what a Flask app instrumented with sentry-python 2.x sends for an unhandled error.
# --------------------------------------------------------------------------------------------

NOUNS = "Order Payment Invoice Customer Inventory Shipment Session Token Report Webhook".split()
KINDS = ["ValidationError", "NotFoundError", "TimeoutError", "ConflictError", "StateError"]
CAUSES = [
    ("builtins", "KeyError", "'{field}'"),
    ("builtins", "ValueError", "invalid literal for int() with base 10: '{token}'"),
    ("builtins", "TypeError", "unsupported operand type(s) for +: 'NoneType' and 'int'"),
    ("builtins", "ConnectionError", "[Errno 111] Connection refused"),
    ("builtins", "TimeoutError", "timed out after {n}s"),
    ("psycopg.errors", "UniqueViolation", 'duplicate key value violates unique constraint "{noun}_pkey"'),
    (
        "requests.exceptions",
        "ReadTimeout",
        "HTTPSConnectionPool(host='api.{noun}.example', port=443): Read timed out.",
    ),
    ("redis.exceptions", "ConnectionError", "Error 111 connecting to redis:6379. Connection refused."),
]
ENTRY_FRAMES = [  # (module, function) of the framework frames at the bottom of every request
    ("werkzeug.serving", "run_wsgi"),
    ("werkzeug.serving", "execute"),
    ("sentry_sdk.integrations.flask", "sentry_patched_wsgi_app"),
    ("flask.app", "wsgi_app"),
    ("flask.app", "full_dispatch_request"),
    ("flask.app", "dispatch_request"),
]
LIBRARY_FRAMES = [
    ("sqlalchemy.orm.session", "execute"),
    ("sqlalchemy.engine.base", "_execute_context"),
    ("sqlalchemy.engine.default", "do_execute"),
    ("psycopg.cursor", "execute"),
    ("requests.api", "request"),
    ("requests.sessions", "send"),
    ("urllib3.connectionpool", "urlopen"),
    ("redis.client", "execute_command"),
    ("redis.connection", "connect"),
    ("json.decoder", "decode"),
]
APP_AREAS = ["views", "services", "models", "tasks", "clients", "validators", "repositories"]
VERBS = ["create", "update", "load", "charge", "sync", "validate", "refresh", "notify", "render", "apply"]
IDENTS = ["order", "payment", "customer", "items", "amount", "result", "session", "payload", "retries", "row"]
LINE_TEMPLATES = [
    "{a} = {verb}_{b}({c})",
    "if {a} is None:",
    "raise {exc}({a}.id)",
    "return {verb}({a}, {c}=True)",
    "for {a} in self.{b}:",
    "self.{a} = {b}[{c!r}]",
    'log.debug("{verb} %s", {a})',
    "with db.begin() as {a}:",
    "except {exc}:",
    "{a}.append({b})",
    "try:",
    "# retry once: flaky {noun} API",
    "assert {a}, {b!r}",
]
BREADCRUMB_MESSAGES = [
    "Fetching {noun} {n} from cache",
    "Cache miss for {noun}:{n}",
    "Retrying {verb} after 200 ms",
    "User {n} authenticated via session cookie",
    "Applying {noun} rules v{n}",
]
MODULES = dict(  # `modules`, as the Modules integration reports installed packages
    pair.split("==")
    for pair in f"flask==3.1.0 werkzeug==3.1.3 jinja2==3.1.4 sqlalchemy==2.0.36 psycopg==3.2.3 "
    f"requests==2.32.3 urllib3==2.2.3 redis==5.2.1 celery==5.4.0 gunicorn==23.0.0 sentry-sdk=={SDK_VERSION} "
    "pydantic==2.10.3 certifi==2024.8.30 idna==3.10".split()
)
INTEGRATIONS = "argv atexit dedupe excepthook flask logging modules redis sqlalchemy stdlib threading".split()


def _code_line(rng: random.Random, indent: int, exc: str, noun: str) -> str:
    template = rng.choice(LINE_TEMPLATES)
    a, b, c = rng.sample(IDENTS, 3)
    line = template.format(
        a=a, b=b, c=c, n=rng.randint(1, 30), verb=rng.choice(VERBS), exc=exc, noun=noun.lower()
    )
    return " " * indent + line


@dataclasses.dataclass(frozen=True)
class FrameTemplate:
    """One frame of a fixed call stack: everything but the local variables' values."""

    data: dict[str, Any]
    var_names: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ErrorType:
    name: str
    module: str
    noun: str
    cause: tuple[str, str, str]
    cause_frames: tuple[FrameTemplate, ...]
    frames: tuple[FrameTemplate, ...]
    route: str  # the transaction name


def _frame(
    rng: random.Random, module: str, function: str, in_app: bool, exc: str, noun: str
) -> FrameTemplate:
    path = module.replace(".", "/") + ".py"
    if in_app:
        abs_path = f"/app/{path}"
    else:
        abs_path = f"/app/.venv/lib/python3.12/site-packages/{path}"
    data: dict[str, Any] = {
        "filename": path,
        "abs_path": abs_path,
        "function": function,
        "module": module,
        "lineno": rng.randint(20, 900),
        # One line of source either side (sentry-python sends up to 5): keeps events near 8 KB.
        "pre_context": [_code_line(rng, 4, exc, noun)],
        "context_line": _code_line(rng, 8, exc, noun),
        "post_context": [_code_line(rng, 4, exc, noun)],
        "in_app": in_app,
    }
    var_names = tuple(rng.sample(IDENTS, rng.choice([1, 1, 2]))) if in_app else ()
    return FrameTemplate(data, var_names)


def _app_frames(rng: random.Random, count: int, exc: str, noun: str) -> list[FrameTemplate]:
    frames = []
    for _ in range(count):
        area = rng.choice(APP_AREAS)
        module = f"shop.{area}.{noun.lower()}"
        frames.append(_frame(rng, module, f"{rng.choice(VERBS)}_{rng.choice(IDENTS)}", True, exc, noun))
    return frames


def make_error_type(index: int) -> ErrorType:
    """Error type `index` (0-49): a fixed exception class, call stack and cause."""
    rng = random.Random(index)
    noun, kind = NOUNS[index % len(NOUNS)], KINDS[index // len(NOUNS) % len(KINDS)]
    name = f"{noun}{kind}"
    cause = CAUSES[index % len(CAUSES)]
    total = rng.randint(15, 21)  # frames, both exceptions together
    cause_count = rng.randint(4, 7)
    outer_app = max(2, total - cause_count - len(ENTRY_FRAMES))
    outer = [_frame(rng, m, f, False, name, noun) for m, f in ENTRY_FRAMES]
    outer += _app_frames(rng, outer_app, name, noun)
    libs = rng.sample(LIBRARY_FRAMES, rng.randint(1, 3))
    inner = _app_frames(rng, cause_count - len(libs), cause[1], noun)
    inner += [_frame(rng, m, f, False, cause[1], noun) for m, f in libs]
    route = f"/api/{noun.lower()}s/<int:{noun.lower()}_id>/{rng.choice(VERBS)}"
    return ErrorType(name, f"shop.errors.{noun.lower()}", noun, cause, tuple(inner), tuple(outer), route)


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # sentry_sdk.utils.format_timestamp


class EventFactory:
    """Builds distinct events: fixed stacks per error type, values that vary like real ones."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.types = [make_error_type(i) for i in range(ERROR_TYPES)]

    def _var(self, name: str) -> str:
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            return str(rng.randint(0, 100000))
        if kind == 1:
            return f"'{name}_{rng.getrandbits(48):012x}'"
        if kind == 2:
            return f"<{name.capitalize()} {rng.randint(1, 99999)}>"
        if kind == 3:
            return f"{rng.random() * 500:.2f}"
        return f"{{'id': {rng.randint(1, 9999)}, 'total': {rng.random() * 500:.2f}}}"

    def _frames(self, templates: Sequence[FrameTemplate]) -> list[dict[str, Any]]:
        return [
            {**t.data, "vars": {name: self._var(name) for name in t.var_names}} if t.var_names else t.data
            for t in templates
        ]

    def build(self, seq: int, public_key: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(event_id, envelope headers, event) for the seq-th event."""
        rng = self.rng
        et = self.types[seq % ERROR_TYPES]
        event_id = uuid.uuid4().hex
        trace_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        object_id = rng.randint(1, 999999)
        user_id = rng.randint(1, 50000)
        field = rng.choice(IDENTS)
        cause_module, cause_type, cause_value = et.cause
        cause_value = cause_value.format(
            field=field, token=f"{rng.getrandbits(24):x}", n=rng.randint(5, 60), noun=et.noun.lower()
        )
        table = f"{et.noun.lower()}s"
        breadcrumbs = []
        for b in range(rng.randint(2, 4)):
            at = _timestamp(now - timedelta(milliseconds=(12 - b) * rng.randint(5, 80)))
            if b % 3 == 2:
                breadcrumbs.append(
                    {
                        "type": "http",
                        "category": "httplib",
                        "level": "info",
                        "timestamp": at,
                        "data": {
                            "url": f"https://api.{et.noun.lower()}.example/v2/{object_id}",
                            "method": "GET",
                            "status_code": 200,
                            "reason": "OK",
                        },
                    }
                )
            elif b % 3 == 1:
                breadcrumbs.append(
                    {
                        "category": "query",
                        "timestamp": at,
                        "message": f"SELECT id, status, total FROM {table} WHERE id = %(id)s",
                        "data": {"db.system": "postgresql", "db.name": "shop"},
                    }
                )
            else:
                message = rng.choice(BREADCRUMB_MESSAGES)
                breadcrumbs.append(
                    {
                        "type": "log",
                        "category": f"shop.{rng.choice(APP_AREAS)}",
                        "level": "info",
                        "timestamp": at,
                        "message": message.format(
                            noun=et.noun.lower(), n=rng.randint(1, 9999), verb=rng.choice(VERBS)
                        ),
                    }
                )
        path = et.route.replace(f"<int:{et.noun.lower()}_id>", str(object_id))
        event: dict[str, Any] = {
            "level": "error",
            "exception": {
                "values": [
                    {
                        "module": None if cause_module == "builtins" else cause_module,
                        "type": cause_type,
                        "value": cause_value,
                        "mechanism": {
                            "type": "chained",
                            "handled": True,
                            "source": "__cause__",
                            "exception_id": 1,
                            "parent_id": 0,
                        },
                        "stacktrace": {"frames": self._frames(et.cause_frames)},
                    },
                    {
                        "module": et.module,
                        "type": et.name,
                        "value": f"{et.noun} {object_id} could not be processed: {cause_type}",
                        "mechanism": {"type": "flask", "handled": False, "exception_id": 0},
                        "stacktrace": {"frames": self._frames(et.frames)},
                    },
                ]
            },
            "event_id": event_id,
            "timestamp": _timestamp(now),
            "contexts": {
                "trace": {
                    "trace_id": trace_id,
                    "span_id": uuid.uuid4().hex[:16],
                    "parent_span_id": None,
                    "op": "http.server",
                    "origin": "auto.http.flask",
                },
                "runtime": {
                    "name": "CPython",
                    "version": "3.12.8",
                    "build": "3.12.8 (main, Dec  4 2024, 20:38:16) [GCC 12.2.0]",
                },
                "os": {
                    "name": "Linux",
                    "version": "6.1.0-28-amd64",
                    "build": "#1 SMP PREEMPT_DYNAMIC Debian",
                },
            },
            "breadcrumbs": {"values": breadcrumbs},
            "tags": {
                "region": rng.choice(["eu-west-1", "us-east-1", "ap-south-1"]),
                "customer_tier": rng.choice(["free", "pro", "enterprise"]),
                "worker": f"gunicorn-{rng.randint(1, 8)}",
            },
            "user": {
                "id": str(user_id),
                "email": f"user{user_id}@example.com",
                "ip_address": f"203.0.113.{rng.randint(1, 254)}",
            },
            "request": {
                "url": f"https://shop.example.com{path}",
                "query_string": f"expand=items&page={rng.randint(1, 9)}",
                "method": rng.choice(["POST", "PUT", "GET"]),
                "env": {"SERVER_NAME": "shop.example.com", "SERVER_PORT": "443"},
                "headers": {
                    "Host": "shop.example.com",
                    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    "X-Request-Id": str(uuid.uuid4()),
                },
                "data": {"id": object_id, "items": [rng.randint(1, 500) for _ in range(3)], "coupon": None},
            },
            "transaction": et.route,
            "transaction_info": {"source": "url"},
            "extra": {"sys.argv": ["/app/.venv/bin/gunicorn", "shop.wsgi:app", "--workers", "4"]},
            "modules": MODULES,
            "release": "shop@1.42.0",
            "environment": "production",
            "server_name": f"web-{rng.randint(1, 6)}",
            "sdk": {
                "name": "sentry.python.flask",
                "version": SDK_VERSION,
                "packages": [{"name": "pypi:sentry-sdk", "version": SDK_VERSION}],
                "integrations": INTEGRATIONS,
            },
            "platform": "python",
        }
        headers = {
            "event_id": event_id,
            "sent_at": _timestamp(datetime.now(UTC)),
            "trace": {
                "trace_id": trace_id,
                "environment": "production",
                "release": "shop@1.42.0",
                "public_key": public_key,
                "sample_rand": f"{rng.random():.6f}",
            },
        }
        return event_id, headers, event


def _json(data: Any) -> bytes:
    return json.dumps(data, allow_nan=False, separators=(",", ":")).encode()  # sentry_sdk.utils.json_dumps


def envelope_bytes(headers: dict[str, Any], event: dict[str, Any]) -> bytes:
    """Serialized as sentry_sdk.envelope.Envelope.serialize() does for one event item."""
    payload = _json(event)
    item = {"type": "event", "content_type": "application/json", "length": len(payload)}
    return b"".join([_json(headers), b"\n", _json(item), b"\n", payload, b"\n"])


def compress(data: bytes, algorithm: str) -> bytes:
    """As sentry_sdk.transport does: brotli quality 4, or gzip level 9."""
    if algorithm == "br":
        return bytes(brotli.compress(data, quality=4))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="w", compresslevel=9) as f:
        f.write(data)
    return out.getvalue()


@dataclasses.dataclass(frozen=True)
class Target:
    host: str
    port: int
    project_id: int
    public_key: str
    path_prefix: str = ""

    @classmethod
    def from_dsn(cls, dsn: str) -> Target:
        parts = urlsplit(dsn)
        if not parts.username or not parts.hostname:
            raise ValueError(f"not a DSN: {dsn!r}")
        prefix, _, project = parts.path.rstrip("/").rpartition("/")
        if parts.scheme != "http":
            raise ValueError("only http:// DSNs are supported (the load generator speaks plain HTTP/1.1)")
        return cls(parts.hostname, parts.port or 80, int(project), parts.username, prefix)

    @property
    def host_header(self) -> str:
        return self.host if self.port == 80 else f"{self.host}:{self.port}"


@dataclasses.dataclass
class Batch:
    """Pre-encoded HTTP requests, ready to write on a socket."""

    requests: list[bytes]
    compressed_bytes: int
    raw_bytes: int
    event_ids: list[str]

    def __len__(self) -> int:
        return len(self.requests)


def build_batch(factory: EventFactory, target: Target, count: int, compression: str) -> Batch:
    head = (
        f"POST {target.path_prefix}/api/{target.project_id}/envelope/ HTTP/1.1\r\n"
        f"Host: {target.host_header}\r\n"
        f"User-Agent: {SDK_CLIENT}\r\n"
        "Content-Type: application/x-sentry-envelope\r\n"
        f"Content-Encoding: {compression}\r\n"
        f"X-Sentry-Auth: Sentry sentry_key={target.public_key}, sentry_version=7, "
        f"sentry_client={SDK_CLIENT}\r\n"
    ).encode()
    requests: list[bytes] = []
    ids: list[str] = []
    compressed_total = raw_total = 0
    for _ in range(count):
        event_id, headers, event = factory.build(len(ids), target.public_key)
        raw = envelope_bytes(headers, event)
        body = compress(raw, compression)
        requests.append(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))
        ids.append(event_id)
        compressed_total += len(body)
        raw_total += len(raw)
    return Batch(requests, compressed_total, raw_total, ids)


# --------------------------------------------------------------------------------------------
# Load generator: C keep-alive connections, raw asyncio streams.
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    started: float = 0.0  # perf_counter of the first request written
    finished: float = 0.0  # perf_counter of the last response read
    latencies: list[float] = dataclasses.field(default_factory=list)  # seconds, completed requests
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    connection_errors: int = 0
    errors: Counter[str] = dataclasses.field(default_factory=Counter)  # distinct failures, counted
    cpu_seconds: float = 0.0  # the load generator's own CPU time (all its threads)

    @property
    def accepted(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    length = 0
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
    body = await reader.readexactly(length) if length else b""
    return status, body, b"\r\nconnection: close" not in lower


async def _connection(
    target: Target,
    requests: list[bytes],
    cursor: list[int],
    result: LoadResult,
    record: Callable[[int], None],
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        while cursor[0] < len(requests):
            index = cursor[0]
            cursor[0] = index + 1
            if not result.started:
                result.started = time.perf_counter()
            start = time.perf_counter()
            try:
                writer.write(requests[index])
                status, body, keep_alive = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                result.connection_errors += 1
                result.errors[f"{type(exc).__name__}: {exc}"] += 1
                writer.close()  # and reconnect; this raises (ending the task) if the server is gone
                reader, writer = await asyncio.open_connection(target.host, target.port)
                continue
            now = time.perf_counter()
            result.latencies.append(now - start)
            result.finished = now
            result.statuses[status] += 1
            if status != 200:
                result.errors[f"HTTP {status}: {body[:200]!r}"] += 1
            record(status)
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection(target.host, target.port)
    finally:
        writer.close()


async def _load(target: Target, batch: Batch, concurrency: int, progress: bool) -> LoadResult:
    result = LoadResult()
    cursor = [0]
    done = [0]
    step = max(1000, len(batch) // 10)

    def record(_status: int) -> None:
        done[0] += 1
        if progress and done[0] % step == 0:
            log(f"  {done[0]}/{len(batch)} acknowledged")

    cpu = time.process_time()
    tasks = [
        asyncio.create_task(_connection(target, batch.requests, cursor, result, record))
        for _ in range(min(concurrency, len(batch)))
    ]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    result.cpu_seconds = time.process_time() - cpu
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    for failure in failures:
        result.errors[f"connection task ended: {type(failure).__name__}: {failure}"] += 1
    if failures and not result.latencies:
        raise RuntimeError(f"could not send anything: {failures[0]!r}")
    return result


def send(target: Target, batch: Batch, concurrency: int, progress: bool = True) -> LoadResult:
    """Send every request of `batch` over `concurrency` connections; return when all are answered."""
    coro = _load(target, batch, concurrency, progress)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# --------------------------------------------------------------------------------------------
# Measuring the server: memory and CPU of its processes, digested events in its database.
# --------------------------------------------------------------------------------------------


def _process_label(proc: psutil.Process, root_pid: int) -> str:
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        cmdline = []
    if proc.pid == root_pid:
        role = "server"
    elif "bughound.digest.pool" in cmdline:
        role = "digest helper"
    elif "worker" in cmdline:
        role = "digest worker"
    else:
        role = proc.name()
    return f"{role} (pid {proc.pid})"


class ProcessSampler(threading.Thread):
    """Samples the RSS of a process and all its descendants every `interval` seconds."""

    def __init__(self, pid: int, interval: float = POLL_INTERVAL) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stopping = threading.Event()
        self.peak_total = 0
        self.peaks: dict[str, int] = {}
        self.samples = 0
        self._procs: dict[int, tuple[psutil.Process, str]] = {}
        self._lock = threading.Lock()  # processes() is called from this thread and the main one

    def processes(self) -> list[tuple[psutil.Process, str]]:
        try:
            found = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []
        out = []
        with self._lock:
            for proc in found:
                known = self._procs.get(proc.pid)
                if known is None or known[0] != proc:  # new process (or a reused pid)
                    known = (proc, _process_label(proc, self.root.pid))
                    self._procs[proc.pid] = known
                out.append(known)
        return out

    def sample(self) -> None:
        total = 0
        for proc, label in self.processes():
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            if rss > self.peaks.get(label, 0):
                self.peaks[label] = rss
        self.peak_total = max(self.peak_total, total)
        self.samples += 1

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each process, by label."""
        out = {}
        for proc, label in self.processes():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            out[label] = times.user + times.system
        return out

    def pss(self) -> dict[str, int]:
        """Proportional set size of each process now (shared pages split between their users)."""
        out = {}
        for proc, label in self.processes():
            try:
                out[label] = proc.memory_full_info().pss
            except (psutil.Error, AttributeError):
                continue
        return out

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class EventCounter:
    """Counts rows in the `events` table: SQLite through sqlite3, PostgreSQL through psycopg."""

    def __init__(self, database_url: str) -> None:
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        if database_url.startswith("sqlite"):
            path = database_url.split("///", 1)[1]
            self._sqlite = sqlite3.connect(path, timeout=30, check_same_thread=False)
        else:
            import psycopg

            self._pg = psycopg.connect(_libpq_url(database_url), autocommit=True)

    def count(self) -> int:
        if self._sqlite is not None:
            return int(self._sqlite.execute("SELECT count(*) FROM events").fetchone()[0])
        return int(self._pg.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()


def wait_for_count(
    counter: EventCounter, target: int, timeout: float, alive: Callable[[], bool] = lambda: True
) -> tuple[float | None, int]:
    """Poll until `target` rows exist: (perf_counter when seen, or None on timeout; last count)."""
    deadline = time.perf_counter() + timeout
    while True:
        count = counter.count()
        now = time.perf_counter()
        if count >= target:
            return now, count
        if now > deadline or not alive():
            return None, count
        time.sleep(POLL_INTERVAL)


def _libpq_url(database_url: str) -> str:
    """A URL that psycopg accepts (no SQLAlchemy `+driver`)."""
    import sqlalchemy as sa

    url = sa.make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_postgres_database(server_url: str) -> Iterator[str]:
    """Create `bughound_bench_<pid>` on the server of `server_url`; drop it afterwards."""
    import psycopg
    import sqlalchemy as sa
    from psycopg import sql

    url = sa.make_url(server_url)
    if url.drivername in ("postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql")
    name = f"bughound_bench_{os.getpid()}"
    admin = _libpq_url(url.render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created PostgreSQL database {name}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        log(f"dropped PostgreSQL database {name}")


# --------------------------------------------------------------------------------------------
# A server of our own: fresh data directory, migrate, setup, serve on a free port.
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerFailed(RuntimeError):
    pass


class LocalServer:
    def __init__(self, database_url: str | None, python: str = sys.executable) -> None:
        self.python = python
        self.data_dir = Path(tempfile.mkdtemp(prefix="bughound-bench-"))
        self.log_path = self.data_dir / "server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url or f"sqlite:///{self.data_dir / 'bughound.sqlite3'}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.setup: dict[str, Any] = {}
        self._log_file: Any = None
        self._children: list[psutil.Process] = []

    def _cmd(self, *args: str) -> list[str]:
        return [
            self.python,
            "-m",
            "bughound",
            "--data-dir",
            str(self.data_dir),
            "--database-url",
            self.database_url,
            "--url",
            self.url,
            *args,
        ]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in (
            "BUGHOUND_DATA_DIR",
            "BUGHOUND_DATABASE_URL",
            "BUGHOUND_URL",
            "BUGHOUND_HOST",
            "BUGHOUND_PORT",
        ):
            env.pop(name, None)
        return env

    def _run(self, *args: str) -> str:
        done = subprocess.run(self._cmd(*args), env=self._env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise ServerFailed(
                f"`bughound {' '.join(args)}` exited with {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def start(self, timeout: float = 60.0) -> None:
        log(f"data directory {self.data_dir}")
        self._run("migrate")
        self.setup = json.loads(self._run("setup", "--json"))
        self._log_file = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            self._cmd("serve", "--port", str(self.port)),
            env=self._env(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerFailed(f"server exited with {self.proc.returncode} during start-up")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerFailed(f"server did not accept connections within {timeout:.0f} s") from None
                time.sleep(0.05)
        log(f"server pid {self.proc.pid} listening on {self.url}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self._children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            self._children = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("server did not stop within 30 s; killing it")
                self.proc.kill()
                self.proc.wait()
        for child in self._children:  # the worker dies with its parent; make sure of it
            try:
                child.wait(timeout=10)
            except psutil.TimeoutExpired:
                child.kill()
            except psutil.Error:
                pass
        if self._log_file is not None:
            self._log_file.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"

    def remove(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The run and its report.
# --------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, round(fraction * len(values) + 0.5) - 1))
    return values[rank]


def _database_label(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return "SQLite"
    return "PostgreSQL " + database_url.rsplit("@", 1)[-1]


def host_reference_ms(rounds: int = 3) -> float:
    """CPU ms of a fixed pure-Python workload (best of `rounds`): how fast this host runs Python.

    The same code on the same machine type has measured up to 2.6x apart from one day to the
    next; compare runs only with this figure beside them (or side by side in one session).
    """
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        table: dict[int, str] = {}
        for i in range(300_000):
            table[i & 4095] = str(i * 7)
        best = min(best, time.process_time() - start)
    return round(best * 1000, 1)


def run_benchmark(
    args: argparse.Namespace,
    target: Target,
    server_pid: int,
    counter: EventCounter | None,
    database: str,
    alive: Callable[[], bool],
) -> dict[str, Any]:
    reference_ms = host_reference_ms()
    log(f"host reference workload: {reference_ms} CPU-ms")
    factory = EventFactory(seed=args.seed)
    log(f"building {args.warmup} + {args.events} {args.compression} envelopes")
    t = time.perf_counter()
    warmup = build_batch(factory, target, args.warmup, args.compression) if args.warmup else None
    batch = build_batch(factory, target, args.events, args.compression)
    log(f"  built in {time.perf_counter() - t:.1f} s")

    sampler = ProcessSampler(server_pid)
    sampler.start()
    try:
        if warmup is not None:
            log(f"warm-up: {len(warmup)} events")
            before = counter.count() if counter else 0
            w = send(target, warmup, args.concurrency, progress=False)
            if counter is not None:
                done, _ = wait_for_count(counter, before + w.accepted, args.digest_timeout, alive)
                if done is None:
                    raise ServerFailed("warm-up events were not digested in time")
            else:
                time.sleep(2.0)
        if args.wait_idle:
            wait_for_idle_machine(sampler, args.wait_idle)
        baseline = counter.count() if counter else 0
        cpu_before = sampler.cpu_seconds()
        machine_before = psutil.cpu_times()
        own_before = time.process_time()
        log(f"sending {len(batch)} events over {args.concurrency} connections")
        load = send(target, batch, args.concurrency)
        sent_done = time.perf_counter()
        machine_acked = psutil.cpu_times()
        backlog = None
        digested_at = None
        digested_count = None
        if counter is not None:
            at_ack = counter.count() - baseline
            backlog = load.accepted - at_ack
            log(f"{load.accepted} acknowledged; {at_ack} digested so far, waiting for the other {backlog}")
            digested_at, last = wait_for_count(counter, baseline + load.accepted, args.digest_timeout, alive)
            digested_count = last - baseline
        cpu_after = sampler.cpu_seconds()
        machine_after = psutil.cpu_times()
        own_cpu = time.process_time() - own_before
        pss = sampler.pss()
        measured_end = digested_at or sent_done
    finally:
        sampler.stop()

    latencies = sorted(load.latencies)
    digest_seconds = (digested_at - load.started) if digested_at else None
    cpu = {label: round(cpu_after[label] - cpu_before.get(label, 0.0), 2) for label in cpu_after}
    cpu["load generator"] = round(own_cpu, 2)  # this process: sending, then polling the database
    # Whatever else ran on the machine meanwhile (a busy neighbour makes the figures meaningless).
    cpu["other processes"] = round(
        max(0.0, _busy_seconds(machine_before, machine_after) - sum(cpu.values())), 2
    )
    return {
        "events": len(batch),
        "concurrency": args.concurrency,
        "compression": args.compression,
        "database": database,
        "warmup_events": args.warmup,
        "body_bytes_compressed_mean": round(batch.compressed_bytes / len(batch)),
        "body_bytes_decompressed_mean": round(batch.raw_bytes / len(batch)),
        "accepted": load.accepted,
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "non_200": {str(k): v for k, v in sorted(load.statuses.items()) if k != 200},
        "connection_errors": load.connection_errors,
        "errors": dict(load.errors.most_common(10)),
        "ack_seconds": round(load.elapsed, 3),
        "accepted_per_second": round(load.accepted / load.elapsed, 1) if load.elapsed > 0 else None,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(latencies[-1] * 1000, 2) if latencies else None,
        },
        "digest_backlog_at_last_ack": backlog,
        "digested": digested_count,
        "digest_seconds": round(digest_seconds, 3) if digest_seconds else None,
        "digested_per_second": round(load.accepted / digest_seconds, 1) if digest_seconds else None,
        "digest_note": None if counter else "not measured: pass --database-url to count digested events",
        "peak_rss_mb": round(sampler.peak_total / MB, 1),
        "peak_rss_mb_by_process": {k: round(v / MB, 1) for k, v in sampler.peaks.items()},
        "rss_samples": sampler.samples,
        "pss_mb_at_end": round(sum(pss.values()) / MB, 1) if pss else None,
        "cpu_seconds": cpu,
        "cpu_us_per_event": {
            label: round(seconds / len(batch) * 1e6)
            for label, seconds in cpu.items()
            if label.startswith(("server", "digest worker"))
        },
        "host_reference_ms": reference_ms,
        "load_generator_cpu_seconds_while_sending": round(load.cpu_seconds, 2),
        "measured_seconds": round(measured_end - load.started, 3),
        "machine_cpu_percent": {
            "while_sending": _machine_cpu(machine_before, machine_acked),
            "whole_measure": _machine_cpu(machine_before, machine_after),
        },
        "last_event_id": batch.event_ids[-1],
    }


def wait_for_idle_machine(sampler: ProcessSampler, timeout: float, window: float = 2.0) -> bool:
    """Wait until processes other than the server and this one use < 10% of a core for `window` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        machine, ours, own = psutil.cpu_times(), sampler.cpu_seconds(), time.process_time()
        time.sleep(window)
        ours_now = sampler.cpu_seconds()
        used = sum(ours_now.values()) - sum(ours.values()) + time.process_time() - own
        other = _busy_seconds(machine, psutil.cpu_times()) - used
        if other < 0.1 * window:
            return True
        log(f"  machine busy: other processes used {other:.1f} CPU-s in {window:.0f} s; waiting")
    log("  the machine did not become idle; measuring anyway")
    return False


def _busy_seconds(before: Any, after: Any) -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting for I/O) between two samples."""
    delta = {name: getattr(after, name) - getattr(before, name) for name in before._fields}
    return sum(delta.values()) - delta.get("idle", 0.0) - delta.get("iowait", 0.0) - delta.get("steal", 0.0)


def _machine_cpu(before: Any, after: Any) -> dict[str, float]:
    """Whole-machine CPU use between two psutil.cpu_times(), in % of all cores (100% = all busy)."""
    delta = {name: getattr(after, name) - getattr(before, name) for name in before._fields}
    total = sum(delta.values()) or 1.0
    idle = delta.get("idle", 0.0) + delta.get("iowait", 0.0)

    def pct(value: float) -> float:
        return round(100 * value / total, 1)

    return {
        "cores": psutil.cpu_count() or 0,
        "busy": pct(total - idle),
        "user": pct(delta.get("user", 0.0) + delta.get("nice", 0.0)),
        "system": pct(delta.get("system", 0.0) + delta.get("irq", 0.0) + delta.get("softirq", 0.0)),
        "iowait": pct(delta.get("iowait", 0.0)),
        "steal": pct(delta.get("steal", 0.0)),
    }


def targets(results: dict[str, Any]) -> list[tuple[str, float | None, str, float, bool | None]]:
    """(figure, value, comparison, target, passed) for each target of the issue."""
    ack = results["accepted_per_second"]
    digested = results["digested_per_second"]
    rss = results["peak_rss_mb"]
    return [
        (
            "acknowledged events/s",
            ack,
            ">=",
            TARGET_ACK_RATE,
            None if ack is None else ack >= TARGET_ACK_RATE,
        ),
        (
            "digested events/s",
            digested,
            ">=",
            TARGET_DIGEST_RATE,
            None if digested is None else digested >= TARGET_DIGEST_RATE,
        ),
        ("peak RSS MB", rss, "<", TARGET_RSS_MB, rss < TARGET_RSS_MB),
    ]


def render(results: dict[str, Any]) -> str:
    r = results
    lat = r["latency_ms"]
    lines = ["", "Bughound ingestion benchmark"]
    other = r["cpu_seconds"].get("other processes", 0.0)
    if other > 0.1 * r["measured_seconds"]:
        lines.append(
            f"  *** other processes used {other:.1f} CPU-s during the {r['measured_seconds']:.1f} s measure: "
            "the machine was not idle, figures are disturbed ***"
        )
    if r["non_200"] or r["connection_errors"] or (r["digest_note"] is None and r["digest_seconds"] is None):
        lines.append("  *** INCOMPLETE RUN: some requests failed or some events were not digested ***")

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<18}{text}")

    row(
        "events", f"{r['events']} (after {r['warmup_events']} warm-up events), concurrency {r['concurrency']}"
    )
    row(
        "compression",
        f"{r['compression']}; mean body {r['body_bytes_compressed_mean']} B compressed, "
        f"{r['body_bytes_decompressed_mean']} B decompressed",
    )
    row("database", r["database"])
    row("acknowledged", f"{r['accepted']} in {r['ack_seconds']:.2f} s = {r['accepted_per_second']} events/s")
    row("latency", f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    row("non-200", f"{r['non_200'] or 'none'}; connection errors {r['connection_errors']}")
    for message, count in r["errors"].items():
        row("", f"{count} x {message}")
    if r["digest_seconds"] is not None:
        row(
            "digested",
            f"all {r['accepted']} in {r['digest_seconds']:.2f} s from the first request = "
            f"{r['digested_per_second']} events/s end to end",
        )
        row("", f"(not yet digested when the last one was acknowledged: {r['digest_backlog_at_last_ack']})")
    elif r["digest_note"]:
        row("digested", r["digest_note"])
    else:
        row("digested", f"INCOMPLETE: only {r['digested']} of {r['accepted']} events digested")
    row("peak RSS", f"{r['peak_rss_mb']} MB (sum of processes, {r['rss_samples']} samples)")
    for label, mb in r["peak_rss_mb_by_process"].items():
        row("", f"{label}: {mb} MB")
    if r["pss_mb_at_end"] is not None:
        row("PSS at end", f"{r['pss_mb_at_end']} MB (sum; shared pages counted once)")
    cpu = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in r["cpu_seconds"].items())
    row("CPU", f"{cpu} (over {r['measured_seconds']:.1f} s measured)")
    per_event = ", ".join(f"{label} {us} us" for label, us in r["cpu_us_per_event"].items())
    row("CPU per event", per_event)
    row("host speed", f"reference workload {r['host_reference_ms']} CPU-ms (lower is faster; see README)")
    for phase, m in r["machine_cpu_percent"].items():
        row(
            "machine CPU" if phase == "while_sending" else "",
            f"{phase.replace('_', ' ')}: {m['busy']}% of {m['cores']} cores busy (user {m['user']}%, "
            f"system {m['system']}%, iowait {m['iowait']}%, steal {m['steal']}%)",
        )
    if "read_back" in r:
        row("read back", r["read_back"])
    lines.append("  targets")
    for name, value, op, goal, passed in targets(r):
        verdict = "n/a " if passed is None else ("PASS" if passed else "MISS")
        lines.append(f"    {verdict}  {name:<22} {value!s:>9}  (target {op} {goal:g})")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--events", type=int, default=20000, help="events to send and measure (default 20000)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument(
        "--compression", choices=["br", "gzip"], default="br", help="body encoding (default br)"
    )
    parser.add_argument("--warmup", type=int, default=500, help="events sent and digested first, not counted")
    parser.add_argument(
        "--database-url",
        help="sqlite:///... or postgresql://...; with our own server, a "
        "PostgreSQL server to create a scratch database on; with --dsn, the server's database, "
        "to count digested events",
    )
    parser.add_argument("--dsn", help="benchmark this running server instead of starting one")
    parser.add_argument(
        "--token", help="with --dsn: an API token of the server (to read back a sample event)"
    )
    parser.add_argument("--org", default="default", help="with --dsn: organization slug (default 'default')")
    parser.add_argument("--project", default="default", help="with --dsn: project slug (default 'default')")
    parser.add_argument("--server-pid", type=int, help="with --dsn: the server's pid, to measure its memory")
    parser.add_argument("--digest-timeout", type=float, default=300.0, help="seconds to wait for digestion")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before measuring, wait up to this long for other processes to leave the CPU alone",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the event generator")
    parser.add_argument("--keep-data", action="store_true", help="keep our server's data directory")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.dsn and args.server_pid is None:
        parser.error("--dsn needs --server-pid (and --token)")
    if (args.token or args.server_pid) and not args.dsn:
        parser.error("--token and --server-pid go with --dsn")
    if args.events < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--events and --concurrency must be positive, --warmup not negative")
    return args


def read_back(target: Target, token: str, org: str, project: str, event_id: str) -> str:
    """Fetch one digested event through the web API: a sanity check that ingestion kept it whole."""
    request = (
        f"GET {target.path_prefix}/api/0/projects/{org}/{project}/events/{event_id}/ HTTP/1.1\r\n"
        f"Host: {target.host_header}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def fetch() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        writer.write(request)
        status, body, _ = await _read_response(reader)
        writer.close()
        return status, body

    status, body = asyncio.run(fetch())
    if status != 200:
        return f"GET event {event_id}: HTTP {status} {body[:200]!r}"
    event = json.loads(body)
    return f"GET event {event_id}: 200, title {event.get('title')!r}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dsn:
        return _main_remote(args)
    postgres = args.database_url is not None and not args.database_url.startswith("sqlite")
    with (
        scratch_postgres_database(args.database_url)
        if postgres
        else _given(args.database_url) as database_url
    ):
        return _main_local(args, database_url)


def _main_remote(args: argparse.Namespace) -> int:
    """Benchmark a server that is already running (--dsn)."""
    target = Target.from_dsn(args.dsn)
    counter = EventCounter(args.database_url) if args.database_url else None
    database = _database_label(args.database_url) if args.database_url else "unknown (server given by --dsn)"
    server = psutil.Process(args.server_pid)
    try:
        results = run_benchmark(args, target, args.server_pid, counter, database, server.is_running)
    finally:
        if counter:
            counter.close()
    if args.token and results["digest_seconds"]:
        results["read_back"] = read_back(target, args.token, args.org, args.project, results["last_event_id"])
    _output(results, args.json)
    return 0 if not (results["non_200"] or results["connection_errors"]) else 1


def _main_local(args: argparse.Namespace, database_url: str | None) -> int:
    """Start a server of our own, benchmark it, stop it."""
    server = LocalServer(database_url)
    error: Exception | None = None
    results: dict[str, Any] = {}
    try:
        server.start()
        assert server.proc is not None
        target = Target.from_dsn(server.setup["dsn"])
        counter = EventCounter(server.database_url)
        try:
            database = _database_label(server.database_url)
            results = run_benchmark(args, target, server.proc.pid, counter, database, server.alive)
        finally:
            counter.close()
        if not server.alive():
            raise ServerFailed(f"server exited with {server.proc.returncode} during the run")
        if results["digest_seconds"]:
            setup = server.setup
            results["read_back"] = read_back(
                target, setup["token"], setup["org"], setup["project"], results["last_event_id"]
            )
    except (ServerFailed, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        error = exc
    finally:
        server.stop()
    if error is not None:
        log(f"FAILED: {error}")
    failed = error is not None or bool(
        results["non_200"] or results["connection_errors"] or not results["digest_seconds"]
    )
    if failed:
        log(f"last lines of {server.log_path}:\n{server.log_tail()}")
        log(f"data directory kept: {server.data_dir}")
    elif not args.keep_data:
        server.remove()
    else:
        log(f"data directory kept: {server.data_dir}")
    if results:
        _output(results, args.json)
    return 1 if failed else 0


@contextmanager
def _given(value: str | None) -> Iterator[str | None]:
    yield value


def _output(results: dict[str, Any], as_json: bool) -> None:
    if as_json:
        results["targets"] = [
            {"figure": name, "value": value, "target": f"{op} {goal:g}", "pass": passed}
            for name, value, op, goal, passed in targets(results)
        ]
        print(json.dumps(results, indent=2))
    else:
        print(render(results))


if __name__ == "__main__":
    sys.exit(main())
