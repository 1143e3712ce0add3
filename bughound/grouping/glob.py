"""Glob patterns -> compiled regexes, with the semantics of the Rust `globset` crate (pure).

Sentry's stack-trace rules (its Rust enhancer) and fingerprint rules (Relay's glob helper) both
translate globs with `globset`, so we follow its token rules: `?` one character, `*` any run,
`[...]`/`[!...]` classes, `{a,b}` alternatives, a backslash escapes the next character, and `**`
is recursive only as a whole path component (`**/x`, `x/**`, `x/**/y`); elsewhere it is `*`.
With `literal_separator` `*` and `?` do not cross `/`. Compiled patterns are cached by text.
"""

from __future__ import annotations

import functools
import re
from typing import cast

__all__ = ["GlobError", "compile_glob"]


class GlobError(ValueError):
    """A glob that globset would refuse (unclosed class or alternatives, bad range, ...)."""


_LITERAL, _ANY, _STAR, _RPREFIX, _RSUFFIX, _RZERO, _CLASS, _ALT = range(8)
Token = tuple[int, object]


class _Parser:
    def __init__(self, glob: str) -> None:
        self.glob = glob
        self.pos = 0
        self.prev: str | None = None
        self.cur: str | None = None
        self.alternates: list[int] = []
        self.branches: list[list[Token]] = [[]]

    def bump(self) -> str | None:
        self.prev = self.cur
        self.cur = self.glob[self.pos] if self.pos < len(self.glob) else None
        if self.cur is not None:
            self.pos += 1
        return self.cur

    def peek(self) -> str | None:
        return self.glob[self.pos] if self.pos < len(self.glob) else None

    def push(self, token: Token) -> None:
        self.branches[-1].append(token)

    def parse(self) -> list[Token]:
        while (c := self.bump()) is not None:
            if c == "?":
                self.push((_ANY, None))
            elif c == "*":
                self.star()
            elif c == "[":
                self.char_class()
            elif c == "{":
                self.alternates.append(len(self.branches))
                self.branches.append([])
            elif c == "}":
                if not self.alternates:
                    raise GlobError(f"unopened alternates in {self.glob!r}")
                start = self.alternates.pop()
                alts = self.branches[start:]
                del self.branches[start:]
                self.push((_ALT, alts))
            elif c == "," and self.alternates:
                self.branches.append([])
            elif c == "\\":
                escaped = self.bump()
                if escaped is None:
                    raise GlobError(f"dangling escape in {self.glob!r}")
                self.push((_LITERAL, escaped))
            else:
                self.push((_LITERAL, c))
        if len(self.branches) > 1:
            raise GlobError(f"unclosed alternates in {self.glob!r}")
        return self.branches[0]

    def star(self) -> None:
        prev = self.prev
        if self.peek() != "*":
            self.push((_STAR, None))
            return
        self.bump()
        if not self.branches[-1]:
            if self.peek() not in (None, "/"):
                self.push((_STAR, None))
                self.push((_STAR, None))
            else:
                self.push((_RPREFIX, None))
                self.bump()
            return
        if prev != "/" and (len(self.branches) <= 1 or prev not in (",", "{")):
            self.push((_STAR, None))
            self.push((_STAR, None))
            return
        nxt = self.peek()
        if nxt is None:
            is_suffix = True
        elif nxt in (",", "}") and len(self.branches) >= 2:
            is_suffix = True
        elif nxt == "/":
            self.bump()
            is_suffix = False
        else:
            self.push((_STAR, None))
            self.push((_STAR, None))
            return
        last = self.branches[-1].pop()
        if last[0] in (_RPREFIX, _RSUFFIX):
            self.push(last)
        else:
            self.push((_RSUFFIX if is_suffix else _RZERO, None))

    def char_class(self) -> None:
        ranges: list[list[str]] = []
        negated = False
        if self.peek() in ("!", "^"):
            self.bump()
            negated = True
        first = True
        in_range = False
        while True:
            c = self.bump()
            if c is None:
                raise GlobError(f"unclosed character class in {self.glob!r}")
            if c == "]" and not first:
                break
            if c == "-" and not first:
                if in_range:
                    self._extend(ranges, "-")
                    in_range = False
                else:
                    in_range = True
            elif in_range:
                self._extend(ranges, c)
                in_range = False
            else:
                ranges.append([c, c])
            first = False
        if in_range:
            ranges.append(["-", "-"])
        self.push((_CLASS, (negated, ranges)))

    def _extend(self, ranges: list[list[str]], end: str) -> None:
        ranges[-1][1] = end
        if end < ranges[-1][0]:
            raise GlobError(f"invalid range {ranges[-1][0]}-{end} in {self.glob!r}")


def _to_regex(tokens: list[Token], literal_separator: bool, out: list[str]) -> None:
    for kind, arg in tokens:
        if kind == _LITERAL:
            out.append(re.escape(str(arg)))
        elif kind == _ANY:
            out.append("[^/]" if literal_separator else ".")
        elif kind == _STAR:
            out.append("[^/]*" if literal_separator else ".*")
        elif kind == _RPREFIX:
            out.append("(?:/?|.*/)")
        elif kind == _RSUFFIX:
            out.append("/.*")
        elif kind == _RZERO:
            out.append("(?:/|/.*/)")
        elif kind == _CLASS:
            negated, ranges = cast(tuple[bool, list[list[str]]], arg)
            body = "".join(re.escape(a) if a == b else f"{re.escape(a)}-{re.escape(b)}" for a, b in ranges)
            out.append(f"[{'^' if negated else ''}{body}]")
        else:
            parts = []
            for branch in cast(list[list[Token]], arg):
                sub: list[str] = []
                _to_regex(branch, literal_separator, sub)
                if sub:
                    parts.append("".join(sub))
            if parts:
                out.append(f"(?:{'|'.join(parts)})")


@functools.lru_cache(maxsize=4096)
def compile_glob(
    glob: str, *, literal_separator: bool, case_insensitive: bool, dot_all: bool
) -> re.Pattern[str]:
    """The regex that fully matches what `glob` matches. Case folding is ASCII only (globset
    matches bytes); `dot_all` lets `*`/`?` match newlines (Relay's `allow_newline`)."""
    tokens = _Parser(glob).parse()
    if len(tokens) == 1 and tokens[0][0] == _RPREFIX:
        body = ".*"
    else:
        parts: list[str] = []
        _to_regex(tokens, literal_separator, parts)
        body = "".join(parts)
    flags = re.ASCII
    if case_insensitive:
        flags |= re.IGNORECASE
    if dot_all:
        flags |= re.DOTALL
    return re.compile(rf"(?:{body})\Z", flags)
