"""The worker's HTTP endpoints on one port: `/metrics`, `/healthz` and `/readyz`.

- `/metrics` renders the injected `CollectorRegistry` in the Prometheus text format (or
  OpenMetrics when the scraper asks for it in `Accept`).
- `/healthz` answers 200 as long as the event loop runs, the worker has not declared itself
  dead (`Readiness.alive = False`, e.g. after a fatal error while shutting down) and the pipeline
  is not stuck past `Progress.dead_after` (work pending, no batch finished). An orchestrator
  restarts the process when it fails; a short outage of Kafka or Redis does not fail it (a
  restart fixes neither), a long one does: a worker that has made no progress for that long is
  more likely wedged than waiting, and a restart costs only a redelivery.
- `/readyz` answers 200 only when `Readiness` says the broker is connected, Redis answers,
  partitions are assigned and the pipeline is not stuck (`Progress.stuck_after`); otherwise 503
  with a JSON body naming what is missing (and, when stuck, `detail`: for how long, with what
  lag). A worker with no partitions is not ready, so a rolling deploy waits until the group has
  rebalanced. "Ready while stuck" cannot happen: the same `Progress` feeds both endpoints and
  the `newsworker_pipeline_stalled` gauge.

The server runs on the worker's own event loop (aiohttp); it shares no state with the agents but
the `Readiness` flags and the metrics registry, both safe to read at any time.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

_JSON: Final = "application/json"


class Progress:
    """Whether the pipeline finishes batches while it has work: the stuck-pipeline detector.

    Work is pending when batches are in flight (`in_flight()`, set by `BatchHandler`) or the
    input has lag (`lag`, set every few seconds from the consumer's offsets). `stalled_seconds`
    is how long work has been pending without a batch finishing; it restarts from 0 at every
    finished batch and whenever no work is pending, so an idle worker that then gets input is
    not "stuck" for the time it was idle.
    """

    def __init__(
        self,
        *,
        stuck_after: float = 60.0,
        dead_after: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stuck_after = stuck_after
        self.dead_after = dead_after
        self._clock = clock
        self._since = clock()
        self.lag = 0
        """Input messages not yet committed, summed over the assigned partitions."""
        self.in_flight: Callable[[], int] = lambda: 0
        """Batches taken and not yet released."""

    def finished(self) -> None:
        """A batch was released: progress."""
        self._since = self._clock()

    def stalled_seconds(self) -> float:
        now = self._clock()
        if self.lag <= 0 and self.in_flight() <= 0:
            self._since = now
            return 0.0
        return max(0.0, now - self._since)

    @property
    def stuck(self) -> bool:
        return self.stalled_seconds() >= self.stuck_after

    @property
    def dead(self) -> bool:
        return self.stalled_seconds() >= self.dead_after

    def describe(self) -> str:
        return (
            f"stuck: no batch finished for {self.stalled_seconds():.0f}s with lag {self.lag} "
            f"and {self.in_flight()} batches in flight"
        )


@dataclasses.dataclass
class Readiness:
    """What `/readyz` reports. The worker flips the flags as connections come and go."""

    broker: bool = False
    """The Kafka consumer and producer are connected."""
    redis: bool = False
    """The last Redis call (or ping) succeeded."""
    dedup: bool = True
    """The last dedup round trip succeeded (False while one is being retried). Kept apart from
    `redis` because a full or read-only Redis still answers PING: the periodic ping must not
    make a worker whose every claim is refused look ready."""
    partitions: bool = False
    """At least one input partition is assigned to this worker."""
    alive: bool = True
    """False once the worker has given up; `/healthz` then fails so the process gets restarted."""
    progress: Progress = dataclasses.field(default_factory=Progress)
    """The stuck-pipeline detector shared with `BatchHandler`."""

    def missing(self) -> list[str]:
        """Names of the conditions not met, in a fixed order."""
        missing = [name for name in ("broker", "redis", "partitions") if not getattr(self, name)]
        if not self.dedup and "redis" not in missing:
            missing.insert(1 if self.broker else 2, "redis")
        if self.progress.stuck:
            missing.append("progress")
        return missing

    @property
    def stuck_for_good(self) -> bool:
        """Stuck past `Progress.dead_after` while Redis answers: what a restart may cure. A stall
        while Redis is down or refusing (an outage, a full Redis) is not: restarted every ~5.5
        minutes through a long outage, the worker rebalanced its group each time, fell into
        CrashLoopBackOff and came back up to 5 minutes after Redis did (a review's finding). It
        stays not ready and says why. (A demoted primary's READONLY, which a restart would cure
        by connecting again, the store cures itself: it closes its connections after one.) A
        broker that does not answer still counts: a restart renews the Kafka client, which may
        be what is stuck."""
        return self.progress.dead and self.redis and self.dedup

    @property
    def live(self) -> bool:
        return self.alive and not self.stuck_for_good

    @property
    def ready(self) -> bool:
        return not self.missing()


class MetricsServer:
    """Serves the three endpoints on `host:port`; port 0 picks a free port (see `.port`)."""

    def __init__(self, registry: CollectorRegistry, readiness: Readiness, host: str, port: int) -> None:
        self._registry = registry
        self._readiness = readiness
        self._host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port actually bound (differs from the requested one when that was 0)."""
        if self._bound_port is None:
            raise RuntimeError("MetricsServer.port is known only after start()")
        return self._bound_port

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def start(self) -> None:
        # access_log=None: Prometheus scrapes every few seconds, and a log line per scrape
        # would bury the worker's own log.
        runner = web.AppRunner(self._app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        for address in runner.addresses:
            # IPv4 (host, port) or IPv6 (host, port, flow, scope): the port is second either way.
            if isinstance(address, tuple) and len(address) >= 2:
                self._bound_port = int(address[1])
                break

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self._registry), headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        r = self._readiness
        if not r.alive:
            return _json_response({"status": "dead"}, 503)
        if r.stuck_for_good:
            return _json_response({"status": "stuck", "detail": r.progress.describe()}, 503)
        if r.progress.dead:
            return _json_response({"status": "waiting for redis", "detail": r.progress.describe()}, 200)
        return _json_response({"status": "ok"}, 200)

    async def _readyz(self, request: web.Request) -> web.Response:
        r = self._readiness
        missing = r.missing()
        if not r.alive:
            missing.append("alive")
        if missing:
            body: dict[str, object] = {"status": "not ready", "missing": missing}
            if "progress" in missing:
                body["detail"] = r.progress.describe()
            return _json_response(body, 503)
        return _json_response({"status": "ready", "missing": []}, 200)


def _json_response(body: dict[str, object], status: int) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=_JSON)
