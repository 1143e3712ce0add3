"""Issue endpoints: details, status updates (one issue or many), activity, notes and hashes.

Paths as in Sentry: `/api/0/organizations/{org}/issues/{issue_id}/` (also `groups`), the legacy
`/api/0/issues/{id}/` (numeric ids only), and the bulk `PUT /api/0/organizations/{org}/issues/`
and `PUT /api/0/projects/{org}/{project}/issues/` that sentry-cli uses.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bughound.api import groups as serialize
from bughound.api import serializers
from bughound.api.auth import authenticate, require_scope
from bughound.api.errors import ApiError, bad_request, forbidden, not_found
from bughound.api.pagination import offset_links, parse_cursor, parse_per_page
from bughound.api.responses import json_body, json_response, load_event
from bughound.config import Settings
from bughound.storage import issue_queries as q
from bughound.storage import issues
from bughound.storage import schema as t
from bughound.storage.lifecycle import (
    MAX_IGNORE_WINDOW,
    PRIORITY_BY_NAME,
    SUBSTATUS_BY_NAME,
    Activity,
    Status,
    SubStatus,
)
from bughound.storage.store import NotFound, Store, TokenAuth

READ = ("event:read", "event:write", "event:admin")
WRITE = ("event:write", "event:admin")
ADMIN = ("event:admin",)
BULK_LIMIT = 1000
STATUS_QUERIES = {
    "is:unresolved": [int(Status.UNRESOLVED)],
    "is:resolved": [int(Status.RESOLVED)],
    "is:ignored": [int(Status.IGNORED)],
    "is:archived": [int(Status.IGNORED)],
    "": None,
}
_STATUSES = ("resolved", "unresolved", "ignored", "resolvedInNextRelease", "muted")


@dataclasses.dataclass
class Update:
    """A validated issue update (the body of PUT .../issues/)."""

    status: str | None = None  # resolved, unresolved, ignored, resolvedInNextRelease
    substatus: SubStatus | None = None
    substatus_name: str | None = None  # as requested: Sentry's delta repeats it
    in_release: str | None = None  # a version, or "latest"
    in_next_release: bool = False
    next_release_required: bool = False  # statusDetails.inNextRelease: 400 without any release
    in_commit: dict[str, str] | None = None
    ignore: issues.IgnoreRequest | None = None
    assigned_to: str | None = None
    assign: bool = False  # assignedTo was given (None/"" = unassign)
    priority: str | None = None
    note_keys: list[str] = dataclasses.field(default_factory=list)


def _int_field(
    details: dict[str, Any], key: str, errors: dict[str, Any], maximum: int | None = None
) -> int | None:
    value = details.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        errors[key] = ["A valid integer is required."]
        return None
    number = int(value)
    if number < 0:  # Sentry takes any integer; 0 means the condition is not set
        errors[key] = ["Ensure this value is greater than or equal to 0."]
        return None
    if maximum is not None and number > maximum:
        errors[key] = [f"Ensure this value is less than or equal to {maximum}."]
        return None
    return number


def parse_update(body: Any) -> Update:
    """Validate a PUT body as Sentry's GroupValidator does; 400 `{"field": [...]}` when invalid."""
    if not isinstance(body, dict):
        raise bad_request("Invalid request body: a JSON object is required.")
    errors: dict[str, Any] = {}
    update = Update()
    status = body.get("status")
    if status is not None:
        if status not in _STATUSES:
            errors["status"] = [f'"{status}" is not a valid choice.']
        else:
            update.status = "ignored" if status == "muted" else status
    substatus = body.get("substatus")
    if substatus is not None:
        if substatus not in SUBSTATUS_BY_NAME:
            errors["substatus"] = [f'"{substatus}" is not a valid choice.']
        else:
            update.substatus = SUBSTATUS_BY_NAME[substatus]
            update.substatus_name = substatus
    details = body.get("statusDetails")
    if details is None:
        details = body  # Sentry reads the ignore fields at the top level too
    if not isinstance(details, dict):
        errors["statusDetails"] = ["Invalid data. Expected a dictionary."]
        details = {}
    detail_errors: dict[str, Any] = {}
    duration = _int_field(details, "ignoreDuration", detail_errors)
    if duration is None and body.get("snoozeDuration") is not None:
        duration = _int_field(body, "snoozeDuration", errors)
    count = _int_field(details, "ignoreCount", detail_errors)
    window = _int_field(details, "ignoreWindow", detail_errors, MAX_IGNORE_WINDOW)
    user_count = _int_field(details, "ignoreUserCount", detail_errors)
    user_window = _int_field(details, "ignoreUserWindow", detail_errors, MAX_IGNORE_WINDOW)
    in_release = details.get("inRelease")
    if in_release is not None and (not isinstance(in_release, str) or not in_release):
        detail_errors["inRelease"] = ["Not a valid string."]
    in_commit = details.get("inCommit")
    if in_commit is not None and not (
        isinstance(in_commit, dict)
        and all(isinstance(in_commit.get(key), str) and in_commit[key] for key in ("commit", "repository"))
    ):
        detail_errors["inCommit"] = ["Expected an object with `commit` and `repository` strings."]
    if detail_errors:
        if details is body:
            errors.update(detail_errors)
        else:
            errors["statusDetails"] = detail_errors
    if "assignedTo" in body:
        value = body["assignedTo"]
        if value is not None and not isinstance(value, str | int):
            errors["assignedTo"] = ["Unknown actor input"]
        update.assign = True
        update.assigned_to = str(value) if value not in (None, "") else None
    priority = body.get("priority")
    if priority is not None:
        if priority not in PRIORITY_BY_NAME:
            errors["priority"] = [f'"{priority}" is not a valid choice.']
        update.priority = priority
    if errors:
        raise ApiError(400, errors)
    # Sentry validates `inNextRelease` (a boolean, even false) against the project's releases; a
    # resolve with it, or the `resolvedInNextRelease` status, resolves in the next release.
    next_release = details.get("inNextRelease")
    update.next_release_required = isinstance(next_release, bool)
    if (
        update.status == "resolvedInNextRelease"
        or next_release is True
        or (update.status == "resolved" and isinstance(next_release, bool))
    ):
        if update.status in (None, "resolved", "resolvedInNextRelease"):
            update.status, update.in_next_release = "resolved", True
    elif isinstance(in_release, str) and update.status in (None, "resolved"):
        update.status, update.in_release = "resolved", in_release
    elif isinstance(in_commit, dict) and update.status in (None, "resolved"):
        update.status = "resolved"
        update.in_commit = {"commit": in_commit["commit"], "repository": in_commit["repository"]}
    if update.status == "ignored":
        update.ignore = issues.IgnoreRequest(
            # 0 sets no condition, as in Sentry: the request keeps None for it
            duration=duration or None,
            count=count or None,
            window=window or None,
            user_count=user_count or None,
            user_window=user_window or None,
            until_escalating=update.substatus == SubStatus.UNTIL_ESCALATING
            or bool(details.get("ignoreUntilEscalating")),
            condition_given=any(
                value is not None for value in (duration, count, window, user_count, user_window)
            ),
            substatus=update.substatus,
        )
    return update


class IssueApi:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def routes(self) -> list[Route]:
        routes = []
        for kind in ("issues", "groups"):
            for prefix in (
                "/api/0/organizations/{org}/" + kind + "/{issue_id}",
                f"/api/0/{kind}/{{issue_id}}",
            ):
                routes += [
                    Route(prefix + "/", self.issue, methods=["GET", "PUT", "DELETE"]),
                    Route(prefix + "/activities/", self.activities),
                    Route(prefix + "/comments/", self.comments, methods=["GET", "POST"]),
                    Route(prefix + "/hashes/", self.hashes),
                ]
            routes.append(
                Route("/api/0/organizations/{org}/" + kind + "/", self.bulk_update, methods=["PUT"])
            )
        routes.append(Route("/api/0/projects/{org}/{project}/issues/", self.bulk_update, methods=["PUT"]))
        return routes

    # --- access -------------------------------------------------------------------------------

    async def _issue(self, request: Request, scopes: tuple[str, ...]) -> tuple[TokenAuth, Any]:
        auth = await authenticate(request, self.store)
        org = request.path_params.get("org")
        issue_id = request.path_params["issue_id"]
        group = await to_thread.run_sync(self._find, issue_id, org)
        if group is None:
            raise not_found()
        role = await to_thread.run_sync(self.store.member_role, group.organization_id, auth.user_id)
        if role is None:
            raise forbidden()
        require_scope(auth, *scopes)
        return auth, group

    def _find(self, issue_id: str, org: str | None) -> Any:
        with self.store.read() as conn:
            return q.find_group(conn, issue_id, org)

    # --- one issue -----------------------------------------------------------------------------

    async def issue(self, request: Request) -> Response:
        method = request.method
        scopes = READ if method == "GET" else WRITE if method == "PUT" else ADMIN
        auth, group = await self._issue(request, scopes)
        if method == "DELETE":
            await to_thread.run_sync(self._delete, [group.id])
            return Response(status_code=202)
        if method == "PUT":
            update = parse_update(await json_body(request))
            await to_thread.run_sync(self._apply, [group], update, auth)
        return json_response(await to_thread.run_sync(self._serialize, group.id, method == "GET"))

    def _serialize(self, group_id: int, full: bool) -> dict[str, Any]:
        with self.store.read() as conn:
            group = q.find_group(conn, str(group_id))
            if group is None:
                raise not_found()
            if full:
                return serialize.detail(conn, group, self.settings.url)
            return serialize.base(conn, group, self.settings.url)

    def _delete(self, group_ids: list[int]) -> None:
        with self.store.write() as conn:
            for chunk in (group_ids[i : i + 500] for i in range(0, len(group_ids), 500)):
                conn.execute(t.events.delete().where(t.events.c.group_id.in_(chunk)))
                for table in (
                    t.group_hashes,
                    t.group_tag_values,
                    t.activities,
                    t.group_resolutions,
                    t.group_snoozes,
                ):
                    conn.execute(table.delete().where(table.c.group_id.in_(chunk)))
                conn.execute(t.groups.delete().where(t.groups.c.id.in_(chunk)))

    def _apply(self, groups: list[Any], update: Update, auth: TokenAuth) -> dict[str, Any]:
        """Apply `update` to every issue; returns Sentry's delta of what was processed."""
        delta: dict[str, Any] = {}
        with self.store.write() as conn:
            assignee: tuple[Any, Any] = (None, None)
            if update.assign and update.assigned_to is not None:
                assignee = self._assignee(conn, groups, update.assigned_to)
            project_ids = sorted({g.project_id for g in groups})
            # Sentry's StatusDetailsValidator, for each project of the update.
            for project_id in project_ids:
                _check_releases(conn, project_id, update)
            next_release_base = None
            if update.in_release is not None or update.in_next_release:
                if len(project_ids) > 1:
                    raise bad_request("Cannot set resolved for multiple projects.")
                if update.in_release == "latest":
                    update = dataclasses.replace(
                        update, in_release=issues.most_recent_release(conn, project_ids[0])
                    )
                if update.in_next_release:
                    # Sentry: the most recent release for `statusDetails.inNextRelease`, else
                    # (`resolvedInNextRelease`) the greatest semver one if the project follows semver.
                    next_release_base = (
                        issues.most_recent_release(conn, project_ids[0])
                        if update.next_release_required
                        else issues.release_to_resolve_by(conn, project_ids[0])
                    )
            for listed in groups:
                group = q.find_group(conn, str(listed.id))
                if group is None:
                    continue
                delta.update(
                    self._apply_one(conn, group, update, auth, assignee, len(groups) == 1, next_release_base)
                )
        return delta

    def _apply_one(
        self,
        conn: sa.Connection,
        group: Any,
        update: Update,
        auth: TokenAuth,
        assignee: tuple[Any, Any],
        single: bool,
        next_release_base: str | None,
    ) -> dict[str, Any]:
        delta: dict[str, Any] = {}
        actor = auth.user_id
        if update.status == "resolved":
            details = issues.set_resolved(
                conn,
                group,
                actor,
                in_release=update.in_release,
                in_next_release=update.in_next_release,
                next_release_base=next_release_base,
                in_commit=update.in_commit,
            )
            if details and (actor_row := q.user_by_id(conn, actor)) is not None:
                details["actor"] = serialize.user(actor_row)
            # Sentry's code answers `"inbox": null` (and no substatus) here; its OpenAPI spec types
            # `inbox` as a boolean and `substatus` as a string: leaving both out satisfies both.
            delta.update(status="resolved", statusDetails=details)
        elif update.status == "unresolved":
            issues.set_unresolved(conn, group, actor, substatus=update.substatus, single=single)
            delta.update(status="unresolved", statusDetails={})
            if update.substatus_name is not None:
                delta["substatus"] = update.substatus_name
        elif update.status == "ignored":
            assert update.ignore is not None
            details = issues.set_ignored(conn, group, actor, update.ignore)
            if "ignoreUntil" in details:  # a condition: Sentry names who set it
                details["actor"] = serialize.user(q.user_by_id(conn, actor))
            delta.update(status="ignored", statusDetails=details)
            if update.substatus_name is not None:
                delta["substatus"] = update.substatus_name
        if update.assign:
            user, team = assignee
            issues.assign(conn, self._reload(conn, group.id), actor, user=user, team=team)
            delta["assignedTo"] = serialize.assigned_to(conn, self._reload(conn, group.id))
        if update.priority is not None:
            value = PRIORITY_BY_NAME[update.priority]
            if group.priority != value:
                conn.execute(t.groups.update().where(t.groups.c.id == group.id).values(priority=int(value)))
                issues.record_activity(
                    conn,
                    group.project_id,
                    group.id,
                    Activity.SET_PRIORITY,
                    {"priority": update.priority, "reason": "user"},
                    actor,
                )
            delta["priority"] = update.priority
        return delta

    @staticmethod
    def _reload(conn: sa.Connection, group_id: int) -> Any:
        group = q.find_group(conn, str(group_id))
        assert group is not None  # inside the transaction that just updated it
        return group

    def _assignee(self, conn: sa.Connection, groups: list[Any], ident: str) -> tuple[Any, Any]:
        org_id = groups[0].organization_id
        if ident.startswith("team:"):
            team_id = ident[5:]
            team = q.org_team(conn, org_id, int(team_id)) if team_id.isdigit() else None
            if team is None:
                raise ApiError(400, {"assignedTo": ["Unknown actor input"]})
            if not all(q.team_has_project(conn, team.id, g.project_id) for g in groups):
                raise ApiError(400, {"assignedTo": ["Cannot assign to a team without access to the project"]})
            return None, team
        user = q.org_member_user(conn, org_id, ident[5:] if ident.startswith("user:") else ident)
        if user is None:
            raise ApiError(400, {"assignedTo": ["Cannot assign to non-team member"]})
        return user, None

    # --- many issues ---------------------------------------------------------------------------

    async def bulk_update(self, request: Request) -> Response:
        auth = await authenticate(request, self.store)
        org_slug = request.path_params["org"]
        project = None
        if "project" in request.path_params:
            try:
                project = await to_thread.run_sync(
                    self.store.find_project, org_slug, request.path_params["project"]
                )
            except NotFound:
                raise not_found() from None
            org_id = project.organization_id
        else:
            try:
                org_id = await to_thread.run_sync(self._org_id, org_slug)
            except NotFound:
                raise not_found() from None
        if await to_thread.run_sync(self.store.member_role, org_id, auth.user_id) is None:
            raise forbidden()
        require_scope(auth, *WRITE)
        update = parse_update(await json_body(request))
        params = request.query_params
        ids = params.getlist("id")
        project_id = project.id if project is not None else None
        groups = await to_thread.run_sync(self._select, org_id, project_id, ids, params.get("query"))
        if not groups:
            return Response(status_code=204)
        delta = await to_thread.run_sync(self._apply, groups, update, auth)
        return json_response(delta)

    def _org_id(self, org: str) -> int:
        o = t.organizations.c
        with self.store.read() as conn:
            query = sa.select(o.id).where(o.id == int(org) if org.isdigit() else o.slug == org)
            org_id = conn.execute(query).scalar()
        if org_id is None:
            raise NotFound(org)
        return int(org_id)

    def _select(self, org_id: int, project_id: int | None, ids: list[str], query: str | None) -> list[Any]:
        with self.store.read() as conn:
            if ids:
                # Sentry falls back to the query when none of the ids exist, so that a stale id
                # would update every unresolved issue; Bughound updates nothing (204) instead.
                found = []
                for issue_id in ids:
                    group = q.find_group(conn, issue_id, str(org_id))
                    if group is not None and (project_id is None or group.project_id == project_id):
                        found.append(group)
                return found
            text = " ".join((query if query is not None else "is:unresolved").split())
            if text not in STATUS_QUERIES:
                raise bad_request(
                    "Bulk updates select issues by id or by is:unresolved, is:resolved or is:ignored only."
                )
            return q.groups_by_status(conn, org_id, STATUS_QUERIES[text], project_id, BULK_LIMIT)

    # --- sub-resources -------------------------------------------------------------------------

    async def activities(self, request: Request) -> Response:
        _, group = await self._issue(request, READ)

        def read() -> list[dict[str, Any]]:
            with self.store.read() as conn:
                return serialize.activity_log(conn, group)

        return json_response({"activity": await to_thread.run_sync(read)})

    async def comments(self, request: Request) -> Response:
        if request.method == "GET":
            _, group = await self._issue(request, READ)
            notes = await to_thread.run_sync(self._notes, group.id)
            return json_response(notes)
        auth, group = await self._issue(request, WRITE)
        body = await json_body(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, {"text": ["This field is required."]})

        def write() -> dict[str, Any]:
            with self.store.write() as conn:
                activity_id = issues.add_note(conn, group, auth.user_id, text)
                row = q.activity(conn, activity_id)
                return serialize.activity(row, serialize.user(q.user_by_id(conn, auth.user_id)))

        return json_response(await to_thread.run_sync(write), status=201)

    def _notes(self, group_id: int) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return [
                serialize.activity(
                    row, serialize.user(q.user_by_id(conn, row.user_id)) if row.user_id else None
                )
                for row in q.activities(conn, group_id, limit=1000)
                if row.type == Activity.NOTE
            ]

    async def hashes(self, request: Request) -> Response:
        """The primary hashes of the issue's events, each with its latest event (full unless
        `full` is `0` or `false`), newest first; offset cursor pagination, as Sentry's."""
        _, group = await self._issue(request, READ)
        params = request.query_params
        cursor = parse_cursor(params.get("cursor"))
        limit = parse_per_page(params.get("per_page"))
        full = params.get("full") not in ("0", "false")

        def read() -> list[sa.Row[Any]]:
            with self.store.read() as conn:
                return q.latest_event_by_primary_hash(conn, group.id, cursor.offset, limit + 1)

        rows = await to_thread.run_sync(read)
        serializer = serializers.full_event if full else serializers.simple_event
        out = [
            {
                "id": row.primary_hash,
                "latestEvent": serializer(load_event(row), group_id=row.group_id, project_id=row.project_id),
                "mergedBySeer": False,
                "seerMatchDistance": None,
            }
            for row in rows[:limit]
        ]
        link = offset_links(
            self.settings.url, request.url.path, params.multi_items(), cursor.offset, limit, len(rows) > limit
        )
        return json_response(out, headers={"Link": link})


NO_RELEASE_DATA = "No release data present in the system to form a basis for 'Next Release'"


def _check_releases(conn: sa.Connection, project_id: int, update: Update) -> None:
    """400 as Sentry's StatusDetailsValidator: `inRelease` must name a release of the project (or
    be `latest` when it has any), `inNextRelease` needs the project to have a release."""
    if update.in_release is not None:
        if update.in_release == "latest":
            if issues.most_recent_release(conn, project_id) is None:
                raise ApiError(400, {"statusDetails": {"inRelease": [NO_RELEASE_DATA]}})
        elif not _release_exists(conn, project_id, update.in_release):
            raise ApiError(
                400, {"statusDetails": {"inRelease": ["Unable to find a release with the given version."]}}
            )
    if update.next_release_required and issues.most_recent_release(conn, project_id) is None:
        raise ApiError(400, {"statusDetails": {"inNextRelease": [NO_RELEASE_DATA]}})


def _release_exists(conn: sa.Connection, project_id: int, version: str) -> bool:
    r, rp = t.releases.c, t.release_projects.c
    return (
        conn.execute(
            sa.select(r.id)
            .join(t.release_projects, rp.release_id == r.id)
            .where(rp.project_id == project_id, r.version == version)
        ).first()
        is not None
    )
