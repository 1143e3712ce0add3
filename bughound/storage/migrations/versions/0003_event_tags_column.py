"""event tags and primary hash: `events.tags` instead of one `event_tags` row per tag, and
`events.primary_hash`

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

An event's tags become a JSON text column of its row (`[["key","value"], ...]`, the event's own
tags in order), as Snuba keeps them in arrays of the event: the per-tag rows and their two
indexes were the largest cost of digesting an event. `primary_hash` is the event's first grouping
hash (Sentry lists an issue's hashes by the latest event of each). On SQLite the table is rebuilt
so that both come before the `data` blob (a scan of them never reads through the blob).
"""

from typing import Any

import orjson
import sqlalchemy as sa
import zstandard
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHUNK = 1000
# Tags that are columns of `events`: the old `event_tags` rows never repeated them.
PROMOTED = frozenset({"level", "environment", "release", "dist", "user", "transaction"})


def _tags_and_primary_hash(data: bytes) -> tuple[list[Any], str | None]:
    """The tags and the first grouping hash stored in an event's payload ([], None if the
    payload cannot be read)."""
    try:
        event = orjson.loads(zstandard.ZstdDecompressor().decompress(data))
    except (zstandard.ZstdError, orjson.JSONDecodeError):
        return [], None
    if not isinstance(event, dict):
        return [], None
    tags = event.get("tags")
    pairs = tags if isinstance(tags, list) else []
    hashes = event.get("fingerprint_hashes")
    primary = hashes[0] if isinstance(hashes, list) and hashes and isinstance(hashes[0], str) else None
    return [
        [str(pair[0]), str(pair[1])]
        for pair in pairs
        if isinstance(pair, list) and len(pair) == 2 and pair[0] is not None and pair[1] is not None
    ], primary[:32] if primary else None


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    with op.batch_alter_table("events", schema=None, recreate="always" if sqlite else "auto") as batch_op:
        batch_op.add_column(
            sa.Column("primary_hash", sa.String(length=32), nullable=True),
            insert_before="data" if sqlite else None,
        )
        batch_op.add_column(
            sa.Column("tags", sa.Text(), server_default="[]", nullable=False),
            insert_before="data" if sqlite else None,
        )
    # Fill in the tags and primary hashes of the events stored so far, from their payloads.
    last = 0
    while True:
        rows = conn.execute(
            sa.text("SELECT id, data FROM events WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": CHUNK},
        ).all()
        if not rows:
            break
        updates = []
        for r in rows:
            tags, primary_hash = _tags_and_primary_hash(r.data)
            if tags or primary_hash:
                updates.append({"id": r.id, "tags": orjson.dumps(tags).decode(), "hash": primary_hash})
        if updates:
            conn.execute(
                sa.text("UPDATE events SET tags = :tags, primary_hash = :hash WHERE id = :id"), updates
            )
        last = rows[-1].id
    with op.batch_alter_table("event_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_tags_project_id_key_value"))
        batch_op.drop_index(batch_op.f("ix_event_tags_event_pk"))
    op.drop_table("event_tags")


def downgrade() -> None:
    op.create_table(
        "event_tags",
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["events.id"], name=op.f("fk_event_tags_event_pk_events"), ondelete="CASCADE"
        ),
    )
    with op.batch_alter_table("event_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_tags_event_pk"), ["event_pk"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_event_tags_project_id_key_value"), ["project_id", "key", "value"], unique=False
        )
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                'SELECT id, project_id, group_id, "timestamp", tags FROM events '
                "WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": CHUNK},
        ).all()
        if not rows:
            break
        tag_rows = [
            {"pk": r.id, "p": r.project_id, "g": r.group_id, "ts": r.timestamp, "k": key, "v": value}
            for r in rows
            for key, value in orjson.loads(r.tags)
            if key not in PROMOTED
        ]
        if tag_rows:
            conn.execute(
                sa.text(
                    'INSERT INTO event_tags (event_pk, project_id, group_id, "timestamp", "key", "value") '
                    "VALUES (:pk, :p, :g, :ts, :k, :v)"
                ),
                tag_rows,
            )
        last = rows[-1].id
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("tags")
        batch_op.drop_column("primary_hash")
