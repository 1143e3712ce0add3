"""Applying stack-trace rules to frames, as Sentry's Rust enhancer does (pure, cached).

Sentry splits every rule set in two: *classifier* rules (`+app/-app`, `category=`) change the
frames before grouping, *contributes* rules (`+group/-group`, `max-frames=`, `min-frames=`) change
which frame components count. Rules run in order, later ones override earlier ones; a rule first
finds all frames it matches, then acts on them.

Speed: a frame's static fields (family, function, module, package, path) decide most matchers, so
each distinct frame gets a bit mask of the rules whose static matchers it passes, computed once
and cached per rule set; per event only the few candidate rules are checked against the dynamic
parts (`app:`, `category:`, caller/callee brackets, exception matchers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from bughound.grouping.enhancement_rules import (
    FAMILY_BITS,
    STATIC_FIELDS,
    Action,
    FrameMatcher,
    InvalidEnhancements,
    Rule,
    parse_rules,
)
from bughound.grouping.functions import family

__all__ = [
    "BASES",
    "NO_EXCEPTION",
    "Enhancements",
    "ExceptionData",
    "InvalidEnhancements",
    "MatchFrame",
    "load_enhancements",
]

_MISSING = object()
_CACHE_LIMIT = 50_000


class MatchFrame:
    """The fields of one frame that rules look at; `in_app` and `category` change as rules run."""

    __slots__ = (
        "category",
        "family",
        "function",
        "in_app",
        "module",
        "orig_in_app",
        "package",
        "path",
        "sig",
    )

    def __init__(self, frame: dict[str, Any], platform: object) -> None:
        frame_platform = frame.get("platform")
        self.family = FAMILY_BITS[family(frame_platform if isinstance(frame_platform, str) else platform)]
        function = frame.get("function")
        self.function = function if isinstance(function, str) and function else "<unknown>"
        module = frame.get("module")
        self.module = module if isinstance(module, str) else None
        package = frame.get("package")
        path = frame.get("abs_path") or frame.get("filename")
        self.package = package.lower().replace("\\", "/") if isinstance(package, str) else None
        self.path = path.lower().replace("\\", "/") if isinstance(path, str) else None
        data = frame.get("data")
        category = data.get("category") if isinstance(data, dict) else None
        self.category = category if isinstance(category, str) else None
        in_app = frame.get("in_app")
        self.in_app: bool | None = in_app if isinstance(in_app, bool) else None
        orig = data.get("orig_in_app", _MISSING) if isinstance(data, dict) else _MISSING
        # Sentry records the client's value as 1, 0 or -1 (unset) when a rule changed it
        self.orig_in_app: object = (
            _MISSING if orig not in (-1, 0, 1) else (None if orig == -1 else bool(orig))
        )
        self.sig = (self.family, self.function, self.module, self.package, self.path)


@dataclass(frozen=True)
class ExceptionData:
    type: str | None = None
    value: str | None = None
    mechanism: str | None = None

    @classmethod
    def of(cls, exception: object) -> ExceptionData:
        if not isinstance(exception, dict):
            return NO_EXCEPTION
        mechanism = exception.get("mechanism")
        mech_type = mechanism.get("type") if isinstance(mechanism, dict) else None
        ty, value = exception.get("type"), exception.get("value")
        return cls(
            ty if isinstance(ty, str) else None,
            value if isinstance(value, str) else None,
            mech_type if isinstance(mech_type, str) else None,
        )


NO_EXCEPTION = ExceptionData()


def _field(frame: MatchFrame, key: str) -> str | None:
    return getattr(frame, key)  # type: ignore[no-any-return]


def _matches(matcher: FrameMatcher, frames: list[MatchFrame], index: int) -> bool:
    target = index + matcher.offset
    if target < 0 or target >= len(frames):
        return False
    frame = frames[target]
    if matcher.key == "family":
        result = bool(matcher.bits & frame.family)
    elif matcher.key == "app":
        result = matcher.expected is not None and bool(frame.in_app) == matcher.expected
    else:
        result = matcher.test_value(_field(frame, matcher.key))
    return result != matcher.negated


def _exception_matches(matcher: FrameMatcher, exc: ExceptionData) -> bool:
    value = getattr(exc, matcher.key) or "<unknown>"
    return (matcher.regex is not None and matcher.regex.match(value) is not None) != matcher.negated


class _RuleList:
    """One half (classifier or contributes) of a rule set, prepared for fast matching."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.static: list[tuple[FrameMatcher, ...]] = []
        self.dynamic: list[tuple[FrameMatcher, ...]] = []
        self.exception: list[tuple[FrameMatcher, ...]] = []
        # Rules that only match a frame that has a category (most frames have none)
        self.needs_category: list[bool] = []
        self.displays = [r.display for r in rules]
        for rule in rules:
            frame = [m for m in rule.matchers if not m.is_exception]
            static = [m for m in frame if m.offset == 0 and m.key in STATIC_FIELDS]
            static.sort(key=lambda m: m.key != "family")  # the cheap family test first
            self.static.append(tuple(static))
            self.dynamic.append(tuple(m for m in frame if m not in static))
            self.exception.append(tuple(m for m in rule.matchers if m.is_exception))
            self.needs_category.append(
                any(m.key == "category" and m.offset == 0 and not m.negated for m in frame)
            )
        self.has_exception_matchers = any(self.exception)
        self.no_exception_mask = sum(1 << i for i, exc in enumerate(self.exception) if not exc)
        # family bits -> the rules whose family matchers admit a frame of that family (most
        # rules name one family: a frame is tested against a few of them, not all)
        self._by_family: dict[int, list[tuple[int, tuple[FrameMatcher, ...]]]] = {}

    def _candidates(self, family_bits: int) -> list[tuple[int, tuple[FrameMatcher, ...]]]:
        found = self._by_family.get(family_bits)
        if found is None:
            probe = [MatchFrame.__new__(MatchFrame)]
            probe[0].family = family_bits
            found = self._by_family[family_bits] = [
                (index, tuple(m for m in matchers if m.key != "family"))
                for index, matchers in enumerate(self.static)
                if all(_matches(m, probe, 0) for m in matchers if m.key == "family")
            ]
        return found

    def static_mask(self, frame: MatchFrame) -> int:
        mask = 0
        frames = [frame]
        for index, matchers in self._candidates(frame.family):
            for matcher in matchers:
                if not _matches(matcher, frames, 0):
                    break
            else:
                mask |= 1 << index
        return mask

    def exception_mask(self, exc: ExceptionData) -> int:
        if not self.has_exception_matchers:
            return self.no_exception_mask
        mask = 0
        for index, matchers in enumerate(self.exception):
            if all(_exception_matches(m, exc) for m in matchers):
                mask |= 1 << index
        return mask

    def matches(self, frames: list[MatchFrame], masks: list[int], exc: ExceptionData, apply: bool) -> list:  # type: ignore[type-arg]
        """[(rule index, [frame indexes])] in rule order; with `apply`, classifier actions are
        applied as they are found (later rules then see the changed frames)."""
        union = 0
        for mask in masks:
            union |= mask
        union &= self.exception_mask(exc)
        found = []
        categorized = [i for i, frame in enumerate(frames) if frame.category is not None]
        everything = range(len(frames))
        while union:
            low = union & -union
            index = low.bit_length() - 1
            union ^= low
            if self.needs_category[index]:
                if not categorized:
                    continue
                candidates: range | list[int] = categorized
            else:
                candidates = everything
            dynamic = self.dynamic[index]
            hits = [
                i
                for i in candidates
                if masks[i] & low and (not dynamic or all(_matches(m, frames, i) for m in dynamic))
            ]
            if not hits:
                continue
            found.append((index, hits))
            if apply:
                rule = self.rules[index]
                for i in hits:
                    for action in rule.actions:
                        _classify(action, frames, i)
                        if action.kind == "category" and i not in categorized:
                            categorized = sorted([*categorized, i])
        return found


def _classify(action: Action, frames: list[MatchFrame], index: int) -> None:
    if action.kind == "app":
        for j in action.span(index, len(frames)):
            frames[j].in_app = action.flag
    elif action.kind == "category" and 0 <= index < len(frames):
        frames[index].category = str(action.value)


@dataclass
class Assembled:
    """The contributes rules' verdict for one stacktrace variant."""

    contributes: list[bool]
    hints: list[str | None]
    stacktrace_contributes: bool
    stacktrace_hint: str | None


class Enhancements:
    """A rule set: a base set's rules followed by project rules."""

    def __init__(
        self, rules: list[Rule], custom: frozenset[str] = frozenset(), id: str | None = None
    ) -> None:
        self.id = id
        self.rules = rules
        self.classifier = _RuleList([r for rule in rules if (r := rule.only(classifier=True))])
        self.contributes = _RuleList([r for rule in rules if (r := rule.only(classifier=False))])
        self.custom = custom
        self.reads_exceptions = (
            self.classifier.has_exception_matchers or self.contributes.has_exception_matchers
        )
        self._masks: dict[tuple[Any, ...], tuple[int, int]] = {}
        # Prepared stack traces by their frames (filled and bounded by `prepare.py`), and
        # variants by their strategy inputs (by `engine.py`)
        self.stack_cache: dict[Any, Any] = {}
        self.variants_cache: dict[Any, Any] = {}

    def masks(self, frames: list[MatchFrame]) -> tuple[list[int], list[int]]:
        cache = self._masks
        classifier, contributes = [], []
        for frame in frames:
            pair = cache.get(frame.sig)
            if pair is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                pair = cache[frame.sig] = (
                    self.classifier.static_mask(frame),
                    self.contributes.static_mask(frame),
                )
            classifier.append(pair[0])
            contributes.append(pair[1])
        return classifier, contributes

    def classify(self, frames: list[MatchFrame], exc: ExceptionData) -> None:
        """Apply the in-app and category rules to `frames` (in place)."""
        masks, _ = self.masks(frames)
        if any(masks):
            self.classifier.matches(frames, masks, exc, apply=True)

    def in_app_hints(self, frames: list[MatchFrame], exc: ExceptionData) -> list[str | None]:
        """The Rust enhancer's in-app hints: which rule marked a frame in or out of app, for
        frames whose `in_app` a rule actually changed (classified `frames` are final here)."""
        hints: list[str | None] = [None] * len(frames)
        if all(f.orig_in_app is _MISSING for f in frames):
            return hints
        masks, _ = self.masks(frames)
        for index, hits in self.classifier.matches(frames, masks, exc, apply=False):
            rule = self.classifier.rules[index]
            for action in rule.actions:
                if action.kind != "app":
                    continue
                for i in hits:
                    for j in action.span(i, len(frames)):
                        frame = frames[j]
                        if frame.orig_in_app is not _MISSING and frame.orig_in_app != frame.in_app:
                            state = "in-app" if frame.in_app else "out of app"
                            hints[j] = self._source(f"marked {state} by stack trace rule", index, True)
        return hints

    def contributes_matches(self, frames: list[MatchFrame], exc: ExceptionData) -> list:  # type: ignore[type-arg]
        _, masks = self.masks(frames)
        if not any(masks):
            return []
        return self.contributes.matches(frames, masks, exc, apply=False)

    def assemble(self, matches: list, contributes: list[bool]) -> Assembled:  # type: ignore[type-arg]
        """Apply the contributes rules' `matches` to one variant's frame `contributes` flags."""
        flags = list(contributes)
        hints: list[str | None] = [None] * len(flags)
        max_frames: tuple[int, int | None] = (0, None)
        min_frames: tuple[int, int | None] = (0, None)
        for index, hits in matches:
            rule = self.contributes.rules[index]
            for i in hits:
                for action in rule.actions:
                    if action.kind == "group":
                        state = "un-ignored" if action.flag else "ignored"
                        for j in action.span(i, len(flags)):
                            if flags[j] != action.flag:
                                flags[j] = action.flag
                                hints[j] = self._source(f"{state} by stack trace rule", index, False)
                    elif action.kind == "max-frames":
                        max_frames = (int(action.value), index)
                    elif action.kind == "min-frames":
                        min_frames = (int(action.value), index)
        limit, setter = max_frames
        if limit:
            seen = 0
            for j in range(len(flags) - 1, -1, -1):
                if not flags[j]:
                    continue
                seen += 1
                if seen > limit:
                    flags[j] = False
                    noun = "frames are" if limit != 1 else "frame is"
                    hints[j] = self._by(f"ignored because only {limit} {noun} considered", setter)
        total = sum(flags)
        stacktrace_contributes, stacktrace_hint = total > 0, None
        limit, setter = min_frames
        if limit and 0 < total < limit:
            stacktrace_contributes = False
            plural = "" if total == 1 else "s"
            stacktrace_hint = self._by(
                f"discarded because stack trace only contains {total} frame{plural} which is under the "
                "configured threshold",
                setter,
            )
        return Assembled(flags, hints, stacktrace_contributes, stacktrace_hint)

    def _by(self, text: str, setter: int | None) -> str:
        return text if setter is None else self._source(f"{text} by stack trace rule", setter, False)

    def _source(self, prefix: str, index: int, classifier: bool) -> str:
        half = self.classifier if classifier else self.contributes
        display = half.displays[index]
        # Sentry looks the Rust display of the rule up among the Python texts of the custom rules
        kind = "custom" if display in self.custom else "built-in"
        head, _, tail = prefix.rpartition("stack trace rule")
        return f"{head}{kind} stack trace rule{tail} ({display})"


def _read_base(name: str) -> str:
    return resources.files("bughound.grouping").joinpath(f"rules/{name.replace(':', '@')}.txt").read_text()


BASES = ("all-platforms:2023-01-11",)


@functools.lru_cache(maxsize=256)
def load_enhancements(base: str, project_rules: str = "") -> Enhancements:
    """The base set `base` followed by `project_rules` (cached by both texts).

    Raises `InvalidEnhancements` for project rules Sentry would reject."""
    if base not in BASES:
        raise KeyError(base)
    base_rules = _base_rules(base)
    custom = parse_rules(project_rules) if project_rules.strip() else []
    texts = frozenset(r.text for rule in custom for r in (rule.only(True), rule.only(False)) if r is not None)
    return Enhancements([*base_rules, *custom], texts, id=base)


@functools.lru_cache(maxsize=4)
def _base_rules(base: str) -> list[Rule]:
    return parse_rules(_read_base(base))
