"""The one storage interface: accounts, projects, keys, tokens, and reading events back.

The digest's write path lives in storage/digestion.py; both run on the same engine for SQLite
and PostgreSQL. Every write goes through `Store.write()` (BEGIN IMMEDIATE on SQLite).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from bughound.grouping.settings import DEFAULT_CONFIG_ID, ProjectGrouping
from bughound.storage import schema as t
from bughound.storage.db import WRITE_OPTION, WalCheckpointer
from bughound.storage.validation import check_email, check_slug

ROLES = ("member", "admin", "manager", "owner")

# Sentry's scopes (SENTRY_SCOPES) and what each implies (SENTRY_SCOPE_HIERARCHY_MAPPING).
ALL_SCOPES = (
    "org:read org:write org:admin org:integrations org:ci member:invite member:read member:write "
    "member:admin team:read team:write team:admin project:read project:write project:admin "
    "project:releases project:distribution event:read event:write event:admin alerts:read alerts:write"
).split()


def expand_scopes(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    """`X:admin` implies `X:write` and `X:read`; `X:write` implies `X:read` (and the few extras)."""
    out = set(scopes)
    for scope in scopes:
        resource, _, level = scope.partition(":")
        if level == "admin":
            out.update({f"{resource}:write", f"{resource}:read"})
            if resource == "org":
                out.add("org:integrations")
            if resource == "member":
                out.add("member:invite")
        elif level == "write":
            out.add(f"{resource}:read")
            if resource == "member":
                out.add("member:invite")
    return frozenset(out)


@dataclasses.dataclass(frozen=True)
class ProjectKey:
    id: int
    project_id: int
    organization_id: int
    public_key: str
    secret_key: str
    is_active: bool
    rate_limit_count: int | None
    rate_limit_window: int | None


@dataclasses.dataclass(frozen=True)
class TokenAuth:
    token_id: int
    user_id: int
    email: str
    scopes: frozenset[str]


def new_token() -> str:
    return "sntryu_" + secrets.token_hex(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def dsn(base_url: str, public_key: str, project_id: int) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{public_key}@{parts.netloc}{parts.path.rstrip('/')}/{project_id}"


def project_grouping(conn: sa.Connection, project_ids: Iterable[int]) -> dict[int, ProjectGrouping]:
    """The grouping settings of these projects (config pinned per project, rules, transition)."""
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    p = t.projects.c
    rows = conn.execute(sa.select(p.id, p.grouping_config, p.options).where(p.id.in_(ids)))
    return {row.id: ProjectGrouping.from_row(row.grouping_config, row.options) for row in rows}


class NotFound(LookupError):
    pass


class LastOwner(ValueError):
    """Refused: this would leave an organization without an owner."""


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._checkpointer: WalCheckpointer | None = None

    def checkpoint_in_background(self) -> None:
        """SQLite: run WAL checkpoints on a thread after each write, not inside commits
        (`WalCheckpointer`; for the digest worker, the one heavy writer)."""
        if self._checkpointer is None and self.engine.dialect.name == "sqlite":
            self._checkpointer = WalCheckpointer(self.engine)

    def stop_background_checkpoints(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn
        if self._checkpointer is not None:
            self._checkpointer.kick()

    # -- accounts ---------------------------------------------------------------------------

    def ensure_user(self, conn: sa.Connection, email: str) -> int:
        row = conn.execute(sa.select(t.users.c.id).where(t.users.c.email == email)).first()
        if row:
            return int(row.id)
        check_email(email)
        return int(
            conn.execute(
                t.users.insert().values(email=email, name=email, date_joined=time.time())
            ).inserted_primary_key[0]  # type: ignore[index]
        )

    def ensure_organization(self, conn: sa.Connection, slug: str) -> int:
        row = conn.execute(sa.select(t.organizations.c.id).where(t.organizations.c.slug == slug)).first()
        if row:
            return int(row.id)
        check_slug("organization", slug)
        return int(
            conn.execute(
                t.organizations.insert().values(slug=slug, name=slug, date_added=time.time())
            ).inserted_primary_key[0]  # type: ignore[index]
        )

    def ensure_member(self, conn: sa.Connection, org_id: int, user_id: int, role: str | None = None) -> int:
        """Make the user a member of the organization with `role`, or, if None, with the role they
        have (a new member: "member"). Raises LastOwner rather than demote the only owner."""
        if role is not None and role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        m = t.members.c
        row = conn.execute(
            sa.select(m.id, m.role).where(m.organization_id == org_id, m.user_id == user_id)
        ).first()
        if row:
            if role is not None and row.role != role:
                if row.role == "owner" and self._owner_count(conn, org_id) <= 1:
                    raise LastOwner(
                        f"cannot demote the organization's last owner to {role}: make another owner first"
                    )
                conn.execute(t.members.update().where(m.id == row.id).values(role=role))
            return int(row.id)
        return int(
            conn.execute(
                t.members.insert().values(
                    organization_id=org_id, user_id=user_id, role=role or "member", date_added=time.time()
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )

    def _owner_count(self, conn: sa.Connection, org_id: int) -> int:
        m = t.members.c
        # FOR UPDATE (PostgreSQL): two demotions at once cannot both see the other owner.
        # SQLite's writes are serialized by BEGIN IMMEDIATE already.
        owners = conn.execute(
            sa.select(m.id).where(m.organization_id == org_id, m.role == "owner").with_for_update()
        ).all()
        return len(owners)

    def role_of_member(self, conn: sa.Connection, member_id: int) -> str:
        m = t.members.c
        return str(conn.execute(sa.select(m.role).where(m.id == member_id)).scalar_one())

    def ensure_team(self, conn: sa.Connection, org_id: int, slug: str) -> int:
        c = t.teams.c
        row = conn.execute(sa.select(c.id).where(c.organization_id == org_id, c.slug == slug)).first()
        if row:
            return int(row.id)
        check_slug("team", slug)
        return int(
            conn.execute(
                t.teams.insert().values(organization_id=org_id, slug=slug, name=slug, date_added=time.time())
            ).inserted_primary_key[0]  # type: ignore[index]
        )

    def ensure_team_member(self, conn: sa.Connection, team_id: int, member_id: int) -> None:
        c = t.team_members.c
        if not conn.execute(sa.select(c.id).where(c.team_id == team_id, c.member_id == member_id)).first():
            conn.execute(t.team_members.insert().values(team_id=team_id, member_id=member_id))

    def ensure_project(self, conn: sa.Connection, org_id: int, slug: str, team_id: int | None = None) -> int:
        c = t.projects.c
        row = conn.execute(sa.select(c.id).where(c.organization_id == org_id, c.slug == slug)).first()
        if row:
            project_id = int(row.id)
        else:
            check_slug("project", slug)
            project_id = int(
                conn.execute(
                    t.projects.insert().values(
                        organization_id=org_id,
                        slug=slug,
                        name=slug,
                        date_added=time.time(),
                        grouping_config=DEFAULT_CONFIG_ID,  # pinned: a later default never regroups it
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
        if not conn.execute(
            sa.select(t.project_keys.c.id).where(t.project_keys.c.project_id == project_id)
        ).first():
            self.create_project_key(conn, project_id)
        if team_id is not None:
            pt = t.project_teams.c
            if not conn.execute(
                sa.select(pt.id).where(pt.project_id == project_id, pt.team_id == team_id)
            ).first():
                conn.execute(t.project_teams.insert().values(project_id=project_id, team_id=team_id))
        return project_id

    def create_project_key(
        self,
        conn: sa.Connection,
        project_id: int,
        *,
        label: str = "Default",
        rate_limit: tuple[int, int] | None = None,
    ) -> str:
        public_key = secrets.token_hex(16)
        count, window = rate_limit or (None, None)
        conn.execute(
            t.project_keys.insert().values(
                project_id=project_id,
                label=label,
                public_key=public_key,
                secret_key=secrets.token_hex(16),
                rate_limit_count=count,
                rate_limit_window=window,
                date_added=time.time(),
            )
        )
        return public_key

    def update_project_key(self, conn: sa.Connection, public_key: str, **values: Any) -> None:
        conn.execute(
            t.project_keys.update().where(t.project_keys.c.public_key == public_key).values(**values)
        )

    def create_token(
        self, conn: sa.Connection, user_id: int, scopes: list[str], name: str | None = None
    ) -> str:
        unknown = sorted(set(scopes) - set(ALL_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        token = new_token()
        conn.execute(
            t.auth_tokens.insert().values(
                user_id=user_id,
                hashed_token=hash_token(token),
                token_last_characters=token[-4:],
                name=name,
                scopes=sorted(scopes),
                date_added=time.time(),
            )
        )
        return token

    def user_id_by_email(self, conn: sa.Connection, email: str) -> int:
        row = conn.execute(sa.select(t.users.c.id).where(t.users.c.email == email)).first()
        if not row:
            raise NotFound(f"no user with email {email!r}")
        return int(row.id)

    def organization_id_by_slug(self, conn: sa.Connection, slug: str) -> int:
        row = conn.execute(sa.select(t.organizations.c.id).where(t.organizations.c.slug == slug)).first()
        if not row:
            raise NotFound(f"no organization {slug!r}")
        return int(row.id)

    # -- ingestion ----------------------------------------------------------------------------

    def project_keys(self, public_key: str | None = None) -> list[ProjectKey]:
        k, p = t.project_keys.c, t.projects.c
        query = sa.select(
            k.id,
            k.project_id,
            p.organization_id,
            k.public_key,
            k.secret_key,
            k.is_active,
            k.rate_limit_count,
            k.rate_limit_window,
        ).join_from(t.project_keys, t.projects, k.project_id == p.id)
        if public_key is not None:
            query = query.where(k.public_key == public_key)
        with self.read() as conn:
            return [ProjectKey(**row._mapping) for row in conn.execute(query)]

    def project_dsn(self, base_url: str, project_id: int) -> str:
        with self.read() as conn:
            key = conn.execute(
                sa.select(t.project_keys.c.public_key)
                .where(t.project_keys.c.project_id == project_id, t.project_keys.c.is_active)
                .order_by(t.project_keys.c.id)
            ).scalar()
        if key is None:
            raise NotFound(f"project {project_id} has no active key")
        return dsn(base_url, key, project_id)

    # -- web API ------------------------------------------------------------------------------

    def authenticate_token(self, token: str) -> TokenAuth | None:
        a, u = t.auth_tokens.c, t.users.c
        with self.read() as conn:
            row = conn.execute(
                sa.select(a.id, a.user_id, a.scopes, a.expires_at, u.email, u.is_active)
                .join_from(t.auth_tokens, t.users, a.user_id == u.id)
                .where(a.hashed_token == hash_token(token))
            ).first()
        if row is None or not row.is_active:
            return None
        if row.expires_at is not None and row.expires_at < time.time():
            return None
        return TokenAuth(row.id, row.user_id, row.email, expand_scopes(tuple(row.scopes)))

    def find_project(self, org: str, project: str) -> Any:
        """Resolve `{org}/{project}` path parameters, each an id or a slug."""
        o, p = t.organizations.c, t.projects.c
        query = sa.select(
            p.id, p.slug, p.name, p.platform, p.organization_id, o.slug.label("organization_slug")
        ).join_from(t.projects, t.organizations, p.organization_id == o.id)
        query = query.where(o.id == int(org)) if org.isdigit() else query.where(o.slug == org)
        query = query.where(p.id == int(project)) if project.isdigit() else query.where(p.slug == project)
        with self.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"{org}/{project}")
        return row

    def member_role(self, org_id: int, user_id: int) -> str | None:
        m = t.members.c
        with self.read() as conn:
            return conn.execute(
                sa.select(m.role).where(m.organization_id == org_id, m.user_id == user_id)
            ).scalar()

    def get_event(self, project_id: int, event_id: str) -> sa.Row[Any] | None:
        e = t.events.c
        with self.read() as conn:
            return conn.execute(
                sa.select(t.events).where(e.project_id == project_id, e.event_id == event_id)
            ).first()

    def list_events(
        self, project_id: int, *, start: float, end: float, offset: int, limit: int
    ) -> list[sa.Row[Any]]:
        e = t.events.c
        with self.read() as conn:
            return list(
                conn.execute(
                    sa.select(t.events)
                    .where(e.project_id == project_id, e.timestamp >= start, e.timestamp <= end)
                    .where(e.type.notin_(("transaction", "feedback")))  # Sentry lists error events only
                    .order_by(e.timestamp.desc(), e.event_id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            )

    def neighbour_event_ids(self, event: sa.Row[Any]) -> tuple[str | None, str | None]:
        """(previous, next) event ids within the event's issue, by (timestamp, event_id)."""
        e = t.events.c
        ts, eid = event.timestamp, event.event_id
        same_issue = (e.project_id == event.project_id, e.group_id == event.group_id)
        with self.read() as conn:
            prev = conn.execute(
                sa.select(e.event_id)
                .where(*same_issue, sa.or_(e.timestamp < ts, sa.and_(e.timestamp == ts, e.event_id < eid)))
                .order_by(e.timestamp.desc(), e.event_id.desc())
                .limit(1)
            ).scalar()
            nxt = conn.execute(
                sa.select(e.event_id)
                .where(*same_issue, sa.or_(e.timestamp > ts, sa.and_(e.timestamp == ts, e.event_id > eid)))
                .order_by(e.timestamp, e.event_id)
                .limit(1)
            ).scalar()
        return prev, nxt

    def user_report(self, project_id: int, event_id: str) -> sa.Row[Any] | None:
        c = t.user_reports.c
        with self.read() as conn:
            return conn.execute(
                sa.select(t.user_reports).where(c.project_id == project_id, c.event_id == event_id)
            ).first()
