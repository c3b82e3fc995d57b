"""Pure figures of the benchmark: throughput and latency from broker timestamps, medians, ratios,
and per-stage times from a worker's /metrics text. No I/O here (unit-tested in milliseconds).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

#: Share of a run's first outputs left out of its throughput: the first batches pay one-off
#: costs (lazy imports, the language model's first load, connection set-up, the consumer's first
#: fetches), which a long-running worker pays once a lifetime, not per article.
WARMUP_SHARE = 0.05


def steady_throughput(timestamps_ms: Iterable[int], warmup_share: float = WARMUP_SHARE) -> float:
    """Articles per second from the output records' timestamps, after the warm-up share.

    Rate = outputs after the warm-up / (last output time - time of the warm-up's last output).
    """
    ts = sorted(timestamps_ms)
    if len(ts) < 2:
        return 0.0
    skip = min(int(len(ts) * warmup_share), len(ts) - 2)
    span = (ts[-1] - ts[skip]) / 1000
    if span <= 0:
        return math.inf
    return (len(ts) - 1 - skip) / span


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on sorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def latencies(inputs_ms: Mapping[bytes, int], outputs_ms: Mapping[bytes, int]) -> Latency:
    """Input-to-output latency per key (broker timestamps), over the keys seen on both sides."""
    values = [float(outputs_ms[k] - t) for k, t in inputs_ms.items() if k in outputs_ms]
    if not values:
        return Latency(0, math.nan, math.nan, math.nan, math.nan)
    return Latency(
        len(values), percentile(values, 50), percentile(values, 95), percentile(values, 99), max(values)
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


T = TypeVar("T")


def turn(sides: Sequence[T], run: int) -> list[T]:
    """The order of the sides in interleaved run `run`: each side goes first in turn (for two
    sides, alternately), so that neither always meets a warmer or a colder machine."""
    k = run % len(sides) if sides else 0
    return [*sides[k:], *sides[:k]]


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratio of each run to its interleaved partner (run k of one side with run k of the other)."""
    return [ratio(a, b) for a, b in zip(numerators, denominators, strict=False)]


def stage_seconds(
    metrics_text: str, metric: str = "newsworker_stage_duration_seconds"
) -> dict[str, tuple[float, float]]:
    """(sum of seconds, observation count) per `stage` label of a histogram in /metrics text."""
    out: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != metric:
            continue
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        for sample in family.samples:
            stage = sample.labels.get("stage")
            if stage is None:
                continue
            if sample.name.endswith("_sum"):
                sums[stage] = sample.value
            elif sample.name.endswith("_count"):
                counts[stage] = sample.value
        out = {s: (sums.get(s, 0.0), counts.get(s, 0.0)) for s in sums.keys() | counts.keys()}
    return out


def histogram_mean(metrics_text: str, metric: str = "newsworker_batch_size_articles") -> float:
    """Mean observation (sum / count) of an unlabelled histogram in /metrics text; NaN if empty."""
    total = count = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    return total / count if count else math.nan


def per_article_us(
    after: Mapping[str, tuple[float, float]], before: Mapping[str, tuple[float, float]], articles: int
) -> dict[str, float]:
    """Microseconds per article per stage between two scrapes (batch stages divided over articles)."""
    out: dict[str, float] = {}
    for stage, (total, _) in after.items():
        previous = before.get(stage, (0.0, 0.0))[0]
        out[stage] = (total - previous) / max(articles, 1) * 1e6
    return out


def growth_percent(first: float, last: float) -> float:
    return (last - first) / first * 100 if first else math.nan
