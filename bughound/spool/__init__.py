"""Stage 2: persist what ingestion accepted, durably, before it is acknowledged."""

from __future__ import annotations

from bughound.config import Settings
from bughound.spool.base import Spool, SpoolRecord


def open_spool(settings: Settings, engine: object) -> Spool:
    """SQLite deployments spool to segment files of their own; PostgreSQL ones to the `spool` table."""
    if settings.is_sqlite:
        from bughound.spool.segments import SegmentSpool

        return SegmentSpool(settings.spool_dir, settings.spool_batch_size, legacy=settings.legacy_spool_path)
    from bughound.spool.postgres import PostgresSpool

    return PostgresSpool(engine, settings.spool_batch_size)  # type: ignore[arg-type]


__all__ = ["Spool", "SpoolRecord", "open_spool"]
