"""The schema, declared once for SQLite and PostgreSQL.

Alembic migrations (storage/migrations/versions) build exactly this; a test compares the two.
Times are UNIX epoch seconds (float): portable, cheap to compare and to bucket by hour.
"""

from __future__ import annotations

import sqlalchemy as sa

# INTEGER PRIMARY KEY is SQLite's rowid alias (autoincrement); BIGINT everywhere else.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column[int]:
    return sa.Column(name, ID, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("date_joined", sa.Float, nullable=False),
)

organizations = sa.Table(
    "organizations",
    metadata,
    _id(),
    sa.Column("slug", sa.String(50), nullable=False, unique=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
)

teams = sa.Table(
    "teams",
    metadata,
    _id(),
    _fk("organization_id", "organizations.id"),
    sa.Column("slug", sa.String(50), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.UniqueConstraint("organization_id", "slug"),
)

# Roles, weakest first: member < admin < manager < owner (Sentry's organization roles).
members = sa.Table(
    "members",
    metadata,
    _id(),
    _fk("organization_id", "organizations.id"),
    _fk("user_id", "users.id"),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.UniqueConstraint("organization_id", "user_id"),
)

team_members = sa.Table(
    "team_members",
    metadata,
    _id(),
    _fk("team_id", "teams.id"),
    _fk("member_id", "members.id"),
    sa.UniqueConstraint("team_id", "member_id"),
)

projects = sa.Table(
    "projects",
    metadata,
    _id(),
    _fk("organization_id", "organizations.id"),
    sa.Column("slug", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("platform", sa.String(64), nullable=True),
    sa.Column("date_added", sa.Float, nullable=False),
    # Next per-project short id (PROJECT-1, PROJECT-2, ...) handed to a new issue.
    sa.Column("next_short_id", sa.BigInteger, nullable=False, server_default="1"),
    # Grouping config pinned for this project (a new config never regroups silently).
    sa.Column("grouping_config", sa.String(64), nullable=True),
    sa.Column("options", sa.JSON, nullable=True),
    sa.UniqueConstraint("organization_id", "slug"),
)

project_teams = sa.Table(
    "project_teams",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("team_id", "teams.id"),
    sa.UniqueConstraint("project_id", "team_id"),
)

project_keys = sa.Table(
    "project_keys",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("label", sa.String(64), nullable=False, server_default="Default"),
    sa.Column("public_key", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_key", sa.String(32), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Sentry's per-key rate limit: at most `rate_limit_count` events per `rate_limit_window` seconds.
    sa.Column("rate_limit_count", sa.Integer, nullable=True),
    sa.Column("rate_limit_window", sa.Integer, nullable=True),
    sa.Column("date_added", sa.Float, nullable=False),
)

auth_tokens = sa.Table(
    "auth_tokens",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    sa.Column("hashed_token", sa.String(64), nullable=False, unique=True),  # sha256 hex
    sa.Column("token_last_characters", sa.String(4), nullable=False),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("last_used_at", sa.Float, nullable=True),
)

# Issues. status: 0 unresolved, 1 resolved, 2 ignored (Sentry's GroupStatus numbering).
groups = sa.Table(
    "groups",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("short_id", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),  # event type: error, default, ...
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("culprit", sa.String(200), nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("platform", sa.String(64), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("substatus", sa.SmallInteger, nullable=True),
    sa.Column("status_details", sa.JSON, nullable=True),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("times_seen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("first_release", sa.String(200), nullable=True),
    sa.Column("resolved_at", sa.Float, nullable=True),
    sa.Column("data", sa.JSON, nullable=True),
    # When the issue last became active: created, regressed, or un-ignored (Sentry's active_at).
    sa.Column("active_at", sa.Float, nullable=True),
    sa.Column("priority", sa.SmallInteger, nullable=True),  # Sentry's PriorityLevel: 25, 50, 75
    _fk("assignee_user_id", "users.id", nullable=True, ondelete="SET NULL"),
    _fk("assignee_team_id", "teams.id", nullable=True, ondelete="SET NULL"),
    sa.Column("logger", sa.String(64), nullable=True),  # the first event's `logger`
    sa.UniqueConstraint("project_id", "short_id"),
    sa.Index(None, "project_id", "last_seen"),
    sa.Index(None, "status", "substatus"),
    sqlite_autoincrement=True,  # ids of deleted issues are never reused
)

# How a resolved issue was resolved, when a release decides whether a new event reopens it
# (Sentry's GroupResolution). type: 0 in release, 1 in next release.
group_resolutions = sa.Table(
    "group_resolutions",
    metadata,
    _id(),
    _fk("group_id", "groups.id"),
    sa.Column("type", sa.SmallInteger, nullable=False),
    sa.Column("release", sa.String(250), nullable=False),
    _fk("actor_id", "users.id", nullable=True, ondelete="SET NULL"),
    sa.Column("date_added", sa.Float, nullable=False),
    # "In next release": the latest release then; it and older releases do not reopen it.
    sa.Column("current_release_version", sa.String(250), nullable=True),
    sa.UniqueConstraint("group_id"),
)

# The conditions of an ignored issue (Sentry's GroupSnooze); `state` holds the counts
# when it was ignored, which the count and user-count conditions are measured from.
group_snoozes = sa.Table(
    "group_snoozes",
    metadata,
    _id(),
    _fk("group_id", "groups.id"),
    sa.Column("until", sa.Float, nullable=True),
    sa.Column("count", sa.Integer, nullable=True),
    sa.Column("window", sa.Integer, nullable=True),
    sa.Column("user_count", sa.Integer, nullable=True),
    sa.Column("user_window", sa.Integer, nullable=True),
    sa.Column("state", sa.JSON, nullable=True),
    _fk("actor_id", "users.id", nullable=True, ondelete="SET NULL"),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.UniqueConstraint("group_id"),
)

group_hashes = sa.Table(
    "group_hashes",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("hash", sa.String(32), nullable=False),
    _fk("group_id", "groups.id"),
    sa.Column("grouping_config", sa.String(64), nullable=False),
    sa.Column("times_seen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.UniqueConstraint("project_id", "hash"),
    sa.Index(None, "group_id"),
)

events = sa.Table(
    "events",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("event_id", sa.String(32), nullable=False),
    _fk("group_id", "groups.id", nullable=True, ondelete="SET NULL"),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("received", sa.Float, nullable=False),
    sa.Column("level", sa.String(16), nullable=True),
    sa.Column("environment", sa.String(64), nullable=True),
    sa.Column("release", sa.String(200), nullable=True),
    sa.Column("dist", sa.String(64), nullable=True),
    sa.Column("platform", sa.String(64), nullable=True),
    sa.Column("user_ident", sa.String(256), nullable=True),  # Sentry's `user` tag: id:, email:, ...
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("culprit", sa.String(200), nullable=True),
    sa.Column("transaction", sa.String(200), nullable=True),
    sa.Column("trace_id", sa.String(32), nullable=True),
    sa.Column("size", sa.Integer, nullable=False),
    # The event's primary grouping hash (its first): the hashes endpoint lists them.
    sa.Column("primary_hash", sa.String(32), nullable=True),
    # The event's tags as JSON text, `[["key","value"], ...]` in the event's order (as Snuba keeps
    # them in arrays of the event row); before `data`, so that a scan of them never reads the blob.
    sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
    sa.Column("data", sa.LargeBinary, nullable=False),  # zstd-compressed normalized JSON
    sa.UniqueConstraint("project_id", "event_id"),
    sa.Index(None, "project_id", "timestamp"),
    sa.Index(None, "group_id", "timestamp"),
    sa.Index(None, "received"),
)

group_tag_values = sa.Table(
    "group_tag_values",
    metadata,
    _id(),
    _fk("group_id", "groups.id"),
    sa.Column("project_id", ID, nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("times_seen", sa.BigInteger, nullable=False),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.UniqueConstraint("group_id", "key", "value"),
)

# Issue activity log; `type` holds Sentry's ActivityType numbers.
activities = sa.Table(
    "activities",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("group_id", "groups.id", nullable=True),
    sa.Column("type", sa.SmallInteger, nullable=False),
    _fk("user_id", "users.id", nullable=True, ondelete="SET NULL"),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.Index(None, "group_id", "date_added"),
)

releases = sa.Table(
    "releases",
    metadata,
    _id(),
    _fk("organization_id", "organizations.id"),
    sa.Column("version", sa.String(250), nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.Column("date_released", sa.Float, nullable=True),
    sa.Column("data", sa.JSON, nullable=True),
    sa.UniqueConstraint("organization_id", "version"),
)

release_projects = sa.Table(
    "release_projects",
    metadata,
    _id(),
    _fk("release_id", "releases.id"),
    _fk("project_id", "projects.id"),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("new_groups", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("release_id", "project_id"),
)

environments = sa.Table(
    "environments",
    metadata,
    _id(),
    _fk("organization_id", "organizations.id"),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.UniqueConstraint("organization_id", "name"),
)

environment_projects = sa.Table(
    "environment_projects",
    metadata,
    _id(),
    _fk("environment_id", "environments.id"),
    _fk("project_id", "projects.id"),
    sa.Column("is_hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.UniqueConstraint("environment_id", "project_id"),
)

attachments = sa.Table(
    "attachments",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("event_id", sa.String(32), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("content_type", sa.String(128), nullable=True),
    sa.Column("attachment_type", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha1", sa.String(40), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.Index(None, "project_id", "event_id"),
)

user_reports = sa.Table(
    "user_reports",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("event_id", sa.String(32), nullable=False),
    sa.Column("name", sa.String(128), nullable=False, server_default=""),
    sa.Column("email", sa.String(75), nullable=False, server_default=""),
    sa.Column("comments", sa.Text, nullable=False, server_default=""),
    sa.Column("date_added", sa.Float, nullable=False),
    sa.UniqueConstraint("project_id", "event_id"),
)

# Hourly outcome rollup (feeds org stats). outcome: Sentry's Outcome ints (0 accepted, 1 filtered,
# 2 rate_limited, 3 invalid, 4 abuse, 5 client_discard); category: Relay's data category name.
outcomes = sa.Table(
    "outcomes",
    metadata,
    _id(),
    sa.Column("org_id", ID, nullable=False),
    sa.Column("project_id", ID, nullable=False),
    sa.Column("key_id", ID, nullable=False),  # 0 when unknown
    sa.Column("hour", sa.BigInteger, nullable=False),  # epoch seconds, floored to the hour
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("outcome", sa.SmallInteger, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),  # "" when none
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.UniqueConstraint(
        "org_id", "project_id", "key_id", "hour", "category", "outcome", "reason", name="uq_outcomes_bucket"
    ),
    sa.Index(None, "org_id", "hour"),
)

# The durable spool for PostgreSQL deployments (SQLite deployments keep the same table in a
# file of its own, so that ingestion never waits on the digest's write lock).
spool = sa.Table(
    "spool",
    metadata,
    _id(),
    sa.Column("received", sa.Float, nullable=False),
    sa.Column("meta", sa.LargeBinary, nullable=False),  # JSON: project, key, client, event_id, ...
    sa.Column("body", sa.LargeBinary, nullable=False),  # decompressed envelope
    # Ids must never be reused once digested rows are deleted: the SQLite digest's cursor is an id.
    sqlite_autoincrement=True,
)

# Small key/value state of the digest worker (e.g. the last spool id digested on SQLite).
worker_state = sa.Table(
    "worker_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Per-key rate limit counters shared by every `serve` process of a PostgreSQL deployment (a
# single SQLite server counts in memory): events admitted per key and fixed window.
rate_limit_windows = sa.Table(
    "rate_limit_windows",
    metadata,
    sa.Column("key_id", ID, primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),  # epoch seconds
    sa.Column("used", sa.Integer, nullable=False),
)
