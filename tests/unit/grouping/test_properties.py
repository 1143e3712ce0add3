"""Properties of `group()`: it never raises on arbitrary events, never modifies its input, and
its caches never change a result."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bughound.digest.normalize import normalize_event
from bughound.grouping.engine import group
from tests.unit import strategies as events
from tests.unit.grouping.helpers import CTX, clear_caches
from tests.unit.strategies import PROPERTY_SETTINGS, avoid_known_bugs, json_values

texts = st.sampled_from(
    ["", "a", "f", "main", "app.views", "?", "<anonymous>", "lambda$0", "{{ x }}"]
) | st.text(max_size=6)
paths = st.sampled_from(
    ["/srv/app/a.py", "http://x.com/a.js?v=1", "app.js", "[native code]", "/usr/lib/libc.so", "C:\\a\\b.cs"]
)
frames = st.fixed_dictionaries(
    {},
    optional={
        "function": texts | json_values,
        "raw_function": texts,
        "module": texts
        | st.sampled_from(["com.Foo$$EnhancerBySpringCGLIB$$abc1", "sun.reflect.GeneratedMethodAccessor1"]),
        "filename": paths | texts,
        "abs_path": paths,
        "package": paths,
        "context_line": texts,
        "in_app": st.booleans() | st.none(),
        "platform": st.sampled_from(["python", "javascript", "java", "native", "csharp", "ruby", "php"]),
        "data": st.fixed_dictionaries(
            {}, optional={"sourcemap": st.just("x"), "orig_in_app": st.sampled_from([-1, 0, 1])}
        ),
    },
)
mechanisms = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["chained", "generic", "nserror"]),
        "exception_id": st.integers(0, 3) | json_values,
        "parent_id": st.integers(0, 3) | json_values,
        "is_exception_group": st.booleans(),
        "synthetic": st.booleans(),
        "source": st.sampled_from(["cause", "errors[0]"]),
        "meta": st.fixed_dictionaries(
            {}, optional={"ns_error": st.fixed_dictionaries({"domain": texts, "code": st.integers()})}
        ),
    },
)
exceptions = st.fixed_dictionaries(
    {},
    optional={
        "type": texts | st.none(),
        "value": texts | st.sampled_from(["id 42 at 2023-01-01", "ChunkLoadError: x"]),
        "module": texts,
        "mechanism": mechanisms | json_values,
        "stacktrace": st.fixed_dictionaries({"frames": st.lists(frames | json_values, max_size=5)})
        | json_values,
    },
)
fingerprints = st.lists(
    st.sampled_from(["{{ default }}", "{{ type }}", "{{ function }}", "{{ tags.x }}", "{{ bogus }}", "x"])
    | json_values,
    max_size=3,
)
grouping_events = st.fixed_dictionaries(
    {},
    optional={
        "platform": st.sampled_from(
            ["python", "javascript", "node", "java", "cocoa", "native", "csharp", "other"]
        ),
        "exception": st.fixed_dictionaries({"values": st.lists(exceptions, max_size=4)}) | json_values,
        "stacktrace": st.fixed_dictionaries({"frames": st.lists(frames, max_size=4)}),
        "threads": st.fixed_dictionaries(
            {
                "values": st.lists(
                    st.fixed_dictionaries(
                        {"stacktrace": st.fixed_dictionaries({"frames": st.lists(frames, max_size=3)})}
                    ),
                    max_size=2,
                )
            }
        ),
        "message": texts | st.sampled_from(["Failed for 1.2.3.4 at 2024-01-01T00:00:00Z"]),
        "logentry": st.fixed_dictionaries({}, optional={"message": texts, "formatted": texts}),
        "fingerprint": fingerprints | json_values,
        "checksum": st.sampled_from(["a" * 32, "xyz", ""]) | json_values,
        "tags": st.dictionaries(st.sampled_from(["x", "transaction"]), texts, max_size=2),
        "template": st.fixed_dictionaries({}, optional={"filename": texts, "context_line": texts}),
        "csp": st.fixed_dictionaries(
            {},
            optional={
                "effective_directive": texts,
                "blocked_uri": paths | texts,
                "violated_directive": texts,
            },
        ),
        "sdk": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["sentry.python", "sentry.javascript.browser"]),
                "version": st.sampled_from(["3.0.0", "8.0.0"]),
            }
        ),
    },
)
project_rules = st.sampled_from(
    [
        "",
        "function:f +app",
        "family:native function:main -group",
        "[ function:a ] | function:f ^-group",
        "function:* max-frames=2",
        "app:yes min-frames=3",
    ]
)
fingerprint_rules = st.sampled_from(
    ["", "type:* -> everything", 'function:f -> f, {{ default }} title="F {{ type }}"', "!message:x -> m"]
)


def _summary(event: dict[str, Any], **kwargs: Any) -> tuple[Any, ...]:
    g = group(copy.deepcopy(event), **kwargs)
    return g.hashes, g.grouping_info(), g.title_override, {**g.event, "event_id": None}


@PROPERTY_SETTINGS
@given(payload=events.payloads)
def test_group_never_raises_on_normalized_payloads(payload: dict[str, Any]) -> None:
    event = normalize_event(avoid_known_bugs(payload), CTX)
    before = copy.deepcopy(event)
    g = group(event)
    assert event == before
    assert g.hashes and all(len(h) == 32 for h in g.hashes)
    g.grouping_info()


@PROPERTY_SETTINGS
@given(event=grouping_events | events.payloads, rules=project_rules, fingerprinting=fingerprint_rules)
def test_group_never_raises_even_without_normalization(
    event: dict[str, Any], rules: str, fingerprinting: str
) -> None:
    before = copy.deepcopy(event)
    g = group(event, project_enhancements=rules, project_fingerprinting=fingerprinting)
    assert event == before
    assert g.hashes
    g.grouping_info(reverse_stacktraces=True)


@PROPERTY_SETTINGS
@given(first=grouping_events, second=grouping_events, rules=project_rules, fingerprinting=fingerprint_rules)
def test_caches_never_change_a_result(
    first: dict[str, Any], second: dict[str, Any], rules: str, fingerprinting: str
) -> None:
    first = normalize_event(first, CTX)
    second = normalize_event(second, CTX)
    kwargs = {"project_enhancements": rules, "project_fingerprinting": fingerprinting}
    clear_caches()
    fresh = _summary(second, **kwargs)
    clear_caches()
    _summary(first, **kwargs)
    warm = _summary(second, **kwargs)
    assert warm == fresh
    assert _summary(second, **kwargs) == fresh


@PROPERTY_SETTINGS
@given(event=grouping_events, rules=project_rules, fingerprinting=fingerprint_rules)
def test_regrouping_the_returned_event_gives_the_same_hashes(
    event: dict[str, Any], rules: str, fingerprinting: str
) -> None:
    """The digest stores `Grouping.event`; the grouping-info endpoint regroups that stored event."""
    kwargs = {"project_enhancements": rules, "project_fingerprinting": fingerprinting}
    first = group(normalize_event(event, CTX), **kwargs)
    again = group(first.event, **kwargs)
    assert again.hashes == first.hashes
    # (only the record of the client fingerprint differs: the rule's became the event's)
    assert {**again.event, "_fingerprint_info": None} == {**first.event, "_fingerprint_info": None}


def _with_values(event: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """A copy of `event` whose exceptions have these values (cycled), else the event as it is."""
    event = copy.deepcopy(event)
    exception = event.get("exception")
    found = exception.get("values") if isinstance(exception, dict) else None
    if isinstance(found, list) and values:
        for i, value in enumerate(found):
            if isinstance(value, dict):
                value["value"] = values[i % len(values)]
    return event


@PROPERTY_SETTINGS
@given(
    event=grouping_events,
    values=st.lists(texts | st.none() | st.sampled_from(["", "  ", "id 42", "id 43"]), max_size=4),
    rules=project_rules,
    fingerprinting=fingerprint_rules,
)
def test_hashes_only_shares_variants_only_where_values_do_not_count(
    event: dict[str, Any], values: list[Any], rules: str, fingerprinting: str
) -> None:
    """`hashes_only` lets events whose exception values differ share variants: only where no
    value can count. The hashes are always those of a fresh grouping."""
    kwargs: dict[str, Any] = {"project_enhancements": rules, "project_fingerprinting": fingerprinting}
    first = normalize_event(copy.deepcopy(event), CTX)
    second = normalize_event(_with_values(event, values), CTX)
    clear_caches()
    fresh = group(copy.deepcopy(second), **kwargs).hashes
    clear_caches()
    group(copy.deepcopy(first), hashes_only=True, **kwargs)
    assert group(copy.deepcopy(second), hashes_only=True, **kwargs).hashes == fresh
    assert group(copy.deepcopy(second), **kwargs).hashes == fresh
