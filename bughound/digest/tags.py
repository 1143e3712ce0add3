"""The tags Sentry derives from an event at save time (pure), added to the SDK's own tags."""

from __future__ import annotations

from typing import Any

from bughound.digest.normalize import user_ident

# context type -> ((tag suffix, fields joined by a space), ...), after Sentry's
# ContextType.context_to_tag_mapping; the tag is the context's key, plus `.suffix`. A tag is
# only made when every field it names is present.
_CONTEXT_TAGS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "browser": (("", ("name", "version")), ("name", ("name",))),
    "os": (("", ("name", "version")), ("name", ("name",))),
    "runtime": (("", ("name", "version")), ("name", ("name",))),
    "device": (("", ("model",)), ("family", ("family",))),
    "gpu": (("name", ("name",)), ("vendor", ("vendor_name",))),
}


def _context_tags(contexts: Any) -> list[tuple[str, str]]:
    if not isinstance(contexts, dict):
        return []
    out: list[tuple[str, str]] = []
    for alias, context in contexts.items():
        if not isinstance(context, dict):
            continue
        kind = context.get("type") or alias
        for suffix, fields in _CONTEXT_TAGS.get(kind, ()):
            values = [context.get(f) for f in fields]
            if None in values or "" in values:
                continue
            out.append((f"{alias}.{suffix}" if suffix else alias, " ".join(map(str, values))))
    return out


def derive_tags(event: dict[str, Any]) -> list[list[str]]:
    """The event's tag list as Sentry stores it: the SDK's tags plus the derived ones."""
    tags: dict[str, str] = {k: v for k, v in event.get("tags") or []}
    derived: list[tuple[str, Any]] = [
        ("level", event.get("level")),
        ("environment", event.get("environment")),
        ("release", event.get("release")),
        ("dist", event.get("dist")),
        ("transaction", event.get("transaction")),
        ("user", user_ident(event.get("user"))),
    ]
    if event.get("logger"):
        derived.append(("logger", event["logger"]))
    request = event.get("request")
    if isinstance(request, dict) and isinstance(request.get("url"), str):
        derived.append(("url", request["url"]))
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    if values:
        mechanism = values[-1].get("mechanism") if isinstance(values[-1], dict) else None
        if isinstance(mechanism, dict):
            if isinstance(mechanism.get("handled"), bool):
                derived.append(("handled", "yes" if mechanism["handled"] else "no"))
            if mechanism.get("type"):
                derived.append(("mechanism", mechanism["type"]))
    derived += _context_tags(event.get("contexts"))
    for key, value in derived:
        if value in (None, "") or key in tags:
            continue
        text = str(value)[:200]
        if "\n" not in text:
            tags[key] = text
    return [[k, v] for k, v in tags.items()]
