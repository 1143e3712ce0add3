"""The frame strategy per platform, and the stack-trace level rules (recursion, JS quirks)."""

from __future__ import annotations

from typing import Any

import pytest

from bughound.grouping.functions import family, trim_function_name, trim_native_function_name
from tests.unit.grouping.helpers import exception_event, find, first_frame, frames, grouped, parts, tree


def _values(frame: dict[str, Any], platform: str) -> dict[str, tuple[list[Any], bool, str | None]]:
    return parts(first_frame(frame, platform))


def test_python_frame_uses_module_function_and_normalized_context_line() -> None:
    got = _values(
        {
            "module": "app.views",
            "filename": "app/views.py",
            "function": "index",
            "context_line": "  x =   1  ",
        },
        "python",
    )
    assert got == {
        "module": (["app.views"], True, None),
        "filename": (["views.py"], False, "ignored because module takes precedence"),
        "function": (["index"], True, None),
        "context_line": (["x = 1"], True, None),
    }


def test_filename_is_basename_lowercased_when_there_is_no_module() -> None:
    got = _values({"filename": "C:\\Src\\App\\Views.PY", "function": "index"}, "python")
    assert got["filename"] == (["views.py"], True, None)
    assert got["module"] == ([], False, None)


def test_long_context_lines_are_ignored() -> None:
    got = _values({"filename": "a.py", "function": "f", "context_line": "x" * 121}, "python")
    assert got["context_line"][1:] == (False, "ignored because line is too long")


def test_context_lines_only_count_on_platforms_with_trusted_sources() -> None:
    assert "context_line" not in _values({"filename": "a.go", "function": "f", "context_line": "x()"}, "go")
    assert "context_line" in _values({"filename": "a.rb", "function": "f", "context_line": "x()"}, "ruby")


def test_javascript_frame_from_url_trims_function_namespace() -> None:
    got = _values(
        {"abs_path": "http://example.com/static/app.js", "function": "Foo.bar", "context_line": "x()"},
        "javascript",
    )
    assert got["filename"] == (["app.js"], False, "ignored because frame points to a URL")
    assert got["function"] == (["bar"], True, "trimmed javascript function")
    assert got["context_line"] == (["x()"], True, None)


@pytest.mark.parametrize("name", ["?", "<anonymous>", "Anonymous function", "foo/<"])
def test_javascript_unknown_function_names_are_ignored(name: str) -> None:
    got = _values({"abs_path": "/app.js", "filename": "app.js", "function": name}, "javascript")
    assert got["function"][1:] == (False, "ignored unknown function name")


def test_javascript_context_line_without_function_on_url_is_ignored() -> None:
    got = _values({"abs_path": "http://x.com/a.js", "context_line": "x()", "function": None}, "node")
    assert got["context_line"][1:] == (
        False,
        "ignored because file path is a URL and function name is missing",
    )


@pytest.mark.parametrize(
    "frame",
    [{"abs_path": "[native code]", "function": "forEach"}, {"abs_path": "app.js", "function": "eval"}],
)
def test_low_quality_javascript_frames_do_not_contribute(frame: dict[str, Any]) -> None:
    component = first_frame(frame, "javascript")
    assert (component["contributes"], component["hint"]) == (False, "ignored low quality javascript frame")


def test_javascript_sourcemapped_function_yields_to_context_line() -> None:
    got = _values(
        {
            "abs_path": "/app.js",
            "filename": "app.js",
            "function": "f",
            "context_line": "f()",
            "data": {"sourcemap": "x"},
        },
        "javascript",
    )
    assert got["function"][1:] == (False, "ignored because sourcemap used and context line available")


def test_javascript_query_strings_are_stripped_before_grouping() -> None:
    a = grouped(
        exception_event(
            "javascript", {"abs_path": "/static/app.js?v=1", "filename": "app.js?v=1", "function": "f"}
        )
    )
    b = grouped(
        exception_event(
            "javascript", {"abs_path": "/static/app.js?v=2", "filename": "app.js?v=2", "function": "f"}
        )
    )
    assert a.hashes == b.hashes
    assert a.event["exception"]["values"][0]["stacktrace"]["frames"][0]["filename"] == "app.js"


def test_javascript_single_frame_quirk_of_the_2023_config() -> None:
    """With one function-less frame whose path is a URL, that frame is ignored (the hint says
    "non-URL": the condition was inverted in Sentry and the 2023 config keeps it so)."""
    one = grouped(exception_event("javascript", {"abs_path": "http://x.com/a.js", "module": "a"}))
    frame = frames(one, "system")[0]
    assert (frame["contributes"], frame["hint"]) == (False, "ignored single non-URL JavaScript frame")
    two = grouped(
        exception_event(
            "javascript",
            {"abs_path": "http://x.com/a.js", "module": "a"},
            {"abs_path": "http://x.com/a.js", "module": "a", "function": "b"},
        )
    )
    assert frames(two, "system")[0]["contributes"] is True


@pytest.mark.parametrize(
    ("module", "expected", "hint"),
    [
        (
            "com.example.Foo$$EnhancerBySpringCGLIB$$1ed7a1c6",
            "com.example.Foo$$EnhancerBySpringCGLIB$$<auto>",
            "removed codegen marker",
        ),
        ("com.example.Foo_$$_javassist_123", "com.example.Foo_$$_javassist<auto>", "removed codegen marker"),
        ("org.Foo$HibernateProxy$abcDEF12", "org.Foo$HibernateProxy$<auto>", "removed codegen marker"),
        (
            "sun.reflect.GeneratedMethodAccessor123",
            "sun.reflect.GeneratedMethodAccessor",
            "removed reflection marker",
        ),
        ("com.example.Foo", "com.example.Foo", None),
    ],
)
def test_java_module_markers(module: str, expected: str, hint: str | None) -> None:
    assert _values({"module": module, "function": "run"}, "java")["module"] == ([expected], True, hint)


def test_java_lambdas_are_ignored() -> None:
    lambda_module = _values(
        {"module": "com.Foo$$Lambda$1/0x0000000801234", "function": "apply", "filename": "Foo.java"}, "java"
    )
    assert lambda_module["module"][1:] == (False, "ignored java lambda")
    assert lambda_module["filename"] == (["foo.java"], True, None)
    lambda_function = _values({"module": "com.Foo", "function": "lambda$main$0"}, "java")
    assert lambda_function["function"][1:] == (False, "ignored lambda function")


def test_java_javassist_filenames_are_cleaned() -> None:
    got = _values({"filename": "Foo_$$_javassist_123.java", "function": "f"}, "java")
    assert got["filename"] == (["foo_$$_javassist<auto>.java"], True, "cleaned javassist parts")


def test_ruby_erb_suffix_and_blocks() -> None:
    erb = _values(
        {
            "filename": "index.html.erb",
            "function": "_app_views_index_html_erb__2880226624316186016_70109009000000",
        },
        "ruby",
    )
    assert erb["function"] == (["_app_views_index_html_erb"], True, "removed generated erb template suffix")
    block = _values({"filename": "x.rb", "function": "block in foo"}, "ruby")
    assert block["function"] == (["block"], True, "ruby block")


def test_php_anonymous_classes() -> None:
    method = _values({"filename": "x.php", "function": "class@anonymous\x00/in/x.php:3$0::foo"}, "php")
    assert method["function"] == (["foo"], True, "anonymous class method")
    anonymous = _values({"filename": "x.php", "function": "[Anonymous function]"}, "php")
    assert anonymous["function"][1:] == (False, "ignored anonymous function")


def test_native_functions_are_trimmed_and_unknown_ones_ignored() -> None:
    got = _values(
        {"function": "std::vector<int>::push_back(int const&) const", "package": "/usr/lib/libc.so"}, "native"
    )
    assert got["function"] == (["std::vector<T>::push_back"], True, None)
    for name in ("<redacted>", "<unknown>"):
        unknown = first_frame({"function": name, "package": "x"}, "cocoa")
        assert parts(unknown)["function"][1:] == (False, "ignored unknown function")
        assert unknown["contributes"] is False


def test_csharp_groups_on_the_raw_function_name() -> None:
    got = _values(
        {"function": "Foo.Bar(System.String)", "raw_function": "Foo.Bar(System.String x)", "module": "Foo"},
        "csharp",
    )
    assert got["function"] == (["Foo.Bar(System.String x)"], True, None)


@pytest.mark.parametrize(
    ("raw", "trimmed"),
    [
        ("std::vector<int>::push_back(int const&) const", "std::vector<T>::push_back"),
        ("@MyFunc@8", "MyFunc"),
        ("core::panicking::panic::h1a2b3c4d5e6f7a8b", "core::panicking::panic"),
        ("foo(int, char)", "foo"),
        ("-[NSObject foo:bar:]", "-[NSObject foo:bar:]"),
        ("{lambda(int)#1}::operator()", "lambda::operator()"),
    ],
)
def test_native_function_trimming(raw: str, trimmed: str) -> None:
    assert trim_native_function_name(raw) == trimmed
    assert trim_function_name(raw, "native") == trimmed


def test_function_trimming_only_applies_to_native_and_csharp() -> None:
    assert trim_function_name("foo(int)", "python") == "foo(int)"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("cocoa", "native"), ("swift", "native"), ("node", "javascript"), ("python", "other"), (None, "other")],
)
def test_platform_families(platform: str | None, expected: str) -> None:
    assert family(platform) == expected


def test_recursion_is_ignored() -> None:
    f = {"module": "a", "function": "f", "in_app": True}
    g = grouped(exception_event("python", f, dict(f), {"module": "b", "function": "g", "in_app": True}))
    assert [(c["contributes"], c["hint"]) for c in frames(g, "system")] == [
        (True, None),
        (False, "ignored due to recursion"),
        (True, None),
    ]
    shorter = grouped(exception_event("python", f, {"module": "b", "function": "g", "in_app": True}))
    assert shorter.hashes == g.hashes


def test_without_in_app_frames_the_system_variant_decides() -> None:
    g = grouped(exception_event("python", {"module": "a", "function": "f"}))
    assert (g.variants["app"].contributes, g.variants["system"].contributes) == (False, True)
    assert find(tree(g, "app"), "stacktrace")["hint"] == "ignored because it contains no in-app frames"
    assert g.hashes == [g.variants["system"].hash]


def test_in_app_frames_give_an_app_hash_first() -> None:
    g = grouped(
        exception_event(
            "python", {"module": "lib", "function": "f"}, {"module": "app", "function": "g", "in_app": True}
        )
    )
    assert g.hashes == [g.variants["app"].hash, g.variants["system"].hash]
    app_frames = frames(g, "app")
    assert [c["contributes"] for c in app_frames] == [False, True]
    assert app_frames[0]["hint"] == "non app frame"
    assert app_frames[1]["hint"] == "marked in-app by the client"
