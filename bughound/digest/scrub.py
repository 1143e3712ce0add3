"""Default PII scrubbing (pure), after Relay's defaults ("Data Scrubber" + "Use Default Scrubbers").

Only the fields Relay's schema marks as PII are scrubbed: `extra`, `server_name`, `user`,
request data/query/fragment/cookies/headers/env, breadcrumb messages and data, frame `vars`,
`logentry.params`, mechanism description/data and contexts of unknown types. Tags, URLs,
culprits, file names, `logentry.formatted` and exception values are never touched.

* A value under a key that looks like a password, secret, token or credential is replaced
  whole by `[Filtered]` (a non-string value is removed); so is a string value that itself
  matches that pattern (`@password:filter`).
* Credit card numbers, PEM private key bodies, passwords in URLs, bearer tokens and US social
  security numbers inside strings are replaced by `[Filtered]` (`@common:filter`).
* Sensitive cookies (Relay's list) are replaced whole.

Every change is recorded in the event's `_meta`, as Relay does:
`{"": {"rem": [["@password:filter", "s", 0, 10]], "len": 7}}`.
"""

from __future__ import annotations

import bisect
import functools
import re
from typing import Any, NamedTuple

import orjson

FILTERED = "[Filtered]"
PASSWORD = re.compile(
    r"(?i)(password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey|private[-_]key"
    r"|token[^\s]*[:=]|^otp$|^two[-_]factor$)"
)
# Keys: the password pattern, and any key containing "token" (Relay's TOKEN_KEY_REGEX).
_SENSITIVE_KEY = re.compile(
    r"(?i)(password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey|private[-_]key"
    r"|token|^otp$|^two[-_]factor$)"
)
_NEVER_SCRUBBED = frozenset({"", "true", "false", "null", "undefined"})
# @common:filter, in the order relay-pii applies its rules (by id), one after the other:
# (rule, pattern, group to replace: 0 = the whole match, -1 = the whole value).
_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("@bearer:filter", re.compile(r"(?i)\b(Bearer\s+)([^\s]+)"), 0),
    ("@creditcard:filter", re.compile(r"\b(?:3[47]\d|4\d{3}|5[1-5]\d\d|65\d\d|6011)(?:[-\s]?\d){12}\b"), 0),
    ("@password:filter", PASSWORD, -1),
    (
        "@pemkey:filter",
        re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----\s*([\s\S]+?)\s*-----END[A-Z ]*PRIVATE KEY-----"),
        1,
    ),
    ("@urlauth:legacy", re.compile(r"\b((?:[a-z0-9]+:)?//[a-zA-Z0-9%_.-]+:)([a-zA-Z0-9%_.-]+)@"), 2),
    ("@usssn:filter", re.compile(r"\b([0-9]{3}-[0-9]{2}-[0-9]{4})\b"), 0),
)
# Whether a string (or a container, on its JSON text) is worth a closer look; most are not.
# A superset of every reason to scrub, asked on lowercased ASCII text where plain substring
# tests are fast (one regex alternation is many times slower): the password words, and for the
# card and SSN patterns a run of at least 11 digits, spaces or hyphens (found by mapping those
# bytes to "0"). In JSON text the keys count too (any key containing "token" is sensitive) and
# the whole-value words are quoted. Non-ASCII text, or JSON with escapes, takes the exact regex.
_TRIGGER_WORDS = (
    b"passw", b"secret", b"api-key", b"api_key", b"apikey", b"auth", b"credentials", b"mysql_pwd",
    b"private", b"token", b"-----begin", b"bearer",
)  # fmt: skip
# A password in a URL needs `//user:` (most URLs have no user: checked only where `//` is).
_URL_START = b"//"
_URL_USER = re.compile(rb"//[a-z0-9%_.-]+:")
_WHOLE_VALUES = frozenset({"otp", "two-factor", "two_factor"})
_DIGIT_RUN_CHARS = b"0123456789-" + bytes(c for c in range(128) if chr(c).isspace())  # what \s matches
_DIGIT_RUN_MAP = bytes(ord("0") if byte in _DIGIT_RUN_CHARS else ord(".") for byte in range(256))
_DIGIT_RUN = b"0" * 11
_DIGIT_PATTERNS = tuple(
    pattern for rule, pattern, _ in _PATTERNS if rule in ("@creditcard:filter", "@usssn:filter")
)
_SLOW_TRIGGER = re.compile(
    PASSWORD.pattern[4:] + r"|-----begin|//[a-z0-9%_.-]+:|bearer|\d(?:[-\s]?\d){12}|\d{3}-\d{2}-\d{4}"
)


class _Triggers(NamedTuple):
    """What `_triggers` looks for: words, users in URLs, digit runs a card or SSN rule matches."""

    words: tuple[bytes, ...]
    urls: bool = True
    digit_runs: bool = True

    @staticmethod
    def among(hits: list[tuple[int, bytes]]) -> _Triggers:
        """Only the JSON triggers that are among `hits`."""
        names = {name for _, name in hits}
        words = tuple(word for word in _JSON_TRIGGERS.words if word in names)
        return _Triggers(words, _URL_START in names, _DIGIT_RUN in names)


_TEXT_TRIGGERS = _Triggers(_TRIGGER_WORDS)
_JSON_TRIGGERS = _Triggers(_TRIGGER_WORDS + tuple(f'"{word}"'.encode() for word in sorted(_WHOLE_VALUES)))


def _triggers(lowered: bytes, triggers: _Triggers = _TEXT_TRIGGERS) -> list[tuple[int, bytes]]:
    """Where lowercased ASCII text may hold something to scrub: (start, word or `//` or digit run)
    for each hit (the same one may be listed more than once); empty for most text."""
    found: list[tuple[int, bytes]] = []
    for word in triggers.words:
        at = lowered.find(word)
        while at >= 0:
            found.append((at, word))
            at = lowered.find(word, at + len(word))
    if triggers.urls and _URL_START in lowered:
        found += [(match.start(), _URL_START) for match in _URL_USER.finditer(lowered)]
    if triggers.digit_runs:
        found += [(start, _DIGIT_RUN) for start in _digit_triggers(lowered)]
    return found


def _digit_triggers(lowered: bytes) -> list[int]:
    """Where a run of digits starts that a card or SSN rule matches."""
    # Runs of digits are common (ids, UUIDs, timestamps): a long enough run is looked at with
    # the card and SSN rules themselves (on the run and the character on each side of it).
    # Runs are found with bytes.find: a regex for them tries every digit, many times slower.
    found: list[int] = []
    digits = lowered.translate(_DIGIT_RUN_MAP)
    start = digits.find(_DIGIT_RUN)
    while start >= 0:
        end = digits.find(b".", start)
        end = len(digits) if end < 0 else end
        part = lowered[max(start - 1, 0) : end + 1].decode()
        if any(pattern.search(part) for pattern in _DIGIT_PATTERNS):
            found.append(start)
        start = digits.find(_DIGIT_RUN, end)
    return found


def _may_need_scrub(value: str) -> bool:
    if not value.isascii():
        return _SLOW_TRIGGER.search(value.lower()) is not None
    return value.lower() in _WHOLE_VALUES or bool(_triggers(value.encode().lower()))


def _ascii_json(value: Any) -> bytes | None:
    """`value`'s JSON text, or None when the text checks cannot judge it (not JSON-able, or with
    non-ASCII text or escapes: walk it)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if not text.isascii() or b"\\" in text:
        return None
    return text


def _json_hits(value: Any) -> list[tuple[int, bytes]] | None:
    """`_triggers` on `value`'s JSON text, or None when it has no such text (see `_ascii_json`)."""
    text = _ascii_json(value)
    return None if text is None else _triggers(text.lower(), _JSON_TRIGGERS)


def _container_may_need_scrub(value: Any) -> bool:
    """Whether `value` may need scrubbing, judged on its JSON text."""
    hits = _json_hits(value)
    return hits is None or bool(hits)


def _values_may_need_scrub(values: list[Any], triggers: _Triggers = _JSON_TRIGGERS) -> list[bool]:
    """`[_container_may_need_scrub(value) for value in values]`, when `triggers` has all those
    found in their JSON texts together. The texts are searched at once, joined by commas (no trigger holds
    a comma, nor does a run of digits), and each hit is traced back to its value."""
    flags = [False] * len(values)
    texts: list[bytes] = []
    starts: list[int] = []
    offset = 0
    for i, value in enumerate(values):
        text = _ascii_json(value)
        if text is None:
            text = b""
            flags[i] = True
        texts.append(text)
        starts.append(offset)
        offset += len(text) + 1
    for position, _ in _triggers(b",".join(texts).lower(), triggers):
        flags[bisect.bisect_right(starts, position) - 1] = True
    return flags


SENSITIVE_COOKIES = frozenset(
    "sentrysid sudo su session __session sessionid user_session symfony phpsessid fasthttpsessionid "
    "mysession irissessionid _vercel_jwt csrf xsrf _xsrf _csrf csrf-token csrf_token xsrf-token xsrf_token "
    "fastcsrf _iris_csrf".split()
)
# Context types Relay knows; any other context is free-form and scrubbed.
KNOWN_CONTEXTS = frozenset(
    "device os runtime app browser gpu trace profile replay response otel cloud_resource culture monitor "
    "nel performance_score spring ota_updates flags user_report_v2 feedback state chromium_stability_report "
    "unity memory_info thread_pool_info".split()
)


@functools.lru_cache(maxsize=4096)
def _sensitive_str_key(key: str) -> bool:
    return _SENSITIVE_KEY.search(key) is not None


def _sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and _sensitive_str_key(key)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _scrub_string(value: str) -> tuple[str, str | None]:
    if value in _NEVER_SCRUBBED or not _may_need_scrub(value):
        return value, None
    rule_hit: str | None = None
    for rule, pattern, group in _PATTERNS:
        if group == -1:
            if value != FILTERED and pattern.search(value):
                value, rule_hit = FILTERED, rule
            continue

        def repl(m: re.Match[str], group: int = group, rule: str = rule) -> str:
            if rule == "@creditcard:filter" and not _luhn(re.sub(r"[-\s]", "", m.group(0))):
                return m.group(0)
            if group == 0:
                return FILTERED
            start, end = m.start(group) - m.start(), m.end(group) - m.start()
            return m.group(0)[:start] + FILTERED + m.group(0)[end:]

        new = pattern.sub(repl, value)
        if new != value:
            value, rule_hit = new, rule
    return value, rule_hit


class _Scrubber:
    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def remark(
        self, path: tuple[str | int, ...], rule: str, kind: str, original_len: int | None, new_len: int
    ) -> None:
        node = self.meta
        for part in path:
            node = node.setdefault(str(part), {})
        entry = node.setdefault("", {})
        entry.setdefault("rem", []).append([rule, kind] if kind == "x" else [rule, kind, 0, new_len])
        if original_len is not None:
            entry.setdefault("len", original_len)

    def value(self, value: Any, path: tuple[str | int, ...], sensitive: bool = False) -> Any:
        if isinstance(value, str):
            if sensitive and value not in _NEVER_SCRUBBED:
                if value != FILTERED:
                    self.remark(path, "@password:filter", "s", len(value), len(FILTERED))
                return FILTERED
            new, rule = _scrub_string(value)
            if rule is not None:
                self.remark(path, rule, "s", len(value), len(new))
            return new
        if sensitive and value is not None:
            self.remark(path, "@password:filter", "x", None, 0)
            return None
        if isinstance(value, dict):
            for key, child in value.items():  # values are replaced in place, keys never change
                sensitive_child = _sensitive_key(key)
                if type(child) is str and not sensitive_child:  # the common case, inline
                    new, rule = _scrub_string(child)
                    if rule is not None:
                        self.remark((*path, key), rule, "s", len(child), len(new))
                        value[key] = new
                else:
                    value[key] = self.value(child, (*path, key), sensitive_child)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
                    # A [key, value] pair (headers, cookies, query strings): the key decides.
                    item[1] = self.value(item[1], (*path, i, 1), _sensitive_key(item[0]))
                else:
                    value[i] = self.value(item, (*path, i))
        return value

    def field(self, holder: dict[str, Any], key: str, path: tuple[str | int, ...]) -> None:
        holder[key] = self.value(holder[key], (*path, key), _sensitive_key(key))


Target = tuple[dict[str, Any], str, tuple[str | int, ...]]  # (holder, key, path of the holder)


def _present(found: list[Target], holder: Any, keys: tuple[str, ...], path: tuple[str | int, ...]) -> None:
    if isinstance(holder, dict):
        for key in keys:
            if holder.get(key) is not None:
                found.append((holder, key, path))


def _targets(event: dict[str, Any]) -> list[Target]:
    """The PII fields `event` has (headers and cookies aside), as (holder, key, path) triples."""
    found: list[Target] = []
    _present(found, event, ("extra", "server_name", "user"), ())
    _present(found, event.get("request"), ("data", "query_string", "fragment", "env"), ("request",))
    crumbs = event.get("breadcrumbs")
    for i, crumb in enumerate(crumbs.get("values") or [] if isinstance(crumbs, dict) else []):
        _present(found, crumb, ("message", "data"), ("breadcrumbs", "values", i))
    _present(found, event.get("logentry"), ("params",), ("logentry",))
    exception = event.get("exception")
    for i, value in enumerate(exception.get("values") or [] if isinstance(exception, dict) else []):
        if isinstance(value, dict):
            path = ("exception", "values", i)
            _present(found, value.get("mechanism"), ("description", "data"), (*path, "mechanism"))
            _frame_targets(found, value.get("stacktrace"), (*path, "stacktrace"))
            _frame_targets(found, value.get("raw_stacktrace"), (*path, "raw_stacktrace"))
    _frame_targets(found, event.get("stacktrace"), ("stacktrace",))
    threads = event.get("threads")
    for i, thread in enumerate(threads.get("values") or [] if isinstance(threads, dict) else []):
        if isinstance(thread, dict):
            _frame_targets(found, thread.get("stacktrace"), ("threads", "values", i, "stacktrace"))
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        for name, context in contexts.items():
            kind = context.get("type", name) if isinstance(context, dict) else name
            if kind not in KNOWN_CONTEXTS and context is not None:
                found.append((contexts, name, ("contexts",)))
    return found


def _frame_targets(found: list[Target], stacktrace: Any, path: tuple[str | int, ...]) -> None:
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    if isinstance(frames, list):
        for i, frame in enumerate(frames):
            if isinstance(frame, dict) and frame.get("vars") is not None:
                found.append((frame, "vars", (*path, "frames", i)))


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """Scrub `event` in place; remarks are merged into `event["_meta"]`."""
    meta = event.get("_meta")
    scrubber = _Scrubber(meta if isinstance(meta, dict) else {})
    targets = _targets(event)
    pairs = _request_pairs(event.get("request"))
    # Most events need nothing: one look at all their PII fields together (one JSON text) is
    # much cheaper than one look at each frame's variables, each breadcrumb, each header, ...
    # What it clears needs only the checks by key (a password field, an auth header). When it
    # finds something, the fields that hold it are picked out.
    values = [holder[key] for holder, key, _ in targets]
    values += [pair[1] for _, pair, _ in pairs]
    hits = _json_hits(values)
    if hits is None:
        flags = _values_may_need_scrub(values)
    elif hits:
        flags = _values_may_need_scrub(values, _Triggers.among(hits))  # only what is there to find
    else:
        flags = [False] * len(values)
    for (holder, key, path), flagged in zip(targets, flags[: len(targets)], strict=True):
        if flagged or _sensitive_key(key):
            scrubber.field(holder, key, path)
    for (path, pair, sensitive), flagged in zip(pairs, flags[len(targets) :], strict=True):
        if flagged or sensitive:
            pair[1] = scrubber.value(pair[1], path, sensitive)
    if scrubber.meta:
        event["_meta"] = scrubber.meta
    return event


def _request_pairs(request: Any) -> list[tuple[tuple[str | int, ...], list[Any], bool]]:
    """The request's headers (but the User-Agent) and cookies: (path, [name, value], whether the
    name makes the value sensitive)."""
    found: list[tuple[tuple[str | int, ...], list[Any], bool]] = []
    if not isinstance(request, dict):
        return found
    headers = request.get("headers")
    if isinstance(headers, list):
        for i, pair in enumerate(headers):
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                if pair[0].lower() != "user-agent":
                    found.append((("request", "headers", i, 1), pair, _sensitive_key(pair[0])))
    cookies = request.get("cookies")
    if isinstance(cookies, list):
        for i, pair in enumerate(cookies):
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                sensitive = pair[0].lower() in SENSITIVE_COOKIES or _sensitive_key(pair[0])
                found.append((("request", "cookies", i, 1), pair, sensitive))
    return found
