"""Cursors, Link headers and time parameters (Sentry `utils/cursors.py`, `api/base.py`, `utils/dates.py`;
reference/api/CONVENTIONS.md §2 and §7)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bughound.api.errors import ApiError
from bughound.api.pagination import (
    MAX_PER_PAGE,
    Cursor,
    link_header,
    offset_links,
    parse_cursor,
    parse_per_page,
)
from bughound.api.timeparams import parse_datetime, parse_stats_period, time_window

BASE = "https://bughound.example"
PATH = "/api/0/organizations/acme/issues/123456/events/"
NOW = 1_700_000_000.0


def _bad_request(excinfo: pytest.ExceptionInfo[ApiError]) -> str:
    assert excinfo.value.status == 400
    return str(excinfo.value.detail)


# --- cursors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cursor"),
    [
        (None, Cursor(0, 0, False)),
        ("", Cursor(0, 0, False)),
        ("0:100:0", Cursor(0, 100, False)),
        ("0:0:1", Cursor(0, 0, True)),
        ("1700000000000:5:0", Cursor(1700000000000, 5, False)),
        ("1.5:2:1", Cursor(1.5, 2, True)),
        ("-3:0:0", Cursor(-3, 0, False)),
    ],
)
def test_parse_cursor(text: str | None, cursor: Cursor) -> None:
    assert parse_cursor(text) == cursor


def test_float_values_stay_floats() -> None:
    assert isinstance(parse_cursor("2.0:0:0").value, float)
    assert isinstance(parse_cursor("2:0:0").value, int)


@pytest.mark.parametrize(
    "text", ["abc", "0:0", "1:2:3:4", "a:0:0", "0:a:0", "0:0:x", "0:-1:0", ":::", "0:1.5:0"]
)
def test_invalid_cursor(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_cursor(text)
    assert _bad_request(excinfo) == "Invalid cursor parameter."


def test_cursor_format() -> None:
    assert str(Cursor(0, 100, False)) == "0:100:0"
    assert str(Cursor(1700000000000, 0, True)) == "1700000000000:0:1"
    assert str(Cursor(1.5, 3, False)) == "1.5:3:0"


@settings(max_examples=200, deadline=None)
@given(value=st.integers(-(10**15), 10**15), offset=st.integers(0, 10**9), is_prev=st.booleans())
def test_cursor_round_trip(value: int, offset: int, is_prev: bool) -> None:
    cursor = Cursor(value, offset, is_prev)
    assert parse_cursor(str(cursor)) == cursor


# --- per_page ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [(None, 100), ("", 100), ("1", 1), ("50", 50), ("100", 100)])
def test_per_page(text: str | None, expected: int) -> None:
    assert parse_per_page(text) == expected


def test_per_page_default_is_configurable() -> None:
    assert parse_per_page(None, default=25) == 25
    assert MAX_PER_PAGE == 100


@pytest.mark.parametrize("text", ["0", "101", "-5", "1000"])
def test_per_page_out_of_bounds(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_per_page(text)
    assert _bad_request(excinfo) == "Invalid per_page value. Must be between 1 and 100."


@pytest.mark.parametrize("text", ["abc", "1.5", "ten"])
def test_per_page_not_an_integer(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_per_page(text)
    assert _bad_request(excinfo) == "Invalid per_page parameter."


# --- Link header ---------------------------------------------------------------------------------


def test_link_header_exact_format() -> None:
    header = link_header(BASE, PATH, [], Cursor(0, 0, True), False, Cursor(0, 100, False), True)
    assert header == (
        f'<{BASE}{PATH}?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        f'<{BASE}{PATH}?&cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"'
    )


def test_link_header_keeps_other_parameters_but_not_the_cursor() -> None:
    query = [("per_page", "10"), ("cursor", "0:10:0"), ("query", "is:unresolved a b")]
    header = link_header(BASE, PATH, query, Cursor(0, 0, True), True, Cursor(0, 20, False), False)
    prev, nxt = header.split(", ")
    assert prev == (
        f'<{BASE}{PATH}?per_page=10&query=is%3Aunresolved+a+b&cursor=0:0:1>; rel="previous"; results="true"; '
        'cursor="0:0:1"'
    )
    assert nxt.endswith('rel="next"; results="false"; cursor="0:20:0"')


@pytest.mark.parametrize(
    ("offset", "limit", "has_more", "prev", "prev_results", "nxt", "next_results"),
    [
        (0, 100, True, "0:0:1", "false", "0:100:0", "true"),
        (100, 100, False, "0:0:1", "true", "0:200:0", "false"),
        (250, 100, True, "0:150:1", "true", "0:350:0", "true"),
        (30, 100, False, "0:0:1", "true", "0:130:0", "false"),
    ],
)
def test_offset_links(
    offset: int, limit: int, has_more: bool, prev: str, prev_results: str, nxt: str, next_results: str
) -> None:
    header = offset_links(BASE, PATH, [], offset, limit, has_more)
    assert header == (
        f'<{BASE}{PATH}?&cursor={prev}>; rel="previous"; results="{prev_results}"; cursor="{prev}", '
        f'<{BASE}{PATH}?&cursor={nxt}>; rel="next"; results="{next_results}"; cursor="{nxt}"'
    )


# --- statsPeriod ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86400),
        ("14d", 14 * 86400),
        ("30m", 1800),
        ("2w", 14 * 86400),
        ("90d", 90 * 86400),
        ("45", 45),
        ("10s", 10),
    ],
)
def test_parse_stats_period(text: str, seconds: int) -> None:
    assert parse_stats_period(text) == seconds


@pytest.mark.parametrize("text", ["7x", "24H", "h", "", "1.5h", "-1h", " 24h", "24 h", "1y"])
def test_invalid_stats_period(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_stats_period(text)
    assert _bad_request(excinfo) == f"Invalid statsPeriod: {text!r}"


def test_invalid_stats_period_message() -> None:
    with pytest.raises(ApiError) as excinfo:
        time_window({"statsPeriod": "7x"}, NOW, None)
    assert _bad_request(excinfo) == "Invalid statsPeriod: '7x'"


# --- start / end ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1700000000", NOW),
        ("1700000000.5", NOW + 0.5),
        ("2023-11-14T22:13:20", NOW),
        ("2023-11-14T22:13:20Z", NOW),
        ("2023-11-14T22:13:20.123456Z", NOW + 0.123456),
        ("2023-11-15T00:13:20+02:00", NOW),
        ("2023-11-14T20:13:20-02:00", NOW),
        ("2023-11-14", NOW - (22 * 3600 + 13 * 60 + 20)),
    ],
)
def test_parse_datetime(text: str, expected: float) -> None:
    assert parse_datetime(text) == pytest.approx(expected, abs=1e-6)


def test_invalid_datetime() -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_datetime("yesterday")
    assert _bad_request(excinfo) == "yesterday is not a valid ISO8601 date query"


def test_stats_period_window() -> None:
    assert time_window({"statsPeriod": "24h"}, NOW, None) == (NOW - 86400, NOW)
    assert time_window({"timeframe": "1h"}, NOW, None) == (NOW - 3600, NOW)


def test_stats_period_wins_over_start_and_end() -> None:
    params = {"statsPeriod": "1h", "start": "2020-01-01T00:00:00", "end": "2020-01-02T00:00:00"}
    assert time_window(params, NOW, None) == (NOW - 3600, NOW)


def test_start_and_end() -> None:
    params = {"start": "2023-11-14T00:00:00Z", "end": "2023-11-14T22:13:20Z"}
    assert time_window(params, NOW, None) == (NOW - 80000, NOW)


@pytest.mark.parametrize("params", [{"start": "2023-11-14T00:00:00"}, {"end": "2023-11-14T00:00:00"}])
def test_start_and_end_are_both_required(params: dict[str, str]) -> None:
    with pytest.raises(ApiError) as excinfo:
        time_window(params, NOW, None)
    assert _bad_request(excinfo) == "Invalid date range: start and end are both required"


@pytest.mark.parametrize("end", ["2023-11-14T00:00:00", "2023-11-13T00:00:00"])
def test_start_must_be_before_end(end: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        time_window({"start": "2023-11-14T00:00:00", "end": end}, NOW, None)
    assert _bad_request(excinfo) == "start must be before end"


def test_default_window() -> None:
    assert time_window({}, NOW, 90 * 86400) == (NOW - 90 * 86400, NOW)
    assert time_window({}, NOW, None) == (0.0, float("inf"))
    assert time_window({"statsPeriod": ""}, NOW, 3600) == (NOW - 3600, NOW)
