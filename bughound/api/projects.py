"""Project details: `GET|PUT /api/0/projects/{org}/{project}/` (ENDPOINTS.md §4.4).

Of the many project settings Sentry has, Bughound stores and applies the grouping ones
(`groupingConfig`, `groupingEnhancements`, `fingerprintingRules`), the auto-resolve age
(`resolveAge`), and `name`/`platform`.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bughound.api.auth import authenticate, require_scope
from bughound.api.errors import ApiError, bad_request, forbidden, not_found
from bughound.api.responses import json_body, json_response
from bughound.api.serializers import iso
from bughound.config import Settings
from bughound.grouping import known_config_ids, validate_rules
from bughound.grouping.settings import TRANSITION_DAYS
from bughound.storage import schema as t
from bughound.storage.store import NotFound, Store

READ = ("project:read", "project:write", "project:admin")
WRITE = ("project:write", "project:admin")
_OPTION_FIELDS = {
    "groupingEnhancements": "sentry:grouping_enhancements",
    "fingerprintingRules": "sentry:fingerprinting_rules",
}
MAX_RESOLVE_AGE = 720  # hours (Sentry's UI offers up to 30 days)


class ProjectApi:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def routes(self) -> list[Route]:
        return [Route("/api/0/projects/{org}/{project}/", self.project, methods=["GET", "PUT"])]

    async def project(self, request: Request) -> Response:
        auth = await authenticate(request, self.store)
        try:
            project = await to_thread.run_sync(
                self.store.find_project, request.path_params["org"], request.path_params["project"]
            )
        except NotFound:
            raise not_found() from None
        if await to_thread.run_sync(self.store.member_role, project.organization_id, auth.user_id) is None:
            raise forbidden()
        require_scope(auth, *(READ if request.method == "GET" else WRITE))
        if request.method == "PUT":
            body = await json_body(request)
            if not isinstance(body, dict):
                raise bad_request("Invalid request body: a JSON object is required.")
            await to_thread.run_sync(self._update, project.id, body)
        return json_response(await to_thread.run_sync(self._serialize, project.id))

    def _update(self, project_id: int, body: dict[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        option_changes: dict[str, Any] = {}
        for field, option in _OPTION_FIELDS.items():
            if field not in body:
                continue
            text = body[field]
            if text is None:
                text = ""
            if not isinstance(text, str):
                errors[field] = ["Not a valid string."]
                continue
            problem = validate_rules(
                **{"enhancements" if field == "groupingEnhancements" else "fingerprinting": text}
            )
            if problem:
                errors[field] = [problem]
            option_changes[option] = text
        if "groupingConfig" in body:
            config = body["groupingConfig"]
            if config not in known_config_ids():
                errors["groupingConfig"] = [f'"{config}" is not a valid choice.']
            values["grouping_config"] = config
        if "resolveAge" in body:
            age = body["resolveAge"]
            if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_RESOLVE_AGE:
                errors["resolveAge"] = [f"Ensure this value is an integer between 0 and {MAX_RESOLVE_AGE}."]
            option_changes["sentry:resolve_age"] = age
        for field, column, limit in (("name", "name", 200), ("platform", "platform", 64)):
            if field in body:
                value = body[field]
                if not isinstance(value, str) or not value or len(value) > limit:
                    errors[field] = [f"Ensure this field has no more than {limit} characters."]
                values[column] = value
        if errors:
            raise ApiError(400, errors)
        with self.store.write() as conn:
            p = t.projects.c
            row = conn.execute(sa.select(p.grouping_config, p.options).where(p.id == project_id)).one()
            options = dict(row.options or {})
            options.update(option_changes)
            new_config = values.get("grouping_config")
            if new_config and row.grouping_config and new_config != row.grouping_config:
                # The old config keeps finding existing issues for a while (Sentry's transition).
                options["sentry:secondary_grouping_config"] = row.grouping_config
                options["sentry:secondary_grouping_expiry"] = time.time() + TRANSITION_DAYS * 86400
            conn.execute(t.projects.update().where(p.id == project_id).values(**values, options=options))

    def _serialize(self, project_id: int) -> dict[str, Any]:
        p, o, tm, pt = t.projects.c, t.organizations.c, t.teams.c, t.project_teams.c
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(
                    t.projects,
                    o.slug.label("org_slug"),
                    o.name.label("org_name"),
                    o.date_added.label("org_date"),
                )
                .join_from(t.projects, t.organizations, p.organization_id == o.id)
                .where(p.id == project_id)
            ).one()
            teams = [
                {"id": str(team.id), "name": team.name, "slug": team.slug}
                for team in conn.execute(
                    sa.select(tm.id, tm.name, tm.slug)
                    .join(t.project_teams, pt.team_id == tm.id)
                    .where(pt.project_id == project_id)
                )
            ]
            first_event = conn.execute(
                sa.select(sa.func.min(t.events.c.received)).where(t.events.c.project_id == project_id)
            ).scalar()
        options = row.options or {}
        base_url = self.settings.url
        has = dict.fromkeys(_HAS_FLAGS, False)
        return {
            "id": str(row.id),
            "slug": row.slug,
            "name": row.name,
            "platform": row.platform,
            "dateCreated": iso(row.date_added),
            "isBookmarked": False,
            "isMember": True,
            "features": [],
            "firstEvent": iso(first_event),
            "firstTransactionEvent": False,
            "access": [],
            "hasAccess": True,
            **has,
            "team": teams[0] if teams else None,
            "teams": teams,
            "platforms": [row.platform] if row.platform else [],
            "latestRelease": None,
            "status": "active",
            "isPublic": False,
            "isInternal": False,
            "isDynamicallySampled": False,
            "color": "#3f70b3",
            "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None},
            "organization": {
                "id": str(row.organization_id),
                "slug": row.org_slug,
                "name": row.org_name,
                "dateCreated": iso(row.org_date),
                "status": {"id": "active", "name": "active"},
                "isEarlyAdopter": False,
                "require2FA": False,
                "allowMemberInvite": True,
                "allowMemberProjectCreation": True,
                "allowSuperuserAccess": False,
                "hasAuthProvider": False,
                "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None},
                "links": {
                    "organizationUrl": f"{base_url}/organizations/{row.org_slug}/",
                    "regionUrl": base_url,
                },
                "features": [],
            },
            "options": {},
            # What Bughound applies: grouping, its rules and the transition between configs.
            "groupingConfig": row.grouping_config,
            "groupingEnhancements": str(options.get("sentry:grouping_enhancements") or ""),
            "derivedGroupingEnhancements": "",
            "fingerprintingRules": str(options.get("sentry:fingerprinting_rules") or ""),
            "secondaryGroupingConfig": options.get("sentry:secondary_grouping_config"),
            "secondaryGroupingExpiry": int(options.get("sentry:secondary_grouping_expiry") or 0),
            "resolveAge": int(options.get("sentry:resolve_age") or 0),
            # Settings Bughound does not have (yet): their values say what it does instead.
            "dataScrubber": True,  # Relay's default scrubbing always runs
            "dataScrubberDefaults": True,
            "scrubIPAddresses": False,
            "safeFields": [],
            "sensitiveFields": [],
            "relayPiiConfig": None,
            "allowedDomains": ["*"],
            "scrapeJavaScript": False,
            "securityToken": "",
            "securityTokenHeader": None,
            "verifySSL": False,
            "storeCrashReports": None,
            "processingIssues": 0,
            "defaultEnvironment": None,
            "subjectPrefix": "",
            "subjectTemplate": "$shortID - $title",
            "digestsMinDelay": 300,
            "digestsMaxDelay": 1800,
            "builtinSymbolSources": [],
            "symbolSources": "[]",
            "debugFilesRole": None,
            "dynamicSamplingBiases": None,
            "enableAutoReleaseCreation": False,
            "highlightTags": [],
            "highlightContext": {},
            "highlightPreset": {"tags": [], "context": {}},
            "autofixAutomationTuning": "off",
            "seerScannerAutomation": False,
            "seerNightshiftTweaks": None,
            "scmSourceContextEnabled": False,
            "tempestFetchScreenshots": False,
        }


_HAS_FLAGS = (
    "hasFeedbacks hasFlags hasInsightsAgentMonitoring hasInsightsAppStart hasInsightsAssets "
    "hasInsightsCaches hasInsightsDb hasInsightsHttp hasInsightsMCP hasInsightsQueues "
    "hasInsightsScreenLoad hasInsightsVitals hasLogs hasMinifiedStackTrace hasMonitors "
    "hasNewFeedbacks hasProfiles hasReplays hasSessions hasTraceMetrics hasUserReports"
).split()
