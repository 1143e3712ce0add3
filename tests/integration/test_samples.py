"""Replay every captured SDK request in ../shared/sdk-samples/ and read its events back.

Each request is sent with its recorded path, headers and body; only the DSN key (in the auth
header or query string) and the project id in the path are swapped for the test project's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bughound.storage.store import Store
from tests.conftest import SHARED, shared_path
from tests.factories import Harness, Project, make_project

SAMPLE_KEYS = ("publickey123", "0123456789abcdef0123456789abcdef")
EVENT_ITEMS = ("event", "transaction", "feedback")


def sample_dirs() -> list[str]:
    root = SHARED / "sdk-samples"
    if not root.exists():
        return ["(absent)"]
    return sorted(p.name for p in root.iterdir() if (p / "request.json").exists())


def _swap(text: str, project: Project) -> str:
    for key in SAMPLE_KEYS:
        text = text.replace(key, project.public_key)
    return text.replace("/api/42/", f"/api/{project.id}/")


def replay(h: Harness, project: Project, folder: Path) -> Any:
    request = json.loads((folder / "request.json").read_text())
    headers = {
        k: _swap(v, project)
        for k, v in request["headers"].items()
        if k.lower() not in ("host", "content-length", "connection", "transfer-encoding")
    }
    return h.client.request(
        request["method"],
        _swap(request["path"], project),
        content=(folder / "envelope.bin").read_bytes(),
        headers=headers,
    )


def sent_events(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(item type, payload) of each event-like item the SDK sent."""
    out = []
    for header_file in sorted((folder / "items").glob("*.header.json")):
        kind = json.loads(header_file.read_text())["type"]
        if kind in EVENT_ITEMS:
            out.append(
                (kind, json.loads(header_file.with_name(header_file.name.replace(".header", "")).read_text()))
            )
    return out


@pytest.mark.parametrize("name", sample_dirs())
def test_sample_is_accepted_and_read_back(name: str, h: Harness, store: Store) -> None:
    folder = shared_path("sdk-samples", name)
    project = make_project(store)
    envelope_header = json.loads((folder / "envelope_header.json").read_text())
    response = replay(h, project, folder)
    assert response.status_code == 200, response.text
    event_id = envelope_header.get("event_id")
    assert response.json() == ({"id": event_id} if event_id else {})
    h.digest()
    for kind, sent in sent_events(folder):
        got = h.api(project, f"/api/0/projects/{project.org}/{project.slug}/events/{event_id}/")
        assert got.status_code == 200, got.text
        check_event(kind, sent, got.json())


def check_event(kind: str, sent: dict[str, Any], got: dict[str, Any]) -> None:
    assert got["type"] == {"transaction": "transaction", "feedback": "feedback"}.get(
        kind, "error" if sent.get("exception") else "default"
    )
    assert got["platform"] == sent.get("platform", "other")
    tags = {t["key"]: t["value"] for t in got["tags"]}
    sent_tags = sent.get("tags") or {}
    for key, value in sent_tags.items() if isinstance(sent_tags, dict) else sent_tags:
        if key not in ("release", "dist", "user", "environment"):
            assert tags[key] == str(value)
    for key in ("release", "environment"):
        if sent.get(key):
            assert tags[key] == sent[key]
    if sent.get("user", {}).get("id"):
        assert got["user"]["id"] == sent["user"]["id"]
    entries = {e["type"]: e["data"] for e in got["entries"]}
    if sent.get("exception"):
        values = sent["exception"]["values"]
        shown = entries["exception"]["values"]
        assert [v.get("type") for v in shown] == [v.get("type") for v in values]
        assert [v.get("value") for v in shown] == [v.get("value") for v in values]
        frames = values[-1].get("stacktrace", {}).get("frames", [])
        shown_frames = shown[-1]["stacktrace"]["frames"] if frames else []
        assert [f.get("function") for f in shown_frames] == [f.get("function") for f in frames]
        assert [f.get("lineNo") for f in shown_frames] == [f.get("lineno") for f in frames]
    message = sent.get("message")
    logentry = sent.get("logentry") or {}
    text = logentry.get("formatted") or (message if isinstance(message, str) else None)
    if text:
        assert got["message"] == text
        assert entries["message"]["formatted"] == text
    crumbs = sent.get("breadcrumbs") or []
    crumbs = crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs
    if crumbs:
        assert [c.get("message") for c in entries["breadcrumbs"]["values"]] == [
            c.get("message") for c in crumbs
        ]
    if sent.get("request", {}).get("url"):
        assert entries["request"]["url"] == sent["request"]["url"].split("?")[0]
    if kind == "transaction":
        assert got["endTimestamp"] is not None
    assert got["sdk"]["name"] == sent["sdk"]["name"]
