"""Adapter for ../shared/grouping-vectors/check_vectors.py: `compute(event_json, config_id)`.

The input goes through our Relay-like normalization first, then `group()`, with the test
harness keys `_grouping.enhancements` and `_fingerprinting_rules` applied as project rules.
"""

from __future__ import annotations

import copy
from typing import Any

from bughound.digest.normalize import Context, normalize_event
from bughound.grouping.engine import Grouping, group
from bughound.grouping.fingerprint_rules import rules_text_from_json

RECEIVED = 1_700_000_000.0


def group_vector_input(event_json: dict[str, Any], config_id: str, hashes_only: bool = False) -> Grouping:
    data = copy.deepcopy(event_json)
    harness = data.pop("_grouping", None)
    enhancements = harness.get("enhancements", "") if isinstance(harness, dict) else ""
    fingerprint_rules = rules_text_from_json(data.pop("_fingerprinting_rules", None) or [])
    event = normalize_event(data, Context(received=RECEIVED, project_id=1, key_id=1))
    return group(
        event,
        config_id,
        project_enhancements=enhancements,
        project_fingerprinting=fingerprint_rules,
        hashes_only=hashes_only,
    )


def compute(event_json: dict[str, Any], config_id: str) -> dict[str, dict[str, Any]]:
    grouping = group_vector_input(event_json, config_id)
    return {name: {"contributes": v.contributes, "hash": v.hash} for name, v in grouping.variants.items()}
