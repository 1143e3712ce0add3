"""The stack-trace based strategies of `newstyle:2023-01-11` (pure).

`stacktrace:v1` (variants `app` and `system`), `single-exception:v1`, `chained-exception:v1`
(also the entry point for a single exception, with exception-group filtering) and `threads:v1`,
plus the two variant post-processing steps Sentry runs on their output: a `system` variant whose
hash equals the `app` one stops contributing, and variants without a contributing stack trace
stop contributing when another variant has one.

Strategies return `{variant name: component}`; a leading `!` marks the priority variant.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bughound.grouping.component import ZERO_COUNTS, Component, FrameCounts, add_counts
from bughound.grouping.enhancements import Enhancements, ExceptionData, MatchFrame
from bughound.grouping.frame import frame_parts, has_url_origin
from bughound.grouping.functions import family
from bughound.grouping.parameterization import normalize_message
from bughound.grouping.prepare import Prepared, PreparedStack

__all__ = ["StrategyContext", "chained_exception", "finish_variants", "stacktrace_variants", "threads"]

Variants = dict[str, Component]
_RECURSION_FIELDS = ("abs_path", "package", "module", "filename", "function", "lineno", "colno")


@dataclass
class StrategyContext:
    prepared: Prepared
    enhancements: Enhancements
    flags: dict[str, bool] = field(default_factory=dict)

    @property
    def event(self) -> dict[str, Any]:
        return self.prepared.event


def _frames(stacktrace: dict[str, Any]) -> list[dict[str, Any]]:
    frames = stacktrace.get("frames")
    return [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _is_recursion(frame: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    return previous is not None and all(frame.get(f) == previous.get(f) for f in _RECURSION_FIELDS)


def _client_in_app(frame: dict[str, Any]) -> bool | None:
    """The in_app value before stack-trace rules ran (Sentry's `data.client_in_app`)."""
    data = frame.get("data")
    orig = data.get("orig_in_app") if isinstance(data, dict) else None
    if orig is not None:
        return None if orig == -1 else bool(orig)
    in_app = frame.get("in_app")
    return in_app if isinstance(in_app, bool) else None


def _can_use(variant: str, frame: Component, hint: str | None, wanted: str) -> bool:
    if hint is None:
        return False
    kind = "contributes" if "ignored" in hint else "in-app"
    if kind != wanted:
        return False
    if variant == "app" and not frame.in_app and kind == "contributes":
        return False
    return not (variant == "system" and kind == "in-app")


def _frame_hint(
    variant: str,
    component: Component,
    incoming: str | None,
    client: bool | None,
    in_app_rule_hint: str | None,
    contributes_rule_hint: str | None,
) -> str | None:
    """Sentry's `_get_hint_for_frame` twice (in-app, then contributes) and `_combine_hints`."""
    in_app_hint = None
    if variant == "app":
        client_hint = None
        if client is not None and client == component.in_app:
            client_hint = f"marked {'in-app' if client else 'out of app'} by the client"
        default = None if component.in_app else "non app frame"
        own = client_hint or default or incoming
        use_rule = _can_use(variant, component, in_app_rule_hint, "in-app")
        if (
            in_app_rule_hint is not None
            and in_app_rule_hint.startswith("marked")
            and component.in_app == client
        ):
            use_rule = False
        in_app_hint = (
            in_app_rule_hint if use_rule else own if _can_use(variant, component, own, "in-app") else None
        )
    if _can_use(variant, component, contributes_rule_hint, "contributes"):
        contributes_hint = contributes_rule_hint
    else:
        contributes_hint = incoming if _can_use(variant, component, incoming, "contributes") else None
    if variant == "system":
        return contributes_hint
    if not component.in_app:
        return in_app_hint
    if in_app_hint and contributes_hint:
        return f"{in_app_hint} {'and' if component.contributes else 'but'} {contributes_hint}"
    return in_app_hint or contributes_hint


class _StackComponents:
    """A stack trace's frame components per variant and its stack-level verdicts; shared by
    every event with the same (prepared) stack trace, so never modified."""

    __slots__ = ("counts", "texts", "variants")

    def __init__(self, variants: dict[str, tuple[list[Component], bool, str | None]], counts: FrameCounts):
        self.variants = variants
        self.counts = counts
        self.texts = {name: "".join(f.text() for f in frames) for name, (frames, _, _) in variants.items()}


def stacktrace_variants(ctx: StrategyContext, stacktrace: dict[str, Any]) -> Variants:
    """`stacktrace:v1`: `{"!app": ..., "system": ...}` stacktrace components."""
    prepared = ctx.prepared.stacks.get(id(stacktrace))
    built = prepared.variants if prepared is not None else None
    if built is None:
        built = _build_stack(ctx, stacktrace, prepared)
        if prepared is not None:
            prepared.variants = built
    result: Variants = {}
    for name, (frames, contributes, hint) in built.variants.items():
        component = Component("stacktrace", frames, hint=hint, contributes=contributes)
        component.frame_counts = built.counts
        component.leaf_text = built.texts[name]  # its frames never change
        result[name] = component
    return result


def _build_stack(
    ctx: StrategyContext, stacktrace: dict[str, Any], prepared: PreparedStack | None
) -> _StackComponents:
    frames = _frames(stacktrace)
    platform = ctx.event.get("platform")
    if prepared is not None:
        match_frames, exc = prepared.match_frames, prepared.exception
    else:
        match_frames, exc = [MatchFrame(f, platform) for f in frames], ExceptionData()
    enhancements = ctx.enhancements
    rule_matches = enhancements.contributes_matches(match_frames, exc) if frames else []
    parts = [frame_parts(f, platform) for f in frames]
    recursion = [_is_recursion(f, frames[i - 1] if i else None) for i, f in enumerate(frames)]
    in_app_rule_hints: list[str | None] | None = None
    built: dict[str, tuple[list[Component], bool, str | None]] = {}
    for variant in ("app", "system"):
        components: list[Component] = []
        for frame, part, recursive in zip(frames, parts, recursion, strict=True):
            in_app = frame.get("in_app") is True
            contributes, hint = part.contributes, part.hint
            if recursive:
                contributes, hint = False, "ignored due to recursion"
            if variant == "app" and not in_app:
                contributes = False
            components.append(Component.frame(part.children, part.text, in_app, contributes, hint))
        if len(frames) == 1 and components[0].contributes and not frames[0].get("function"):
            frame_platform = frames[0].get("platform") or platform
            if family(frame_platform) == "javascript" and has_url_origin(frames[0].get("abs_path"), True):
                components[0].update(contributes=False, hint="ignored single non-URL JavaScript frame")
        assembled = enhancements.assemble(rule_matches, [c.contributes for c in components])
        if variant == "app" and in_app_rule_hints is None:
            in_app_rule_hints = enhancements.in_app_hints(match_frames, exc)
        for i, component in enumerate(components):
            incoming = component.hint
            component.contributes = (
                False if variant == "app" and not component.in_app else assembled.contributes[i]
            )
            component.hint = _frame_hint(
                variant,
                component,
                incoming,
                _client_in_app(frames[i]),
                in_app_rule_hints[i] if variant == "app" and in_app_rule_hints else None,
                assembled.hints[i],
            )
        built["!app" if variant == "app" else "system"] = (
            components,
            assembled.stacktrace_contributes,
            assembled.stacktrace_hint,
        )
    tally = [0, 0, 0, 0]
    for component in built["system"][0]:
        tally[(0 if component.in_app else 2) + (0 if component.contributes else 1)] += 1
    counts: FrameCounts = (tally[0], tally[1], tally[2], tally[3])
    app, system = list(built["!app"]), list(built["system"])
    if not frames:
        app[1:] = system[1:] = [False, "ignored because it contains no frames"]
    else:
        if counts[0] + counts[2] == 0:
            system[1:] = [False, "ignored because it contains no contributing frames"]
        if counts[0] + counts[1] == 0:
            app[1:] = [False, "ignored because it contains no in-app frames"]
        elif counts[0] == 0:
            app[1:] = [False, "ignored because it contains no contributing frames"]
    return _StackComponents({"!app": tuple(app), "system": tuple(system)}, counts)  # type: ignore[dict-item]


_CACHE_LIMIT = 20_000
_no_stack_cache: dict[Any, Any] = {}


def single_exception(ctx: StrategyContext, exception: dict[str, Any]) -> Variants:
    """`single-exception:v1`, children in the legacy order stacktrace, type, [ns_error,] value.

    The children of an exception depend only on its stack trace, type, normalized value and
    mechanism flags, so they are built once per such combination and shared."""
    ty = exception.get("type")
    ty = ty if isinstance(ty, str) and ty else None
    raw = exception.get("value")
    normalized = normalize_message(raw) if isinstance(raw, str) else None
    mechanism = exception.get("mechanism")
    synthetic, ns_error = False, None
    if isinstance(mechanism, dict):
        synthetic = bool(mechanism.get("synthetic"))
        meta = mechanism.get("meta")
        ns_error = meta.get("ns_error") if isinstance(meta, dict) else None
    ns_error_key = (ns_error.get("domain"), ns_error.get("code")) if isinstance(ns_error, dict) else None
    stacktrace = exception.get("stacktrace")
    has_stack = isinstance(stacktrace, dict) and bool(_frames(stacktrace))
    prepared = ctx.prepared.stacks.get(id(stacktrace)) if has_stack else None
    cache = prepared.exceptions if prepared is not None else _no_stack_cache if not has_stack else None
    key = (ty, normalized, raw != normalized, synthetic, ns_error_key)
    try:
        built = cache.get(key) if cache is not None else None
    except TypeError:  # an unhashable NSError field
        cache, built = None, None
    if built is None:
        built = _build_exception(ctx, stacktrace if has_stack else None, key)
        if cache is not None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = built
    result: Variants = {}
    for variant, children, counts, contributes, text in built:
        component = Component("exception", children, contributes=contributes)
        component.frame_counts = counts
        component.leaf_text = text
        result[variant] = component
    return result


def _build_exception(
    ctx: StrategyContext, stacktrace: dict[str, Any] | None, key: tuple[Any, ...]
) -> list[Any]:
    ty, normalized, stripped, synthetic, ns_error = key
    type_c = Component("type", [ty] if ty else [])
    if synthetic:
        type_c.update(contributes=False, hint="ignored because exception is synthetic")
    ns_error_c = None
    if ns_error is not None:
        domain, code = ns_error
        ns_error_c = Component("ns_error", [Component("domain", [domain]), Component("code", [code])])
    if stacktrace is not None:
        stacktraces = stacktrace_variants(ctx, stacktrace)
    else:
        stacktraces = {"!app": Component("stacktrace")}
    built = []
    for variant, stacktrace_c in stacktraces.items():
        value_c = Component("value")
        if normalized:
            value_c.update(values=[normalized], hint="stripped event-specific values" if stripped else None)
        if stacktrace_c.contributes and value_c.contributes:
            value_c.update(contributes=False, hint="ignored because stacktrace takes precedence")
        if ns_error_c is not None and ns_error_c.contributes and value_c.contributes:
            value_c.update(contributes=False, hint="ignored because ns-error info takes precedence")
        children = (
            [stacktrace_c, type_c, value_c]
            if ns_error_c is None
            else [stacktrace_c, type_c, ns_error_c, value_c]
        )
        probe = Component("exception", children)
        built.append((variant, tuple(children), stacktrace_c.frame_counts, probe.contributes, probe.text()))
    return built


def _structure(component: Component) -> tuple[Any, ...]:
    """What Sentry compares when it compares exception components (their reprs)."""
    values = tuple(_structure(v) if isinstance(v, Component) else v for v in component.values)
    return (component.id, component.hint, component.contributes, values)


class _Broken(Exception):
    pass


def _mechanism(exception: dict[str, Any]) -> dict[str, Any]:
    mechanism = exception.get("mechanism")
    return mechanism if isinstance(mechanism, dict) else {}


def filter_exception_groups(
    event: dict[str, Any], exceptions: list[dict[str, Any]], components: list[Variants]
) -> list[int]:
    """Indexes of the exceptions to group on, after RFC 0079's exception-group rules."""
    everything = list(range(len(exceptions)))
    if len(exceptions) <= 1:
        return everything
    sdk = event.get("sdk")
    version = sdk.get("version") if isinstance(sdk, dict) else None
    if event.get("platform") == "python" and isinstance(version, str) and version.startswith("3"):
        return everything
    exception_of: dict[Any, int] = {}
    children: dict[Any, list[int]] = {}
    for index in reversed(everything):
        mechanism = _mechanism(exceptions[index])
        exception_id, parent_id = mechanism.get("exception_id"), mechanism.get("parent_id")
        try:
            usable = (
                exception_id is not None and exception_id != parent_id and exception_id not in exception_of
            )
        except TypeError:  # an unhashable id
            return everything
        if not usable:
            return everything
        exception_of[exception_id] = index
        if parent_id is not None:
            try:
                children.setdefault(parent_id, []).append(index)
            except TypeError:
                return everything

    def kids(index: int) -> list[int]:
        return children.get(_mechanism(exceptions[index]).get("exception_id"), [])

    def top_level(index: int, path: frozenset[int]) -> Iterator[int]:
        if index in path:
            raise _Broken  # a cycle: Sentry recurses until it fails, then keeps the whole list
        if _mechanism(exceptions[index]).get("is_exception_group"):
            for child in kids(index):
                yield from top_level(child, path | {index})
        else:
            yield index

    def first_path(index: int) -> list[int]:
        path: list[int] = []
        while index not in path:
            path.append(index)
            below = kids(index)
            if not below:
                return path
            index = below[0]
        raise _Broken

    root = exception_of.get(0)
    if root is None:
        return everything
    try:
        # No top-level exceptions (all are groups, or a broken tree): as Sentry's late-2025
        # snapshots show, only the root group is kept.
        tops = sorted(
            top_level(root, frozenset()), key=lambda i: str(exceptions[i].get("type")), reverse=True
        )
        if len(tops) == 1:
            distinct = tops
        else:
            keys = {i: tuple(_structure(c) for c in components[i].values()) for i in tops}
            distinct = [next(group) for _, group in itertools.groupby(tops, key=lambda i: keys[i])]
        if len(distinct) == 1:
            event["main_exception_id"] = _mechanism(exceptions[distinct[0]]).get("exception_id")
            return first_path(distinct[0])
    except (_Broken, RecursionError):
        return everything
    return [*distinct, root]


REACT_ERRORS_WITH_CAUSE = (
    "There was an error during concurrent rendering but React was able to recover by instead synchronously "
    "rendering the entire root.",
    "There was an error while hydrating but React was able to recover by instead client rendering from the "
    "nearest Suspense boundary.",
)
_RXJAVA_TYPES = ("OnErrorNotImplementedException", "CompositeException", "UndeliverableException")


def _main_exception_override(exceptions: list[dict[str, Any]]) -> Any:
    first, last = exceptions[0], exceptions[-1]
    if (
        first.get("type") == "Error"
        and first.get("value") in REACT_ERRORS_WITH_CAUSE
        and _mechanism(last).get("source") == "cause"
    ):
        return _mechanism(last).get("exception_id")
    for exception in exceptions:
        mechanism = _mechanism(exception)
        if (
            exception.get("module") == "io.reactivex.rxjava3.exceptions"
            and exception.get("type") in _RXJAVA_TYPES
            and mechanism.get("type") == "UncaughtExceptionHandler"
        ):
            for inner in exceptions:
                inner_mechanism = _mechanism(inner)
                if (
                    inner_mechanism.get("parent_id") == mechanism.get("exception_id")
                    and inner_mechanism.get("exception_id") is not None
                ):
                    return inner_mechanism.get("exception_id")
            break
    return None


def chained_exception(ctx: StrategyContext, exceptions: list[dict[str, Any]]) -> Variants:
    """`chained-exception:v1` over `exception.values` (oldest first, as SDKs send them)."""
    components = [single_exception(ctx, e) for e in exceptions]
    chosen = filter_exception_groups(ctx.event, exceptions, components)
    if len(chosen) == 1:
        return components[chosen[0]]
    main_id = _main_exception_override([exceptions[i] for i in chosen])
    if main_id:
        ctx.event["main_exception_id"] = main_id
    by_variant: dict[str, list[Component]] = {}
    for index in chosen:
        for variant, component in components[index].items():
            by_variant.setdefault(variant, []).append(component)
    result: Variants = {}
    for variant, values in by_variant.items():
        chained = Component("chained_exception", values)
        counts = ZERO_COUNTS
        for value in values:
            counts = add_counts(counts, value.frame_counts)
        chained.frame_counts = counts
        chained.leaf_text = "".join(v.text() for v in values)  # its exceptions never change
        result[variant] = chained
    return result


def threads(ctx: StrategyContext, values: list[Any]) -> Variants:
    """`threads:v1`: the stack trace of the one crashed, else current, else only thread."""
    thread_dicts = [t for t in values if isinstance(t, dict)]
    crashed = [t for t in thread_dicts if t.get("crashed")]
    current = [t for t in thread_dicts if t.get("current")]
    for candidates in (crashed, current, thread_dicts):
        if len(candidates) != 1:
            continue
        stacktrace = candidates[0].get("stacktrace")
        if not stacktrace or not isinstance(stacktrace, dict):
            return {
                "app": Component(
                    "threads", contributes=False, hint="ignored because thread has no stacktrace"
                )
            }
        result: Variants = {}
        for variant, stacktrace_c in stacktrace_variants(ctx, stacktrace).items():
            component = Component("threads", [stacktrace_c])
            component.frame_counts = stacktrace_c.frame_counts
            result[variant] = component
        return result
    return {
        "app": Component(
            "threads",
            contributes=False,
            hint="ignored because it contains neither a single thread nor multiple threads with exactly one "
            f"crashing or current thread; instead contains {len(crashed)} crashing, {len(current)} current, "
            f"and {len(thread_dicts)} total threads",
        )
    }


def finish_variants(variants: Variants, remove_non_stacktrace: bool) -> Variants:
    """Strip the `!` priority marks (a non-priority variant with the priority one's hash stops
    contributing), then run `remove_non_stacktrace_variants` if the strategy asks for it."""
    priority_hashes: dict[str | None, str] = {}
    others: list[str] = []
    final: Variants = {}
    for name, component in variants.items():
        bare = name.lstrip("!")
        if component.contributes:
            if name.startswith("!"):
                priority_hashes[component.get_hash()] = bare
            else:
                others.append(bare)
        final[bare] = component
    for name in others:
        match = priority_hashes.get(final[name].get_hash())
        if match is not None:
            final[name].update(contributes=False, hint=f"ignored because hash matches {match} variant")
    if remove_non_stacktrace and len(final) > 1:
        with_stacktrace = [
            name
            for name, component in final.items()
            if component.find("stacktrace", recursive=True, only_contributing=True) is not None
        ]
        if with_stacktrace:
            suffix = f"the {with_stacktrace[0]} variant does" if len(with_stacktrace) == 1 else "others do"
            for name, component in final.items():
                if name not in with_stacktrace:
                    component.update(
                        contributes=False,
                        hint="ignored because this variant does not have a contributing stacktrace, "
                        f"but {suffix}",
                    )
    return final
