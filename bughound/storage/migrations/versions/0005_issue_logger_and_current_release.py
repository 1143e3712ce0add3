"""issue logger and the release a "next release" resolution was made against

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

`groups.logger` is the `logger` of an issue's first event (Sentry's `Group.logger`, shown in the
issue's `logger`). `group_resolutions.current_release_version` is the issue's latest release
when it was resolved in the next release (Sentry's `GroupResolution.current_release_version`):
events of that release and older ones do not reopen it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without constraints: SQLite adds them in place, no table rebuild.
    op.add_column("groups", sa.Column("logger", sa.String(length=64), nullable=True))
    op.add_column(
        "group_resolutions", sa.Column("current_release_version", sa.String(length=250), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("group_resolutions") as batch_op:
        batch_op.drop_column("current_release_version")
    # SQLite rebuilds the table to drop a column: keep its AUTOINCREMENT (see 0002).
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "groups", table_kwargs={"sqlite_autoincrement": True} if sqlite else {}
    ) as batch_op:
        batch_op.drop_column("logger")
