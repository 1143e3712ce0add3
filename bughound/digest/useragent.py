"""Browser, device and OS contexts from the event's User-Agent header (Relay's user_agent.rs).

Parsing uses ua-parser (the uap-core rules Relay uses too); results are cached, since a
service's traffic carries few distinct user agents.
"""

from __future__ import annotations

import functools
from typing import Any

import ua_parser


def _version(major: str | None, minor: str | None, patch: str | None) -> str | None:
    if not major:
        return None
    version = major
    if minor:
        version += f".{minor}"
        if patch:
            version += f".{patch}"
    return version


@functools.lru_cache(maxsize=2048)
def contexts_for(user_agent: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(kind, context) pairs for a User-Agent string; kinds are browser, device and os."""
    result = ua_parser.parse(user_agent)
    found: list[tuple[str, dict[str, Any]]] = []
    browser = result.user_agent
    if browser is not None and browser.family != "Other":
        name = "Chrome" if browser.family == "Google Chrome" else browser.family
        context = {
            "name": name,
            "version": _version(browser.major, browser.minor, browser.patch),
            "type": "browser",
        }
        found.append(("browser", {k: v for k, v in context.items() if v is not None}))
    device = result.device
    if device is not None and device.family != "Other":
        context = {"family": device.family, "model": device.model, "brand": device.brand, "type": "device"}
        found.append(("device", {k: v for k, v in context.items() if v is not None}))
    os = result.os
    if os is not None and os.family != "Other":
        version = _version(os.major, os.minor, os.patch)
        # User agents freeze the version at Windows 10 and macOS 10.15.7: it may be higher.
        if (os.family, version) in (("Windows", "10"), ("Mac OS X", "10.15.7")):
            version = f">={version}"
        context = {"name": os.family, "version": version, "type": "os"}
        found.append(("os", {k: v for k, v in context.items() if v is not None}))
    return tuple(found)


def add_user_agent_contexts(event: dict[str, Any]) -> None:
    """Fill missing browser/device/OS contexts from `request.headers` (the OS goes to `client_os`
    unless the event is JavaScript, so that a server SDK's own `os` context is kept)."""
    request = event.get("request")
    headers = request.get("headers") if isinstance(request, dict) else None
    if not isinstance(headers, list):
        return
    user_agent = next(
        (v for k, v in headers if isinstance(k, str) and k.lower() == "user-agent" and isinstance(v, str)),
        None,
    )
    if not user_agent:
        return
    contexts = event.setdefault("contexts", {})
    for kind, context in contexts_for(user_agent[:1024]):
        key = (
            "os"
            if kind == "os" and event.get("platform") == "javascript"
            else "client_os"
            if kind == "os"
            else kind
        )
        if key not in contexts:
            contexts[key] = dict(context)
    if not contexts:
        event.pop("contexts")
