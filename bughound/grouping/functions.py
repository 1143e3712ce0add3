"""Function-name trimming for native and C# frames, and the platform families (pure).

Follows Sentry's `stacktraces/functions.py`: C# names lose their argument list; native
(C/C++/ObjC/Swift/Rust) names lose arguments, return types, C++ qualifiers and generic
arguments (except at the start, where Rust puts `<T as Trait>`), lambdas are normalised, and
Rust hashes and Windows `@N` decorations are cut. Python and JavaScript names are left alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

__all__ = ["family", "trim_function_name"]

NATIVE_PLATFORMS = frozenset(("objc", "cocoa", "swift", "native", "c"))
JAVASCRIPT_PLATFORMS = frozenset(("javascript", "node"))


def family(platform: object) -> str:
    """Sentry's behaviour family of a platform: `native`, `javascript` or `other`."""
    if not isinstance(platform, str):
        return "other"
    if platform in NATIVE_PLATFORMS:
        return "native"
    if platform in JAVASCRIPT_PLATFORMS:
        return "javascript"
    return "other"


_WINDECL_HASH = re.compile(r"^@?(.*?)@[0-9]+$")
_RUST_HASH = re.compile(r"::h[a-z0-9]{16}$")
_CPP_TRAILER = re.compile(r"(\bconst\b|&)$")
_RUST_BLANKET = re.compile(r"^([A-Z] as )")
_LAMBDA = re.compile(r"(?:\{lambda\(.*?\)\#\d+\})|(?:\blambda_[a-f0-9]{32}\b)|(?:\$_\d+\b)")
_ANON_NAMESPACE = re.compile(r"\?A0x[a-f0-9]{8}::")
_PAIRS = {"(": ")", "{": "}", "[": "]", "<": ">"}

# Stand-ins for character sequences that would confuse the bracket balancing below.
_SUBSTITUTES = (
    ("operator<<", "operator⟨⟨"),
    ("operator<", "operator⟨"),
    ("operator()", "operator◯"),
    (" -> ", " ⟿ "),
    ("`anonymous namespace'", "\u3014anonymousnamespace\u3015"),
)


def _replace_enclosed(text: str, start: str, end: str, replace: Callable[[str, int], str]) -> str:
    """`text` with every outermost `start ... end` span replaced by `replace(inner, position)`."""
    if start not in text:
        return text
    depth = 0
    out: list[str] = []
    opened = 0
    for index, char in enumerate(text):
        if char == start:
            if depth == 0:
                opened = index
            depth += 1
        elif char == end:
            depth -= 1
            if depth == 0:
                out.append(replace(text[opened + 1 : index], opened))
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _split_tokens(text: str) -> list[str]:
    """Whitespace-separated tokens, where bracketed spans never split."""
    tokens: list[list[str]] = []
    buf: list[str] = []
    stack: list[str] = []
    end = 0
    for index, char in enumerate(text):
        if char in _PAIRS:
            stack.append(_PAIRS[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                buf.append(text[end : index + 1])
                end = index + 1
        elif not stack:
            if char.isspace():
                if buf:
                    tokens.append(buf)
                buf = []
            else:
                buf.append(text[end : index + 1])
            end = index + 1
    if buf:
        tokens.append(buf)
    return ["".join(t) for t in tokens]


def _drop_args(value: str, _start: int) -> str:
    value = value.strip()
    return f"({value})" if value in ("anonymous namespace", "operator") else ""


def _generics(value: str, start: int) -> str:
    if value == "lambda" or _LAMBDA.match(value):
        return f"<{value}>"
    if start > 0:
        return "<T>"
    value = _RUST_BLANKET.sub("", value)
    value = _replace_enclosed(value, "<", ">", _generics)
    return value.split(" as ", 1)[0]


def trim_native_function_name(function: str, normalize_lambdas: bool = True) -> str:
    if function in ("<redacted>", "<unknown>"):
        return function
    original = function
    function = function.strip()
    if function.startswith(("[", "+[", "-[")):  # Objective-C
        return function
    while (match := _CPP_TRAILER.search(function)) is not None:
        function = function[: match.start()].rstrip()
    for old, new in _SUBSTITUTES:
        function = function.replace(old, new)
    if normalize_lambdas:
        function = _LAMBDA.sub("lambda", function)
        function = _ANON_NAMESPACE.sub("\u3014anonymousnamespace\u3015::", function)
    function = _replace_enclosed(function, "(", ")", _drop_args)
    function = _replace_enclosed(function, "<", ">", _generics)
    tokens = _split_tokens(function)
    if len(tokens) > 1 and tokens[-1] == "<T>":
        tokens.pop()
        tokens[-1] += " <T>"
    if "⟿" in tokens:
        token: str | None = tokens[tokens.index("⟿") - 1]
    else:
        token = tokens[-1] if tokens else None
    if token:
        function = (
            token.replace("⟨", "<")
            .replace("◯", "()")
            .replace(" ⟿ ", " -> ")
            .replace("\u3014anonymousnamespace\u3015", "`anonymous namespace'")
        )
    else:
        function = original
    function = _RUST_HASH.sub("", function)
    return _WINDECL_HASH.sub(r"\1", function)


@functools.lru_cache(maxsize=16384)
def trim_function_name(function: str, platform: object) -> str:
    """The name Sentry groups and matches on for a frame of this platform."""
    if platform == "csharp":
        return function.split(" (", 1)[0]
    if platform in NATIVE_PLATFORMS:
        return trim_native_function_name(function)
    return function
