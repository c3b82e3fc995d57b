"""The /metrics, /healthz and /readyz endpoints, served for real on a free loopback port."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from worker.service.health import MetricsServer, Progress, Readiness
from worker.service.metrics import Metrics


async def fetch(port: int, path: str, **headers: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


def serve(readiness: Readiness, registry: CollectorRegistry, *paths: str, **headers: str):
    """Starts a server on port 0, fetches `paths`, stops it; returns the responses."""

    async def run() -> list[tuple[int, str, str]]:
        server = MetricsServer(registry, readiness, "127.0.0.1", 0)
        await server.start()
        try:
            assert server.port > 0
            return [await fetch(server.port, path, **headers) for path in paths]
        finally:
            await server.stop()

    return asyncio.run(run())


def test_readiness_flags() -> None:
    readiness = Readiness()
    assert not readiness.ready
    assert readiness.missing() == ["broker", "redis", "partitions"]
    readiness.broker = readiness.partitions = True
    assert readiness.missing() == ["redis"]
    readiness.redis = True
    assert readiness.ready and readiness.missing() == []


def test_metrics_endpoint_serves_the_injected_registry() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.consumed(2, 100)
    [(status, content_type, body)] = serve(Readiness(), registry, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert families["newsworker_articles_consumed"].samples[0].value == 2


def test_metrics_endpoint_speaks_openmetrics_when_asked() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    [(status, content_type, body)] = serve(
        Readiness(), registry, "/metrics", Accept="application/openmetrics-text; version=1.0.0"
    )
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")


def test_health_and_readiness_when_not_ready() -> None:
    readiness = Readiness(broker=True)
    (health, ready) = serve(readiness, CollectorRegistry(), "/healthz", "/readyz")
    assert health[0] == 200
    assert json.loads(health[2]) == {"status": "ok"}
    assert ready[0] == 503
    assert ready[1].startswith("application/json")
    assert json.loads(ready[2]) == {"status": "not ready", "missing": ["redis", "partitions"]}


def test_ready_when_everything_is_connected() -> None:
    readiness = Readiness(broker=True, redis=True, partitions=True)
    [(status, _, body)] = serve(readiness, CollectorRegistry(), "/readyz")
    assert status == 200
    assert json.loads(body)["status"] == "ready"


def test_dead_worker_fails_both_probes() -> None:
    readiness = Readiness(broker=True, redis=True, partitions=True, alive=False)
    (health, ready) = serve(readiness, CollectorRegistry(), "/healthz", "/readyz")
    assert health[0] == 503
    assert ready[0] == 503
    assert json.loads(ready[2])["missing"] == ["alive"]


def test_port_in_use_raises_and_port_unknown_before_start() -> None:
    registry = CollectorRegistry()

    async def run() -> None:
        first = MetricsServer(registry, Readiness(), "127.0.0.1", 0)
        with pytest.raises(RuntimeError):
            _ = first.port
        await first.start()
        try:
            second = MetricsServer(registry, Readiness(), "127.0.0.1", first.port)
            with pytest.raises(OSError):
                await second.start()
        finally:
            await first.stop()

    asyncio.run(run())


# --- stuck pipeline (issue #14: "a worker that cannot make progress says so") ------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stuck_readiness() -> tuple[Readiness, Clock]:
    clock = Clock()
    progress = Progress(stuck_after=60, dead_after=300, clock=clock)
    return Readiness(broker=True, redis=True, partitions=True, progress=progress), clock


def test_idle_is_not_stuck_however_long() -> None:
    readiness, clock = stuck_readiness()
    clock.now += 10_000
    assert readiness.progress.stalled_seconds() == 0 and readiness.ready and readiness.live
    # Input arrives after the long idle spell: the clock starts now, not at the last batch.
    readiness.progress.lag = 500
    clock.now += 30
    assert readiness.progress.stalled_seconds() == 30 and readiness.ready


def test_lag_without_a_finished_batch_is_not_ready_then_not_live() -> None:
    readiness, clock = stuck_readiness()
    progress = readiness.progress
    progress.lag = 1200
    clock.now += 61
    (health, ready) = serve(readiness, CollectorRegistry(), "/healthz", "/readyz")
    assert health[0] == 200
    assert ready[0] == 503
    body = json.loads(ready[2])
    assert body["missing"] == ["progress"]
    assert body["detail"].startswith("stuck: no batch finished for 61s with lag 1200")
    clock.now += 240
    (health, ready) = serve(readiness, CollectorRegistry(), "/healthz", "/readyz")
    assert health[0] == 503 and json.loads(health[2])["status"] == "stuck"
    assert ready[0] == 503
    # One finished batch is progress: ready again (the lag is still there, being worked off).
    progress.finished()
    assert readiness.ready and readiness.live


def test_a_stall_while_redis_is_down_is_not_ready_but_live() -> None:
    """Restarting does not bring Redis back: a worker stalled by a Redis outage or a full Redis
    stays live (not ready, saying why), where it was restarted every ~5.5 minutes, rebalancing
    its group each time (a review's finding). Once Redis answers, a stall still past the bar is
    what a restart may cure."""
    readiness, clock = stuck_readiness()
    readiness.progress.lag = 1200
    readiness.redis = False
    clock.now += 400
    (health, ready) = serve(readiness, CollectorRegistry(), "/healthz", "/readyz")
    assert health[0] == 200 and json.loads(health[2])["status"] == "waiting for redis"
    assert ready[0] == 503 and json.loads(ready[2])["missing"] == ["redis", "progress"]
    readiness.redis, readiness.dedup = True, False  # answers PING, refuses the claims (full)
    assert readiness.live and not readiness.ready
    readiness.dedup = True
    assert not readiness.live
    readiness.redis, readiness.broker = True, False  # a broker that does not answer still counts
    assert not readiness.live


def test_batches_in_flight_count_as_pending_work_without_lag() -> None:
    readiness, clock = stuck_readiness()
    progress = readiness.progress
    progress.in_flight = lambda: 2  # e.g. held by a frozen Redis, lag not observed yet
    clock.now += 60
    assert progress.stuck and not readiness.ready


def test_a_refusing_redis_that_still_answers_ping_is_not_ready() -> None:
    readiness = Readiness(broker=True, redis=True, partitions=True, dedup=False)
    assert readiness.missing() == ["redis"] and not readiness.ready
    readiness.broker = False
    assert readiness.missing() == ["broker", "redis"]
