"""The `frame:v1` strategy: one stack frame -> its grouping components (pure, cached).

Children, in this order: `module`, `filename`, `function`, and `context_line` for platforms
whose source lines are trusted. Platform rules: Java codegen markers (CGLIB, javassist,
Hibernate proxies, Guice enhancers, reflection accessors, Clojure `fn__N`) become `<auto>`,
lambdas are ignored; Ruby blocks and ERB suffixes are cleaned; PHP anonymous classes; native
`<redacted>`/`<unknown>` functions are ignored; JavaScript keeps only the last dotted part of a
function name and drops URL filenames, unknown function names and low-quality frames.

The components of a frame depend only on the frame's own fields, so they are built once per
distinct frame and shared (they are never modified afterwards).
"""

from __future__ import annotations

import re
from typing import Any

from bughound.grouping.component import Component
from bughound.grouping.functions import family, trim_function_name

__all__ = ["CONTEXT_LINE_PLATFORMS", "FrameParts", "frame_parts", "has_url_origin"]

CONTEXT_LINE_PLATFORMS = frozenset(("javascript", "node", "python", "php", "ruby"))

_RUBY_ERB = re.compile(r"__\d{4,}_\d{4,}$")
_BASENAME = re.compile(r"[/\\]")
_JAVA_REFLECT = re.compile(r"(sun\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+")
_JAVA_CGLIB = re.compile(r"(\$\$[\w_]+?CGLIB\$\$)[a-fA-F0-9]+(_[0-9]+)?")
_JAVASSIST = re.compile(r"(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?")
_CLOJURE = re.compile(r"(\$fn__)\d+")
_JAVA_ENHANCER_BY = re.compile(r"(\$\$?EnhancerBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?")
_JAVA_FAST_CLASS_BY = re.compile(r"(\$\$?FastClassBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?")
_JAVA_HIBERNATE = re.compile(r"(\$\$?HibernateProxy\$?\$)\w+(_[0-9]+)?")
_JAVA_CODEGEN = (
    _JAVA_REFLECT,
    _JAVA_CGLIB,
    _JAVASSIST,
    _CLOJURE,
    _JAVA_ENHANCER_BY,
    _JAVA_FAST_CLASS_BY,
    _JAVA_HIBERNATE,
)
_JS_UNKNOWN_FUNCTIONS = frozenset(("?", "<anonymous function>", "<anonymous>", "Anonymous function"))
_JS_LOW_QUALITY_PATHS = frozenset(("[native code]", "native code", "eval code", "<anonymous>"))
_CACHE_LIMIT = 100_000


def has_url_origin(path: object, files_count_as_urls: bool) -> bool:
    if not isinstance(path, str) or not path:
        return False
    if path.startswith(("http:", "https:", "applewebdata:", "blob:")):
        return True
    return files_count_as_urls and path.startswith("file:")


class FrameParts:
    """The shared children of a frame, whether the frame contributes before any stack-level
    rule, its hint, and the text its contributing children add to a hash."""

    __slots__ = ("children", "contributes", "hint", "text")

    def __init__(self, children: tuple[Component, ...], contributes: bool, hint: str | None) -> None:
        self.children = children
        self.contributes = contributes
        self.hint = hint
        out: list[str] = []
        for child in children:
            child.collect(out)
        self.text = "".join(out)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _filename_component(abs_path: str | None, filename: str | None, platform: str | None) -> Component:
    if filename is None:
        return Component("filename")
    name = _BASENAME.split(filename)[-1].lower()
    component = Component("filename", [name])
    if has_url_origin(abs_path, files_count_as_urls=False):
        component.update(contributes=False, hint="ignored because frame points to a URL")
    elif name == "<anonymous>":
        component.update(contributes=False, hint="ignored because filename is anonymous")
    elif name == "[native code]":
        component.update(contributes=False, hint="ignored because filename suggests native code")
    elif platform == "java":
        cleaned = _JAVASSIST.sub(r"\1<auto>", name)
        if cleaned != name:
            component.update(values=[cleaned], hint="cleaned javassist parts")
    return component


def _module_component(abs_path: str | None, module: str | None, platform: str | None) -> Component:
    if module is None:
        return Component("module")
    component = Component("module", [module])
    if platform == "javascript" and "/" in module and abs_path and abs_path.endswith(module):
        component.update(contributes=False, hint="ignored bad javascript module")
    elif platform == "java":
        if "$$Lambda$" in module:
            component.update(contributes=False, hint="ignored java lambda")
        for prefix in ("sun.reflect.GeneratedMethodAccessor", "jdk.internal.reflect.GeneratedMethodAccessor"):
            if module.startswith(prefix):
                component.update(values=[prefix], hint="removed reflection marker")
                break
        else:
            cleaned = module
            for pattern in _JAVA_CODEGEN:
                cleaned = pattern.sub(r"\1<auto>", cleaned)
            if cleaned != module:
                component.update(values=[cleaned], hint="removed codegen marker")
    return component


def _function_component(
    function: str | None,
    raw_function: str | None,
    platform: str | None,
    sourcemap_used: bool,
    context_line_available: bool,
) -> Component:
    if platform == "csharp":  # C# names were trimmed late, so the raw one is what grouping used
        func = raw_function or function
    else:
        func = function or raw_function
        if not raw_function and function:
            func = trim_function_name(function, platform)
    if not func:
        return Component("function")
    component = Component("function", [func])
    fam = family(platform)
    if platform == "ruby":
        if func.startswith("block "):
            component.update(values=["block"], hint="ruby block")
        else:
            cleaned = _RUBY_ERB.sub("", func)
            if cleaned != func:
                component.update(values=[cleaned], hint="removed generated erb template suffix")
    elif platform == "php":
        if func.startswith(("[Anonymous", "class@anonymous\x00")):
            component.update(contributes=False, hint="ignored anonymous function")
        if func.startswith("class@anonymous"):
            cleaned = func.rsplit("::", 1)[-1]
            if cleaned != func:
                component.update(values=[cleaned], hint="anonymous class method")
    elif platform == "java":
        if func.startswith("lambda$"):
            component.update(contributes=False, hint="ignored lambda function")
    elif fam == "native" and func in ("<redacted>", "<unknown>"):
        component.update(contributes=False, hint="ignored unknown function")
    elif fam == "javascript":
        cleaned = func.rsplit(".", 1)[-1]
        if cleaned != func:
            component.update(values=[cleaned], hint="trimmed javascript function")
        if sourcemap_used and context_line_available:
            component.update(
                contributes=False, hint="ignored because sourcemap used and context line available"
            )
    return component


def _context_line_component(
    context_line: str, abs_path: str | None, function: str | None, platform: str | None
) -> Component:
    line = " ".join(context_line.split())
    if not line:
        return Component("context_line")
    component = Component("context_line", [line])
    if len(context_line) > 120:
        component.update(contributes=False, hint="ignored because line is too long")
    elif (
        family(platform) == "javascript"
        and not function
        and has_url_origin(abs_path, files_count_as_urls=True)
    ):
        component.update(
            contributes=False, hint="ignored because file path is a URL and function name is missing"
        )
    return component


def _build(
    platform: str | None,
    abs_path: str | None,
    filename: str | None,
    module: str | None,
    function: str | None,
    raw_function: str | None,
    context_line: str | None,
    sourcemap_used: bool,
) -> FrameParts:
    filename_c = _filename_component(abs_path, filename, platform)
    module_c = _module_component(abs_path, module, platform)
    if module_c.contributes and filename_c.contributes:
        filename_c.update(contributes=False, hint="ignored because module takes precedence")
    context_c = None
    if context_line and platform in CONTEXT_LINE_PLATFORMS:
        context_c = _context_line_component(context_line, abs_path, function, platform)
    function_c = _function_component(
        function,
        raw_function,
        platform,
        sourcemap_used,
        bool(context_c is not None and context_c.contributes),
    )
    children = (
        (module_c, filename_c, function_c)
        if context_c is None
        else (module_c, filename_c, function_c, context_c)
    )
    # A frame's `contributes` is fixed when it is created, from its children at that moment
    contributes = any(c.contributes for c in children)
    hint = None
    if family(platform) == "javascript":
        func = raw_function or function
        if func:
            func = func.rsplit(".", 1)[-1]
        if not func:
            function_c.update(contributes=False)
        elif func in _JS_UNKNOWN_FUNCTIONS or func.endswith("/<"):
            function_c.update(contributes=False, hint="ignored unknown function name")
        if func == "eval" or abs_path in _JS_LOW_QUALITY_PATHS:
            contributes, hint = False, "ignored low quality javascript frame"
    return FrameParts(children, contributes, hint)


_cache: dict[tuple[Any, ...], FrameParts] = {}


def frame_parts(frame: dict[str, Any], event_platform: object) -> FrameParts:
    """The (cached, shared) components of `frame`."""
    platform = _str(frame.get("platform")) or _str(event_platform)
    data = frame.get("data")
    sourcemap_used = isinstance(data, dict) and data.get("sourcemap") is not None
    key = (
        platform,
        _str(frame.get("abs_path")),
        _str(frame.get("filename")),
        _str(frame.get("module")),
        _str(frame.get("function")),
        _str(frame.get("raw_function")),
        _str(frame.get("context_line")),
        sourcemap_used,
    )
    parts = _cache.get(key)
    if parts is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        parts = _cache[key] = _build(*key)
    return parts
