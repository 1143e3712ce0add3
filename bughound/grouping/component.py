"""The grouping component tree and its hash (pure).

A component is a node with an `id`, a `hint`, a `contributes` flag and `values`: child components
or literal leaves (str, or int for an NSError code). A variant's hash is the md5 of the UTF-8 of
all literal leaves reached through contributing components, depth first, concatenated with no
separator. `as_dict()` is the shape Sentry's grouping-info endpoint prints for a component.

Frame children (module, filename, function, context line) are built once per distinct frame and
shared by the app and system trees, so they must never be changed after creation; their
contributing text is kept on the frame (`leaf_text`) so hashing does not walk them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Union

__all__ = ["ZERO_COUNTS", "Component", "FrameCounts", "add_counts", "hash_text", "hash_values"]

Value = Union["Component", str, int]
# Frames of a stack trace by kind: (in-app contributing, in-app not, system contributing, system not)
FrameCounts = tuple[int, int, int, int]
ZERO_COUNTS: FrameCounts = (0, 0, 0, 0)


def add_counts(a: FrameCounts, b: FrameCounts) -> FrameCounts:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


# Components with one of these ids have a human readable name and are "major" ones.
MAJOR_NAMES = {
    "app": "in-app",
    "exception": "exception",
    "stacktrace": "stacktrace",
    "threads": "thread",
    "hostname": "hostname",
    "violation": "violation",
    "uri": "URL",
    "message": "message",
    "template": "template",
}


def hash_text(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "replace")).hexdigest()


def hash_values(values: Iterable[str | int]) -> str:
    """Sentry's `hash_from_values`: md5 of the values' UTF-8, concatenated."""
    return hash_text("".join(v if isinstance(v, str) else str(v) for v in values))


class Component:
    __slots__ = ("contributes", "frame_counts", "hint", "id", "in_app", "leaf_text", "values")

    def __init__(
        self,
        id: str,
        values: Sequence[Value] = (),
        *,
        hint: str | None = None,
        contributes: bool | None = None,
    ) -> None:
        self.id = id
        self.values: list[Value] = values if type(values) is list else list(values)
        self.hint = hint
        self.contributes = _any_contributes(self.values) if contributes is None else contributes
        self.frame_counts: FrameCounts = ZERO_COUNTS
        self.in_app: bool | None = None
        # The text this component adds to a hash when it contributes, if known in advance (set
        # only on components whose children never change afterwards)
        self.leaf_text: str | None = None

    @classmethod
    def frame(
        cls, children: Sequence[Component], leaf_text: str, in_app: bool, contributes: bool, hint: str | None
    ) -> Component:
        frame = cls("frame", children, hint=hint, contributes=contributes)
        frame.in_app = in_app
        frame.leaf_text = leaf_text
        return frame

    def update(
        self,
        *,
        hint: str | None = None,
        contributes: bool | None = None,
        values: Sequence[Value] | None = None,
    ) -> None:
        """Sentry's `update`: a hint replaces the old one only when given; new values recompute
        `contributes` unless it is given too."""
        if hint is not None:
            self.hint = hint
        if values is not None:
            self.values = list(values)
            if contributes is None:
                contributes = _any_contributes(self.values)
        if contributes is not None:
            self.contributes = contributes

    # --- hashing -------------------------------------------------------------------------------

    def collect(self, out: list[str]) -> None:
        """Append the literal leaves this component contributes (nothing if it does not)."""
        if not self.contributes:
            return
        if self.leaf_text is not None:
            out.append(self.leaf_text)
            return
        for value in self.values:
            if isinstance(value, Component):
                value.collect(out)
            else:
                out.append(value if isinstance(value, str) else str(value))

    def text(self) -> str:
        out: list[str] = []
        self.collect(out)
        return "".join(out)

    def leaves(self) -> list[str]:
        out: list[str] = []
        self.collect(out)
        return out

    def get_hash(self) -> str | None:
        return hash_text(self.text()) if self.contributes else None

    # --- lookups -------------------------------------------------------------------------------

    def children(self) -> Iterable[Component]:
        return (v for v in self.values if isinstance(v, Component))

    def find(self, id: str, *, recursive: bool = False, only_contributing: bool = False) -> Component | None:
        """The first (depth-first) descendant with this id; `only_contributing` skips whole
        non-contributing subtrees, as Sentry's `get_subcomponent` does."""
        for child in self.children():
            if only_contributing and not child.contributes:
                continue
            if child.id == id:
                return child
            if recursive:
                found = child.find(id, recursive=True, only_contributing=only_contributing)
                if found is not None:
                    return found
        return None

    # --- presentation --------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        return MAJOR_NAMES.get(self.id)

    @property
    def key(self) -> str:
        """Sentry's component `key` (what the grouping-info variant keys are made of)."""
        if self.id in ("exception", "chained_exception"):
            return _exception_key(self)
        if self.id == "threads":
            return "thread_stacktrace"
        if self.id == "csp":
            violation, uri = self.find("violation"), self.find("uri")
            if violation is not None and violation.contributes:
                return "csp_local_script_violation"
            if uri is not None and uri.contributes:
                return "csp_url"
            return "csp"
        return self.name or self.id

    @property
    def description(self) -> str:
        """The longest path of contributing major components, by name ("exception stacktrace")."""
        best: list[str] = []

        def walk(component: Component, path: list[str]) -> None:
            nonlocal best
            name = component.name
            if name:
                path = [*path, name]
            for child in component.children():
                if child.contributes:
                    walk(child, path)
            if (len(path), path) > (len(best), best):
                best = path

        walk(self, [])
        return " ".join(best) if best else (self.name or self.id)

    def as_dict(self, reverse_stacktraces: bool = False) -> dict[str, Any]:
        """Sentry's grouping-info form; exception children are listed type, value, NSError,
        stack trace (whatever order hashes them), and with `reverse_stacktraces` frames and
        chained exceptions are listed newest first, as Sentry's issue page shows them."""
        values: list[Any] = []
        ordered: Iterable[Value] = self.values
        if self.id == "exception":
            by_id = {v.id: v for v in self.children()}
            ordered = [by_id[i] for i in ("type", "value", "ns_error", "stacktrace") if i in by_id]
        for value in ordered:
            values.append(value.as_dict(reverse_stacktraces) if isinstance(value, Component) else value)
        if reverse_stacktraces and self.id in ("stacktrace", "chained_exception"):
            values.reverse()
        return {
            "id": self.id,
            "name": self.name,
            "contributes": self.contributes,
            "hint": self.hint,
            "values": values,
        }

    def __repr__(self) -> str:
        return f"Component({self.id!r}, {self.contributes}, hint={self.hint!r}, values={self.values!r})"


def _any_contributes(values: Sequence[Value]) -> bool:
    for value in values:
        if not isinstance(value, Component) or value.contributes:
            return True
    return False


def _exception_key(component: Component) -> str:
    key = component.id
    counts = component.frame_counts
    if counts[0] or counts[2]:
        return key + "_stacktrace"
    if component.find("value", recursive=True, only_contributing=True) is not None:
        return key + "_message"
    if component.find("ns_error", recursive=True, only_contributing=True) is not None:
        return key.replace("exception", "ns_error")
    if component.find("type", recursive=True, only_contributing=True) is not None:
        return key + "_type"
    return key
