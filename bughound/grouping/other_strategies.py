"""The non-stack-trace strategies (pure): `template:v1`, the security reports (`csp:v1`,
`hpkp:v1`, `expect-ct:v1`, `expect-staple:v1`) and `message:v1`, all in the `default` variant."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bughound.grouping.component import Component
from bughound.grouping.parameterization import normalize_message

__all__ = ["csp", "hostname_report", "message", "template"]

_LOCAL = "'self'"
_SALT_HINT = "a static salt"  # Sentry's salt components always carry this hint


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def template(data: dict[str, Any]) -> dict[str, Component]:
    filename_c = Component("filename")
    if data.get("filename") is not None:
        filename_c.update(values=[str(data["filename"])])
    context_c = Component("context_line")
    if data.get("context_line") is not None:
        context_c.update(values=[str(data["context_line"])])
    return {"default": Component("template", [filename_c, context_c])}


def hostname_report(kind: str, data: dict[str, Any]) -> dict[str, Component]:
    """HPKP, Expect-CT and Expect-Staple reports group by their kind and hostname."""
    hostname = data.get("hostname")
    return {
        "default": Component(
            kind.replace("-", "_"),
            [
                Component("salt", [kind], hint=_SALT_HINT),
                Component("hostname", [hostname if isinstance(hostname, str) else str(hostname)]),
            ],
        )
    }


def _normalize_uri(value: str) -> str:
    if value in ("", _LOCAL, _LOCAL.strip("'")):
        return _LOCAL
    if ":" not in value:
        scheme, hostname = value, ""
    else:
        try:
            scheme, hostname = urlsplit(value)[:2]
        except ValueError:
            scheme, hostname = value, ""
        if scheme in ("http", "https"):
            return hostname
    return urlunsplit((scheme, hostname, "", None, None))  # type: ignore[arg-type]


def csp(data: dict[str, Any]) -> dict[str, Component]:
    blocked = _normalize_uri(_str(data.get("blocked_uri")) or "")
    violated = _str(data.get("violated_directive"))
    directive = _str(data.get("effective_directive"))
    local_violation = None
    if violated and directive == "script-src" and blocked == _LOCAL:
        if "'unsafe-inline'" in violated:
            local_violation = "unsafe-inline"
        elif "'unsafe-eval'" in violated:
            local_violation = "unsafe-eval"
    violation_c = Component("violation")
    uri_c = Component("uri")
    if local_violation:
        violation_c.update(values=[f"'{local_violation}'"])
        uri_c.update(contributes=False, hint="violation takes precedence", values=[blocked])
    else:
        violation_c.update(contributes=False, hint="not a local script violation")
        uri_c.update(values=[blocked])
    salt = Component("salt", [str(directive)], hint=_SALT_HINT)
    return {"default": Component("csp", [salt, violation_c, uri_c])}


def message(logentry: dict[str, Any]) -> dict[str, Component]:
    """`message:v1`: the template (`logentry.message`) if there is one, else the formatted
    message, trimmed to two lines and parameterized."""
    raw = _str(logentry.get("message")) or _str(logentry.get("formatted")) or ""
    normalized = normalize_message(raw)
    hint = "stripped event-specific values" if raw != normalized else None
    return {"default": Component("message", [normalized], hint=hint)}
