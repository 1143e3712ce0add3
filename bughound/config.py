"""Settings: one explicit, immutable object built by the CLI and passed down.

Every setting can come from a `BUGHOUND_*` environment variable; the CLI options override it.
There is no module-level instance: tests build their own.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file in data_dir
    url: str = ""  # public base URL; empty: from host and port
    host: str = "127.0.0.1"
    port: int = 8000
    retention_days: int = 90
    # Limits, after Relay's defaults and sentry.io's published limits.
    max_request_size: int = 20 * MIB  # compressed body as received
    max_envelope_size: int = 100 * MIB  # decompressed body
    max_event_size: int = 1 * MIB
    max_attachment_size: int = 100 * MIB
    max_attachments_size: int = 100 * MIB
    max_item_size: int = 10 * MIB  # sessions, logs, spans, profiles, anything else
    max_json_depth: int = 128
    # Digest worker.
    digest_batch_size: int = 500
    # Added to the worker's nice value: when the CPU is short, acknowledging new events (the
    # server) goes first and the digest catches up from the spool afterwards. 0 keeps it.
    worker_nice: int = 10
    # Helper processes that digest chunks of each batch beside the worker (the digest is CPU
    # bound and mostly pure). -1: one per CPU core beyond the two that the server and the
    # worker use, at most 3 (none on a 2-core machine). 0: none.
    digest_helpers: int = -1
    # `serve` digests chunks for its worker on a thread while no request is being handled, so a
    # backlog is digested on two cores without another process's memory.
    digest_in_server: bool = True
    spool_batch_size: int = 256

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'bughound.sqlite3'}")
        if not self.url:
            object.__setattr__(self, "url", f"http://{self.host}:{self.port}")
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def digest_helper_count(self) -> int:
        if self.digest_helpers >= 0:
            return self.digest_helpers
        return max(0, min((os.cpu_count() or 1) - 2, 3))

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def legacy_spool_path(self) -> Path:
        """The SQLite spool of earlier development versions (adopted by the worker)."""
        return self.data_dir / "spool.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `BUGHOUND_<FIELD>` variables; keyword overrides win.

        Unknown `BUGHOUND_*` variables are ignored (they may belong to the CLI), unknown
        keyword overrides raise TypeError.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(f"BUGHOUND_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(field.type, raw, field.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)


def _convert(type_name: Any, raw: str, name: str) -> Any:
    if type_name in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"BUGHOUND_{name.upper()} must be an integer, got {raw!r}") from None
    if type_name in ("Path", Path):
        return Path(raw)
    if type_name in ("bool", bool):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"BUGHOUND_{name.upper()} must be true or false, got {raw!r}")
    return raw
