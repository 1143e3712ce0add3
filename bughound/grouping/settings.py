"""A project's grouping settings, as the digest hands them to `grouping.calculate()`."""

from __future__ import annotations

import dataclasses

LEGACY_CONFIG_ID = "bughound:legacy-0"  # what Bughound grouped with before Sentry's algorithm
DEFAULT_CONFIG_ID = "newstyle:2023-01-11"  # Sentry's default for new projects
TRANSITION_DAYS = 90  # after a config change the old config still finds existing issues this long


@dataclasses.dataclass(frozen=True)
class ProjectGrouping:
    config_id: str = DEFAULT_CONFIG_ID
    enhancements: str = ""  # project stack trace rules (Sentry's `sentry:grouping_enhancements`)
    fingerprinting: str = ""  # project fingerprint rules (`sentry:fingerprinting_rules`)
    # The config the project used before its last change, and until when it is also computed
    # (its hashes only find existing issues; they never create one).
    secondary_config_id: str | None = None
    secondary_until: float | None = None

    def secondary(self, now: float) -> str | None:
        if self.secondary_config_id and self.secondary_until and now < self.secondary_until:
            return self.secondary_config_id
        return None

    @classmethod
    def from_row(cls, config_id: str | None, options: dict[str, object] | None) -> ProjectGrouping:
        options = options or {}
        until = options.get("sentry:secondary_grouping_expiry")
        secondary = options.get("sentry:secondary_grouping_config")
        return cls(
            config_id=config_id or LEGACY_CONFIG_ID,
            enhancements=str(options.get("sentry:grouping_enhancements") or ""),
            fingerprinting=str(options.get("sentry:fingerprinting_rules") or ""),
            secondary_config_id=str(secondary) if secondary else None,
            secondary_until=float(until) if isinstance(until, int | float) else None,
        )
