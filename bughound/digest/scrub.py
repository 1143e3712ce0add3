"""Default PII scrubbing (pure), after Relay's defaults ("Data Scrubber" + "Use Default Scrubbers").

Only the fields Relay's schema marks as PII are scrubbed: `extra`, `server_name`, `user`,
request data/query/fragment/cookies/headers/env, breadcrumb messages and data, frame `vars`,
`logentry.params`, mechanism description/data and contexts of unknown types (`@common:filter`),
and `logentry.formatted` with rules of its own. Tags, URLs, culprits, file names and exception
values are never touched.

* A value under a key that looks like a password, secret, token or credential is replaced
  whole by `[Filtered]` (a non-string value is removed); so is a string value that itself
  matches that pattern (`@password:filter`).
* Bearer tokens, credit card numbers, IBANs, PEM key bodies, passwords in URLs and US social
  security numbers inside strings are replaced by `[Filtered]` (`@common:filter`).
* Sensitive cookies (Relay's list) are replaced whole.
* In `logentry.formatted`, bearer tokens, card numbers, emails, IBANs and SSNs are replaced by
  `Bearer [token]`, `[creditcard]`, `[email]`, `[iban]` and `[us-ssn]`; password words are not
  looked for (the message would otherwise be lost whole).

The rules are applied one after the other, as relay-pii does: each sees what the earlier ones
replaced as a single NUL. Every replacement is recorded in the event's `_meta`, as Relay does,
with its place in the new value (UTF-8 byte offsets) and the original length (characters):
`{"": {"rem": [["@creditcard:filter", "s", 5, 15]], "len": 21}}`.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

FILTERED = "[Filtered]"
# Relay's `\s` (Rust, Unicode White_Space): Python's `\s` also takes \x1c-\x1f, which Rust's does not.
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Relay's PASSWORD_KEY_REGEX is these words, `token[^\s]*[:=]`, `^otp$` and `^two[-_]factor$`.
_PASSWORD_WORDS_TEXT = (
    "password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey|private[-_]key"
)
_WHOLE_WORDS_TEXT = "^otp$|^two[-_]factor$"
PASSWORD = re.compile(rf"(?i)({_PASSWORD_WORDS_TEXT}|token[^{_WS}]*[:=]|{_WHOLE_WORDS_TEXT})")
# Keys: the password pattern, and any key containing "token" (Relay's TOKEN_KEY_REGEX).
_SENSITIVE_KEY = re.compile(rf"(?i)({_PASSWORD_WORDS_TEXT}|token|{_WHOLE_WORDS_TEXT})")
_NEVER_SCRUBBED = frozenset({"", "true", "false", "null", "undefined"})


Span = tuple[int, int]
Finder = Callable[[str], list[Span]]


class _Rule(NamedTuple):
    """A relay-pii rule: the spans `find` returns become `text` (with `whole`, any span at all
    makes the whole value `text`)."""

    name: str
    find: Finder
    whole: bool
    text: str


def _spans(pattern: re.Pattern[str], group: int = 0) -> Finder:
    """The spans of `pattern`'s group `group` (that took part) in its matches."""

    def find(text: str) -> list[Span]:
        return [span for match in pattern.finditer(text) if (span := match.span(group))[0] >= 0]

    return find


# Python's regex engine backtracks (Relay's Rust one does not), so three of Relay's patterns are
# matched by code that takes linear time on any input: written as regexes, a 100 KB string of
# "token"s took 11 s, of PEM headers 7 s, and an 8 KB message of dots and dashes around an `@`
# half a second. Each finder returns what the regex would (tests compare them).
_PASSWORD_WORDS = re.compile(
    rf"(?i)({_PASSWORD_WORDS_TEXT}|{_WHOLE_WORDS_TEXT})"
)  # PASSWORD less its token clause
_WS_RUN = re.compile(f"[{_WS}]+")


def _password_spans(text: str) -> list[Span]:
    """`PASSWORD`'s verdict: [(0, len)] when it matches anywhere. Its `token[^\\s]*[:=]` is
    looked for per run of non-space: a "token" with a `:` or `=` after it in the same run."""
    found = _PASSWORD_WORDS.search(text) is not None
    if not found:
        lowered = text.lower()  # (?i): also the Kelvin sign K, which lower() makes "k"
        if "token" in lowered:
            for run in _WS_RUN.split(lowered):
                at = run.find("token")
                if at >= 0 and (run.find(":", at + 5) >= 0 or run.find("=", at + 5) >= 0):
                    found = True
                    break
    return [(0, len(text))] if found else []


_PEM = re.compile(
    r"(?s)-----BEGIN[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----[\t ]*\r?\n?(.+?)\r?\n?"
    r"-----END[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----"
)
_PEM_END = re.compile(r"-----END[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----")


def _pem_spans(text: str) -> list[Span]:
    """The PEM key bodies: searched only up to the end of the last valid `-----END ... KEY-----`,
    so that every key header's lazy search for its end marker succeeds (without one, each header
    would search to the end of the text in vain)."""
    if "-----END" not in text:
        return []
    last = 0
    for match in _PEM_END.finditer(text):
        last = match.end()
    return [match.span(1) for match in _PEM.finditer(text, 0, last)] if last else []


_EMAIL = re.compile(r"\b[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}\b")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-")
_EMAIL_DOMAIN = re.compile(r"[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}\b")
_WORD = re.compile(r"\w")


def _email_spans(text: str) -> list[Span]:
    """`_EMAIL`'s matches, found per `@`: a match holds exactly one `@`, its local part is the
    run of local characters before it (from the first place in the run where `\\b` holds) and
    its domain is matched once after it."""

    def word(i: int) -> bool:
        return 0 <= i < len(text) and _WORD.match(text, i) is not None

    spans: list[Span] = []
    position = 0  # where the next match may start
    at = text.find("@")
    while at >= 0:
        start = at
        while start > position and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        begin = next((i for i in range(start, at) if word(i - 1) != word(i)), None)
        domain = _EMAIL_DOMAIN.match(text, at + 1) if begin is not None else None
        if begin is not None and domain is not None:
            spans.append((begin, domain.end()))
            position = domain.end()
            at = text.find("@", position)
        else:
            at = text.find("@", at + 1)
    return spans


_BEARER = re.compile(rf"(?i)\b(Bearer[{_WS}]+)([^{_WS}]+)")
_CREDITCARD = re.compile(rf"\b((?:3[47]\d|4\d{{3}}|5[1-5]\d\d|65\d\d|6011)(?:[-{_WS}]?\d){{12}})\b")
_IBAN = re.compile(
    r"\b(?:AT|AD|AE|AL|AZ|BA|BE|BG|BH|BR|BY|CH|CR|CY|CZ|DE|DK|DO|EE|EG|ES|FI|FO|FR|GB|GE|GI|GL|GR|GT"
    r"|HR|HU|IE|IL|IQ|IS|IT|JO|KW|KZ|LB|LC|LI|LT|LU|LV|LY|MC|MD|ME|MK|MR|MT|MU|NL|NO|PK|PL|PS|PT|QA"
    r"|RO|RU|RS|SA|SC|SE|SI|SK|SM|ST|SV|TL|TN|TR|UA|VA|VG|XK|DZ|AO|BJ|BF|BI|CV|CM|CF|TD|KM|CG|CI|DJ"
    r"|GQ|GA|GW|HN|IR|MG|ML|MA|MZ|NI|NE|SN|TG)\d{2}[a-zA-Z0-9]{11,29}\b"
)
_US_SSN = re.compile(r"\b([0-9]{3}-[0-9]{2}-[0-9]{4})\b")
# @common:filter, in the order relay-pii applies its rules (by id), one after the other.
_FILTER_RULES = (
    _Rule("@bearer:filter", _spans(_BEARER), False, FILTERED),
    _Rule("@creditcard:filter", _spans(_CREDITCARD), False, FILTERED),
    _Rule("@iban:filter", _spans(_IBAN), False, FILTERED),
    _Rule("@password:filter", _password_spans, True, FILTERED),
    _Rule("@pemkey:filter", _pem_spans, False, FILTERED),
    _Rule(
        "@urlauth:legacy",
        _spans(re.compile(r"\b((?:[a-z0-9]+:)?//[a-zA-Z0-9%_.-]+:)([a-zA-Z0-9%_.-]+)@"), 2),
        False,
        FILTERED,
    ),
    _Rule("@usssn:filter", _spans(_US_SSN), False, FILTERED),
)
# Under a sensitive key (`_SENSITIVE_KEY`) the password rule takes the whole value.
_SENSITIVE_VALUE_RULES = tuple(
    _Rule(rule.name, lambda text: [(0, len(text))], True, FILTERED)
    if rule.name == "@password:filter"
    else rule
    for rule in _FILTER_RULES
)
# What Relay does to `logentry.formatted` instead (the message a user reads: the password words
# and whole-value filters do not apply, recognizable values are named).
_MESSAGE_RULES = (
    _Rule("@bearer:replace", _spans(_BEARER), False, "Bearer [token]"),
    _Rule("@creditcard:replace", _spans(_CREDITCARD), False, "[creditcard]"),
    _Rule("@email:replace", _email_spans, False, "[email]"),
    _Rule("@iban:replace", _spans(_IBAN), False, "[iban]"),
    _Rule("@usssn:replace", _spans(_US_SSN), False, "[us-ssn]"),
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
_DIGIT_PATTERNS = (_CREDITCARD, _US_SSN)
# An IBAN starts with two capitals and two digits (found by mapping capitals to "A", digits to "0").
_IBAN_SHAPE_MAP = bytes(
    ord("A") if 65 <= byte <= 90 else ord("0") if 48 <= byte <= 57 else ord(".") for byte in range(256)
)
_IBAN_START = b"AA00"
_IBAN_BYTES = re.compile(_IBAN.pattern.encode())
_SLOW_TRIGGER = re.compile(  # (a superset: any "token" at all)
    _PASSWORD_WORDS.pattern[4:]
    + r"|token|-----begin|//[a-z0-9%_.-]+:|bearer|\d(?:[-\s]?\d){12}|\d{3}-\d{2}-\d{4}"
)


class _Triggers(NamedTuple):
    """What `_triggers` looks for: words, users in URLs, digit runs a card or SSN rule matches,
    IBANs."""

    words: tuple[bytes, ...]
    urls: bool = True
    digit_runs: bool = True
    ibans: bool = True

    @staticmethod
    def among(hits: list[tuple[int, bytes]]) -> _Triggers:
        """Only the JSON triggers that are among `hits`."""
        names = {name for _, name in hits}
        words = tuple(word for word in _JSON_TRIGGERS.words if word in names)
        return _Triggers(words, _URL_START in names, _DIGIT_RUN in names, _IBAN_START in names)


_TEXT_TRIGGERS = _Triggers(_TRIGGER_WORDS)
_JSON_TRIGGERS = _Triggers(_TRIGGER_WORDS + tuple(f'"{word}"'.encode() for word in sorted(_WHOLE_VALUES)))
_MESSAGE_TRIGGERS = _Triggers((b"@", b"bearer"), urls=False)


def _triggers(text: bytes, triggers: _Triggers = _TEXT_TRIGGERS) -> list[tuple[int, bytes]]:
    """Where ASCII text may hold something to scrub: (start, word or `//` or digit run or IBAN
    start) for each hit (the same one may be listed more than once); empty for most text."""
    found: list[tuple[int, bytes]] = []
    if triggers.ibans:
        shapes = text.translate(_IBAN_SHAPE_MAP)
        at = shapes.find(_IBAN_START)
        while at >= 0:
            if _IBAN_BYTES.match(text, at):
                found.append((at, _IBAN_START))
            at = shapes.find(_IBAN_START, at + 1)
    lowered = text.lower()
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
        return _SLOW_TRIGGER.search(value.lower()) is not None or _IBAN.search(value) is not None
    return value.replace("\0", "").lower() in _WHOLE_VALUES or bool(_triggers(value.encode()))


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
    return None if text is None else _triggers(text, _JSON_TRIGGERS)


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
    for position, _ in _triggers(b",".join(texts), triggers):
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


Remark = tuple[str, int, int]  # rule, start and end (UTF-8 byte offsets in the new value)
_Chunk = str | tuple[str, str]  # text, or a replacement: (its text, its rule)


def _apply_rule(chunks: list[_Chunk], rule: _Rule) -> list[_Chunk]:
    """relay-pii's chunked redaction: the rule sees the text with each earlier replacement as
    one NUL, its matches become replacements, and earlier replacements stay where they were
    (one a match swallows is dropped; as in Relay, the next NUL then takes its place in line)."""
    search = "".join(chunk.replace("\0", "") if type(chunk) is str else "\0" for chunk in chunks)
    spans = rule.find(search)
    if not spans:
        return chunks
    if rule.whole:
        return [(rule.text, rule.name)]
    earlier = [chunk for chunk in reversed(chunks) if type(chunk) is not str]
    out: list[_Chunk] = []

    def text(part: str) -> None:
        for i, piece in enumerate(part.split("\0")):
            if i:
                out.append(earlier.pop())
            if piece:
                out.append(piece)

    position = 0
    for start, end in spans:
        text(search[position:start])
        out.append((rule.text, rule.name))
        position = end
    text(search[position:])
    return out


def _redact(value: str, rules: tuple[_Rule, ...]) -> tuple[str, list[Remark]]:
    """`value` with `rules` applied one after the other, and a remark per replacement."""
    chunks: list[_Chunk] = [value]
    current = value
    for rule in rules:
        applied = _apply_rule(chunks, rule)
        if applied is not chunks:
            text = "".join(chunk if type(chunk) is str else chunk[0] for chunk in applied)
            if text != current:  # as Relay: a rule that changes nothing leaves the remarks be
                chunks, current = applied, text
    if current == value:
        return value, []
    remarks: list[Remark] = []
    offset = 0
    for chunk in chunks:
        size = len((chunk if type(chunk) is str else chunk[0]).encode())
        if type(chunk) is not str:
            remarks.append((chunk[1], offset, offset + size))
        offset += size
    return current, remarks


def _scrub_string(value: str) -> tuple[str, list[Remark]]:
    if value in _NEVER_SCRUBBED or not _may_need_scrub(value):
        return value, []
    return _redact(value, _FILTER_RULES)


def scrub_message(value: str) -> tuple[str, list[Remark]]:
    """`logentry.formatted` as Relay scrubs it: emails, cards, IBANs, SSNs and bearer tokens
    named (`[email]`, ...); its password words are left alone."""
    if value.isascii() and not _triggers(value.encode(), _MESSAGE_TRIGGERS):
        return value, []
    return _redact(value, _MESSAGE_RULES)


class _Scrubber:
    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def remark(self, path: tuple[str | int, ...], original: str | None, remarks: list[Remark]) -> None:
        """Record `remarks` on the value at `path`; `original`: the string replaced, or None for
        a value removed."""
        node = self.meta
        for part in path:
            node = node.setdefault(str(part), {})
        entry = node.setdefault("", {})
        rem = entry.setdefault("rem", [])
        if original is None:
            rem += [[rule, "x"] for rule, _, _ in remarks]
            return
        rem += [[rule, "s", start, end] for rule, start, end in remarks]
        entry.setdefault("len", len(original))

    def value(self, value: Any, path: tuple[str | int, ...], sensitive: bool = False) -> Any:
        if isinstance(value, str):
            if sensitive and value not in _NEVER_SCRUBBED:
                new, remarks = _redact(value, _SENSITIVE_VALUE_RULES)
            else:
                new, remarks = _scrub_string(value)
            if remarks:
                self.remark(path, value, remarks)
            return new
        if sensitive and value is not None:
            self.remark(path, None, [("@password:filter", 0, 0)])
            return None
        if isinstance(value, dict):
            for key, child in value.items():  # values are replaced in place, keys never change
                sensitive_child = _sensitive_key(key)
                if type(child) is str and not sensitive_child:  # the common case, inline
                    new, remarks = _scrub_string(child)
                    if remarks:
                        self.remark((*path, key), child, remarks)
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
    logentry = event.get("logentry")
    if isinstance(logentry, dict) and type(formatted := logentry.get("formatted")) is str:
        message, remarks = scrub_message(formatted)
        if remarks:
            scrubber.remark(("logentry", "formatted"), formatted, remarks)
            logentry["formatted"] = message
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
