"""Crash safety: SIGKILL the server while SDK traffic flows; nothing acknowledged is lost."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bughound.storage import schema as t
from bughound.storage.db import create_engine
from tests.acceptance.server import Server
from tests.conftest import new_postgres_database

pytestmark = pytest.mark.acceptance


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    url = drop = None
    if request.param == "postgres":
        url, drop = new_postgres_database(request.getfixturevalue("postgres_template"))
    srv = Server(tmp_path / "server", url)
    yield srv
    srv.kill()
    if drop:
        drop()  # type: ignore[operator]


def _body(event_id: str) -> bytes:
    event = {
        "event_id": event_id,
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "CrashTest",
                    "value": event_id,
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app.py",
                                "function": f"f{int(event_id[:2], 16) % 7}",
                                "lineno": 1,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        "extra": {"padding": "x" * 2000},
    }
    payload = json.dumps(event).encode()
    header = json.dumps({"event_id": event_id}).encode()
    item = json.dumps({"type": "event", "length": len(payload)}).encode()
    return gzip.compress(header + b"\n" + item + b"\n" + payload + b"\n")


def _sender(server: Server, acked: list[str], stop: threading.Event) -> None:
    key = server.dsn.split("//")[1].split("@")[0]
    project_id = server.dsn.rsplit("/", 1)[1]
    headers = {
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        "Content-Encoding": "gzip",
        "Content-Type": "application/x-sentry-envelope",
    }
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
        while not stop.is_set():
            event_id = uuid.uuid4().hex
            try:
                r = client.post(f"/api/{project_id}/envelope/", content=_body(event_id))
            except httpx.HTTPError:
                return  # the server is gone
            if r.status_code == 200:
                acked.append(event_id)


def _stored(server: Server, event_ids: list[str]) -> set[str]:
    url = server.database_url or f"sqlite:///{server.data_dir / 'bughound.sqlite3'}"
    engine = create_engine(url, poolclass=sa.pool.NullPool)
    found: set[str] = set()
    try:
        with engine.connect() as conn:
            for i in range(0, len(event_ids), 500):
                chunk = event_ids[i : i + 500]
                found.update(
                    conn.execute(
                        sa.select(t.events.c.event_id).where(t.events.c.event_id.in_(chunk))
                    ).scalars()
                )
    finally:
        engine.dispose()
    return found


def test_sigkill_while_sending_loses_nothing_acknowledged(fresh_server: Server) -> None:
    server = fresh_server
    acked: list[str] = []
    for round_ in range(2):
        server.start()
        stop = threading.Event()
        senders = [threading.Thread(target=_sender, args=(server, acked, stop)) for _ in range(8)]
        for s in senders:
            s.start()
        before = len(acked)
        deadline = time.time() + 20
        while len(acked) < before + 300 and time.time() < deadline:
            time.sleep(0.05)
        server.kill()  # SIGKILL to the server and its digest worker, mid-traffic
        stop.set()
        for s in senders:
            s.join(timeout=10)
        assert len(acked) >= before + 300, f"round {round_}: only {len(acked) - before} events acknowledged"

    server.start()
    deadline = time.time() + 60
    missing: set[str] = set(acked)
    while time.time() < deadline:
        missing = set(acked) - _stored(server, acked)
        if not missing:
            break
        time.sleep(0.2)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events were lost"
    server.stop()
