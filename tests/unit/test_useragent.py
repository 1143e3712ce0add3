"""User-Agent contexts (Relay's normalize_user_agent) and the tags Sentry derives from contexts."""

from __future__ import annotations

from typing import Any

from bughound.digest.normalize import Context, normalize_event
from bughound.digest.tags import derive_tags

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)


def norm(platform: str, user_agent: str, **extra: Any) -> dict[str, Any]:
    event = {
        "platform": platform,
        "request": {"url": "https://x.test/", "headers": {"User-Agent": user_agent}},
    }
    return normalize_event({**event, **extra}, Context(received=1.7e9, project_id=1, key_id=1))


def test_browser_and_os_contexts_for_javascript() -> None:
    contexts = norm("javascript", CHROME_WINDOWS)["contexts"]
    assert contexts["browser"] == {"name": "Chrome", "version": "120.0.0", "type": "browser"}
    assert contexts["os"] == {"name": "Windows", "version": ">=10", "type": "os"}


def test_device_context_and_client_os_for_server_platforms() -> None:
    contexts = norm("python", SAFARI_IPHONE)["contexts"]
    assert contexts["device"] == {"family": "iPhone", "model": "iPhone", "brand": "Apple", "type": "device"}
    assert contexts["client_os"] == {"name": "iOS", "version": "17.1", "type": "os"}
    assert "os" not in contexts


def test_sdk_contexts_are_kept() -> None:
    own = {"browser": {"name": "Firefox", "version": "1", "type": "browser"}}
    contexts = norm("javascript", CHROME_WINDOWS, contexts=own)["contexts"]
    assert contexts["browser"] == {"name": "Firefox", "version": "1", "type": "browser"}


def test_unknown_user_agents_add_nothing() -> None:
    assert "contexts" not in norm("node", "node")


def test_context_tags_are_named_after_the_context_key() -> None:
    tags = dict(derive_tags(norm("python", SAFARI_IPHONE)))
    assert tags["browser"] == "Mobile Safari 17.1"
    assert tags["browser.name"] == "Mobile Safari"
    assert tags["client_os"] == "iOS 17.1"
    assert tags["client_os.name"] == "iOS"
    assert tags["device"] == "iPhone"
    assert tags["device.family"] == "iPhone"


def test_a_tag_needs_every_field() -> None:
    event = {"contexts": {"runtime": {"name": "CPython", "type": "runtime"}}}
    assert dict(derive_tags(event)) == {"runtime.name": "CPython"}
