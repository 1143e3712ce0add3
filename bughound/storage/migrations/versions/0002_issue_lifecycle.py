"""issue lifecycle: active_at, priority, assignee, resolutions, snoozes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # On SQLite the table is rebuilt with AUTOINCREMENT: a deleted issue's id is never handed out again.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "groups",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
    ) as batch_op:
        batch_op.add_column(sa.Column("active_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("assignee_user_id", ID, nullable=True))
        batch_op.add_column(sa.Column("assignee_team_id", ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_groups_assignee_user_id_users"),
            "users",
            ["assignee_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_groups_assignee_team_id_teams"),
            "teams",
            ["assignee_team_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_groups_status_substatus"), ["status", "substatus"], unique=False)
    op.execute(
        "UPDATE groups SET active_at = first_seen, substatus = 7 WHERE status = 0 AND substatus IS NULL"
    )
    op.execute("UPDATE groups SET priority = 75 WHERE level IN ('fatal', 'error')")
    op.execute("UPDATE groups SET priority = 50 WHERE level = 'warning'")
    op.execute("UPDATE groups SET priority = 25 WHERE priority IS NULL")
    # Projects created before Sentry's grouping keep the config their issues were made with.
    op.execute("UPDATE projects SET grouping_config = 'bughound:legacy-0' WHERE grouping_config IS NULL")
    op.create_table(
        "group_resolutions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("release", sa.String(length=250), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("date_added", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_group_resolutions_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_resolutions_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_resolutions")),
        sa.UniqueConstraint("group_id", name=op.f("uq_group_resolutions_group_id")),
    )
    op.create_table(
        "group_snoozes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("until", sa.Float(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("window", sa.Integer(), nullable=True),
        sa.Column("user_count", sa.Integer(), nullable=True),
        sa.Column("user_window", sa.Integer(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("date_added", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_group_snoozes_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_snoozes_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_snoozes")),
        sa.UniqueConstraint("group_id", name=op.f("uq_group_snoozes_group_id")),
    )


def downgrade() -> None:
    op.drop_table("group_snoozes")
    op.drop_table("group_resolutions")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_groups_status_substatus"))
        batch_op.drop_constraint(batch_op.f("fk_groups_assignee_team_id_teams"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_groups_assignee_user_id_users"), type_="foreignkey")
        batch_op.drop_column("assignee_team_id")
        batch_op.drop_column("assignee_user_id")
        batch_op.drop_column("priority")
        batch_op.drop_column("active_at")
