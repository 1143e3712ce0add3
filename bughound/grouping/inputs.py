"""Everything the grouping strategies read from a prepared event, as one hashable key (pure).

Events of one issue usually differ only in what grouping ignores (variable values, locals,
timestamps, messages that parameterize alike), so `engine.group()` caches its variants by this
key. The key must cover every input the strategies and the fingerprint variants read: each
prepared stack trace (by identity: equal stack traces share one `PreparedStack`), exception
types, normalized values, mechanisms and modules, thread flags, the security-report and
template fields, the normalized message, the checksum and the resolved fingerprint.

The digest only needs hashes, and in most error events a stack trace takes precedence over the
exception's value: there the value-free key (values as one placeholder) finds the variants
without parameterizing each new value (see `engine.group(hashes_only=True)`).
"""

from __future__ import annotations

from typing import Any

from bughound.grouping.fingerprinting import fingerprint_type, resolve_fingerprint
from bughound.grouping.parameterization import normalize_message
from bughound.grouping.prepare import Prepared
from bughound.grouping.strategies import REACT_ERRORS_WITH_CAUSE

__all__ = ["strategy_inputs"]

_EMPTY = ("empty stacktrace",)
_DEFAULT = ["{{ default }}"]
_ABSENT = ("absent",)
_VALUE = ("a string value",)


def _stack(prepared: Prepared, stacktrace: Any) -> Any:
    if not isinstance(stacktrace, dict):
        return _ABSENT if not stacktrace else ("not a dict", repr(stacktrace))
    found = prepared.stacks.get(id(stacktrace))
    if found is not None:
        return found
    frames = stacktrace.get("frames")
    if isinstance(frames, list) and any(isinstance(f, dict) for f in frames):
        raise TypeError("an unprepared stack trace with frames")  # cannot happen; do not cache
    return _EMPTY


def _text(value: Any) -> Any:
    if isinstance(value, str):
        normalized = normalize_message(value)
        return (normalized, normalized != value)
    return None if value is None else ("not a string", repr(value))


class _ValueMatters(Exception):
    """The exceptions' values may decide more than their value components (see strategy_inputs)."""


def _value_free(value: Any) -> Any:
    return _VALUE if isinstance(value, str) else _text(value)


def _exception(prepared: Prepared, exception: Any, text: Any = None) -> Any:
    if not isinstance(exception, dict):
        return None
    get = exception.get
    mechanism = get("mechanism")
    mechanism_key = None
    if isinstance(mechanism, dict):
        m = mechanism.get
        meta = m("meta")
        ns_error = meta.get("ns_error") if isinstance(meta, dict) else None
        if text is _value_free and m("is_exception_group"):
            raise _ValueMatters  # exception groups compare whole exception components
        mechanism_key = (
            m("synthetic"),
            m("exception_id"),
            m("parent_id"),
            m("is_exception_group"),
            m("source"),
            m("type"),
            (ns_error.get("domain"), ns_error.get("code")) if isinstance(ns_error, dict) else None,
        )
    stacktrace = get("stacktrace")
    stack = prepared.stacks.get(id(stacktrace)) if stacktrace is not None else None
    return (
        get("type"),
        (text or _text)(get("value")),
        get("module"),
        mechanism_key,
        stack if stack is not None else _stack(prepared, stacktrace),
    )


_REPORT_FIELDS = (
    ("template", ("filename", "context_line")),
    ("csp", ("blocked_uri", "violated_directive", "effective_directive")),
    ("hpkp", ("hostname",)),
    ("expectct", ("hostname",)),
    ("expectstaple", ("hostname",)),
)


def _reports(event: dict[str, Any]) -> Any:
    found = []
    for name, keys in _REPORT_FIELDS:
        if name in event:
            data = event[name]
            found.append((name, tuple(data.get(k) for k in keys) if isinstance(data, dict) else None))
    return tuple(found) if found else None


def strategy_inputs(prepared: Prepared, config_id: str, *, exception_values: bool = True) -> Any:
    """The key. It may hold an unhashable value: using it as a dict key then raises TypeError,
    and the caller does not cache.

    `exception_values=False`: the key without the exceptions' values (each string value is one
    placeholder), or None when the values may matter beyond their own value components (an
    exception group, or React's recoverable-error override). Its variants may then be shared
    by events whose values differ only where no value component contributes."""
    event = prepared.event
    get = event.get
    platform = get("platform")
    sdk = get("sdk")
    sdk_version = sdk.get("version") if platform == "python" and isinstance(sdk, dict) else None
    exception = get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    text = None if exception_values else _value_free
    try:
        exceptions = (
            tuple([_exception(prepared, e, text) for e in values]) if isinstance(values, list) else None
        )
    except _ValueMatters:
        return None
    if text is not None and exceptions and isinstance(values, list):
        if any(isinstance(e, dict) and e.get("value") in REACT_ERRORS_WITH_CAUSE for e in values):
            return None  # React's recoverable errors pick the main exception by value
    threads = get("threads")
    thread_key = None
    if threads is not None:
        thread_values = threads.get("values") if isinstance(threads, dict) else None
        if isinstance(thread_values, list):
            thread_key = tuple(
                (bool(t.get("crashed")), bool(t.get("current")), _stack(prepared, t.get("stacktrace")))
                for t in thread_values
                if isinstance(t, dict)
            )
    logentry = get("logentry")
    message = None
    if isinstance(logentry, dict) and (logentry.get("message") or logentry.get("formatted")):
        template, formatted = logentry.get("message"), logentry.get("formatted")
        raw = template if isinstance(template, str) and template else formatted
        message = _text(raw if isinstance(raw, str) and raw else "")
    fingerprint = get("fingerprint")
    info = get("_fingerprint_info")
    fingerprint_key = None
    if fingerprint != _DEFAULT or info is not None:
        rule = info.get("matched_rule") if isinstance(info, dict) else None
        fingerprint_key = (
            tuple(fingerprint or ()),
            _fingerprint_values(event),
            tuple(info.get("client_fingerprint") or ()) if isinstance(info, dict) else None,
            (rule.get("text"), rule.get("is_builtin")) if isinstance(rule, dict) else None,
        )
    key = (
        config_id,
        platform,
        sdk_version,
        exceptions,
        thread_key,
        _stack(prepared, event["stacktrace"]) if "stacktrace" in event else _ABSENT,
        _reports(event),
        message,
        get("checksum"),
        fingerprint_key,
    )
    return key


def _fingerprint_values(event: dict[str, Any]) -> Any:
    """The values the fingerprint's variables resolve to (None for the default fingerprint)."""
    fingerprint = event.get("fingerprint") or _DEFAULT
    if fingerprint == _DEFAULT or fingerprint_type(fingerprint) == "default":
        return None
    return tuple(resolve_fingerprint(fingerprint, event))
