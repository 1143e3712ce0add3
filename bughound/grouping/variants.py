"""Grouping variants: the alternative hashes of one event, as Sentry reports them (pure).

`ComponentVariant` (`app`, `system`, `default`) hashes a component tree; `SaltedComponentVariant`
is one salted with a hybrid fingerprint; `CustomFingerprintVariant` (`custom_fingerprint`, or
`built_in_fingerprint` for Sentry's own rules), `ChecksumVariant`, `HashedChecksumVariant` and
`FallbackVariant` hash something else. `as_dict()` is the variant's entry in Sentry's grouping-info
endpoint (`type`, `key`, `description`, `hash`, `hint`, `contributes` and the type's own fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bughound.grouping.component import Component, hash_text, hash_values
from bughound.grouping.fingerprinting import is_default

__all__ = [
    "ChecksumVariant",
    "ComponentVariant",
    "CustomFingerprintVariant",
    "FallbackVariant",
    "HashedChecksumVariant",
    "SaltedComponentVariant",
    "Variant",
]

# Sentry's grouping-info descriptions, by the key of the grouping method.
_DESCRIPTIONS = {
    "built_in_fingerprint": "Sentry-defined fingerprint",
    "chained_exception_message": "chained exception messages",
    "chained_exception_stacktrace": "chained exception stacktraces",
    "chained_exception_type": "chained exception types",
    "chained_ns_error": "chained NSErrors",
    "checksum": "checksum",
    "csp_local_script_violation": "directive",
    "csp_url": "directive and URL",
    "custom_fingerprint": "custom fingerprint",
    "exception": "exception",
    "exception_message": "exception message",
    "exception_stacktrace": "exception stacktrace",
    "exception_type": "exception type",
    "expect_ct": "hostname",
    "expect_staple": "hostname",
    "fallback": "fallback grouping",
    "hashed_checksum": "hashed checksum",
    "hpkp": "hostname",
    "message": "message",
    "ns_error": "NSError",
    "stacktrace": "event-level stacktrace",
    "template": "filename and context line",
    "thread_stacktrace": "thread stacktrace",
}


class Variant:
    """One way of hashing an event. `name` is the variant's name in `Grouping.variants`."""

    type = "variant"
    name = ""

    @property
    def hash(self) -> str | None:
        return None

    @property
    def contributes(self) -> bool:
        return True

    @property
    def key(self) -> str:
        return self.type

    @property
    def description(self) -> str:
        return self.type

    @property
    def hint(self) -> str | None:
        return None

    @property
    def method_key(self) -> str:
        """The key of the grouping method, for the grouping-info description."""
        return self.key

    def info_description(self) -> str:
        """The description Sentry's grouping-info endpoint shows (`exception stacktrace — all frames`)."""
        return _DESCRIPTIONS.get(self.method_key, self.method_key)

    def _extra(self, reverse_stacktraces: bool) -> dict[str, Any]:
        return {}

    def as_dict(self, reverse_stacktraces: bool = False) -> dict[str, Any]:
        return {
            "type": self.type,
            "key": self.key,
            "description": self.description,
            "hash": self.hash,
            "hint": self.hint,
            "contributes": self.contributes,
            **self._extra(reverse_stacktraces),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.hash!r} contributes={self.contributes}>"


class ComponentVariant(Variant):
    type = "component"

    def __init__(self, root: Component, contributing: Component | None = None) -> None:
        self.root = root
        self.name = root.id
        self.contributing_component = contributing
        self._hash: str | bool | None = False

    @property
    def hash(self) -> str | None:
        """The hash (computed once: the tree must not change after it is first read)."""
        if self._hash is False:
            self._hash = self._compute_hash()
        return self._hash  # type: ignore[return-value]

    def _compute_hash(self) -> str | None:
        return self.root.get_hash()

    @property
    def contributes(self) -> bool:
        return self.root.contributes

    @property
    def hint(self) -> str | None:
        return self.root.hint

    @property
    def method_key(self) -> str:
        values = [v for v in self.root.values if isinstance(v, Component)]
        return values[0].key if values else self.name

    @property
    def key(self) -> str:
        return f"{self.name}_{self.method_key}" if self.name in ("app", "system") else self.method_key

    @property
    def description(self) -> str:
        return self.root.description

    def info_description(self) -> str:
        text = super().info_description()
        if "stacktrace" in self.method_key and self.name in ("app", "system"):
            text += " — in-app frames" if self.name == "app" else " — all frames"
        return text

    def _extra(self, reverse_stacktraces: bool) -> dict[str, Any]:
        return {"component": self.root.as_dict(reverse_stacktraces)}


def _fingerprint_fields(values: Sequence[str], info: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"values": list(values)}
    client = info.get("client_fingerprint")
    if client and (len(client) != 1 or not is_default(client[0])):
        out["client_values"] = list(client)
    rule = info.get("matched_rule")
    if rule:
        out["matched_rule"] = rule.get("text")
    return out


class SaltedComponentVariant(ComponentVariant):
    """A component variant whose hash also covers a hybrid fingerprint's other values."""

    type = "salted_component"

    def __init__(
        self,
        root: Component,
        contributing: Component | None,
        fingerprint: Sequence[str],
        info: Mapping[str, Any],
    ) -> None:
        super().__init__(root, contributing)
        self.values = list(fingerprint)
        self.fingerprint_info = info

    def _compute_hash(self) -> str | None:
        if not self.root.contributes:
            return None
        parts: list[str] = []
        for value in self.values:
            if is_default(value):
                parts.extend(self.root.leaves())
            else:
                parts.append(value)
        return hash_values(parts)

    @property
    def key(self) -> str:
        return super().key + "_hybrid_fingerprint"

    @property
    def description(self) -> str:
        return "modified " + self.root.description

    def info_description(self) -> str:
        return super().info_description() + " and custom fingerprint"

    def _extra(self, reverse_stacktraces: bool) -> dict[str, Any]:
        return {
            **super()._extra(reverse_stacktraces),
            **_fingerprint_fields(self.values, self.fingerprint_info),
        }


class CustomFingerprintVariant(Variant):
    """A fingerprint from the client or a server rule (`built_in` for Sentry's own rules)."""

    type = "custom_fingerprint"

    def __init__(self, fingerprint: Sequence[str], info: Mapping[str, Any]) -> None:
        self.values = list(fingerprint)
        self.fingerprint_info = info
        rule = info.get("matched_rule") or {}
        self.built_in = bool(rule.get("is_builtin"))
        self.name = self.key

    @property
    def hash(self) -> str | None:
        return hash_values(self.values)

    @property
    def key(self) -> str:
        return "built_in_fingerprint" if self.built_in else "custom_fingerprint"

    @property
    def description(self) -> str:
        return "Sentry defined fingerprint" if self.built_in else "custom fingerprint"

    def _extra(self, reverse_stacktraces: bool) -> dict[str, Any]:
        return _fingerprint_fields(self.values, self.fingerprint_info)


class ChecksumVariant(Variant):
    """A client checksum that is already an md5 hex digest: it is the hash."""

    type = "checksum"
    name = "checksum"

    def __init__(self, checksum: str) -> None:
        self.checksum = checksum

    @property
    def hash(self) -> str | None:
        return self.checksum

    @property
    def description(self) -> str:
        return "legacy checksum"

    def _extra(self, reverse_stacktraces: bool) -> dict[str, Any]:
        return {"checksum": self.checksum}


class HashedChecksumVariant(ChecksumVariant):
    """Any other client checksum: its md5 is the hash."""

    type = "hashed_checksum"
    name = "hashed_checksum"

    def __init__(self, raw_checksum: str) -> None:
        super().__init__(hash_text(raw_checksum))
        self.raw_checksum = raw_checksum

    @property
    def description(self) -> str:
        return "hashed legacy checksum"

    def _extra(self, reverse_stacktraces: bool) -> dict[str, Any]:
        return {"checksum": self.checksum, "raw_checksum": self.raw_checksum}


class FallbackVariant(Variant):
    """When nothing else contributes: the md5 of nothing."""

    type = "fallback"
    name = "fallback"

    @property
    def hash(self) -> str | None:
        return hash_values([])
