"""Builds `dashboards/newsworker.json`, the Grafana dashboard of newsworker.

The JSON is committed (Grafana's provisioning reads it), this script is its source: change a panel
here and run `python deploy/grafana/dashboard.py --write`. `tests/deploy/test_prometheus_rules.py`
fails when the committed JSON differs from what this script produces, and
`tests/integration/test_observability.py` runs every query below against a real Prometheus that
scrapes a running worker, so each panel is known to show data.

Queries use Grafana's `$__rate_interval` (at least four scrape intervals, so `rate()` always has
two samples) and the `$instance` variable (one or more workers, default all); both are plain
strings here, which the integration test substitutes the same way Grafana does.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Fixed data source uid, declared in provisioning/datasources/prometheus.yml. A fixed uid is what
#: makes the provisioned dashboard work with no clicking: panels refer to it by uid.
DATASOURCE = {"type": "prometheus", "uid": "newsworker-prometheus"}
DASHBOARD_UID = "newsworker"
OUTPUT = Path(__file__).parent / "dashboards" / "newsworker.json"

SEL = 'instance=~"$instance"'
RI = "$__rate_interval"


def rate(metric: str, selector: str = "") -> str:
    inner = f"{SEL},{selector}" if selector else SEL
    return f"rate({metric}{{{inner}}}[{RI}])"


def quantile(q: float, metric: str, by: str = "") -> str:
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) ({rate(metric + '_bucket')}))"


@dataclass
class Q:
    """One query of a panel: PromQL and its legend."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    title: str
    description: str
    queries: list[Q]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    log_scale: bool = False
    stack: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    #: Grafana value mappings: what a gauge's coded values mean ({"1": "text"}).
    mappings: dict[str, str] = field(default_factory=dict)


PROCESSED = "newsworker_articles_processed_total"
THROUGHPUT = f"sum({rate(PROCESSED)})"
DUPLICATE_RATIO = "sum(" + rate(PROCESSED, 'outcome="duplicate"') + f") / {THROUGHPUT}"
DEAD_LETTER_RATIO = "sum(" + rate(PROCESSED, 'outcome="dead_letter"') + f") / {THROUGHPUT}"

ROWS: list[tuple[str, list[Panel]]] = [
    (
        "Overview",
        [
            Panel(
                "Workers up",
                "Worker processes Prometheus can scrape. Fewer than expected: see NewsworkerDown.",
                [Q(f'sum(up{{job="newsworker",{SEL}}})')],
                kind="stat",
                width=4,
                height=4,
            ),
            Panel(
                "Throughput",
                "Articles per second that reached an outcome, over all selected workers.",
                [Q(THROUGHPUT)],
                unit="ops",
                kind="stat",
                width=5,
                height=4,
            ),
            Panel(
                "Duplicate ratio",
                "Share of processed articles that repeated one already seen (any kind). Over 95% of "
                "clean + duplicate for about 30 minutes raises NewsworkerDuplicateShareHigh.",
                [Q(DUPLICATE_RATIO)],
                unit="percentunit",
                kind="stat",
                width=5,
                height=4,
            ),
            Panel(
                "Dead-letter ratio",
                "Share of input sent to the dead-letter topic. Over 5% for 10m raises "
                "NewsworkerDeadLetterSpike.",
                [Q(DEAD_LETTER_RATIO)],
                unit="percentunit",
                kind="stat",
                width=5,
                height=4,
            ),
            Panel(
                "Consumer lag",
                "Input messages not yet committed, summed over partitions.",
                [Q(f"sum(newsworker_consumer_lag_messages{{{SEL}}})")],
                kind="stat",
                width=5,
                height=4,
            ),
        ],
    ),
    (
        "Throughput and outcomes",
        [
            Panel(
                "Throughput by outcome",
                "Articles per second by outcome, and messages consumed from the input topic. "
                "In a steady state consumed = clean + duplicate + dead_letter.",
                [
                    Q(f"sum by (outcome) ({rate(PROCESSED)})", "{{outcome}}"),
                    Q(f"sum({rate('newsworker_articles_consumed_total')})", "consumed"),
                ],
                unit="ops",
            ),
            Panel(
                "Duplicate ratio by kind",
                "Share of processed articles that are duplicates: exact (same normalized text), "
                "near (same story reshaped), url (same canonical URL).",
                [
                    Q(
                        f"sum by (kind) ({rate('newsworker_duplicates_total')})"
                        f" / ignoring (kind) group_left {THROUGHPUT}",
                        "{{kind}}",
                    ),
                    Q(DUPLICATE_RATIO, "all"),
                ],
                unit="percentunit",
            ),
            Panel(
                "Dead letters by reason",
                "Dead letters per second by reason class. The DLQ records hold the original "
                "bytes and a message saying what is wrong.",
                [Q(f"sum by (reason) ({rate('newsworker_dead_letters_total')})", "{{reason}}")],
                unit="ops",
                stack=True,
            ),
            Panel(
                "Clean articles with warnings",
                "Clean articles per second published with a warning, by warning: mojibake repaired, "
                "HTML read from a text field or a page's JSON-LD, a publication time ignored, a title "
                "repeated in the body... A producer that changes shape shows here first.",
                [Q(f"sum by (warning) ({rate('newsworker_clean_warnings_total')})", "{{warning}}")],
                unit="ops",
            ),
            Panel(
                "Bytes in",
                "Input bytes per second consumed from the input topic.",
                [Q(f"sum({rate('newsworker_consumed_bytes_total')})", "bytes in")],
                unit="Bps",
            ),
        ],
    ),
    (
        "Latency",
        [
            *(
                Panel(
                    f"Stage latency p{label}",
                    f"{label}th percentile of the time spent in each pipeline stage. "
                    "Over 1 s at p95 for 10m raises NewsworkerSlowProcessing.",
                    [Q(quantile(q, "newsworker_stage_duration_seconds", "stage"), "{{stage}}")],
                    unit="s",
                    width=8,
                    log_scale=True,
                )
                for q, label in ((0.5, "50"), (0.95, "95"), (0.99, "99"))
            ),
            Panel(
                "End-to-end delay",
                "Delay from the article's publication (or ingestion) time to its output event. "
                "Backfills of old articles show days; a live feed should show seconds.",
                [
                    Q(quantile(q, "newsworker_end_to_end_delay_seconds"), f"p{label}")
                    for q, label in ((0.5, "50"), (0.95, "95"), (0.99, "99"))
                ],
                unit="s",
                log_scale=True,
            ),
            Panel(
                "Batch size and in-flight articles",
                "Articles per batch (median and p95) and articles consumed but not yet published.",
                [
                    Q(quantile(0.5, "newsworker_batch_size_articles"), "batch p50"),
                    Q(quantile(0.95, "newsworker_batch_size_articles"), "batch p95"),
                    Q(f"sum(newsworker_in_flight_articles{{{SEL}}})", "in flight"),
                ],
            ),
        ],
    ),
    (
        "Kafka",
        [
            Panel(
                "Consumer lag by partition",
                "End offset minus committed offset of each input partition. Growing for 10m "
                "raises NewsworkerConsumerLagGrowing.",
                [
                    Q(
                        f"sum by (partition) (newsworker_consumer_lag_messages{{{SEL}}})",
                        "partition {{partition}}",
                    )
                ],
                stack=True,
            ),
            Panel(
                "Rebalances",
                "Consumer group rebalances seen by each worker. Each one pauses consumption.",
                [
                    Q(
                        f"sum by (instance) (increase(newsworker_rebalances_total{{{SEL}}}[{RI}]))",
                        "{{instance}}",
                    )
                ],
                width=6,
            ),
            Panel(
                "Kafka send errors",
                "Output messages the producer failed to send, per second, by output topic.",
                [
                    Q(
                        f"sum by (topic_role) ({rate('newsworker_kafka_send_errors_total')})",
                        "{{topic_role}}",
                    )
                ],
                unit="ops",
                width=6,
            ),
        ],
    ),
    (
        "Redis",
        [
            Panel(
                "Redis call latency",
                "Median and 99th percentile latency of Redis calls, by operation.",
                [
                    Q(
                        quantile(q, "newsworker_redis_call_duration_seconds", "operation"),
                        f"{{{{operation}}}} p{label}",
                    )
                    for q, label in ((0.5, "50"), (0.99, "99"))
                ],
                unit="s",
                log_scale=True,
            ),
            Panel(
                "Redis errors and retries",
                "Failed Redis calls and retries per second. Over 1% of calls failing raises "
                "NewsworkerRedisErrors.",
                [
                    Q(
                        f"sum by (operation) ({rate('newsworker_redis_errors_total')})",
                        "errors {{operation}}",
                    ),
                    Q(f"sum({rate('newsworker_redis_retries_total')})", "retries"),
                ],
                unit="ops",
            ),
            Panel(
                "Redis memory used",
                "used_memory / maxmemory of Redis (the fullest cluster primary). Under noeviction "
                "writes are refused at 100%: NewsworkerRedisMemoryHigh warns at 90%. -1: Redis "
                "refuses INFO to the worker's user.",
                [Q(f"max(newsworker_redis_memory_used_ratio{{{SEL}}})", "used / maxmemory")],
                unit="percentunit",
                width=6,
            ),
            Panel(
                "Redis refusals",
                "Dedup calls Redis refused per second, by kind (oom: full under noeviction, readonly, "
                "noperm, db, server, cluster, ...); each is retried and processing waits: "
                "NewsworkerRedisRefusingWrites.",
                [Q(f"sum by (kind) ({rate('newsworker_redis_refused_total')})", "{{kind}}")],
                unit="ops",
                width=6,
            ),
            Panel(
                "Redis index lost and keys evicted",
                "Counts per interval: losses of the dedup index seen (FLUSHALL, a restart without "
                "persistence, a failover to a replica that was behind), and keys Redis evicted (it "
                "forgets without an error). Any is an alert: NewsworkerRedisDataLost, "
                "NewsworkerRedisEvictedKeys.",
                [
                    Q(
                        f"sum(increase(newsworker_redis_data_lost_total{{{SEL}}}[{RI}]))",
                        "index lost",
                    ),
                    # every worker counts the same server's evictions: the largest count, not the sum
                    Q(
                        f"max(increase(newsworker_redis_evicted_keys_total{{{SEL}}}[{RI}]))",
                        "keys evicted",
                    ),
                ],
                width=6,
            ),
            Panel(
                "Redis evicts when full",
                "Whether Redis deletes keys once full (a maxmemory-policy other than noeviction): "
                "dedup entries it deletes are forgotten without an error, NewsworkerRedisMayEvict. "
                "Unknown: Redis refuses INFO to the worker's user.",
                [Q(f"max(newsworker_redis_evicting{{{SEL}}})")],
                kind="stat",
                width=6,
                mappings={"-1": "unknown", "0": "no (noeviction)", "1": "EVICTS"},
            ),
        ],
    ),
    (
        "Can it make progress?",
        [
            Panel(
                "Stalled seconds per worker",
                "How long each worker has had work (lag or batches in flight) without finishing a "
                "batch; 0 when idle or progressing. At NEWSWORKER_STUCK_SECONDS /readyz fails and "
                "NewsworkerStuck follows; at NEWSWORKER_STUCK_LIVENESS_SECONDS /healthz fails.",
                [
                    Q(
                        f"max by (instance) (newsworker_pipeline_stalled_seconds{{{SEL}}})",
                        "{{instance}}",
                    )
                ],
                unit="s",
                width=6,
            ),
            Panel(
                "Broker unreachable per worker",
                "Seconds each worker has waited for its Kafka broker to answer, since it started or "
                "since the broker stopped answering its probe (every 5 s); 0 once it answers. The "
                "worker is not ready meanwhile; over 60 s for 2m raises NewsworkerBrokerUnreachable.",
                [
                    Q(
                        f"max by (instance) (newsworker_broker_unreachable_seconds{{{SEL}}})",
                        "{{instance}}",
                    )
                ],
                unit="s",
                width=6,
            ),
            Panel(
                "Prepare pool restarts",
                "Prepare pools killed and replaced per second, by reason (died, timeout, "
                "interrupted); the batch is prepared again one message at a time: "
                "NewsworkerPrepareRestarts.",
                [Q(f"sum by (reason) ({rate('newsworker_prepare_restarts_total')})", "{{reason}}")],
                unit="ops",
                width=6,
            ),
            Panel(
                "Input log resets",
                "Input partitions found to end before the offset the group committed (the topic "
                "deleted and created again, or truncated), read again from their start; counts per "
                "interval. Each is logged as an error.",
                [
                    Q(
                        f"sum by (instance) (increase(newsworker_input_log_resets_total{{{SEL}}}[{RI}]))",
                        "{{instance}}",
                    )
                ],
                width=6,
            ),
        ],
    ),
    (
        "Per worker",
        [
            Panel(
                "Throughput per worker",
                "Articles per second each worker brings to an outcome. Uneven bars usually mean "
                "uneven partition assignment.",
                [Q(f"sum by (instance) ({rate(PROCESSED)})", "{{instance}}")],
                unit="ops",
                width=6,
            ),
            Panel(
                "Partitions per worker",
                "Input partitions assigned to each worker.",
                [
                    Q(
                        f"sum by (instance) (newsworker_partitions_assigned{{{SEL}}})",
                        "{{instance}}",
                    )
                ],
                width=6,
            ),
            Panel(
                "CPU per worker",
                "CPU time per second of each worker (1 = one core busy): its event loop's process "
                "and its prepare processes (decode, normalize, fingerprint; NEWSWORKER_PREPARE_PROCESSES).",
                [
                    Q(
                        f"sum by (instance) ({rate('newsworker_process_cpu_seconds_total')})",
                        "{{instance}} event loop",
                    ),
                    Q(
                        f"sum by (instance) ({rate('newsworker_prepare_cpu_seconds_total')})",
                        "{{instance}} prepare processes",
                    ),
                ],
                unit="percentunit",
                width=6,
            ),
            Panel(
                "Memory per worker",
                "Resident memory of each worker: its event loop's process and its prepare processes.",
                [
                    Q(
                        f"sum by (instance) (newsworker_process_resident_memory_bytes{{{SEL}}})",
                        "{{instance}} event loop",
                    ),
                    Q(
                        f"sum by (instance) (newsworker_prepare_resident_memory_bytes{{{SEL}}})",
                        "{{instance}} prepare processes",
                    ),
                ],
                unit="bytes",
                width=6,
            ),
            Panel(
                "Clock offset from Redis",
                "Each worker's clock minus Redis' TIME, the clock all workers share. Dedup "
                "generations and ingested_at use the worker's clock: over 5 minutes off for 10m "
                "raises NewsworkerClockSkew.",
                [Q(f"max by (instance) (newsworker_clock_offset_seconds{{{SEL}}})", "{{instance}}")],
                unit="s",
                width=24,
                height=6,
            ),
            Panel(
                "Build info",
                "Version and fingerprint scheme of each worker. Two fingerprint schemes at once "
                "means a rollout in progress: entries of different schemes never match. "
                "fingerprint_hashing=python or text_passes=python: an install that could not build the "
                "compiled shingle hashing or normalize passes (same output, more CPU per article: "
                "docs/BENCHMARKS.md).",
                [Q(f"newsworker_build_info{{{SEL}}}", instant=True)],
                kind="table",
                width=24,
                height=5,
            ),
        ],
    ),
]


def _target(query: Q, ref: str) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "range": not query.instant,
        "instant": query.instant,
    }
    if query.instant:
        target["format"] = "table"
    return target


def _defaults(panel: Panel, custom: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "custom": custom}
    if panel.mappings:
        items = enumerate(panel.mappings.items())
        options = {value: {"text": text, "index": i} for i, (value, text) in items}
        defaults["mappings"] = [{"type": "value", "options": options}]
    return defaults


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if panel.kind == "timeseries":
        custom = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": True,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "scaleDistribution": {"type": "log", "log": 10} if panel.log_scale else {"type": "linear"},
        }
    options: dict[str, Any] = {
        "timeseries": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "stat": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
        "table": {"showHeader": True},
    }[panel.kind]
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": _defaults(panel, custom), "overrides": []},
        "options": {**options, **panel.options},
        "targets": [_target(q, chr(ord("A") + i)) for i, q in enumerate(panel.queries)],
    }


def build() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model; rows laid out left to right, wrapping at 24."""
    panels: list[dict[str, Any]] = []
    next_id = 1
    y = 0
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x = 0
        row_height = 0
        for panel in row_panels:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(_panel(panel, next_id, x, y))
            next_id += 1
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    instance_query = 'label_values(up{job="newsworker"}, instance)'
    return {
        "uid": DASHBOARD_UID,
        "title": "newsworker",
        "description": "Throughput, duplicates, dead letters, latency, Kafka lag and Redis of "
        "the newsworker fleet",
        "tags": ["newsworker", "kafka", "redis"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-30m", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "instance",
                    "label": "Worker",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "definition": instance_query,
                    "query": {"query": instance_query, "refId": "instance"},
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                    "sort": 1,
                }
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT}")
    args = parser.parse_args(argv)
    if args.write:
        OUTPUT.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
