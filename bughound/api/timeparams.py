"""`statsPeriod` / `start` + `end` query parameters (pure), as Sentry parses them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bughound.api.errors import bad_request

_PERIOD = re.compile(r"^(\d+)([hdmsw]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_stats_period(text: str) -> float:
    m = _PERIOD.match(text)
    if not m:
        raise bad_request(f"Invalid statsPeriod: {text!r}")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def parse_datetime(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{text} is not a valid ISO8601 date query") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def time_window(params: dict[str, str], now: float, default_period: float | None) -> tuple[float, float]:
    """(start, end) epoch seconds; `statsPeriod` wins over `start`/`end`."""
    period = params.get("statsPeriod") or params.get("timeframe")
    if period:
        return now - parse_stats_period(period), now
    start, end = params.get("start"), params.get("end")
    if start or end:
        if not (start and end):
            raise bad_request("Invalid date range: start and end are both required")
        s, e = parse_datetime(start), parse_datetime(end)
        if s >= e:
            raise bad_request("start must be before end")
        return s, e
    if default_period is None:
        return 0.0, float("inf")
    return now - default_period, now
