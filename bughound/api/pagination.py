"""Sentry's cursors (`<value>:<offset>:<is_prev>`) and Link headers (pure)."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from bughound.api.errors import bad_request

MAX_PER_PAGE = 100


@dataclasses.dataclass(frozen=True)
class Cursor:
    value: int | float
    offset: int
    is_prev: bool

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"


def parse_cursor(text: str | None) -> Cursor:
    if not text:
        return Cursor(0, 0, False)
    parts = text.rsplit(":", 2)
    try:
        value_text, offset, is_prev = parts
        value: int | float = float(value_text) if "." in value_text else int(value_text)
        cursor = Cursor(value, int(offset), bool(int(is_prev)))
    except ValueError:
        raise bad_request("Invalid cursor parameter.") from None
    if cursor.offset < 0:
        raise bad_request("Invalid cursor parameter.")
    return cursor


def parse_per_page(text: str | None, default: int = MAX_PER_PAGE) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request("Invalid per_page parameter.") from None
    if not 1 <= value <= MAX_PER_PAGE:
        raise bad_request(f"Invalid per_page value. Must be between 1 and {MAX_PER_PAGE}.")
    return value


def link_header(
    base_url: str,
    path: str,
    query: list[tuple[str, str]],
    prev: Cursor,
    prev_results: bool,
    nxt: Cursor,
    next_results: bool,
) -> str:
    """Both links, previous first, each with `rel`, `results` and `cursor` (sentry-cli reads them)."""
    params = urlencode([(k, v) for k, v in query if k != "cursor"])
    uri = f"{base_url}{path}?{params}"
    links = []
    for name, cursor, has_results in (("previous", prev, prev_results), ("next", nxt, next_results)):
        results = "true" if has_results else "false"
        links.append(f'<{uri}&cursor={cursor}>; rel="{name}"; results="{results}"; cursor="{cursor}"')
    return ", ".join(links)


def offset_links(
    base_url: str, path: str, query: list[tuple[str, str]], offset: int, limit: int, has_more: bool
) -> str:
    prev = Cursor(0, max(0, offset - limit), True)
    nxt = Cursor(0, offset + limit, False)
    return link_header(base_url, path, query, prev, offset > 0, nxt, has_more)
