"""The matrix's checker catches each broken invariant (pure: no broker, no worker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.faults.harness import (
    STUCK_LIVE_SECONDS,
    STUCK_READY_SECONDS,
    Sample,
    Timings,
    check_invariants,
    live_while_stuck,
    ready_while_stuck,
)
from tests.faults.stream import Item

pytestmark = pytest.mark.fast

TOPICS = ["raw", "clean", "dups", "dlq"]
ITEMS = [
    Item(b"a", b"", "a", "a"),
    Item(b"a", b"", "a~1", "a"),
    Item(b"b", b"", "b", "b"),
    Item(b"x", b"", "bad", None),
]


@dataclass
class Record:
    topic: str
    value: bytes


def clean(i: str) -> Record:
    return Record("clean", json.dumps({"id": i}).encode())


def dup(i: str, of: str) -> Record:
    return Record("dups", json.dumps({"id": i, "duplicate_of": of}).encode())


def dead(i: str) -> Record:
    return Record("dlq", json.dumps({"id": i, "error_type": "missing_text"}).encode())


GOOD = [clean("a"), dup("a~1", "a"), clean("b"), dead("bad")]


def violations(records: list[Any], timings: Timings | None = None, samples: list[Sample] | None = None) -> str:
    t = timings or Timings(recovery_seconds=1.0)
    return " ".join(check_invariants("t", 0, ITEMS, records, TOPICS, timings=t, samples=samples or []).violations)


def test_a_good_trial_has_no_violation_and_repeats_are_allowed() -> None:
    assert violations(GOOD) == ""
    assert violations([*GOOD, clean("a")]) == ""  # at-least-once: the same outcome again


@pytest.mark.parametrize(
    ("records", "invariant"),
    [
        (GOOD[:-1], "every_input_has_an_outcome"),
        ([*GOOD, clean("zzz")], "no_unknown_outputs"),
        ([*GOOD, dup("a", "b")], "one_outcome_per_id"),
        ([clean("a"), dup("a~1", "nobody"), clean("b"), dead("bad")], "duplicate_of_names_a_clean_article"),
        ([clean("a"), clean("a~1"), clean("b"), dead("bad")], "one_clean_per_story"),
        ([dup("a", "a~1"), dup("a~1", "a"), clean("b"), dead("bad")], "one_clean_per_story"),
    ],
)
def test_each_broken_invariant_is_named(records: list[Any], invariant: str) -> None:
    assert invariant in violations(records)


def test_late_exit_bad_status_and_slow_recovery_are_violations() -> None:
    late = Timings(exits=[("SIGTERM", 60.0, 0)], recovery_seconds=1.0)
    assert "exits_within_grace" in violations(GOOD, late)
    hung = Timings(exits=[("SIGTERM", None, None)], recovery_seconds=1.0)
    assert "exits_within_grace" in violations(GOOD, hung)
    crashed = Timings(exits=[("SIGTERM", 1.0, 1)], recovery_seconds=1.0)
    assert "clean_exit_status" in violations(GOOD, crashed)
    assert "recovers_in_time" in violations(GOOD, Timings(recovery_seconds=None))


def series(ready: int, processed: list[float], lag: float, live: int = 200) -> list[Sample]:
    return [Sample(at=float(t), worker=0, ready=ready, processed=p, lag=lag, live=live)
            for t, p in enumerate(processed)]


def test_ready_while_stuck_needs_no_progress_lag_and_time() -> None:
    long = int(STUCK_READY_SECONDS) + 2
    assert ready_while_stuck(series(200, [5.0] * long, lag=10))  # stuck, with lag, says ready
    assert not ready_while_stuck(series(503, [5.0] * long, lag=10))  # stuck and says so
    assert not ready_while_stuck(series(200, [5.0] * long, lag=0))  # idle: nothing waits
    assert not ready_while_stuck(series(200, [float(i) for i in range(long)], lag=10))  # progress
    assert not ready_while_stuck(series(200, [5.0] * 3, lag=10))  # not long enough yet
    assert "never_ready_while_stuck" in violations(GOOD, samples=series(200, [5.0] * long, lag=10))


def test_live_while_stuck_past_the_limit_is_a_violation() -> None:
    long = int(STUCK_LIVE_SECONDS) + 2
    assert live_while_stuck(series(503, [5.0] * long, lag=10))  # not ready, but still says live
    assert not live_while_stuck(series(503, [5.0] * long, lag=10, live=503))  # says it is wedged
    assert not live_while_stuck(series(503, [5.0] * int(STUCK_READY_SECONDS + 2), lag=10))  # not yet
    assert not live_while_stuck(series(200, [5.0] * long, lag=0))  # idle
    assert "never_live_while_stuck_past_limit" in violations(GOOD, samples=series(503, [5.0] * long, lag=10))
    assert "never_live_while_stuck_past_limit" not in violations(
        GOOD, samples=series(503, [5.0] * long, lag=10, live=503))
    # live while waiting for Redis is no wedge while the trial made Redis unavailable, and /readyz
    # names Redis missing; outside such a spell the excuse would hide a wedge (a review's finding)
    waiting = series(503, [5.0] * long, lag=10)
    for s in waiting:
        s.waiting = s.redis_missing = True
    during = Timings(recovery_seconds=1.0, redis_faults=[(0.0, float(long))])
    assert not live_while_stuck(waiting, during.redis_faults)
    found = violations(GOOD, during, samples=waiting)
    assert "never_live_while_stuck_past_limit" not in found
    assert "waits_for_redis_only_while_redis_is_down" not in found
    found = violations(GOOD, samples=waiting)  # no Redis fault in this trial
    assert "never_live_while_stuck_past_limit" in found and "waits_for_redis_only_while_redis_is_down" in found
    for s in waiting:
        s.redis_missing = False
    assert "waits_for_redis_only_while_redis_is_down" in violations(GOOD, during, samples=waiting)


def test_a_sample_without_metrics_neither_breaks_nor_resets_a_stall() -> None:
    stuck = series(200, [5.0] * (int(STUCK_READY_SECONDS) + 2), lag=10)
    # every third scrape of /metrics failed (processed and lag read as 0): still one stall
    for s in stuck[1::3]:
        s.scraped, s.processed, s.lag = False, 0.0, 0.0
    assert ready_while_stuck(stuck)


def test_orphaned_prepare_processes_are_a_violation() -> None:
    assert "no_orphaned_processes" in violations(GOOD, Timings(recovery_seconds=1.0, orphans=[4242]))
