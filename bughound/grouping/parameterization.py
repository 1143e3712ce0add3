"""Message parameterization for grouping (pure): variable parts of a message become `<kind>`.

Sentry's `normalize_message_for_grouping` as its `newstyle:2023-01-11` grouping ran in autumn
2025: keep the first two non-empty lines (adding `...` when anything was cut), then replace
every match of ONE ordered regex alternation with `<name of the alternative>`; at each position
the first listed alternative that matches wins. Sentry edits this list in place (it is not
versioned with the grouping config), so ours is frozen here as `PATTERNS_2025_10` and a later
config would add a new list rather than change this one.

Idempotence: the output is a fixed point of `normalize_message` unless a pattern that failed
only because a word character adjoined it (a `\b` or a lookbehind) can match once that
character became part of a placeholder: `-0::` -> `<int>::` -> `<int><ip>`, `1:000` ->
`<date>0` -> `<date><int>`, `0s0s` -> `0s<duration>` -> `<duration><duration>`. Sentry's regex
behaves the same and its hashes depend on it, so this is kept; `tests/unit/grouping/
test_parameterization.py` checks with Hypothesis that whatever still matches in an output sits
right next to a placeholder.
"""

from __future__ import annotations

import functools
import re
from itertools import islice

__all__ = ["PATTERNS_2025_10", "normalize_message", "parameterize", "trim_message"]

_TLDS = (
    "com|net|org|jp|de|uk|fr|br|it|ru|es|me|gov|pl|ca|au|cn|co|in|nl|edu|info|eu|ch|id|at|kr|cz|mx|be|tv"
    "|se|tr|tw|al|ua|ir|vn|cl|sk|ly|cc|to|no|fi|us|pt|dk|ar|hu|tk|gr|il|news|ro|my|biz|ie|za|nz|sg|ee|th"
    "|io|xyz|pe|bg|hk|rs|lt|link|ph|club|si|site|mobi|by|cat|wiki|la|ga|xxx|cf|hr|ng|jobs|online|kz|ug"
    "|gq|ae|is|lv|pro|fm|tips|ms|sa|app"
)
_OCTET = r"(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])"
_IPV4 = rf"({_OCTET}\.){{3,3}}{_OCTET}"
_H = "[0-9a-fA-F]{1,4}"
_MON = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)"
_ZONE = "(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])"

# (name, pattern, lookbehind). Order matters: it is the order of the alternation.
PATTERNS_2025_10: tuple[tuple[str, str, str | None], ...] = (
    ("email", r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*", None),
    ("url", r"\b(wss?|https?|ftp)://[^\s/$.?#].[^\s]*", None),
    ("hostname", rf"\b([a-zA-Z0-9\-]{{1,63}}\.)+?(({_TLDS.upper()})|({_TLDS}))\b", None),
    (
        "ip",
        rf"(?<![0-9a-zA-Z_])(({_H}:){{7,7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|"
        rf"({_H}:){{1,5}}(:{_H}){{1,2}}|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|"
        rf"({_H}:){{1,2}}(:{_H}){{1,5}}|{_H}:((:{_H}){{1,6}})|:((:{_H}){{1,7}}|:)|"
        rf"fe80:(:[0-9a-fA-F]{{0,4}}){{0,4}}%[0-9a-zA-Z]{{1,}}|::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{_IPV4}|"
        rf"({_H}:){{1,4}}:{_IPV4}\b)(?![0-9a-zA-Z])|(\b{_IPV4}\b)",
        None,
    ),
    ("traceparent", r"(\b00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\b)|(\b1-[0-9a-f]{8}-[0-9a-f]{24}\b)", None),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", None),
    ("sha1", r"\b[0-9a-fA-F]{40}\b", None),
    ("md5", r"\b[0-9a-fA-F]{32}\b", None),
    (
        "date",
        "|".join(
            (
                # RFC822, RFC1123, RFC1123Z
                rf"({_DAY},\s\d{{1,2}}\s{_MON}\s\d{{2,4}}\s\d{{1,2}}:\d{{1,2}}(:\d{{1,2}})?\s"
                rf"([-\+][\d]{{2}}[0-5][\d]|{_ZONE}))",
                # "Mon Jan 02, 1999", "Jan 02, 1999"
                rf"(({_DAY}\s)?{_MON}\s[0-3]\d,\s\d{{2,4}})",
                # RFC850
                r"((?:Sun|Sunday|Mon|Monday|Tue|Tuesday|Wed|Wednesday|Thu|Thursday|Fri|Friday|Sat|Saturday),"
                rf"\s\d{{2}}-{_MON}-\d{{2}}\s\d{{2}}:\d{{2}}:\d{{2}}\s{_ZONE})",
                # RFC3339, RFC3339Nano
                r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?([+-]?\d{2}:\d{2})?)",
                # JavaScript Date.toString()
                rf"({_DAY}\s{_MON}\s\d{{2}}\s\d{{4}}\s\d{{2}}:\d{{2}}:\d{{2}}\sGMT[+-]\d{{4}}(?:\s\([^)]+\))?)",
                # datetimes with an offset, before plain ones so the offset is part of the date
                r"((\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d\.\d+([+-][0-2]\d:?[0-5]\d|Z))|"
                r"(\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d([+-][0-2]\d:?[0-5]\d|Z))|"
                r"(\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d([+-][0-2]\d:?[0-5]\d|Z)))",
                r"((\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d\.\d+)|"
                r"(\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d)|"
                r"(\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d))",
                # kitchen clock
                r"([1-9]\d?:\d{2}(:\d{2})?(?:\s?[aApP][Mm])?)",
                r"(\d{4}-[01]\d-[0-3]\d)",
                r"([0-2]\d:[0-5]\d:[0-5]\d)",
                rf"(\b(?:({_DAY[3:-1]})\s+)?({_MON[3:-1]})\s+([\d]{{1,2}})\s+([\d]{{2}}:[\d]{{2}}:[\d]{{2}})\s+[\d]{{4}})",
                rf"(\b(?:({_DAY[3:-1]}),\s+)?(0[1-9]|[1-2]?[\d]|3[01])\s+({_MON[3:-1]})\s+"
                r"(19[\d]{2}|[2-9][\d]{3})\s+(2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+"
                rf"([-\+][\d]{{2}}[0-5][\d]|{_ZONE}))",
                r"(datetime.datetime\(.*?\))",
            )
        ),
        None,
    ),
    ("duration", r"\b(\d+ms)|(\d+(\.\d+)?s)\b", None),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b", None),
    ("float", r"-\d+\.\d+\b|\b\d+\.\d+\b", None),
    ("int", r"-\d+\b|\b\d+\b", None),
    ("quoted_str", r"'([^']+)'|\"([^\"]+)\"", "="),
    ("bool", r"True|true|False|false", "="),
)


# Speed: a pattern that cannot match anywhere in a text can be left out of the alternation
# without changing the result, so each text is matched only against the patterns whose
# necessary condition it meets (e.g. `email` needs an `@`, `int` a digit).
_DIGIT = re.compile(r"\d")
_NEEDS: dict[str, tuple[str, ...]] = {
    "email": ("@",),
    "url": ("://",),
    "hostname": (".",),
    "ip": ("ip",),
    "traceparent": ("-",),
    "uuid": ("-",),
    "sha1": ("long",),
    "md5": ("long",),
    "date": ("date",),
    "duration": ("digit",),
    "hex": ("digit",),
    "float": ("digit",),
    "int": ("digit",),
    "quoted_str": ("=",),
    "bool": ("=",),
}
_FEATURES = ("@", "://", ".", ":", "-", "=", "datetime.datetime(")
_CACHE_LIMIT = 4_000  # messages of the issues seen lately; new ones cost one regex pass
_cache: dict[str, str] = {}


# The two costliest patterns get sharper conditions (each alternative of theirs needs one of
# these): every date form has a time `d:d`, a `YYYY[-]MM[-]DD`, a `DD, YY` or is a
# `datetime.datetime(`; every IPv6 form has `::`, seven colons or (link-local) a `%`, and an
# IPv4 address is four dotted numbers.
_DATE_HINT = re.compile(r"\d:\d|\d{4}-?[01]\d-?[0-3]\d|[0-3]\d,\s\d|datetime\.datetime\(")
_IPV4_HINT = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")


def _features(text: str) -> frozenset[str]:
    present = {f for f in _FEATURES if f in text}
    if _DIGIT.search(text):
        present.add("digit")
        if _DATE_HINT.search(text):
            present.add("date")
        if _IPV4_HINT.search(text):
            present.add("ip")
    elif "datetime.datetime(" in text:
        present.add("date")
    if "::" in text or "%" in text or text.count(":") >= 7:
        present.add("ip")
    if len(text) >= 32:
        present.add("long")
    return frozenset(present)


@functools.lru_cache(maxsize=1024)
def _compiled(
    patterns: tuple[tuple[str, str, str | None], ...], features: frozenset[str] | None = None
) -> re.Pattern[str] | None:
    alternatives = []
    for name, pattern, lookbehind in patterns:
        needs = _NEEDS.get(name)
        if features is not None and needs is not None and features.isdisjoint(needs):
            continue
        prefix = f"(?<={lookbehind})" if lookbehind else ""
        alternatives.append(f"{prefix}(?P<{name}>{pattern})")
    return re.compile("|".join(alternatives)) if alternatives else None


def _placeholder(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def parameterize(text: str, patterns: tuple[tuple[str, str, str | None], ...] = PATTERNS_2025_10) -> str:
    """`text` with every variable part replaced by `<kind>` (no trimming)."""
    regex = _compiled(patterns, _features(text))
    return regex.sub(_placeholder, text) if regex is not None else text


def trim_message(message: str) -> str:
    """The first two non-empty lines of `message`, plus `...` when that is not all of it."""
    trimmed = "\n".join(islice((line for line in message.splitlines() if line.strip()), 2))
    return trimmed if trimmed == message else trimmed + "..."


def normalize_message(message: str) -> str:
    """Sentry's `normalize_message_for_grouping`: trim to two lines, then parameterize."""
    result = _cache.get(message)
    if result is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        result = _cache[message] = parameterize(trim_message(message))
    return result
