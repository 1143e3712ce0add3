"""The JSON depth limit (Relay's recursion limit of 128): the fast check decides as the walk does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bughound.digest.pipeline import InvalidItem, _walk_depth_ok, json_depth_ok, parse_json
from tests.unit.strategies import PROPERTY_SETTINGS, json_values


def nested(depth: int, leaf: Any = 1, empty: bool = False) -> Any:
    """`depth` containers, alternating lists and dicts, around `leaf` (or the innermost empty)."""
    value: Any = ({} if depth % 2 else []) if empty else leaf
    for level in range(depth - 1 if empty else depth, 0, -1):
        value = {"k": value} if level % 2 else [value]
    return value


@PROPERTY_SETTINGS
@given(value=json_values, limit=st.integers(0, 6))
def test_fast_check_agrees_with_the_walk(value: Any, limit: int) -> None:
    assert json_depth_ok(value, limit) == _walk_depth_ok(value, limit)


@pytest.mark.parametrize("empty", [False, True])
@pytest.mark.parametrize("depth", [127, 128, 129, 130, 254, 255, 300])
def test_depth_limit_of_128(depth: int, empty: bool) -> None:
    value = nested(depth, empty=empty)
    assert json_depth_ok(value, 128) == (depth <= 128) == _walk_depth_ok(value, 128)
    payload = json.dumps(value).encode()  # orjson itself writes at most 254 levels
    if depth <= 128:
        assert parse_json(payload, 128) == value
    else:
        with pytest.raises(InvalidItem, match="nesting_too_deep"):
            parse_json(payload, 128)


def test_strings_that_look_indented_do_not_count() -> None:
    value = {"text": "\n" + " " * 300 + "x", "list": ["\n" + " " * 300]}
    assert json_depth_ok(value, 2)
