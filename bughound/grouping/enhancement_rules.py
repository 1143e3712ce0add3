"""Stack-trace rules ("enhancements"): the rule syntax, its parser and its matchers (pure).

One rule per line: matchers, then actions, e.g.
`family:javascript stack.abs_path:**/node_modules/** -app -group` or
`[ category:gl ] | category:gl category=internals` (`[ m ] |` tests the caller, the frame
before; `| [ m ]` the callee, the frame after). Matchers: `family`, `path`/`stack.abs_path`,
`module`/`stack.module`, `function`/`stack.function`, `package`/`stack.package`, `category`,
`app`, and the exception matchers `type`/`error.type`, `value`/`error.value`,
`mechanism`/`error.mechanism`; `!` negates. Actions: `+app -app +group -group`, optionally
prefixed by `^` (all frames after this one, towards the crash) or `v` (all frames before it),
and the variables `category=`, `max-frames=`, `min-frames=`, `invert-stacktrace=`.

The parser follows the PEG grammar of Sentry's `enhancer/parser.py` (so what Sentry accepts, we
accept) and its error message; matching follows Sentry's Rust enhancer (`sentry-ophio`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bughound.grouping.glob import GlobError, compile_glob

R = TypeVar("R")

__all__ = [
    "Action",
    "FrameMatcher",
    "InvalidEnhancements",
    "Rule",
    "parse_rules",
    "syntax_error_near",
    "unescape_string",
]

FAMILY_BITS = {"other": 1, "native": 2, "javascript": 4, "all": 0xFF}
_KEYS = {
    "stack.module": "module",
    "stack.abs_path": "path",
    "stack.package": "package",
    "stack.function": "function",
    "error.type": "type",
    "error.value": "value",
    "error.mechanism": "mechanism",
    **{k: k for k in ("module", "path", "package", "function", "type", "value", "mechanism")},
    "category": "category",
    "family": "family",
    "app": "app",
}
EXCEPTION_FIELDS = frozenset(("type", "value", "mechanism"))
STATIC_FIELDS = frozenset(("function", "module", "path", "package", "family"))
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class InvalidEnhancements(ValueError):
    """Stack-trace rules that cannot be parsed; the message is meant for the user."""


def families_bits(text: str) -> int:
    bits = 0
    for name in text.split(","):
        bits |= FAMILY_BITS.get(name, 0)
    return bits


@dataclass(frozen=True, eq=False)
class FrameMatcher:
    """One `[!]key:pattern` matcher. `offset` is -1 for a caller matcher, +1 for a callee one."""

    key: str
    pattern: str
    negated: bool = False
    offset: int = 0
    regex: re.Pattern[str] | None = field(default=None, repr=False)
    bits: int = 0  # for `family`
    expected: bool | None = None  # for `app`; None: an invalid value, which never matches

    @property
    def is_exception(self) -> bool:
        return self.key in EXCEPTION_FIELDS

    @property
    def python_text(self) -> str:
        """How Sentry's Python side prints the matcher (used to tell custom rules apart)."""
        pattern = self.pattern if self.pattern.split() == [self.pattern] else f'"{self.pattern}"'
        inner = f"{'!' if self.negated else ''}{self.key}:{pattern}"
        return f"[ {inner} ] |" if self.offset < 0 else f"| [ {inner} ]" if self.offset > 0 else inner

    @property
    def display(self) -> str:
        """How Sentry's Rust enhancer prints it (this is what hints quote)."""
        inner = f"{'!' if self.negated else ''}{self.key}:{self.pattern}"
        return f"[{inner}] |" if self.offset < 0 else f"| [{inner}]" if self.offset > 0 else inner

    def test_value(self, value: str | None) -> bool:
        """The positive (un-negated) result for a string field value."""
        if value is None or self.regex is None:
            return False
        if self.regex.match(value):
            return True
        if self.key in ("path", "package") and not value.startswith("/"):
            return self.regex.match("/" + value) is not None
        return False


@dataclass(frozen=True, eq=False)
class Action:
    """`[^|v](+|-)(app|group)` (kind `app`/`group`) or `name=value` (kind = the variable name)."""

    kind: str
    flag: bool = False
    direction: str | None = None  # the range: None (this frame), "up" (^) or "down" (v)
    value: int | str | bool = 0

    @property
    def is_classifier(self) -> bool:
        return self.kind in ("app", "category")

    @property
    def sets_contributes(self) -> bool:
        return self.kind in ("group", "max-frames", "min-frames", "invert-stacktrace")

    def __str__(self) -> str:
        if self.kind in ("app", "group"):
            prefix = {"up": "^", "down": "v", None: ""}[self.direction]
            return f"{prefix}{'+' if self.flag else '-'}{self.kind}"
        value = self.value
        return f"{self.kind}={str(value).lower() if isinstance(value, bool) else value}"

    def span(self, index: int, length: int) -> range:
        """The frame indexes a flag action applies to when frame `index` matched."""
        if self.direction == "up":
            return range(index + 1, length)
        if self.direction == "down":
            return range(0, index)
        return range(index, index + 1)


@dataclass(frozen=True, eq=False)
class Rule:
    matchers: tuple[FrameMatcher, ...]
    actions: tuple[Action, ...]

    @property
    def text(self) -> str:
        """Sentry's Python `rule.text` (matchers in written order, then actions)."""
        return " ".join(m.python_text for m in self.matchers) + " " + " ".join(map(str, self.actions))

    @property
    def display(self) -> str:
        """The Rust `Display` of the rule: exception matchers, frame matchers, actions."""
        parts = [m.display for m in self.matchers if m.is_exception]
        parts += [m.display for m in self.matchers if not m.is_exception]
        return " ".join(parts + [str(a) for a in self.actions])

    def only(self, classifier: bool) -> Rule | None:
        """The rule restricted to its classifier (in-app, category) or contributes actions."""
        kept = tuple(a for a in self.actions if (a.is_classifier if classifier else a.sets_contributes))
        return Rule(self.matchers, kept) if kept else None


# --- matcher construction -----------------------------------------------------------------------


def make_matcher(key: str, pattern: str, negated: bool, offset: int) -> FrameMatcher:
    canonical = _KEYS.get(key)
    if canonical is None:
        raise InvalidEnhancements(f"Unknown matcher '{key}'")
    if canonical == "family":
        return FrameMatcher(canonical, pattern, negated, offset, bits=families_bits(pattern))
    if canonical == "app":
        expected = True if pattern in _TRUE else False if pattern in _FALSE else None
        return FrameMatcher(canonical, pattern, negated, offset, expected=expected)
    path_like = canonical in ("path", "package")
    glob = pattern.replace("\\", "/") if path_like else pattern
    try:
        regex = compile_glob(glob, literal_separator=path_like, case_insensitive=path_like, dot_all=False)
    except GlobError as exc:
        if canonical in EXCEPTION_FIELDS:  # Sentry rejects these; a bad frame glob never matches
            raise InvalidEnhancements(f"Invalid syntax: {exc}") from None
        regex = None
    except re.error:
        regex = None
    return FrameMatcher(canonical, pattern, negated, offset, regex=regex)


# --- the parser ---------------------------------------------------------------------------------

_IDENT = re.compile(r"[a-zA-Z0-9_.-]+")
_QUOTED_IDENT = re.compile(r'"([a-zA-Z0-9_.:-]+)"')
_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"')
_UNQUOTED = re.compile(r"\S+")
_COMMENT = re.compile(r"#[^\r\n]*")
_SPACES = re.compile(r" *")
_FLAG = re.compile(r" *([\^v])?([+-])(group|app)")
_VAR = re.compile(r" *(max-frames|min-frames|category|invert-stacktrace) *= *([a-zA-Z0-9_.-]+)")


_ESCAPE = re.compile(r"\\(U[0-9a-fA-F]{8}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r"}
_SIMPLE_ESCAPES.update({"t": "\t", "v": "\v", "\n": ""})


def _expand(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[escape]
    if escape[0] in "uUx" and len(escape) > 1:
        return chr(min(int(escape[1:], 16), 0x10FFFF))
    if escape[0] in "01234567":
        return chr(int(escape, 8))
    return match.group(0)  # an unknown escape stays as written


def unescape_string(text: str) -> str:
    """Sentry's `unescape_string` (Python's `unicode-escape` decoding of backslash escapes)."""
    return _ESCAPE.sub(_expand, text) if "\\" in text else text


class RuleTextParser(Generic[R]):
    """The line structure both rule grammars share (stack trace rules here, fingerprint rules in
    `fingerprint_rules.py`): one rule per line, `#` comments, blank lines; a subclass parses one
    rule with `rule(pos)` and names its error class."""

    error: type[ValueError] = ValueError

    def __init__(self, text: str) -> None:
        self.text = text

    def spaces(self, pos: int) -> int:
        return _SPACES.match(self.text, pos).end()  # type: ignore[union-attr]

    def rule(self, pos: int) -> tuple[R, int] | None:
        raise NotImplementedError

    def parse(self) -> list[R]:
        rules: list[R] = []
        pos, end = 0, len(self.text)
        while pos < end:
            start = pos
            pos = self.spaces(pos)
            comment = _COMMENT.match(self.text, pos)
            if comment is not None:
                pos = comment.end()
            elif (found := self.rule(pos)) is not None:
                rules.append(found[0])
                pos = found[1]
            if pos < end and self.text[pos] in "\r\n":
                pos += 1
            if pos == start:
                raise self.error(syntax_error_near(self.text, pos))
        return rules


class _Parser(RuleTextParser["Rule"]):
    error = InvalidEnhancements

    def frame_matcher(self, pos: int, offset: int) -> tuple[FrameMatcher, int] | None:
        pos = self.spaces(pos)
        negated = self.text.startswith("!", pos)
        if negated:
            pos += 1
        m = _IDENT.match(self.text, pos) or _QUOTED_IDENT.match(self.text, pos)
        if m is None or not self.text.startswith(":", m.end()):
            return None
        key = m.group(0)
        pos = m.end() + 1
        q = _QUOTED.match(self.text, pos)
        if q is not None:
            pattern, pos = unescape_string(q.group(1)), q.end()
        else:
            u = _UNQUOTED.match(self.text, pos)
            if u is None:
                return None
            pattern, pos = u.group(0), u.end()
        return make_matcher(key, pattern, negated, offset), pos

    def bracketed(self, pos: int, callee: bool) -> tuple[FrameMatcher, int] | None:
        tokens = ("|", "[") if callee else ("[",)
        for token in tokens:
            pos = self.spaces(pos)
            if not self.text.startswith(token, pos):
                return None
            pos += 1
        found = self.frame_matcher(pos, 1 if callee else -1)
        if found is None:
            return None
        matcher, pos = found
        for token in ("]",) if callee else ("]", "|"):
            pos = self.spaces(pos)
            if not self.text.startswith(token, pos):
                return None
            pos += 1
        return matcher, pos

    def rule(self, pos: int) -> tuple[Rule, int] | None:
        pos = self.spaces(pos)
        matchers: list[FrameMatcher] = []
        caller = self.bracketed(pos, callee=False)
        if caller is not None:
            matchers.append(caller[0])
            pos = caller[1]
        count = 0
        while (found := self.frame_matcher(pos, 0)) is not None:
            matchers.append(found[0])
            pos = found[1]
            count += 1
        if not count:
            return None
        callee = self.bracketed(pos, callee=True)
        if callee is not None:
            matchers.append(callee[0])
            pos = callee[1]
        actions: list[Action] = []
        while True:
            flag = _FLAG.match(self.text, pos)
            if flag is not None:
                rng = {"^": "up", "v": "down"}.get(flag.group(1) or "")
                actions.append(Action(flag.group(3), flag.group(2) == "+", rng))
                pos = flag.end()
                continue
            var = _VAR.match(self.text, pos)
            if var is None:
                break
            actions.append(_var_action(var.group(1), var.group(2)))
            pos = var.end()
        if not actions:
            return None
        return Rule(tuple(matchers), tuple(actions)), pos


def syntax_error_near(text: str, pos: int) -> str:
    """Sentry's message for rules that do not parse at `pos` (both rule grammars use it)."""
    context = text[pos : pos + 33]
    if len(context) == 33:
        context = context[:-1] + "..."
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f'Invalid syntax near "{context}" (line {line}, column {column})'


def _var_action(name: str, value: str) -> Action:
    if name == "category":
        return Action("category", value=value)
    if name == "invert-stacktrace":
        if value not in _TRUE + _FALSE:
            raise InvalidEnhancements(f"Invalid value '{value}' for '{name}'")
        return Action(name, value=value in _TRUE)
    try:
        number = int(value)
    except ValueError:
        raise InvalidEnhancements(f"Invalid value '{value}' for '{name}'") from None
    if number < 0:
        raise InvalidEnhancements(f"Invalid value '{value}' for '{name}'")
    return Action(name, value=number)


def parse_rules(text: str) -> list[Rule]:
    """Parse stack-trace rules; raises `InvalidEnhancements` with Sentry's message."""
    return _Parser(text).parse()
