"""Sentry's issue grouping: `group(event)` -> variants and hashes (pure, versioned).

The input is an event after our Relay-like normalization (`bughound.digest.normalize`). Steps,
as Sentry's ingest runs them: prepare the stack traces (`prepare.py`), default the fingerprint
to `{{ default }}` and apply server-side fingerprint rules, then (unless a checksum decides)
run the config's strategies in priority order, build one component tree per variant, and
derive the hashes: contributing variants' hashes, `system` last.

Configs are looked up in `CONFIGS` by id. A new Sentry config gets a new entry (with its own
flags, rule bases and, if it changes them, its own strategy or pattern tables) so the hashes of
an existing config never change.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bughound.grouping.component import Component
from bughound.grouping.enhancements import InvalidEnhancements, load_enhancements
from bughound.grouping.fingerprint_rules import (
    FingerprintRule,
    apply_server_fingerprinting,
    builtin_rules,
    parse_fingerprinting,
)
from bughound.grouping.fingerprinting import InvalidFingerprinting, fingerprint_type, resolve_fingerprint
from bughound.grouping.inputs import strategy_inputs
from bughound.grouping.other_strategies import csp, hostname_report, message, template
from bughound.grouping.prepare import prepare_event
from bughound.grouping.strategies import (
    StrategyContext,
    Variants,
    chained_exception,
    finish_variants,
    stacktrace_variants,
    threads,
)
from bughound.grouping.variants import (
    ChecksumVariant,
    ComponentVariant,
    CustomFingerprintVariant,
    FallbackVariant,
    HashedChecksumVariant,
    SaltedComponentVariant,
    Variant,
)

__all__ = [
    "CONFIGS",
    "DEFAULT_CONFIG_ID",
    "Grouping",
    "GroupingConfig",
    "InvalidEnhancements",
    "InvalidFingerprinting",
    "UnknownConfig",
    "group",
    "known_config_ids",
    "validate_rules",
]

DEFAULT_CONFIG_ID = "newstyle:2023-01-11"


@dataclass(frozen=True)
class GroupingConfig:
    id: str
    enhancements_base: str
    fingerprinting_bases: tuple[str, ...]
    # Sentry's legacy switches; all on for newstyle:2023-01-11 and what this module implements.
    flags: Mapping[str, bool] = field(default_factory=dict)


CONFIGS: dict[str, GroupingConfig] = {
    DEFAULT_CONFIG_ID: GroupingConfig(
        id=DEFAULT_CONFIG_ID,
        enhancements_base="all-platforms:2023-01-11",
        fingerprinting_bases=("javascript@2024-02-02",),
        flags={
            "use_legacy_exception_subcomponent_order": True,
            "handle_js_single_frame_url_origin_backwards": True,
            "prevent_python_multiprocessing_context_line_parameterization": True,
            "use_legacy_unknown_variable_handling": True,
        },
    ),
}


class UnknownConfig(LookupError):
    """A grouping config id that is not in `CONFIGS`."""

    def __init__(self, config_id: str) -> None:
        super().__init__(f"unknown grouping config {config_id!r} (known: {', '.join(sorted(CONFIGS))})")
        self.config_id = config_id


_HASH = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Grouping:
    """The grouping of one event.

    `variants`: variant name -> variant (`app`, `system`, `default`, `custom_fingerprint`,
    `built_in_fingerprint`, `checksum`, `hashed_checksum`, `fallback`); `hashes`: the contributing
    hashes, non-`system` first; `event`: the event as grouping left it (in_app set by the rules,
    fingerprint defaulted or replaced by a rule); `title_override`: a fingerprint rule's `title=`.
    """

    config_id: str
    variants: dict[str, Variant]
    hashes: list[str]
    event: dict[str, Any]
    title_override: str | None = None

    def grouping_info(
        self, *, stored_hashes: list[str] | None = None, reverse_stacktraces: bool = False
    ) -> dict[str, Any]:
        """What Sentry's grouping-info endpoint returns: `{"grouping_config": id, "variants":
        {key: variant}}`. With `stored_hashes`, each variant gets `hashMismatch` (its hash is not
        among them); `reverse_stacktraces` lists frames newest first, as Sentry's UI does."""
        out = {}
        for variant in self.variants.values():
            data = {**variant.as_dict(reverse_stacktraces), "description": variant.info_description()}
            if stored_hashes is not None:
                data["hashMismatch"] = data["hash"] is not None and data["hash"] not in stored_hashes
            out[variant.key] = data
        return {"grouping_config": self.config_id, "variants": out}

    def variants_by_name(self) -> dict[str, dict[str, Any]]:
        """Variant name -> `as_dict()` (Sentry's older grouping-info shape)."""
        return {name: {"key": variant.key, **variant.as_dict()} for name, variant in self.variants.items()}


# --- strategies ----------------------------------------------------------------------------------

Strategy = Callable[[StrategyContext, dict[str, Any]], Variants | None]


def _exception_strategy(ctx: StrategyContext, event: dict[str, Any]) -> Variants | None:
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    values = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
    return finish_variants(chained_exception(ctx, values), True) if values else None


def _threads_strategy(ctx: StrategyContext, event: dict[str, Any]) -> Variants | None:
    threads_data = event.get("threads")
    values = threads_data.get("values") if isinstance(threads_data, dict) else None
    return finish_variants(threads(ctx, values), True) if isinstance(values, list) and values else None


def _stacktrace_strategy(ctx: StrategyContext, event: dict[str, Any]) -> Variants | None:
    stacktrace = event.get("stacktrace")
    return (
        finish_variants(stacktrace_variants(ctx, stacktrace), True) if isinstance(stacktrace, dict) else None
    )


def _simple(key: str, build: Callable[[dict[str, Any]], Variants]) -> Strategy:
    def strategy(ctx: StrategyContext, event: dict[str, Any]) -> Variants | None:
        data = event.get(key)
        return finish_variants(build(data), False) if isinstance(data, dict) else None

    return strategy


def _message_strategy(ctx: StrategyContext, event: dict[str, Any]) -> Variants | None:
    logentry = event.get("logentry")
    if not isinstance(logentry, dict) or not (logentry.get("message") or logentry.get("formatted")):
        return None
    return finish_variants(message(logentry), False)


# (strategy name, strategy), highest priority first: Sentry's `score` order.
STRATEGIES_2023: tuple[tuple[str, Strategy], ...] = (
    ("exception", _exception_strategy),
    ("threads", _threads_strategy),
    ("stacktrace", _stacktrace_strategy),
    ("template", _simple("template", template)),
    ("csp", _simple("csp", csp)),
    ("hpkp", _simple("hpkp", lambda d: hostname_report("hpkp", d))),
    ("expectstaple", _simple("expectstaple", lambda d: hostname_report("expect-staple", d))),
    ("expectct", _simple("expectct", lambda d: hostname_report("expect-ct", d))),
    ("message", _message_strategy),
)


def _component_variants(ctx: StrategyContext) -> dict[str, ComponentVariant]:
    """Run the strategies; the first with a contributing component wins, later ones are muted."""
    winner: str | None = None
    precedence_hint: str | None = None
    by_variant: dict[str, list[Component]] = {}
    for name, strategy in STRATEGIES_2023:
        variants = strategy(ctx, ctx.event)
        if not variants:
            continue
        for variant_name, component in variants.items():
            by_variant.setdefault(variant_name, []).append(component)
            if not component.contributes:
                continue
            if winner is None:
                winner = name
                takes = "take" if name.endswith("s") else "takes"
                if variant_name == "default":
                    precedence_hint = f"ignored because {name} {takes} precedence"
                else:
                    which = "/".join(sorted(n for n, c in variants.items() if c.contributes))
                    precedence_hint = f"ignored because {which} {name} {takes} precedence"
            elif name != winner:
                component.update(contributes=False, hint=precedence_hint)
    result = {}
    for variant_name, components in by_variant.items():
        root = Component(variant_name, components)
        if not root.contributes and precedence_hint:
            root.update(hint=precedence_hint)
        contributing = next((c for c in components if c.contributes), None)
        result[variant_name] = ComponentVariant(root, contributing)
    return result


def _custom_description(info: Mapping[str, Any]) -> str:
    rule = info.get("matched_rule")
    if rule:
        return "built-in fingerprint" if rule.get("is_builtin") else "custom server fingerprint"
    return "custom client fingerprint"


def _variants(ctx: StrategyContext) -> dict[str, Variant]:
    event = ctx.event
    checksum = event.get("checksum")
    if isinstance(checksum, str) and checksum:
        if _HASH.match(checksum):
            return {"checksum": ChecksumVariant(checksum)}
        return {"hashed_checksum": HashedChecksumVariant(checksum)}
    raw = event.get("fingerprint") or ["{{ default }}"]
    info = event.get("_fingerprint_info") or {}
    kind = fingerprint_type(raw)
    resolved = raw if kind == "default" else resolve_fingerprint(raw, event)
    variants: dict[str, Variant] = dict(_component_variants(ctx))
    if kind == "custom":
        hint = f"ignored because {_custom_description(info)} takes precedence"
        for variant in variants.values():
            assert isinstance(variant, ComponentVariant)
            variant.root.update(contributes=False, hint=hint)
        custom = CustomFingerprintVariant(resolved, info)
        variants[custom.name] = custom
    elif kind == "hybrid":
        for name, variant in list(variants.items()):
            assert isinstance(variant, ComponentVariant)
            variants[name] = SaltedComponentVariant(
                variant.root, variant.contributing_component, resolved, info
            )
    if not any(v.contributes for v in variants.values()):
        variants["fallback"] = FallbackVariant()
    return variants


def _fingerprint(value: object) -> list[str]:
    """The client fingerprint as Relay keeps it: strings, numbers as text; else `{{ default }}`."""
    if not isinstance(value, list):
        return ["{{ default }}"]
    out = []
    for entry in value:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, int | float) and not isinstance(entry, bool):
            out.append(str(entry))
    return out or ["{{ default }}"]


def group(
    event: dict[str, Any],
    config_id: str = DEFAULT_CONFIG_ID,
    *,
    project_enhancements: str = "",
    project_fingerprinting: str = "",
    hashes_only: bool = False,
    fingerprinted: bool = False,
) -> Grouping:
    """Group a normalized event with grouping config `config_id`.

    `project_enhancements` are the project's stack-trace rules (appended to the config's base
    rules), `project_fingerprinting` its fingerprint rules (tried before the built-in ones).
    Raises `UnknownConfig`, `InvalidEnhancements` or `InvalidFingerprinting` (both ValueError,
    with a message for the user). `event` itself is not modified; `Grouping.event` is the
    event as grouping changed it (a copy that shares unchanged parts with `event`).

    `hashes_only`: the caller reads the hashes, not the variants. Events whose exception values
    differ only where no value component contributes (a stack trace took precedence) then
    share one cache entry without normalizing their values, and `Grouping.variants` may show
    another such event's values.

    `fingerprinted`: the event is a stored one, whose fingerprint the server's rules already
    made (recorded in its `_fingerprint_info`): no rule is applied again, as in Sentry, where a
    stored event shows what was decided when it came in.
    """
    config = CONFIGS.get(config_id)
    if config is None:
        raise UnknownConfig(config_id)
    enhancements = load_enhancements(config.enhancements_base, project_enhancements)
    rules = _fingerprint_rules(config.id, project_fingerprinting)
    prepared = prepare_event(event, enhancements)
    grouped = prepared.event
    grouped["fingerprint"] = _fingerprint(grouped.get("fingerprint"))
    matched = None
    if not fingerprinted:
        grouped.pop("_fingerprint_info", None)
        matched = apply_server_fingerprinting(grouped, rules)
    title = grouped.get("title") if matched is not None and "title" in matched.attributes else None
    # Events of one issue mostly have equal strategy inputs: their variants are shared (variants
    # and their component trees are never modified once built).
    cache = enhancements.variants_cache
    cached: Any = None
    value_free: Any = None
    if hashes_only:
        try:
            value_free = strategy_inputs(prepared, config.id, exception_values=False)
            cached = cache.get(value_free) if value_free is not None else None
        except TypeError:
            value_free = None
        if cached is _VALUES_COUNT:
            cached, value_free = None, None
    key: Any = None
    if cached is None:
        try:
            key = strategy_inputs(prepared, config.id)
            cached = cache.get(key)
        except TypeError:
            key, cached = None, None
    if cached is None:
        before = grouped.get("main_exception_id", _UNSET)
        variants = _variants(StrategyContext(prepared, enhancements, dict(config.flags)))
        ordered = sorted(variants.items(), key=lambda item: item[0] == "system")
        hashes: list[str] = []
        for _, variant in ordered:
            value = variant.hash if variant.contributes else None
            if value is not None and value not in hashes:
                hashes.append(value)
        main = grouped.get("main_exception_id", _UNSET)
        cached = (variants, hashes, main if main is not before else _UNSET)
        if key is not None:
            _remember(cache, key, cached)
    if value_free is not None and value_free not in cache:
        _remember(cache, value_free, _VALUES_COUNT if _values_contribute(cached[0]) else cached)
    variants, hashes, main = cached
    if main is not _UNSET:
        grouped["main_exception_id"] = main
    return Grouping(config.id, variants, list(hashes), grouped, title)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()  # bounded: start over rather than track what is least used
    cache[key] = value


_UNSET = object()
_VALUES_COUNT = object()  # a value-free key whose events' exception values may make a hash


def _values_contribute(variants: dict[str, Variant]) -> bool:
    """Whether an exception value could add to a hash of these variants: true unless every
    exception (in every variant) has a stack trace or NSError info that takes precedence."""

    def exceptions(component: Component) -> Iterator[Component]:
        for child in component.children():
            if child.id == "exception":
                yield child
            else:
                yield from exceptions(child)

    for variant in variants.values():
        if not isinstance(variant, ComponentVariant):
            continue
        for exception in exceptions(variant.root):
            stacktrace, ns_error = exception.find("stacktrace"), exception.find("ns_error")
            if not (
                (stacktrace is not None and stacktrace.contributes)
                or (ns_error is not None and ns_error.contributes)
            ):
                return True
    return False


_CACHE_LIMIT = 500  # variants hold component trees (~9 KB each): keep the memory small


def known_config_ids() -> list[str]:
    """The grouping config ids `group()` accepts."""
    return sorted(CONFIGS)


def validate_rules(*, enhancements: str | None = None, fingerprinting: str | None = None) -> str | None:
    """The problem with project stack-trace rules or fingerprint rules (Sentry's message, for
    a 400 response), or None when they are valid."""
    try:
        if enhancements is not None:
            load_enhancements(CONFIGS[DEFAULT_CONFIG_ID].enhancements_base, enhancements)
        if fingerprinting is not None:
            parse_fingerprinting(fingerprinting)
    except (InvalidEnhancements, InvalidFingerprinting) as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=256)
def _fingerprint_rules(config_id: str, project_fingerprinting: str) -> tuple[FingerprintRule, ...]:
    rules = parse_fingerprinting(project_fingerprinting) if project_fingerprinting.strip() else ()
    for base in CONFIGS[config_id].fingerprinting_bases:
        rules = (*rules, *builtin_rules(base))
    return rules
