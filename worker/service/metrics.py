"""The worker's Prometheus metrics: one `Metrics` object over an injected registry.

Guarantees:
- Every metric lives on the `CollectorRegistry` passed in; nothing touches the global default
  registry unless the caller passes it (tests build a fresh `CollectorRegistry()` each).
- Names follow Prometheus conventions: prefix `newsworker_`, base units in the name (`_seconds`,
  `_bytes`), counters end in `_total`. The only exception is `python_info` from the platform
  collector, whose name the client library fixes.
- Label sets stay bounded whatever the input says: `source` is an operator-listed source or
  `other`; `kind`, `outcome`, `topic_role` and `stage` come from closed sets; dead-letter `reason`
  and Redis `operation` admit short identifiers up to a fixed cap, then fold into `other`;
  `partition` is bounded by the input topic's partition count. Nothing is keyed by article or URL.
- The label values a dashboard panel divides by or sums are pre-created at zero, so `rate()` over
  them returns 0 rather than nothing before the first event of that kind.

The metric names are part of the contract with `deploy/grafana/dashboards/newsworker.json` and
`deploy/prometheus/alerts.yml`; `tests/integration/test_observability.py` evaluates every query of
both against a real Prometheus scraping a running worker, so a rename here fails that test.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase

from worker.errors import REFUSAL_KINDS
from worker.normalize.text import WARNING_CODES
from worker.validate import REASONS as DECODE_REASONS

PREFIX: Final = "newsworker"
OTHER: Final = "other"

OUTCOMES: Final = frozenset({"clean", "duplicate", "dead_letter"})
DUPLICATE_KINDS: Final = frozenset({"exact", "near", "url"})
STAGES: Final = ("decode", "normalize", "fingerprint", "dedup", "publish")
TOPIC_ROLES: Final = frozenset({"clean", "duplicates", "dlq"})
#: Why a prepare pool was replaced (worker/service/preparer.py `RESTART_REASONS`).
PREPARE_RESTART_REASONS: Final = ("died", "timeout", "interrupted")

#: Dead-letter reason classes the pipeline emits: the decoder's closed set, `internal_error` for
#: a message that triggered a bug, and the two of a message that killed or outlasted a prepare
#: process on its own (`worker.service.preparer.ISOLATION_REASONS`). Created at zero up front; a
#: class the pipeline grows later is still admitted (see `_BoundedLabel`).
KNOWN_DEAD_LETTER_REASONS: Final = (
    *DECODE_REASONS, "internal_error", "prepare_crashed", "prepare_timeout", "output_too_large"
)

#: Labels of `newsworker_clean_warnings_total`: the normalizer's codes, and `published_at` for
#: every note on the publication time (ignored, or read as UTC): their text names the value.
WARNING_LABELS: Final = (*WARNING_CODES, "published_at")
_WARNING_SET: Final = frozenset(WARNING_CODES)

#: How many distinct values a free-ish label (dead-letter reason, Redis operation) may take.
#: Each value is one time series per worker (times the histogram's buckets for Redis operations),
#: so the cap keeps a bug that puts, say, an exception message into `reason` from creating
#: thousands of series; 24 is several times the classes the code has today.
MAX_FREE_LABEL_VALUES: Final = 24

#: Stage latency buckets, 10 µs .. 10 s. Decoding or fingerprinting one article takes tens of
#: microseconds to a few milliseconds; a dedup round trip to Redis or a publish flush takes
#: milliseconds, and seconds only when something is wrong, which is what the top buckets catch.
STAGE_BUCKETS: Final = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

#: Redis call latency buckets, 50 µs .. 5 s: a pipelined call on a local network takes 0.1-2 ms.
REDIS_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip

#: End-to-end delay buckets, 50 ms .. 7 days, measured from the input message's broker timestamp
#: (when it was produced to the input topic) to its outcome's delivery. A live feed sits between a
#: few hundred milliseconds (batch wait, fetch, a Redis and a broker round trip) and seconds, hence
#: the finer steps there; a backlog replayed after an outage sits at hours or days, and the wide top
#: end keeps it out of +Inf.
END_TO_END_BUCKETS: Final = (
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0, 6 * 3600.0, 86_400.0, 7 * 86_400.0,
)  # fmt: skip

#: Batch size buckets (articles per batch); the default batch size is 500.
BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)

_LABEL_VALUE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class _BoundedLabel:
    """Maps raw label values to a set that never grows beyond `cap` values plus `other`.

    Known values are always admitted. Other short lower-case identifiers are admitted first come,
    first served until `cap` distinct values exist; anything else (free text, too many values)
    becomes `other`. Thread-safe, since faust may run sensors off the event loop.
    """

    def __init__(self, known: Iterable[str], cap: int) -> None:
        self._values = set(known)
        self._cap = max(cap, len(self._values))
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return OTHER
        if value in self._values:
            return value
        if not _LABEL_VALUE.fullmatch(value):
            return OTHER
        with self._lock:
            if len(self._values) >= self._cap:
                return OTHER
            self._values.add(value)
        return value


class PrepareProcessCollector:
    """CPU and memory of the prepare processes (worker/service/preparer.py), read from /proc.

    prometheus_client's process collector sees only the process that serves /metrics; the pure
    stages run in its children, so without this the dashboards would show a fraction of what a
    worker costs. `pids` returns the live prepare processes' ids (none when preparing inline).
    CPU is summed over the live processes: it restarts lower if one is replaced, which
    Prometheus' `rate` treats as a counter reset.
    """

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self._pids = pids
        try:
            self._ticks = float(os.sysconf("SC_CLK_TCK"))
            self._page = os.sysconf("SC_PAGESIZE")
        except (ValueError, OSError, AttributeError):  # not Linux
            self._ticks, self._page = 100.0, 4096

    def _read(self, pid: int) -> tuple[float, int] | None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{pid}/statm", "rb") as f:
                resident_pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            return None  # gone, or no /proc
        # fields[0] is the state (field 3 of stat); utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / self._ticks, resident_pages * self._page

    def collect(self) -> Iterator[Metric]:
        readings = [r for r in (self._read(pid) for pid in self._pids()) if r is not None]
        alive = GaugeMetricFamily(f"{PREFIX}_prepare_processes", "Prepare processes alive")
        alive.add_metric([], len(readings))
        cpu = CounterMetricFamily(
            f"{PREFIX}_prepare_cpu_seconds", "User and system CPU seconds of the live prepare processes"
        )
        cpu.add_metric([], sum(c for c, _ in readings))
        rss = GaugeMetricFamily(
            f"{PREFIX}_prepare_resident_memory_bytes", "Resident memory of the live prepare processes"
        )
        rss.add_metric([], sum(m for _, m in readings))
        yield from (alive, cpu, rss)


def observe_many(histogram: Histogram, amounts: Sequence[float]) -> None:
    """`histogram.observe(a)` for each of `amounts` (an unlabelled histogram or a labelled child):
    the same buckets, count and sum, with one update of each bucket reached and of the sum
    instead of ~2 µs per observation (each takes the value lock twice and walks the bounds).
    It reads the client's bucket bounds and values (prometheus_client 0.20+); the test
    compares the exposition with `observe`'s."""
    bounds = histogram._upper_bounds  # sorted, ending with +Inf
    kept = [a for a in amounts if not math.isnan(a)]  # NaN reaches no bucket in `observe`
    if len(kept) != len(amounts):
        histogram._sum.inc(float("nan"))
    if not kept:
        return
    # `observe` counts an amount in the first bucket whose bound is >= it
    reached = collections.Counter(bisect.bisect_left(bounds, a) for a in kept)
    histogram._sum.inc(sum(kept))
    buckets = histogram._buckets
    for index, count in reached.items():
        buckets[index].inc(count)


class Metrics:
    """Every metric the worker exports. One instance per process, shared by all agents.

    `tracked_sources` lists the article sources (outlets) an operator wants broken out; every other
    source is counted as `other`. `worker_id` only labels `newsworker_build_info`; per-worker
    breakdowns use the `instance` label Prometheus adds when it scrapes each worker.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        tracked_sources: frozenset[str] = frozenset(),
        worker_id: str = "",
    ) -> None:
        self.registry = registry
        self.worker_id = worker_id
        self._sources = frozenset(tracked_sources)
        self._reason = _BoundedLabel(KNOWN_DEAD_LETTER_REASONS, MAX_FREE_LABEL_VALUES)
        self._redis_operation = _BoundedLabel((), MAX_FREE_LABEL_VALUES)
        self._lag_lock = threading.Lock()
        self._lag_partitions: set[int] = set()
        r = registry
        self._registry = registry

        self._build_info = Gauge(
            f"{PREFIX}_build_info",
            "Always 1; labels carry the worker version, the fingerprint scheme version and whether "
            "the fingerprints' shingle hashing and the normalize stage's spacing and match-key passes "
            "are compiled (`compiled`) or Python (`python`: the same output, slower)",
            ["version", "fingerprint_scheme", "fingerprint_hashing", "text_passes", "worker_id"],
            registry=r,
        )
        self._consumed = Counter(
            f"{PREFIX}_articles_consumed", "Messages taken from the input topic", registry=r
        )
        self._consumed_bytes = Counter(
            f"{PREFIX}_consumed_bytes", "Bytes of input messages consumed", registry=r
        )
        self._processed = Counter(
            f"{PREFIX}_articles_processed",
            "Articles that reached an outcome (clean, duplicate, dead_letter)",
            ["outcome", "source"],
            registry=r,
        )
        self._duplicates = Counter(
            f"{PREFIX}_duplicates",
            "Duplicate articles by kind (exact, near, url)",
            ["kind", "source"],
            registry=r,
        )
        self._dead_letters = Counter(
            f"{PREFIX}_dead_letters",
            "Messages sent to the dead-letter topic, by reason class",
            ["reason", "source"],
            registry=r,
        )
        self._warnings = Counter(
            f"{PREFIX}_clean_warnings",
            "Clean articles published with a warning (what the normalizer noticed or repaired), by warning",
            ["warning"],
            registry=r,
        )
        self._stage = Histogram(
            f"{PREFIX}_stage_duration_seconds",
            "Time spent in one pipeline stage, per article or per batch as the stage runs",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self._end_to_end = Histogram(
            f"{PREFIX}_end_to_end_delay_seconds",
            "Delay from the input message's broker timestamp to the delivery of its outcome",
            buckets=END_TO_END_BUCKETS,
            registry=r,
        )
        self._batch = Histogram(
            f"{PREFIX}_batch_size_articles",
            "Articles per batch taken from the stream",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self._in_flight = Gauge(
            f"{PREFIX}_in_flight_articles", "Articles consumed but not yet published", registry=r
        )
        self._redis_latency = Histogram(
            f"{PREFIX}_redis_call_duration_seconds",
            "Latency of Redis calls, successful or not",
            ["operation"],
            buckets=REDIS_BUCKETS,
            registry=r,
        )
        self._redis_errors = Counter(
            f"{PREFIX}_redis_errors", "Redis calls that failed", ["operation"], registry=r
        )
        self._redis_retries = Counter(
            f"{PREFIX}_redis_retries", "Redis calls retried after a transient error", registry=r
        )
        self._send_errors = Counter(
            f"{PREFIX}_kafka_send_errors",
            "Output messages the producer failed to send, by output topic role",
            ["topic_role"],
            registry=r,
        )
        self._redis_refused = Counter(
            f"{PREFIX}_redis_refused",
            "Redis calls refused by the server (oom: maxmemory reached under noeviction; "
            + ", ".join(REFUSAL_KINDS[1:]) + "), each retried",
            ["kind"],
            registry=r,
        )
        self._redis_data_lost = Counter(
            f"{PREFIX}_redis_data_lost",
            "Times the dedup index's sentinel key vanished or was replaced while the worker ran "
            "(FLUSHALL, a restart without persistence, failover to an empty replica), or Redis lost "
            "its most recent writes (the sentinel's counter went back: a replica that was behind)",
            registry=r,
        )
        self._redis_memory_used = Gauge(
            f"{PREFIX}_redis_memory_used_bytes",
            "Redis used_memory (of the fullest cluster primary)",
            registry=r,
        )
        self._redis_memory_max = Gauge(
            f"{PREFIX}_redis_memory_max_bytes", "Redis maxmemory (0: no limit set)", registry=r
        )
        self._redis_memory_ratio = Gauge(
            f"{PREFIX}_redis_memory_used_ratio",
            "Redis used_memory / maxmemory (0 when no maxmemory is set); writes are refused at 1 "
            "under noeviction",
            registry=r,
        )
        self._redis_evicting = Gauge(
            f"{PREFIX}_redis_evicting",
            "1 when Redis evicts keys once full (maxmemory set and maxmemory-policy not noeviction, "
            "on some cluster primary): evicted dedup entries are forgotten without an error",
            registry=r,
        )
        self._redis_evicted_keys = Counter(
            f"{PREFIX}_redis_evicted_keys",
            "Keys Redis evicted (INFO stats evicted_keys, all of the server's keys, summed over "
            "cluster primaries) while this worker watched it",
            registry=r,
        )
        self._clock_offset = Gauge(
            f"{PREFIX}_clock_offset_seconds",
            "This host's clock minus Redis' (TIME), the clock every worker shares; generations "
            "and ingested_at use this host's clock",
            registry=r,
        )
        self._redis_listpack_value = Gauge(
            f"{PREFIX}_redis_hash_max_listpack_value_bytes",
            "Redis' hash-max-listpack-value (smallest over the nodes), read every minute; -1 when "
            "CONFIG GET is not allowed. Below 512 the dedup index takes ~3x the documented memory",
            registry=r,
        )
        self._redis_listpack_value.set(-1)
        self._redis_index_shared = Gauge(
            f"{PREFIX}_redis_index_shared",
            "1 when another deployment (another consumer group or input topic) wrote this dedup index "
            "(the same Redis and NEWSWORKER_REDIS_KEY_PREFIX) in the last 10 minutes: their articles "
            "and this one's are deduplicated against each other",
            registry=r,
        )
        self._prepare_restarts = Counter(
            f"{PREFIX}_prepare_restarts",
            "Prepare pools killed and replaced (a process died, hung past its time limit, or was "
            "interrupted); the batch was prepared inline",
            ["reason"],
            registry=r,
        )
        self._stalled_seconds = Gauge(
            f"{PREFIX}_pipeline_stalled_seconds",
            "Seconds the pipeline has had work pending (lag or batches in flight) without "
            "finishing a batch; 0 when idle or progressing",
            registry=r,
        )
        self._stalled = Gauge(
            f"{PREFIX}_pipeline_stalled",
            "1 while the pipeline is stuck (stalled for NEWSWORKER_STUCK_SECONDS or more): /readyz "
            "fails meanwhile",
            registry=r,
        )
        self._rebalances = Counter(
            f"{PREFIX}_rebalances", "Consumer group rebalances seen by this worker", registry=r
        )
        self._input_log_resets = Counter(
            f"{PREFIX}_input_log_resets",
            "Input partitions found to end before the offset the group committed (the topic deleted "
            "and created again, or truncated): read again from their start",
            registry=r,
        )
        self._broker_unreachable = Gauge(
            f"{PREFIX}_broker_unreachable_seconds",
            "Seconds the worker has been waiting for its broker to answer, at start or since it "
            "stopped answering the worker's periodic offsets request (unreachable, frozen, refusing "
            "it); 0 once it answers",
            registry=r,
        )
        self._partitions = Gauge(
            f"{PREFIX}_partitions_assigned", "Input partitions assigned to this worker", registry=r
        )
        self._lag = Gauge(
            f"{PREFIX}_consumer_lag_messages",
            "Input messages not yet committed: end offset minus committed offset, per partition",
            ["partition"],
            registry=r,
        )
        ProcessCollector(namespace=PREFIX, registry=r)
        PlatformCollector(registry=r)
        self._precreate()

    def track_prepare_processes(self, pids: Callable[[], Sequence[int]]) -> None:
        """Export the prepare processes' CPU and memory (`PrepareProcessCollector`)."""
        self._registry.register(PrepareProcessCollector(pids))

    def track_progress(self, stalled_seconds: Callable[[], float], stuck_after: float) -> None:
        """Export the stuck-pipeline detector (`health.Progress`), read at every scrape."""
        self._stalled_seconds.set_function(stalled_seconds)
        self._stalled.set_function(lambda: float(stalled_seconds() >= stuck_after))

    def _precreate(self) -> None:
        """Create the series dashboards divide by, so they read 0 instead of no data."""
        sources = (*sorted(self._sources), OTHER)
        for source in sources:
            for outcome in sorted(OUTCOMES):
                self._processed.labels(outcome, source)
            for kind in sorted(DUPLICATE_KINDS):
                self._duplicates.labels(kind, source)
        for reason in KNOWN_DEAD_LETTER_REASONS:
            self._dead_letters.labels(reason, OTHER)
        for warning in WARNING_LABELS:
            self._warnings.labels(warning)
        for role in sorted(TOPIC_ROLES):
            self._send_errors.labels(role)
        self._stage_children = {stage: self._stage.labels(stage) for stage in STAGES}
        for kind in REFUSAL_KINDS:
            self._redis_refused.labels(kind)
        for reason in PREPARE_RESTART_REASONS:
            self._prepare_restarts.labels(reason)

    def _source(self, source: str | None) -> str:
        return source if source is not None and source in self._sources else OTHER

    # --- identity ------------------------------------------------------------------------------

    def set_build_info(
        self,
        *,
        version: str,
        fingerprint_scheme: str,
        fingerprint_hashing: str = "compiled",
        text_passes: str = "compiled",
    ) -> None:
        self._build_info.clear()
        self._build_info.labels(
            version, fingerprint_scheme, fingerprint_hashing, text_passes, self.worker_id
        ).set(1)

    # --- articles ------------------------------------------------------------------------------

    def consumed(self, count: int, nbytes: int) -> None:
        """`count` messages totalling `nbytes` bytes were taken from the input topic."""
        self._consumed.inc(count)
        self._consumed_bytes.inc(nbytes)

    def outcome(
        self,
        outcome: str,
        *,
        kind: str | None = None,
        reason: str | None = None,
        source: str | None = None,
        count: int = 1,
    ) -> None:
        """`count` articles (one by default) reached `outcome`; `kind` for duplicates, `reason`
        for dead letters."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        label = self._source(source)
        self._processed.labels(outcome, label).inc(count)
        if outcome == "duplicate":
            self._duplicates.labels(kind if kind in DUPLICATE_KINDS else OTHER, label).inc(count)
        elif outcome == "dead_letter":
            self._dead_letters.labels(self._reason(reason), label).inc(count)

    def warned(self, warnings: Iterable[str]) -> None:
        """A clean article was published with these warnings (`CleanArticle.warnings`)."""
        for warning in warnings:
            if warning in _WARNING_SET:
                label = warning
            else:
                label = "published_at" if warning.startswith("published_at") else OTHER
            self._warnings.labels(label).inc()

    def observe_stage(self, stage: str, seconds: float) -> None:
        # three observations per article: the labelled children are looked up once, not each time
        child = self._stage_children.get(stage)
        if child is None:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        child.observe(seconds)

    def observe_stages(self, seen: Iterable[tuple[str, float]]) -> None:
        """Many `observe_stage`s at once (a prepared batch's: three an article), to the same
        histograms: one update per bucket reached, not per observation (`observe_many`)."""
        by_stage: dict[str, list[float]] = {}
        for stage, seconds in seen:
            by_stage.setdefault(stage, []).append(seconds)
        for stage, amounts in by_stage.items():
            child = self._stage_children.get(stage)
            if child is None:
                raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
            observe_many(child, amounts)

    def observe_end_to_end(self, seconds: float) -> None:
        # A broker timestamp ahead of this clock (skew between hosts) would be a negative delay,
        # which a histogram cannot bucket meaningfully; it counts as "no delay".
        self._end_to_end.observe(max(seconds, 0.0))

    def observe_end_to_end_many(self, delays: Iterable[float]) -> None:
        """Many `observe_end_to_end`s at once (a published batch's)."""
        observe_many(self._end_to_end, [max(seconds, 0.0) for seconds in delays])

    def batch(self, size: int) -> None:
        self._batch.observe(size)

    def in_flight(self, delta: int) -> None:
        self._in_flight.inc(delta)

    # --- dependencies --------------------------------------------------------------------------

    def redis_call(self, operation: str, seconds: float, ok: bool) -> None:
        """One Redis round trip. Matches the store's `CallObserver(operation, seconds, ok)`."""
        op = self._redis_operation(operation)
        self._redis_latency.labels(op).observe(seconds)
        if ok:
            # Make the error series exist at 0 so `rate(errors) / rate(calls)` is defined.
            self._redis_errors.labels(op)
        else:
            self._redis_errors.labels(op).inc()

    def redis_retry(self) -> None:
        self._redis_retries.inc()

    def redis_refused(self, kind: str) -> None:
        self._redis_refused.labels(kind if kind in REFUSAL_KINDS else OTHER).inc()

    def redis_data_lost(self) -> None:
        self._redis_data_lost.inc()

    def set_redis_memory(self, used: int, maximum: int) -> None:
        self._redis_memory_used.set(used)
        self._redis_memory_max.set(maximum)
        self._redis_memory_ratio.set(used / maximum if maximum > 0 else 0.0)

    def set_clock_offset(self, seconds: float) -> None:
        self._clock_offset.set(seconds)

    def set_redis_evicting(self, evicting: bool | None) -> None:
        """1 or 0; -1 when Redis would not say (its INFO refused to the worker's user)."""
        self._redis_evicting.set(-1 if evicting is None else 1 if evicting else 0)

    def set_redis_memory_unknown(self) -> None:
        """Redis would not say (INFO refused): the ratio reads -1, not a reassuring 0."""
        self._redis_memory_ratio.set(-1.0)

    def redis_evicted(self, keys: int) -> None:
        self._redis_evicted_keys.inc(keys)

    def set_redis_index_shared(self, shared: bool) -> None:
        self._redis_index_shared.set(1 if shared else 0)

    def set_redis_listpack_value(self, value: int | None) -> None:
        """hash-max-listpack-value as last read; None when the server would not say."""
        self._redis_listpack_value.set(-1 if value is None else value)

    def prepare_restart(self, reason: str) -> None:
        self._prepare_restarts.labels(reason if reason in PREPARE_RESTART_REASONS else OTHER).inc()

    def kafka_send_error(self, topic_role: str) -> None:
        self._send_errors.labels(topic_role if topic_role in TOPIC_ROLES else OTHER).inc()

    def rebalance(self) -> None:
        self._rebalances.inc()

    def input_log_reset(self) -> None:
        self._input_log_resets.inc()

    def broker_unreachable(self, seconds: float) -> None:
        self._broker_unreachable.set(seconds)

    def set_partitions_assigned(self, n: int) -> None:
        self._partitions.set(n)

    def set_consumer_lag(self, partition: int, lag: int) -> None:
        """Lag of one input partition. A negative value (offsets read at different moments) is 0."""
        with self._lag_lock:
            self._lag_partitions.add(partition)
            self._lag.labels(str(partition)).set(max(lag, 0))

    def retain_lag_partitions(self, partitions: Iterable[int]) -> None:
        """Drops the lag series of partitions no longer assigned (call after a rebalance).

        Without this, a partition that moved to another worker would be reported by both, and
        `sum(newsworker_consumer_lag_messages)` would count its lag twice.
        """
        keep = set(partitions)
        with self._lag_lock:
            for partition in self._lag_partitions - keep:
                with contextlib.suppress(KeyError):
                    self._lag.remove(str(partition))
            self._lag_partitions &= keep

    # --- summary -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, float]:
        """Totals since start for the one-line stats log; `lag` is the current total lag."""
        by_outcome = _sum_by(self._processed, "outcome")
        return {
            "consumed": _total(self._consumed),
            "processed": sum(by_outcome.values()),
            "clean": by_outcome.get("clean", 0.0),
            "duplicates": by_outcome.get("duplicate", 0.0),
            "dead_letters": by_outcome.get("dead_letter", 0.0),
            "lag": _total(self._lag),
            "in_flight": _total(self._in_flight),
        }


def _total(metric: MetricWrapperBase) -> float:
    """Sum of the metric's main samples (`_total` for counters, the value for gauges)."""
    total = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            total += sample.value
    return total


def _sum_by(metric: MetricWrapperBase, label: str) -> dict[str, float]:
    sums: dict[str, float] = {}
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            key = sample.labels[label]
            sums[key] = sums.get(key, 0.0) + sample.value
    return sums


def format_stats(snapshot: dict[str, float], rate_per_second: float) -> str:
    """The one-line stats log: what an operator tailing the log wants at a glance."""
    s = snapshot
    return (
        f"stats processed={s['processed']:.0f} clean={s['clean']:.0f} "
        f"duplicates={s['duplicates']:.0f} dead_letters={s['dead_letters']:.0f} "
        f"lag={s['lag']:.0f} rate={rate_per_second:.1f}/s"
    )


async def log_stats_periodically(metrics: Metrics, interval_seconds: float, logger: logging.Logger) -> None:
    """Logs `format_stats` every `interval_seconds` until cancelled; the rate is over the interval.

    Runs as a background task beside the agents; cancelling it is the way to stop it.
    """
    previous = metrics.snapshot()["processed"]
    last = time.monotonic()
    while True:
        await asyncio.sleep(interval_seconds)
        snapshot = metrics.snapshot()
        now = time.monotonic()
        elapsed = max(now - last, 1e-9)
        rate = (snapshot["processed"] - previous) / elapsed
        logger.info(format_stats(snapshot, rate))
        previous, last = snapshot["processed"], now
