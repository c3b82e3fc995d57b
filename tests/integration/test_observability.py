"""Every dashboard query and alert rule, evaluated by a real Prometheus scraping a running worker.

One run serves every test of this module (~30 s): the session's broker and Redis, one worker
process (`python -m worker worker`) on its own topics, consumer group and Redis key prefix, and
Debian's `prometheus` binary scraping it every second with deploy/prometheus/alerts.yml loaded.
Real Arabic news from ../shared (plus exact copies, the near-duplicate seed pair and broken
messages) flows for several seconds; then, through Prometheus' HTTP API,

- every query of every panel of deploy/grafana/dashboards/newsworker.json (with Grafana's
  variables expanded) parses and returns at least one finite value over the run,
- every alert expression parses and evaluates, and Prometheus reports every rule healthy,
- the counts Prometheus scraped agree with what was sent.

Without the `prometheus` binary the module skips, except under CI=true, where it fails
(`.ci/run` installs Debian's `prometheus` package).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.integration.conftest import produce
from tests.support import prometheus as prom
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis, create_topics, find_free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

#: Grafana's $__rate_interval for a 1 s scrape interval is 4 s; 10 s gives rate() and
#: histogram_quantile() a few more samples per window on a busy 2-core CI machine.
RATE_INTERVAL = "10s"
CORPUS_ARTICLES = 240
EXACT_COPIES = 20
FEED_SECONDS = 8.0




def prometheus_binary() -> str:
    return require_tool("prometheus", "install Debian's `prometheus` package (apt-get install)")


def input_messages(shared_dir: Path, seeds_dir: Path) -> tuple[list[bytes], dict[str, int]]:
    """Real articles, exact copies under new ids, the seed pair, broken messages; and what to
    expect of them (at least)."""
    import gzip

    corpus = shared_dir / "data" / "ant-dev.jsonl.gz"
    articles = []
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            articles.append(json.loads(line))
            if len(articles) == CORPUS_ARTICLES:
                break
    copies = [
        {**article, "id": f"copy-{article['id']}", "url": None}
        for article in articles[: EXACT_COPIES * 5 : 5]
    ]
    seeds = [
        {"id": path.stem, "text": path.read_text(encoding="utf-8")} for path in sorted(seeds_dir.iterdir())
    ]
    good = [json.dumps(a, ensure_ascii=False).encode() for a in [*articles, *copies, *seeds]]
    broken = [b'{"id": "cut", "text": "half a mess', b"\xff\xfe not utf-8", b'{"id": "e", "text": " "}']
    # Spread the broken ones through the flow, as they would arrive in production.
    messages = list(good)
    for i, bad in enumerate(broken):
        messages.insert((i + 1) * len(good) // (len(broken) + 1), bad)
    expected = {"total": len(messages), "duplicate": EXACT_COPIES + 1, "dead_letter": len(broken)}
    return messages, expected


@dataclass
class ObservedRun:
    prometheus: prom.PrometheusAPI  # type: ignore[name-defined]
    start: float
    end: float
    expected: dict[str, int]
    worker_target: str


async def feed_steadily(bootstrap: str, topic: str, messages: list[bytes], seconds: float) -> None:
    """Sends `messages` in ~20 slices over `seconds`, so rates have a flow to measure."""
    slices = 20
    size = math.ceil(len(messages) / slices)
    for i in range(0, len(messages), size):
        await produce(bootstrap, topic, messages[i : i + size])
        await asyncio.sleep(seconds / slices)


def wait_for(prometheus: prom.PrometheusAPI, expr: str, ok, timeout: float) -> list:  # type: ignore[name-defined]
    deadline = time.monotonic() + timeout
    result: list = []
    while time.monotonic() < deadline:
        result = prometheus.query(expr)
        if ok(result):
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {expr}: last answer {result}")


def total(result: list) -> float:
    return sum(float(series["value"][1]) for series in result)


@pytest.fixture(scope="module")
def observed(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, shared_dir: Path, seeds_dir: Path
) -> Iterator[ObservedRun]:
    binary = prometheus_binary()
    token = uuid.uuid4().hex[:8]
    raw, clean, dups, dlq = (f"news.{kind}.observability.{token}" for kind in ("raw", "clean", "dups", "dlq"))
    asyncio.run(create_topics(kafka.bootstrap, [raw, clean, dups, dlq], 2))
    messages, expected = input_messages(shared_dir, seeds_dir)
    port = find_free_port()
    prometheus = prom.EmbeddedPrometheus(
        [f"127.0.0.1:{port}"], interval="1s", rule_files=[ALERTS], binary=binary
    )
    worker = None
    try:
        prometheus.start()
        start = time.time()
        # Returns once /readyz says ready: broker, Redis, partitions assigned.
        worker = prom.start_worker(
            kafka.bootstrap, redis_server.url, [raw, clean, dups, dlq],
            app_id=f"test.observability.{token}", log_path=prometheus.work_dir / "worker.log", port=port,
            redis_key_prefix=f"obs{token}", stats_interval_seconds="2",
        )  # fmt: skip
        client = prometheus.client
        asyncio.run(feed_steadily(kafka.bootstrap, raw, messages, FEED_SECONDS))
        processed = 'sum(newsworker_articles_processed_total{job="newsworker"})'
        wait_for(client, processed, lambda r: r and total(r) >= expected["total"], timeout=40)
        # Lag is sampled by the worker every few seconds, after the offsets are committed.
        wait_for(client, "sum(newsworker_consumer_lag_messages)", lambda r: bool(r), timeout=15)
        time.sleep(2)  # two more scrapes, so range queries end on settled values
        yield ObservedRun(client, start, time.time(), expected, worker.target)
    finally:
        if worker is not None:
            worker.stop()
        prometheus.close()


def panel_cases() -> list[object]:
    return [pytest.param(q, id=f"{q.panel}:{q.legend or q.expr[:30]}") for q in prom.panel_queries()]


@pytest.mark.parametrize("query", panel_cases())
def test_panel_query_returns_data(observed: ObservedRun, query) -> None:
    expr = prom.substitute(query.expr, rate_interval=RATE_INTERVAL)
    result = observed.prometheus.query_range(expr, observed.start, observed.end, 1.0)
    assert result, f"{query.panel}: no series for {expr}"
    assert any(True for _ in prom.finite_values(result)), f"{query.panel}: only NaN for {expr}"


def alert_cases() -> list[object]:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [pytest.param(r["expr"], id=r["alert"]) for g in rules["groups"] for r in g["rules"]]


@pytest.mark.parametrize("expr", alert_cases())
def test_alert_expression_evaluates(observed: ObservedRun, expr: str) -> None:
    # Parses and evaluates over the run (an alert that does not fire returns an empty result).
    observed.prometheus.query_range(expr, observed.start, observed.end, 1.0)


def test_prometheus_evaluates_every_rule_healthily(observed: ObservedRun) -> None:
    rules = observed.prometheus.rules()
    assert {r["name"] for r in rules} == {p.id for p in alert_cases()}  # type: ignore[attr-defined]
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))


def test_scraped_counts_match_what_was_sent(observed: ObservedRun) -> None:
    prom = observed.prometheus
    by_outcome = {
        s["metric"]["outcome"]: float(s["value"][1])
        for s in prom.query("sum by (outcome) (newsworker_articles_processed_total)")
    }
    assert sum(by_outcome.values()) == observed.expected["total"]
    assert by_outcome["dead_letter"] == observed.expected["dead_letter"]
    assert by_outcome["duplicate"] >= observed.expected["duplicate"]
    assert total(prom.query("newsworker_articles_consumed_total")) == observed.expected["total"]
    up = prom.query('up{job="newsworker"}')
    assert [s["metric"]["instance"] for s in up] == [observed.worker_target]
    assert total(up) == 1
