"""Server-side fingerprint rules (pure): Sentry's rule syntax, matching, and its built-in rules.

One rule per line: matchers, `->`, the fingerprint, optional `title="..."`, e.g.
`error.type:DatabaseUnavailable !logger:"health.*" -> system-down, {{ transaction }} title="DB down"`.
Matchers: `error.type`/`type`, `error.value`/`value`, `message` (the formatted message or any
exception value), `logger`, `level`, `stack.module`/`module`, `stack.abs_path`/`path`,
`stack.package`/`package`, `stack.function`/`function`, `family`, `app`, `sdk`, `release`,
`tags.NAME`; `!` negates. Values are globs. All matchers of one kind must match the same thing
(the same frame, the same exception). Project rules run before the built-in
`javascript@2024-02-02` rules; the first match wins and replaces the event's fingerprint.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from bughound.grouping.enhancement_rules import RuleTextParser, unescape_string
from bughound.grouping.fingerprinting import (
    DEFAULT_VARIABLE,
    InvalidFingerprinting,
    expand_title,
    get_path,
    is_default,
)
from bughound.grouping.functions import family, trim_function_name
from bughound.grouping.glob import GlobError, compile_glob

__all__ = [
    "FingerprintMatcher",
    "FingerprintRule",
    "apply_server_fingerprinting",
    "builtin_rules",
    "match_rules",
    "parse_fingerprinting",
    "rules_from_json",
    "rules_text_from_json",
    "sdk_tag",
]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_MATCHER_KEYS = {
    "error.type": "type",
    "error.value": "value",
    "stack.module": "module",
    "stack.abs_path": "path",
    "stack.package": "package",
    "stack.function": "function",
    **{k: k for k in ("message", "logger", "level", "type", "value", "module", "path", "package")},
    **{k: k for k in ("function", "family", "app", "sdk", "release")},
}
_KIND = {"message": "toplevel", "logger": "log_info", "level": "log_info", "type": "exceptions"}
_KIND.update({"value": "exceptions", "sdk": "sdk", "family": "family", "release": "release"})


def _compile(pattern: str, *, path: bool, ignorecase: bool) -> re.Pattern[str] | None:
    """Relay's glob (`*` may span newlines; `path`: `**` spans `/`, `\\` is `/`); None if invalid
    (Relay then never matches)."""
    if path:
        pattern = pattern.replace("\\", "/")
    try:
        return compile_glob(
            pattern, literal_separator=path, case_insensitive=ignorecase or path, dot_all=True
        )
    except (GlobError, re.error):
        return None


def _bool(text: str) -> bool | None:
    lowered = text.lower()
    return True if lowered in ("1", "yes", "true") else False if lowered in ("0", "no", "false") else None


@dataclass(frozen=True)
class FingerprintMatcher:
    key: str
    pattern: str
    negated: bool = False
    regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)
    # `matches`, specialized for the common plain-glob keys
    check: Callable[[Mapping[str, Any]], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        path = self.key in ("path", "package", "release")
        ignorecase = self.key in ("message", "level", "value") or self.key.startswith("thread")
        object.__setattr__(self, "regex", _compile(self.pattern, path=path, ignorecase=ignorecase))
        object.__setattr__(self, "check", self._checker())

    def _checker(self) -> Callable[[Mapping[str, Any]], bool]:
        key, negated = self.key, self.negated
        if key in ("path", "message", "package", "release", "family", "sdk", "app") or self.regex is None:
            return self.matches
        match = self.regex.match

        def check(values: Mapping[str, Any]) -> bool:
            value = values.get(key)
            return (isinstance(value, str) and match(value) is not None) is not negated

        return check

    @property
    def kind(self) -> str:
        if self.key.startswith("tags."):
            return "tags"
        return _KIND.get(self.key, "frames")

    @property
    def text(self) -> str:
        return f'{"!" if self.negated else ""}{self.key}:"{self.pattern}"'

    def matches(self, values: Mapping[str, Any]) -> bool:
        return self._positive(values) != self.negated

    def _path_match(self, value: Any) -> bool:
        if not isinstance(value, str) or self.regex is None:
            return False
        value = value.replace("\\", "/")
        if self.regex.match(value):
            return True
        return not value.startswith("/") and self.regex.match("/" + value) is not None

    def _glob(self, value: str) -> bool:
        return self.regex is not None and self.regex.match(value) is not None

    def _positive(self, values: Mapping[str, Any]) -> bool:
        key = self.key
        if key == "path":
            return any(self._path_match(v) for v in {values.get("abs_path"), values.get("filename")})
        if key == "message":
            return any(
                isinstance(v, str) and self._glob(v) for v in (values.get("message"), values.get("value"))
            )
        value = values.get(key)
        if value is None:
            return False
        if key in ("package", "release"):
            return self._path_match(value)
        if key in ("family", "sdk"):
            flags = self.pattern.split(",")
            return "all" in flags or value in flags
        if key == "app":
            return bool(value == _bool(self.pattern))
        return isinstance(value, str) and self._glob(value)


@dataclass(frozen=True)
class FingerprintRule:
    matchers: tuple[FingerprintMatcher, ...]
    fingerprint: tuple[str, ...]
    attributes: Mapping[str, str] = field(default_factory=dict)
    is_builtin: bool = False
    kinds: tuple[tuple[str, tuple[FingerprintMatcher, ...]], ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    families: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)
    tags: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())
    # `kinds` without the positive family matchers, which `families` decides
    checked: tuple[tuple[str, tuple[FingerprintMatcher, ...]], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    @property
    def text(self) -> str:
        attributes = " ".join(f'{k}="{v}"' for k, v in sorted(self.attributes.items()))
        matchers = " ".join(m.text for m in self.matchers)
        return f'{matchers} -> "{"".join(self.fingerprint)}" {attributes}'.rstrip()

    def to_json(self) -> dict[str, Any]:
        """How Sentry stores the matched rule in `_fingerprint_info.matched_rule`."""
        data: dict[str, Any] = {
            "text": self.text,
            "matchers": [[("!" if m.negated else "") + m.key, m.pattern] for m in self.matchers],
            "fingerprint": list(self.fingerprint),
            "attributes": dict(self.attributes),
        }
        if self.is_builtin:
            data["is_builtin"] = True
        return data

    def by_kind(self) -> tuple[tuple[str, tuple[FingerprintMatcher, ...]], ...]:
        """The matchers grouped by kind (all of a kind must match one item), cheap kinds first."""
        kinds: dict[str, list[FingerprintMatcher]] = {}
        for matcher in self.matchers:
            kinds.setdefault(matcher.kind, []).append(matcher)
        order = ("family", "sdk", "release", "log_info", "tags", "exceptions", "toplevel", "frames")
        return tuple((k, tuple(kinds[k])) for k in sorted(kinds, key=order.index))

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", self.by_kind())
        # A cheap necessary condition: the event's family must be one of these (None: any)
        families = None
        for matcher in self.matchers:
            if matcher.key == "family" and not matcher.negated:
                flags = frozenset(matcher.pattern.split(","))
                if "all" not in flags:
                    families = flags if families is None else families & flags
        object.__setattr__(self, "families", families)
        checked = []
        for kind, matchers in self.kinds:
            if kind == "family":
                matchers = tuple(m for m in matchers if m.negated)
            if matchers:
                checked.append((kind, matchers))
        object.__setattr__(self, "checked", tuple(checked))
        # Another: the tags that positive `tags.NAME` matchers need to be present
        tags = frozenset(m.key[5:] for m in self.matchers if m.kind == "tags" and not m.negated)
        object.__setattr__(self, "tags", tags)

    def test(self, store: _EventValues, event_family: str) -> bool:
        """Whether the rule matches: for each kind, all its matchers match one same item."""
        if self.families is not None and event_family not in self.families:
            return False
        for kind, matchers in self.checked:
            items = store.get(kind)
            if len(matchers) == 1:
                if not any(map(matchers[0].check, items)):
                    return False
                continue
            for values in items:
                if all(m.check(values) for m in matchers):
                    break
            else:
                return False
        return True


def _make_matcher(key: str, pattern: str, negated: bool) -> FingerprintMatcher:
    if not key.startswith("tags."):
        if key not in _MATCHER_KEYS:
            raise InvalidFingerprinting(f"Unknown matcher '{key}'")
        key = _MATCHER_KEYS[key]
    return FingerprintMatcher(key, pattern, negated)


def rules_from_json(rules: Sequence[Mapping[str, Any]], *, builtin: bool = False) -> list[FingerprintRule]:
    """Rules in Sentry's stored (JSON) form: `{"matchers": [[key, pattern]], "fingerprint": [...]}`."""
    out = []
    for rule in rules:
        matchers = []
        for key, pattern in rule["matchers"]:
            negated = key.startswith("!")
            matchers.append(_make_matcher(key.lstrip("!"), pattern, negated))
        out.append(
            FingerprintRule(
                tuple(matchers),
                tuple(rule["fingerprint"]),
                dict(rule.get("attributes") or {}),
                builtin or bool(rule.get("is_builtin")),
            )
        )
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rules_text_from_json(rules: Sequence[Mapping[str, Any]]) -> str:
    """Rules in stored (JSON) form, written back as rule text that parses to the same rules."""
    lines = []
    for rule in rules:
        matchers = " ".join(f"{key}:{_quote(pattern)}" for key, pattern in rule["matchers"])
        values = ", ".join(_quote(v) for v in rule["fingerprint"])
        attributes = "".join(f" {k}={_quote(v)}" for k, v in (rule.get("attributes") or {}).items())
        lines.append(f"{matchers} -> {values}{attributes}")
    return "\n".join(lines)


# The rule grammar (Sentry's `fingerprinting_grammar`), as regexes for a small PEG-style parser.
_KEY = re.compile(r"[a-zA-Z0-9_.-]+")
_QUOTED_KEY = re.compile(r'"([a-zA-Z0-9_.:-]+)"')
_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"')
_UNQUOTED = re.compile(r"\S+")
_UNQUOTED_NO_COMMA = re.compile(r"(?:\{\{\s*\S+\s*\}\})|(?:[^\s{,]+)")


class _Parser(RuleTextParser["FingerprintRule"]):
    error = InvalidFingerprinting

    def matcher(self, pos: int) -> tuple[FingerprintMatcher, int] | None:
        pos = self.spaces(pos)
        negated = self.text.startswith("!", pos)
        if negated:
            pos += 1
        key_match = _KEY.match(self.text, pos)
        key = key_match.group(0) if key_match else None
        if key_match is None:
            key_match = _QUOTED_KEY.match(self.text, pos)
            key = key_match.group(1).lstrip("!") if key_match else None
        if key_match is None or key is None or not self.text.startswith(":", key_match.end()):
            return None
        pos = key_match.end() + 1
        quoted = _QUOTED.match(self.text, pos)
        if quoted is not None:
            return _make_matcher(key, unescape_string(quoted.group(1)), negated), quoted.end()
        unquoted = _UNQUOTED.match(self.text, pos)
        if unquoted is None:
            return None
        return _make_matcher(key, unquoted.group(0), negated), unquoted.end()

    def value(self, pos: int) -> tuple[str | tuple[str, str], int] | None:
        pos = self.spaces(pos)
        key = _KEY.match(self.text, pos)
        if key is not None and self.text.startswith("=", key.end()):
            quoted = _QUOTED.match(self.text, key.end() + 1)
            if quoted is not None:
                if key.group(0) != "title":
                    raise InvalidFingerprinting(f"Unknown attribute '{key.group(0)}'")
                return (key.group(0), unescape_string(quoted.group(1))), self._comma(quoted.end())
        quoted = _QUOTED.match(self.text, pos)
        if quoted is not None:
            return unescape_string(quoted.group(1)), self._comma(quoted.end())
        plain = _UNQUOTED_NO_COMMA.match(self.text, pos)
        if plain is not None:
            return plain.group(0), self._comma(plain.end())
        return None

    def _comma(self, pos: int) -> int:
        pos = self.spaces(pos)
        return pos + 1 if self.text.startswith(",", pos) else pos

    def rule(self, pos: int) -> tuple[FingerprintRule, int] | None:
        matchers: list[FingerprintMatcher] = []
        pos = self.spaces(pos)
        while (found := self.matcher(pos)) is not None:
            matchers.append(found[0])
            pos = found[1]
        pos = self.spaces(pos)
        if not matchers or not self.text.startswith("->", pos):
            return None
        pos += 2
        fingerprint: list[str] = []
        attributes: dict[str, str] = {}
        count = 0
        while (item := self.value(pos)) is not None:
            value, pos = item
            count += 1
            if isinstance(value, tuple):
                attributes[value[0]] = value[1]
            else:
                fingerprint.append(DEFAULT_VARIABLE if is_default(value) else value)
        if not count:
            return None
        return FingerprintRule(tuple(matchers), tuple(fingerprint), attributes), pos


@functools.lru_cache(maxsize=256)
def parse_fingerprinting(text: str) -> tuple[FingerprintRule, ...]:
    """Parse fingerprint rules; raises `InvalidFingerprinting` with Sentry's message."""
    return tuple(_Parser(text).parse())


@functools.lru_cache(maxsize=8)
def builtin_rules(base: str) -> tuple[FingerprintRule, ...]:
    name = f"rules/fingerprinting-{base}.txt"
    text = resources.files("bughound.grouping").joinpath(name).read_text()
    return tuple(
        FingerprintRule(r.matchers, r.fingerprint, r.attributes, True) for r in _Parser(text).parse()
    )


# --- matching ------------------------------------------------------------------------------------

_SDK_SYNONYMS = {
    "sentry.cordova": "sentery.javascript.cordova",
    "sentry.electron": "sentry.javascript.electron",
    "sentry.javascript.angular.ivy": "sentry.javascript.angular",
    "sentry.javascript.node.experimental": "sentry.javascript.node",
    "sentry.javascript.react.expo": "sentry.javascript.react",
    "sentry.javascript.react.native.expo": "sentry.javascript.react.native",
    "sentry.laravel": "sentry.php.laravel",
    "sentry.react": "sentry.javascript.react",
    "sentry.symfony": "sentry.php.symfony",
    "sentry.unity": "sentry.native.unity",
}
_SDK_KNOWN = frozenset(
    "sentry.cocoa sentry.dart sentry.dotnet sentry.elixir sentry.go sentry.java sentry.javascript.angular "
    "sentry.javascript.browser sentry.javascript.capacitor sentry.javascript.cordova sentry.javascript.deno "
    "sentry.javascript.electron sentry.javascript.ember sentry.javascript.gatsby sentry.javascript.nextjs "
    "sentry.javascript.node sentry.javascript.react sentry.javascript.react.native sentry.javascript.remix "
    "sentry.javascript.serverless sentry.javascript.svelte sentry.javascript.sveltekit sentry.javascript.vue "
    "sentry.kubernetes sentry.native.android sentry.native.dotnet sentry.native.unity sentry.native.unreal "
    "sentry.objc sentry.perl sentry.php sentry.python sentry.ruby sentry.rust sentry.swift".split()
)


def sdk_tag(name: object) -> str:
    """Sentry's normalized SDK tag (`sentry.python.django` -> `sentry.python`, else `other`)."""
    tag = re.sub(r"[\W_]+", ".", name if isinstance(name, str) and name else "other")
    tag = _SDK_SYNONYMS.get(tag, tag)
    if not tag.startswith("sentry."):
        return "other"
    parts = tag.split(".")
    if parts[1] not in ("javascript", "native"):
        tag = ".".join(tag.split(".", 2)[:2])
    if tag.split(".")[1] == "native":
        tag = ".".join(tag.split(".", 3)[:3])
    return tag if tag in _SDK_KNOWN else "other"


class _EventValues:
    """The event's values per matcher kind (Sentry's `EventDatastore`), computed on demand."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def get(self, kind: str) -> list[dict[str, Any]]:
        found = self._cache.get(kind)
        if found is None:
            found = self._cache[kind] = _KINDS[kind](self)
        return found

    def _messages(self) -> list[dict[str, Any]]:
        message = _text(get_path(self.event, "logentry", "formatted"))
        return [{"message": message}] if message else []

    def _log_info(self) -> list[dict[str, Any]]:
        info = {k: v for k in ("logger", "level") if (v := _text(self.event.get(k)))}
        return [info] if info else []

    def _exceptions(self) -> list[dict[str, Any]]:
        # The exceptions themselves: the matchers of this kind only read `type` and `value`
        values = get_path(self.event, "exception", "values")
        return [e for e in values if isinstance(e, dict)] if isinstance(values, list) else []

    def _frames(self) -> list[dict[str, Any]]:
        platform = self.event.get("platform")
        stacks = [
            get_path(e, "stacktrace", "frames") for e in get_path(self.event, "exception", "values") or ()
        ]
        stacks.append(get_path(self.event, "stacktrace", "frames"))
        out = []
        for frames in stacks:
            for frame in frames if isinstance(frames, list) else ():
                if not isinstance(frame, dict):
                    continue
                function = frame.get("function")
                if isinstance(function, str) and function and not frame.get("raw_function"):
                    frame_platform = frame.get("platform") or platform
                    function = trim_function_name(
                        function, frame_platform if isinstance(frame_platform, str) else None
                    )
                out.append(
                    {
                        "function": function or "<unknown>",
                        "abs_path": frame.get("abs_path") or frame.get("filename"),
                        "filename": frame.get("filename"),
                        "module": frame.get("module"),
                        "package": frame.get("package"),
                        "app": frame.get("in_app"),
                    }
                )
        return out

    def _toplevel(self) -> list[dict[str, Any]]:
        exceptions = [{"value": e.get("value")} for e in self.get("exceptions")]
        return [*self._messages(), *exceptions]

    def _tags(self) -> list[dict[str, Any]]:
        pairs = _tag_pairs(self.event)
        return [
            {
                f"tags.{p[0]}": p[1]
                for p in pairs
                if isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], str)
            }
        ]

    def _sdk(self) -> list[dict[str, Any]]:
        sdk = self.event.get("sdk")
        return [{"sdk": sdk_tag(sdk.get("name") if isinstance(sdk, dict) else None)}]

    def _family(self) -> list[dict[str, Any]]:
        return [{"family": family(self.event.get("platform"))}]

    def _release(self) -> list[dict[str, Any]]:
        return [{"release": self.event.get("release")}]


_KINDS: dict[str, Callable[[_EventValues], list[dict[str, Any]]]] = {
    "toplevel": _EventValues._toplevel,
    "log_info": _EventValues._log_info,
    "exceptions": _EventValues._exceptions,
    "frames": _EventValues._frames,
    "tags": _EventValues._tags,
    "sdk": _EventValues._sdk,
    "family": _EventValues._family,
    "release": _EventValues._release,
}


def _tag_pairs(event: Mapping[str, Any]) -> list[Any]:
    tags = event.get("tags")
    return tags if isinstance(tags, list) else []


def match_rules(rules: Sequence[FingerprintRule], event: Mapping[str, Any]) -> FingerprintRule | None:
    if not rules:
        return None
    event_family = family(event.get("platform"))
    store = None
    tag_names: set[Any] | None = None
    for rule in rules:
        if rule.families is not None and event_family not in rule.families:
            continue  # (a cheap early exit; `test` checks it too)
        if rule.tags:
            if tag_names is None:
                pairs = _tag_pairs(event)
                tag_names = {
                    p[0]
                    for p in pairs
                    if isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], str)
                }
            if not rule.tags <= tag_names:
                continue
        if store is None:
            store = _EventValues(event)
        if rule.test(store, event_family):
            return rule
    return None


def apply_server_fingerprinting(
    event: dict[str, Any], rules: Sequence[FingerprintRule]
) -> FingerprintRule | None:
    """Sentry's `apply_server_fingerprinting`, on our own copy of the event: the first matching
    rule replaces `fingerprint` (and sets `title`); `_fingerprint_info` records what happened."""
    info: dict[str, Any] = {}
    client = event.get("fingerprint") or []
    if client and not (len(client) == 1 and is_default(client[0])):
        info["client_fingerprint"] = client
    rule = match_rules(rules, event)
    if rule is not None:
        if "title" in rule.attributes:
            event["title"] = expand_title(rule.attributes["title"], event)
        event["fingerprint"] = list(rule.fingerprint)
        info["matched_rule"] = rule.to_json()
    if info:
        event["_fingerprint_info"] = info
    return rule
