"""Stack traces made ready for grouping (pure): Sentry's `normalize_stacktraces_for_grouping`.

For every stack trace in the event (exceptions, the top-level one, threads, and raw ones):
- Relay's frame fix-ups our ingest does not do yet: a missing `abs_path` is the `filename`, a
  missing `filename` is the `abs_path` (only the URL's path for http(s)/file URLs);
- native and C# function names are trimmed, the original kept in `raw_function`;
- `in_app` is restored from `data.orig_in_app` (so regrouping a stored event is stable);
- JavaScript filenames lose their `?query`;
- the stack-trace rules' classifier actions set `in_app` and `data.category` (a changed `in_app`
  keeps the client's value in `data.orig_in_app`: 1, 0, or -1 for unset);
- `in_app` left unset becomes `False`.

The caller's event is not modified: containers on the way to a frame are copied, and a frame is
copied only when it changes. The returned event shares everything else with the input.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from bughound.grouping.enhancements import NO_EXCEPTION, Enhancements, ExceptionData, MatchFrame
from bughound.grouping.functions import trim_function_name

__all__ = ["Prepared", "PreparedStack", "prepare_event"]

_URL_PREFIXES = ("file:", "http:", "https:", "applewebdata:")


class PreparedStack:
    """What preparing one stack trace produced, cached per distinct stack trace: the changes to
    make to each frame, the classified rule frames, and (filled in by the strategies) the
    stack trace's grouping components, which depend on nothing else."""

    __slots__ = ("changes", "exception", "exceptions", "match_frames", "unchanged", "variants")

    def __init__(
        self,
        changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
        match_frames: list[MatchFrame],
        exception: ExceptionData,
    ) -> None:
        self.changes = changes
        self.unchanged = all(fields is None and data is None for fields, data in changes)
        self.match_frames = match_frames
        self.exception = exception
        self.variants: Any = None
        # Built exception components on top of this stack trace, by type/value/mechanism
        self.exceptions: dict[Any, Any] = {}


class Prepared:
    """The prepared event plus, per prepared stack trace dict (by id), its `PreparedStack`."""

    __slots__ = ("event", "stacks")

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.stacks: dict[int, PreparedStack] = {}


_SIG_KEYS = (
    "abs_path",
    "filename",
    "module",
    "function",
    "raw_function",
    "context_line",
    "package",
    "lineno",
    "colno",
    "in_app",
    "platform",
    "data",
)
_IN_APP, _PLATFORM, _DATA = 9, 10, 11
_CACHE_LIMIT = 20_000


_NO_PLATFORM = ("no platform",)  # a frame without `platform` (unlike an explicit null)
_PLAIN_IN_APP = frozenset((bool, type(None)))


def _fast_signature(frames: list[Any]) -> tuple[Any, ...] | None:
    """The signatures of `frames` in one pass, or None when some frame needs `_frame_signature`
    (not a dict, or an `in_app` that is not a bool). A `data` dict makes the result unhashable:
    the caller then falls back to `_frame_signature` too."""
    try:
        # Spelled out: much faster than a function call and tuple(map(get, keys)) per frame
        sigs = tuple(
            [
                (
                    g("abs_path"),
                    g("filename"),
                    g("module"),
                    g("function"),
                    g("raw_function"),
                    g("context_line"),
                    g("package"),
                    g("lineno"),
                    g("colno"),
                    g("in_app"),
                    g("platform", _NO_PLATFORM),
                    g("data"),
                )
                for g in [frame.get for frame in frames]
            ]
        )
    except AttributeError:  # not a dict
        return None
    # 1 == True: an int in_app must not share a cache entry with a bool one
    return sigs if {sig[_IN_APP].__class__ for sig in sigs} <= _PLAIN_IN_APP else None


def _frame_signature(frame: Any) -> tuple[Any, ...] | None:
    """Everything about a frame that grouping reads (so equal signatures group alike), in the
    order of `_SIG_KEYS`, with `data` reduced to what grouping reads of it."""
    try:
        get = frame.get
    except AttributeError:  # not a dict
        return None
    sig = (*[get(key) for key in _SIG_KEYS[:_PLATFORM]], get("platform", _NO_PLATFORM), get("data"))
    data = sig[_DATA]
    data_sig = (
        (data.get("orig_in_app"), data.get("category"), data.get("sourcemap") is not None)
        if isinstance(data, dict)
        else ("not a dict", repr(data))
        if data is not None
        else None
    )
    in_app = sig[_IN_APP]
    if in_app.__class__ not in _PLAIN_IN_APP:
        in_app = ("not a bool", repr(in_app))
    return (*sig[:_IN_APP], in_app, sig[_PLATFORM], data_sig)


_MISSING = ("missing",)


def _url_path(url: str) -> str | None:
    try:
        path = urlparse(url).path
    except ValueError:
        return None
    return path if path and path != "/" else None


def _fix_frame(frame: dict[str, Any], platform: object, is_raw: bool) -> dict[str, Any] | None:
    """The changes grouping makes to one frame before rules run, or None if there are none."""
    changes: dict[str, Any] = {}
    abs_path, filename = frame.get("abs_path"), frame.get("filename")
    if not is_raw:
        if not abs_path and filename:
            abs_path, filename = filename, None
            changes["abs_path"] = abs_path
            changes["filename"] = None
        if not filename and isinstance(abs_path, str) and abs_path:
            filename = abs_path
            if abs_path.startswith(_URL_PREFIXES):
                filename = _url_path(abs_path) or abs_path
            changes["filename"] = filename
    function = frame.get("function")
    if isinstance(function, str) and function and frame.get("raw_function") is None:
        frame_platform = frame["platform"] if "platform" in frame else platform
        trimmed = trim_function_name(function, frame_platform if isinstance(frame_platform, str) else None)
        if trimmed != function:
            changes["raw_function"] = function
            changes["function"] = trimmed
    data = frame.get("data")
    orig = data.get("orig_in_app") if isinstance(data, dict) else None
    if orig in (-1, 0, 1) and not isinstance(orig, bool):
        restored = None if orig == -1 else bool(orig)
        if frame.get("in_app") is not restored:
            changes["in_app"] = restored
    elif "in_app" in frame and not isinstance(frame["in_app"], bool | None):
        changes["in_app"] = None  # Relay drops a non-boolean in_app
    if platform == "javascript" and isinstance(filename, str) and "?" in filename:
        try:
            query = urlparse(filename).query
        except ValueError:
            query = ""
        if query:
            changes["filename"] = filename.replace(f"?{query}", "")
    return changes or None


class _Preparer:
    def __init__(self, event: dict[str, Any], enhancements: Enhancements) -> None:
        self.enhancements = enhancements
        self.platform = event.get("platform")
        self.prepared = Prepared(dict(event))
        self.cache: dict[Any, PreparedStack] = enhancements.stack_cache

    def stacktrace(self, stacktrace: Any, is_raw: bool, exception: dict[str, Any] | None) -> Any:
        """The prepared `stacktrace`: itself when grouping changes none of its frames (it is
        shared with the input event, which nobody modifies), else a copy with changed frames."""
        if not isinstance(stacktrace, dict):
            return stacktrace
        frames = stacktrace.get("frames")
        if not isinstance(frames, list) or not frames:
            return stacktrace
        exc = ExceptionData.of(exception) if self.enhancements.reads_exceptions else NO_EXCEPTION
        platform = self.platform
        cache_key: Any = None
        prepared = None
        fast = _fast_signature(frames)
        if fast is not None:
            cache_key = (platform, is_raw, exc, fast)
            try:
                prepared = self.cache.get(cache_key)
            except TypeError:  # a `data` dict, or an unhashable field value
                cache_key = None
        if cache_key is None:
            cache_key = (platform, is_raw, exc, tuple(map(_frame_signature, frames)))
            try:
                prepared = self.cache.get(cache_key)
            except TypeError:  # an unhashable field value: prepare without the cache
                cache_key, prepared = None, None
        if prepared is None:
            prepared = self._prepare(frames, is_raw, ExceptionData.of(exception))
            if cache_key is not None:
                if len(self.cache) >= _CACHE_LIMIT:
                    self.cache.clear()
                self.cache[cache_key] = prepared
        stacks = self.prepared.stacks
        if prepared.unchanged:
            # (a stack trace object the event holds twice gets a copy, to be told apart by id)
            result = stacktrace if id(stacktrace) not in stacks else dict(stacktrace)
        else:
            final = []
            changes = iter(prepared.changes)
            for frame in frames:
                if isinstance(frame, dict):
                    fields, data = next(changes)
                    if fields is not None or data is not None:
                        frame = {**frame, **fields} if fields is not None else dict(frame)
                        if data is not None:
                            old = frame.get("data")
                            frame["data"] = {**old, **data} if isinstance(old, dict) else dict(data)
                final.append(frame)
            result = {**stacktrace, "frames": final}
        stacks[id(result)] = prepared
        return result

    def holder(self, holder: Any, exception: bool) -> Any:
        """An exception or thread with its stack traces prepared (itself if none changed)."""
        if not isinstance(holder, dict):
            return holder
        updates = {}
        for key, is_raw in (("stacktrace", False), ("raw_stacktrace", True)):
            if key in holder:
                old = holder[key]
                new = self.stacktrace(old, is_raw, holder if exception and not is_raw else None)
                if new is not old:
                    updates[key] = new
        return {**holder, **updates} if updates else holder

    def _prepare(self, frames: list[Any], is_raw: bool, exc: ExceptionData) -> PreparedStack:
        fixed: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for frame in frames:
            if isinstance(frame, dict):
                changes = _fix_frame(frame, self.platform, is_raw)
                fixed.append(({**frame, **changes} if changes else frame, changes))
        match_frames = [MatchFrame(frame, self.platform) for frame, _ in fixed]
        self.enhancements.classify(match_frames, exc)
        out: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
        for (frame, changes), match in zip(fixed, match_frames, strict=True):
            in_app, data = _classification(frame, match)
            fields = dict(changes) if changes else None
            if in_app is not _MISSING:
                fields = {**(fields or {}), "in_app": in_app}
            out.append((fields, data))
        return PreparedStack(out, match_frames, exc)

    def run(self) -> Prepared:
        event = self.prepared.event
        for key, is_exception in (("exception", True), ("threads", False)):
            container = event.get(key)
            values = container.get("values") if isinstance(container, dict) else None
            if isinstance(values, list):
                new_values = [self.holder(value, is_exception) for value in values]
                if any(new is not old for new, old in zip(new_values, values, strict=True)):
                    event[key] = {**container, "values": new_values}  # type: ignore[dict-item]
        if isinstance(event.get("stacktrace"), dict):
            event["stacktrace"] = self.stacktrace(event["stacktrace"], False, None)
        return self.prepared


def _classification(frame: dict[str, Any], match: MatchFrame) -> tuple[Any, dict[str, Any] | None]:
    """The rules' verdict for `frame`, Sentry's way: (new in_app or _MISSING, data updates)."""
    in_app = match.in_app if match.in_app is not None else False
    category = match.category
    data = frame.get("data")
    old_category = data.get("category") if isinstance(data, dict) else None
    old_in_app = frame.get("in_app")
    updates: dict[str, Any] = {}
    new_in_app: Any = _MISSING
    if old_in_app is not in_app:
        # Sentry's set_in_app: remember the value before the first change (1, 0, or -1 = unset)
        orig = data.get("orig_in_app") if isinstance(data, dict) else None
        if orig is None:
            orig = updates["orig_in_app"] = -1 if old_in_app is None else int(old_in_app)
        new_in_app = in_app
        match.orig_in_app = None if orig == -1 else bool(orig)
    if category is not None and category != old_category:
        updates["category"] = category
    match.in_app = in_app
    return new_in_app, updates or None


def prepare_event(event: dict[str, Any], enhancements: Enhancements) -> Prepared:
    """The event with its stack traces prepared for grouping (see the module docstring)."""
    return _Preparer(event, enhancements).run()
