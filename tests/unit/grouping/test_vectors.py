"""Sentry's own grouping test vectors (../shared/grouping-vectors/newstyle@2023_01_11): every case
goes through our normalization and `group()`, and its contributing hashes must be Sentry's."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bughound.grouping import component
from bughound.grouping.engine import group
from bughound.grouping.fingerprint_rules import rules_text_from_json
from tests.conftest import SHARED
from tests.unit.grouping.helpers import clear_caches
from tests.unit.grouping.vector_adapter import group_vector_input

VECTORS = SHARED / "grouping-vectors" / "newstyle@2023_01_11"
CASES = sorted(p.stem for p in VECTORS.glob("*.json")) if VECTORS.exists() else []
SKIP_REASON = f"{VECTORS} is absent (Sentry's grouping test vectors live in ../shared)"

# Cases we cannot reproduce as given, and why (each is checked: it must still fail, see
# xfail_strict; `test_known_failures_pass_once_their_input_is_corrected` checks each cause).
KNOWN_FAILURES = {
    # The vector pairs the snapshot with an input version without `"platform": "cocoa"`; the
    # other stored version of that input (getsentry/sentry@caa56edf) has it, and Sentry's
    # hashes show the native rules applied.
    "callee_guaranteed": "the vector's input lacks the `platform: cocoa` its snapshot was made with",
    # Likewise: the vector's input is an old version with `function` + `function_name`; the
    # snapshot was made from the version with `raw_function` + trimmed `function`
    # (getsentry/sentry@f8d87587), whose `Foo<T>::crash` cannot be derived from the truncated name.
    "native_with_function_name": "the vector's input predates the version its snapshot was made with",
}


def _corrected(case: str, event: dict[str, Any]) -> dict[str, Any]:
    """The input of a known failure with the cause named in KNOWN_FAILURES removed."""
    event = copy.deepcopy(event)
    if case == "callee_guaranteed":
        event["platform"] = "cocoa"
    elif case == "native_with_function_name":
        for frame in event["exception"]["values"][0]["stacktrace"]["frames"]:
            frame["raw_function"], frame["function"] = frame["function"], frame.pop("function_name")
    return event


def _contributing(variants: dict[str, Any]) -> dict[str, str]:
    return {
        name.replace("-", "_"): v["hash"]
        for name, v in variants.items()
        if v.get("contributes") and v.get("hash")
    }


def _load(case: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{case}.json").read_text())  # type: ignore[no-any-return]


def _ours(data: dict[str, Any]) -> dict[str, str]:
    grouping = group_vector_input(data["input"], data["config"])
    return _contributing(
        {n: {"contributes": v.contributes, "hash": v.hash} for n, v in grouping.variants.items()}
    )


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[c], strict=True))
        if c in KNOWN_FAILURES
        else c
        for c in CASES
    ],
)
def test_vector(case: str) -> None:
    data = _load(case)
    expected = _contributing(data["expected"]["variants"])
    got = _ours(data)
    assert set(got.values()) == set(expected.values()), f"expected {expected}, got {got}"
    grouping = group_vector_input(data["input"], data["config"])
    assert grouping.hashes == data["expected"]["hashes"]


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
def test_vector_pass_count(capsys: pytest.CaptureFixture[str]) -> None:
    passed = [
        c
        for c in CASES
        if set(_ours(_load(c)).values()) == set(_contributing(_load(c)["expected"]["variants"]).values())
    ]
    failed = sorted(set(CASES) - set(passed))
    with capsys.disabled():
        print(f"\ngrouping vectors: {len(passed)}/{len(CASES)} pass; failing: {', '.join(failed) or 'none'}")
    assert set(failed) <= set(KNOWN_FAILURES)
    assert len(passed) >= len(CASES) - len(KNOWN_FAILURES)


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
@pytest.mark.parametrize("case", CASES)
def test_cached_and_fresh_results_agree(case: str) -> None:
    """The per-frame, per-stack-trace and per-variant caches change nothing: a repeat of an
    event (served from the caches) groups exactly like the first sight of it."""
    data = _load(case)
    clear_caches()
    fresh = group_vector_input(data["input"], data["config"])
    again = group_vector_input(data["input"], data["config"])
    assert again.hashes == fresh.hashes
    assert again.grouping_info() == fresh.grouping_info()
    # (normalize_event gives an event without an id a random one)
    assert {**again.event, "event_id": None} == {**fresh.event, "event_id": None}
    assert component.hash_values([]) == "d41d8cd98f00b204e9800998ecf8427e"


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
def test_variant_hints_and_contributing_components() -> None:
    """Variant hints match the snapshots recorded with Sentry's current wording ("ignored
    because ..."; older snapshots spell the same hints differently and are not compared), and
    every recorded contributing component is ours."""
    checked, wrong = 0, []
    components = 0
    for case in CASES:
        if case in KNOWN_FAILURES:
            continue
        data = _load(case)
        grouping = group_vector_input(data["input"], data["config"])
        for name, expected in data["expected"]["variants"].items():
            hint = expected.get("hint")
            if hint and hint.startswith("ignored because") and name in grouping.variants:
                checked += 1
                if grouping.variants[name].hint != hint:
                    wrong.append((case, name, hint, grouping.variants[name].hint))
            if "contributing_component" in expected and name in grouping.variants:
                ours = getattr(grouping.variants[name], "contributing_component", None)
                components += 1
                if (ours.id if ours is not None else None) != expected["contributing_component"]:
                    wrong.append((case, name, expected["contributing_component"], ours))
    assert not wrong
    assert checked >= 40
    assert components >= 140


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
@pytest.mark.parametrize("case", CASES)
def test_regrouping_the_returned_event_is_stable(case: str) -> None:
    data = _load(case)
    first = group_vector_input(data["input"], data["config"])
    harness = data["input"].get("_grouping") or {}
    fingerprinting = rules_text_from_json(data["input"].get("_fingerprinting_rules") or [])
    again = group(
        first.event,
        data["config"],
        project_enhancements=harness.get("enhancements", ""),
        project_fingerprinting=fingerprinting,
    )
    assert again.hashes == first.hashes


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
@pytest.mark.parametrize("case", sorted(KNOWN_FAILURES))
def test_known_failures_pass_once_their_input_is_corrected(case: str) -> None:
    data = _load(case)
    grouping = group_vector_input(_corrected(case, data["input"]), data["config"])
    assert grouping.hashes == data["expected"]["hashes"]


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
@pytest.mark.parametrize("case", [c for c in CASES if c not in KNOWN_FAILURES])
def test_hashes_only_after_an_event_with_other_values(case: str) -> None:
    """The digest groups with `hashes_only`: a case seen first with other exception values (so
    that it may share that event's variants) still gets Sentry's hashes."""
    data = _load(case)
    other = copy.deepcopy(data["input"])
    exception = other.get("exception")
    for value in (exception.get("values") or []) if isinstance(exception, dict) else []:
        if isinstance(value, dict):
            value["value"] = f"other {value.get('value')} 7"
    clear_caches()
    group_vector_input(other, data["config"], hashes_only=True)
    grouping = group_vector_input(data["input"], data["config"], hashes_only=True)
    assert grouping.hashes == data["expected"]["hashes"]
