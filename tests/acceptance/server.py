"""A real `bughound serve` process on a free port, for acceptance tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.info = self.cli("setup", "--org", "acme", "--project", "web", "--json", migrate_first=True)
        self.dsn: str = self.info["dsn"]
        self.token: str = self.info["token"]

    def _base(self) -> list[str]:
        cmd = [sys.executable, "-m", "bughound", "--data-dir", str(self.data_dir), "--url", self.url]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        return cmd

    def cli(self, *args: str, migrate_first: bool = False) -> Any:
        if migrate_first:
            subprocess.run([*self._base(), "migrate"], check=True, capture_output=True)
        out = subprocess.run([*self._base(), *args], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*self._base(), "serve", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: serve and its digest worker
            )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start listening in 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the server and its digest worker, as a crash would."""
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def api(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def wait_for_event(self, event_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.time() + timeout
        while True:
            r = self.api(f"/api/0/projects/acme/web/events/{event_id}/")
            if r.status_code == 200:
                return r.json()  # type: ignore[no-any-return]
            if time.time() > deadline:
                raise AssertionError(
                    f"event {event_id} not readable after {timeout} s: {r.status_code} {r.text}"
                )
            time.sleep(0.1)
