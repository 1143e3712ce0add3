"""Real SDKs and the real CLI, unchanged, against a real `bughound serve` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.acceptance.server import Server

NODE_DIR = Path(__file__).parent / "node"


def run_python(server: Server, code: str) -> dict[str, str]:
    script = textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "SENTRY_DSN": server.dsn},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_python_sdk_events_are_stored_and_read_back(server: Server) -> None:
    ids = run_python(
        server,
        """
        import json, logging, os
        import sentry_sdk

        sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@1.0.0", environment="acceptance",
                        send_default_pii=True)
        sentry_sdk.set_tag("runner", "python")
        sentry_sdk.set_user({"id": "u-1", "email": "jane@example.com", "ip_address": "{{auto}}"})
        sentry_sdk.add_breadcrumb(category="auth", message="signed in")

        def parse(text):
            return int(text)

        ids = {}
        try:
            try:
                parse("abc")
            except ValueError as exc:
                raise RuntimeError("config broken") from exc
        except RuntimeError:
            ids["error"] = sentry_sdk.capture_exception()
        ids["message"] = sentry_sdk.capture_message("plain message", level="warning")
        logging.getLogger("shop").error("order %s failed", "A-17")
        sentry_sdk.flush(10)
        print(json.dumps(ids))
        """,
    )
    error = server.wait_for_event(ids["error"])
    assert error["title"] == "RuntimeError: config broken"
    values = next(e for e in error["entries"] if e["type"] == "exception")["data"]["values"]
    assert [v["type"] for v in values] == ["ValueError", "RuntimeError"]
    assert values[0]["stacktrace"]["frames"][-1]["function"] == "parse"
    tags = {t["key"]: t["value"] for t in error["tags"]}
    assert tags["runner"] == "python"
    assert tags["release"] == "shop@1.0.0"
    assert tags["environment"] == "acceptance"
    assert tags["user"] == "id:u-1"
    assert error["user"]["ip_address"] == "127.0.0.1"  # {{auto}} -> the client's address
    assert error["sdk"]["name"].startswith("sentry.python")
    crumbs = next(e for e in error["entries"] if e["type"] == "breadcrumbs")["data"]["values"]
    assert any(c["message"] == "signed in" for c in crumbs)

    message = server.wait_for_event(ids["message"])
    assert message["message"] == "plain message"
    assert message["type"] == "default"
    assert {t["key"]: t["value"] for t in message["tags"]}["level"] == "warning"

    listing = server.api("/api/0/projects/acme/web/events/")
    titles = {e["title"] for e in listing.json()}
    assert {"RuntimeError: config broken", "plain message", "order A-17 failed"} <= titles


def test_python_sdk_gets_429_and_backs_off(server: Server) -> None:
    """A rate-limited key: the SDK reads X-Sentry-Rate-Limits and stops sending errors."""
    project = server.cli(
        "project", "create", "--org", "acme", "--slug", f"limited-{uuid.uuid4().hex[:6]}", "--json"
    )
    dsn = project["dsn"]
    public_key = dsn.split("//")[1].split("@")[0]
    from bughound.storage.db import create_engine
    from bughound.storage.store import Store

    store = Store(create_engine(server.database_url or f"sqlite:///{server.data_dir / 'bughound.sqlite3'}"))
    with store.write() as conn:
        store.update_project_key(conn, public_key, rate_limit_count=1, rate_limit_window=3600)
    store.engine.dispose()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, time, sentry_sdk
                sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], debug=True)
                for i in range(5):
                    sentry_sdk.capture_message(f"limited {i}")
                    sentry_sdk.flush(5)
                    time.sleep(0.3)
                """
            ),
        ],
        env={**os.environ, "SENTRY_DSN": dsn},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    log = out.stdout + out.stderr
    assert "Rate-limited via x-sentry-rate-limits" in log, log[-3000:]
    # The first error goes through, the second is answered 429, and the SDK sends no more errors.
    assert log.count("items (error)]") == 2, log[-3000:]


needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="Node.js/npm not installed"
)


def run_node(server: Server, script: str, *args: str) -> dict[str, str]:
    """Run a script of tests/acceptance/node (installing @sentry/node on first use) against the
    server's DSN; the ids it prints as its last line of JSON."""
    if not (NODE_DIR / "node_modules" / "@sentry" / "node").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=600,
        )
    out = subprocess.run(
        ["node", script, *args],
        cwd=NODE_DIR,
        env={**os.environ, "SENTRY_DSN": server.dsn},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@needs_node
def test_node_sdk_events_are_stored_and_read_back(server: Server) -> None:
    ids = run_node(server, "send.js")
    error = server.wait_for_event(ids["error"])
    assert error["title"] == "TypeError: not a number: twelve"
    assert error["platform"] == "node"
    frames = next(e for e in error["entries"] if e["type"] == "exception")["data"]["values"][-1][
        "stacktrace"
    ]["frames"]
    assert frames[-1]["function"] == "parseAmount"
    tags = {t["key"]: t["value"] for t in error["tags"]}
    assert tags["runner"] == "node"
    assert tags["release"] == "webapp@3.4.5"
    assert error["user"]["id"] == "n-7"
    assert error["sdk"]["name"] == "sentry.javascript.node"

    cause = server.wait_for_event(ids["cause"])
    values = next(e for e in cause["entries"] if e["type"] == "exception")["data"]["values"]
    assert {v["type"] for v in values} == {"Error", "RangeError"}

    message = server.wait_for_event(ids["message"])
    assert message["message"] == "node says hello"
    assert {t["key"]: t["value"] for t in message["tags"]}["level"] == "warning"
    second = server.wait_for_event(ids["error2"])
    # Thrown from one function but captured from two lines of main(), whose context lines
    # contribute to Sentry's grouping of Node frames: two issues, as in Sentry.
    assert second["groupID"] != error["groupID"]


def test_sentry_cli_send_event(server: Server) -> None:
    cli = shutil.which("sentry-cli") or str(Path(sys.executable).parent / "sentry-cli")
    out = subprocess.run(
        [
            cli,
            "send-event",
            "-m",
            "hello from sentry-cli",
            "--tag",
            "origin:cli",
            "--level",
            "warning",
            "--release",
            "cli@1.0",
        ],
        env={**os.environ, "SENTRY_DSN": server.dsn},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    event_id = next(word for word in (out.stdout + out.stderr).replace("-", "").split() if len(word) == 32)
    event = server.wait_for_event(event_id.lower())
    assert event["message"] == "hello from sentry-cli"
    tags = {t["key"]: t["value"] for t in event["tags"]}
    assert tags["origin"] == "cli"
    assert tags["level"] == "warning"
    assert tags["release"] == "cli@1.0"


def test_digest_worker_yields_the_cpu_to_the_server(server: Server) -> None:
    """`serve` runs its digest worker niced (BUGHOUND_WORKER_NICE, default 10): acknowledging
    comes first when the CPU is short."""
    import psutil

    assert server.proc is not None
    serve = psutil.Process(server.proc.pid)
    workers = [p for p in serve.children() if "worker" in p.cmdline()]
    assert len(workers) == 1
    deadline = time.time() + 30  # the worker renices itself once it has started
    while workers[0].nice() != min(serve.nice() + 10, 19) and time.time() < deadline:
        time.sleep(0.05)
    assert workers[0].nice() == min(serve.nice() + 10, 19)
