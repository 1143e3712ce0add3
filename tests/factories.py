"""Test helpers: a project with a key and a token, envelopes, a running app, the worker."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

from bughound.app import Bughound
from bughound.config import Settings
from bughound.digest.worker import Worker
from bughound.spool import open_spool
from bughound.storage.store import ALL_SCOPES, Store


@dataclasses.dataclass
class Project:
    org: str
    slug: str
    id: int
    public_key: str
    token: str
    user_id: int


def make_project(
    store: Store, org: str = "acme", slug: str = "web", scopes: list[str] | None = None
) -> Project:
    with store.write() as conn:
        org_id = store.ensure_organization(conn, org)
        user_id = store.ensure_user(conn, f"owner@{org}.test")
        member_id = store.ensure_member(conn, org_id, user_id, "owner")
        team_id = store.ensure_team(conn, org_id, org)
        store.ensure_team_member(conn, team_id, member_id)
        project_id = store.ensure_project(conn, org_id, slug, team_id)
        token = store.create_token(conn, user_id, scopes if scopes is not None else list(ALL_SCOPES))
    key = next(k for k in store.project_keys() if k.project_id == project_id)
    return Project(org, slug, project_id, key.public_key, token, user_id)


def envelope(
    *items: tuple[dict[str, Any], bytes | dict[str, Any]], headers: dict[str, Any] | None = None
) -> bytes:
    """An envelope of `items`; without `headers`, its header carries the event's id, as the SDKs'
    do (without one, ingestion gives the event a new id, as Relay does)."""
    if headers is None:
        ids = [p.get("event_id") for h, p in items if isinstance(p, dict) and h.get("type") == "event"]
        headers = {"event_id": ids[0]} if ids and ids[0] else {}
    lines = [json.dumps(headers).encode()]
    for item_headers, payload in items:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        lines += [json.dumps({**item_headers, "length": len(body)}).encode(), body]
    return b"\n".join(lines) + b"\n"


def error_event(**extra: Any) -> dict[str, Any]:
    event = {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "bad value",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app.py",
                                "function": "main",
                                "module": "app",
                                "lineno": 3,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
    }
    event.update(extra)
    return event


def auth_header(public_key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7, sentry_client=tests/1.0"}


class Harness:
    """The app in-process, plus a worker to digest what it spooled."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.spool = open_spool(settings, store.engine)
        self.app = Bughound(settings, store, self.spool)
        self.worker = Worker(settings, store, open_spool(settings, store.engine))
        self.client = TestClient(self.app, base_url="http://testserver")

    def digest(self) -> int:
        total = 0
        while n := self.worker.run_once():
            total += n
        return total

    def post_envelope(self, project: Project, body: bytes, **headers: str) -> Any:
        return self.client.post(
            f"/api/{project.id}/envelope/",
            content=body,
            headers={**auth_header(project.public_key), **headers},
        )

    def api(self, project: Project, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {project.token}"}, **kwargs)

    def close(self) -> None:
        self.client.close()
        self.spool.close()
        self.worker.close()
        self.worker.spool.close()


@contextmanager
def harness(settings: Settings, store: Store) -> Iterator[Harness]:
    h = Harness(settings, store)
    try:
        yield h
    finally:
        h.close()
