"""The web API under /api/0/: thin routes over storage (the events endpoints of the seeds)."""

from __future__ import annotations

import re
import time
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bughound.api import serializers
from bughound.api.auth import authenticate, require_scope
from bughound.api.errors import ApiError, forbidden, not_found
from bughound.api.issues import IssueApi
from bughound.api.pagination import offset_links, parse_cursor, parse_per_page
from bughound.api.projects import ProjectApi
from bughound.api.responses import json_response, load_event
from bughound.api.timeparams import time_window
from bughound.config import Settings
from bughound.grouping import grouping_info
from bughound.grouping.settings import ProjectGrouping
from bughound.storage.store import NotFound, Store, project_grouping

EVENT_READ = ("event:read", "event:write", "event:admin", "project:read", "project:write", "project:admin")
_EVENT_ID = re.compile(r"^(?:\d+|[A-Fa-f0-9]{32})$")


def _truthy(value: str | None) -> bool:
    return bool(value)  # Sentry: any non-empty value counts (even "0")


class WebApi:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/api/0/", self.index),
            Route("/api/0/projects/{org}/{project}/events/", self.project_events),
            Route("/api/0/projects/{org}/{project}/events/{event_id}/", self.project_event),
            Route("/api/0/projects/{org}/{project}/events/{event_id}/grouping-info/", self.grouping_info),
            *IssueApi(self.settings, self.store).routes(),
            *ProjectApi(self.settings, self.store).routes(),
        ]

    async def index(self, request: Request) -> Response:
        auth = None
        if request.headers.get("authorization"):
            auth = await authenticate(request, self.store)
        return json_response(
            {
                "version": "0",
                "auth": {"scopes": sorted(auth.scopes)} if auth else None,
                "user": {
                    "id": str(auth.user_id),
                    "email": auth.email,
                    "username": auth.email,
                    "name": auth.email,
                }
                if auth
                else None,
            }
        )

    async def _project(self, request: Request, scopes: tuple[str, ...]) -> Any:
        auth = await authenticate(request, self.store)
        org, slug = request.path_params["org"], request.path_params["project"]
        try:
            project = await to_thread.run_sync(self.store.find_project, org, slug)
        except NotFound:
            raise not_found() from None
        role = await to_thread.run_sync(self.store.member_role, project.organization_id, auth.user_id)
        if role is None:
            raise forbidden()
        require_scope(auth, *scopes)
        return project

    async def project_events(self, request: Request) -> Response:
        project = await self._project(request, EVENT_READ)
        params = request.query_params
        cursor = parse_cursor(params.get("cursor"))
        limit = parse_per_page(params.get("per_page"))
        start, end = time_window(dict(params), time.time(), None)
        full = _truthy(params.get("full"))
        rows = await to_thread.run_sync(
            lambda: self.store.list_events(
                project.id, start=start, end=end, offset=cursor.offset, limit=limit + 1
            )
        )
        has_more = len(rows) > limit
        out = []
        for row in rows[:limit]:
            event = load_event(row)
            if full:
                out.append(serializers.full_event(event, group_id=row.group_id, project_id=project.id))
            else:
                out.append(serializers.simple_event(event, group_id=row.group_id, project_id=project.id))
        link = offset_links(
            self.settings.url, request.url.path, params.multi_items(), cursor.offset, limit, has_more
        )
        return json_response(out, headers={"Link": link})

    async def project_event(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        if not _EVENT_ID.match(event_id):
            return Response(status_code=404)  # no route matches, as in Sentry
        project = await self._project(request, EVENT_READ)
        if event_id.isdigit():
            raise ApiError(404, "Event not found")
        row = await to_thread.run_sync(self.store.get_event, project.id, event_id.lower())
        if row is None:
            raise ApiError(404, "Event not found")
        event = load_event(row)
        out = serializers.full_event(event, group_id=row.group_id, project_id=project.id)
        out["release"] = {"version": row.release} if row.release else None
        out["userReport"] = await to_thread.run_sync(self._user_report, project.id, row.event_id)
        out["sdkUpdates"] = []
        out["resolvedWith"] = []
        prev_id = next_id = None
        if row.group_id is not None:
            prev_id, next_id = await to_thread.run_sync(self.store.neighbour_event_ids, row)
        out["nextEventID"] = next_id
        out["previousEventID"] = prev_id
        return json_response(out)

    async def grouping_info(self, request: Request) -> Response:
        """How the event was grouped, recomputed with the config and rules stored with it."""
        event_id = request.path_params["event_id"]
        if not _EVENT_ID.match(event_id):
            return Response(status_code=404)
        project = await self._project(request, EVENT_READ)
        row = (
            None
            if event_id.isdigit()
            else await to_thread.run_sync(self.store.get_event, project.id, event_id.lower())
        )
        if row is None:
            raise ApiError(404, "Event not found")
        if row.group_id is None:
            raise ApiError(404, "Grouping info is only available for error and default events")
        settings = await to_thread.run_sync(self._project_grouping, project.id)
        return json_response(grouping_info(load_event(row), settings, stored=True))

    def _project_grouping(self, project_id: int) -> ProjectGrouping:
        with self.store.read() as conn:
            return project_grouping(conn, [project_id]).get(project_id) or ProjectGrouping()

    def _user_report(self, project_id: int, event_id: str) -> dict[str, Any] | None:
        report = self.store.user_report(project_id, event_id)
        if report is None:
            return None
        return {
            "id": str(report.id),
            "eventID": report.event_id,
            "name": report.name,
            "email": report.email,
            "comments": report.comments,
            "dateCreated": serializers.iso(report.date_added),
            "user": None,
            "event": {"id": report.event_id, "eventID": report.event_id},
        }
