"""Grouping benchmark: how many events per second `bughound.grouping.engine.group()` handles,
called as the digest calls it (`hashes_only=True`; `--full` measures the path that also builds
every variant for grouping-info).

What it measures
    The corpus is every error/default event payload the real SDKs sent in ../shared/sdk-samples/
    (the `NN_event.json` items; transactions and feedback are not grouped this way), the inputs of
    Sentry's grouping test vectors in ../shared/grouping-vectors/, and --synthetic events from the
    ingest benchmark's factory (sentry-python style chained exceptions, 15-21 frames with
    source context, 50 error types). Each payload is normalized once with our Relay-like
    `normalize_event` (not timed), then `group()` runs over the whole corpus again and again on
    this one core for --seconds; it prints events/s, µs per event (also per corpus part) and the
    ratio to the target of 20,000 events/s.

    The first pass over the corpus is not timed: it fills the per-frame and per-rule caches, as a
    long-running digest worker has them filled for the issues it keeps seeing. Replaying the same
    payloads flatters the caches (a message seen before is not parameterized again), so two more
    figures are printed: `new values` groups --synthetic fresh events of the same 50 issues (new
    ids and values in every message, as real traffic has; the issues themselves are known), and
    `first sight` clears the caches before every event (an issue never seen before).

How to run it
    .venv/bin/python bench/grouping.py
    .venv/bin/python bench/grouping.py --seconds 10 --synthetic 1000 --json
    .venv/bin/python bench/grouping.py --full
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bughound.digest.normalize import Context, normalize_event  # noqa: E402
from bughound.grouping.engine import group  # noqa: E402
from bughound.grouping.fingerprint_rules import rules_text_from_json  # noqa: E402

SHARED = ROOT.parent / "shared"
TARGET_EVENTS_PER_SECOND = 20_000
CONTEXT = Context(received=1_700_000_000.0, project_id=1, key_id=1)
HASHES_ONLY = True  # as the digest groups (main() sets it from --full)

Case = tuple[dict[str, Any], str, str]  # normalized event, project stack-trace rules, fingerprint rules


def sample_events() -> list[Case]:
    cases: list[Case] = []
    for item in sorted((SHARED / "sdk-samples").glob("*/items/*_event.json")):
        event = json.loads(item.read_text())
        cases.append((normalize_event(event, CONTEXT), "", ""))
    return cases


def vector_events() -> list[Case]:
    cases: list[Case] = []
    for path in sorted((SHARED / "grouping-vectors").glob("*/*.json")):
        data = copy.deepcopy(json.loads(path.read_text())["input"])
        harness = data.pop("_grouping", None)
        rules = harness.get("enhancements", "") if isinstance(harness, dict) else ""
        fingerprints = rules_text_from_json(data.pop("_fingerprinting_rules", None) or [])
        cases.append((normalize_event(data, CONTEXT), rules, fingerprints))
    return cases


def synthetic_events(count: int, seed: int = 7) -> list[Case]:
    if count <= 0:
        return []
    from ingest import EventFactory  # the ingest benchmark's realistic sentry-python events

    factory = EventFactory(seed=seed)
    return [(normalize_event(factory.build(i, "key")[2], CONTEXT), "", "") for i in range(count)]


def group_case(event: dict[str, Any], rules: str, fingerprints: str) -> None:
    group(event, project_enhancements=rules, project_fingerprinting=fingerprints, hashes_only=HASHES_ONLY)


def run(cases: list[Case], seconds: float) -> tuple[int, float]:
    """Group the corpus repeatedly for about `seconds`; (events grouped, CPU seconds)."""
    for event, rules, fingerprints in cases:  # warm-up: fill the caches
        group_case(event, rules, fingerprints)
    done = 0
    start = time.process_time()
    while True:
        for event, rules, fingerprints in cases:
            group_case(event, rules, fingerprints)
        done += len(cases)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done, elapsed


def per_event_us(cases: list[Case], rounds: int = 5) -> float:
    if not cases:
        return 0.0
    timings = []
    for _ in range(rounds):
        start = time.process_time()
        for event, rules, fingerprints in cases:
            group_case(event, rules, fingerprints)
        timings.append((time.process_time() - start) / len(cases) * 1e6)
    return round(statistics.median(timings), 1)


def clear_event_caches(project_rules: set[str]) -> None:
    """Forget everything grouping remembers about events seen before (frames, stack traces,
    messages, variants); parsed rules stay, as they do in a worker."""
    from bughound.grouping import clear_event_caches, enhancements

    clear_event_caches()
    for base in enhancements.BASES:
        for rules in project_rules:
            loaded = enhancements.load_enhancements(base, rules)  # called as group() calls it
            for cache in (loaded.stack_cache, loaded.variants_cache, loaded._masks):
                cache.clear()


def cold_us_per_event(cases: list[Case]) -> float:
    """µs per event when nothing about it is cached: an issue seen for the first time."""
    total = 0.0
    project_rules = {rules for _, rules, _ in cases}
    for event, rules, fingerprints in cases:
        clear_event_caches(project_rules)
        start = time.process_time()
        group_case(event, rules, fingerprints)
        total += time.process_time() - start
    return round(total / len(cases) * 1e6, 1) if cases else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds to measure (default 5)")
    parser.add_argument("--synthetic", type=int, default=500, help="synthetic python events (default 500)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--full", action="store_true", help="build every variant (as grouping-info does), not only hashes"
    )
    args = parser.parse_args(argv)
    global HASHES_ONLY
    HASHES_ONLY = not args.full
    if not SHARED.exists():
        print(f"skipped: {SHARED} is absent (the SDK samples and grouping vectors live there)")
        return 0
    parts = {
        "sdk_samples": sample_events(),
        "grouping_vectors": vector_events(),
        "synthetic_python": synthetic_events(args.synthetic),
    }
    corpus = [case for cases in parts.values() for case in cases]
    done, elapsed = run(corpus, args.seconds)
    rate = done / elapsed
    by_part = {name: per_event_us(cases) for name, cases in parts.items() if cases}
    cold = {name: cold_us_per_event(cases) for name, cases in parts.items() if cases}
    known = parts["synthetic_python"]
    for event, rules, fingerprints in known:  # the 50 issues are known again (caches refilled)
        group_case(event, rules, fingerprints)
    fresh = synthetic_events(args.synthetic, seed=8)  # known issues, values never seen
    start = time.process_time()
    for event, rules, fingerprints in fresh:
        group_case(event, rules, fingerprints)
    fresh_us = round((time.process_time() - start) / len(fresh) * 1e6, 1) if fresh else None
    results: dict[str, Any] = {
        "mode": "hashes only (as the digest)" if HASHES_ONLY else "full (every variant)",
        "events": len(corpus),
        "grouped": done,
        "cpu_seconds": round(elapsed, 3),
        "events_per_second": round(rate),
        "us_per_event": round(elapsed / done * 1e6, 1),
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "ratio_to_target": round(rate / TARGET_EVENTS_PER_SECOND, 2),
        "us_per_event_by_part": by_part,
        "cold_us_per_event_by_part": cold,
        "new_values_us_per_event": fresh_us,
        "new_values_events_per_second": round(1e6 / fresh_us) if fresh_us else None,
        "events_by_part": {name: len(cases) for name, cases in parts.items()},
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"grouping: {results['events']} events ({results['events_by_part']}), one core, {results['mode']}"
        )
        print(f"  {results['events_per_second']:,} events/s, {results['us_per_event']} µs/event")
        print(f"  target {TARGET_EVENTS_PER_SECOND:,} events/s: ratio {results['ratio_to_target']}")
        for name, us in by_part.items():
            print(f"  {name}: {us} µs/event; first sight (nothing cached): {cold[name]} µs/event")
        if fresh_us:
            print(
                f"  new values (fresh ids and messages of the 50 synthetic issues): {fresh_us} µs/event"
                f" = {1e6 / fresh_us:,.0f} events/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
