"""The worker's HTTP endpoints on one port: `/metrics`, `/healthz` and `/readyz`.

- `/metrics` renders the injected `CollectorRegistry` in the Prometheus text format (or
  OpenMetrics when the scraper asks for it in `Accept`).
- `/healthz` answers 200 as long as the event loop runs and the worker has not declared itself
  dead (`Readiness.alive = False`, e.g. after a fatal error while shutting down). An orchestrator
  restarts the process when it fails; it says nothing about Kafka or Redis on purpose, since
  restarting the worker does not fix an outage of either.
- `/readyz` answers 200 only when `Readiness` says the broker is connected, Redis answers and
  partitions are assigned; otherwise 503 with a JSON body naming what is missing. A worker with
  no partitions is not ready, so a rolling deploy waits until the group has rebalanced.

The server runs on the worker's own event loop (aiohttp); it shares no state with the agents but
the `Readiness` flags and the metrics registry, both safe to read at any time.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

_JSON: Final = "application/json"


@dataclasses.dataclass
class Readiness:
    """What `/readyz` reports. The worker flips the flags as connections come and go."""

    broker: bool = False
    """The Kafka consumer and producer are connected."""
    redis: bool = False
    """The last Redis call (or ping) succeeded."""
    partitions: bool = False
    """At least one input partition is assigned to this worker."""
    alive: bool = True
    """False once the worker has given up; `/healthz` then fails so the process gets restarted."""

    def missing(self) -> list[str]:
        """Names of the conditions not met, in a fixed order."""
        return [name for name in ("broker", "redis", "partitions") if not getattr(self, name)]

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
        alive = self._readiness.alive
        return _json_response({"status": "ok" if alive else "dead"}, 200 if alive else 503)

    async def _readyz(self, request: web.Request) -> web.Response:
        missing = self._readiness.missing()
        if not self._readiness.alive:
            missing.append("alive")
        if missing:
            return _json_response({"status": "not ready", "missing": missing}, 503)
        return _json_response({"status": "ready", "missing": []}, 200)


def _json_response(body: dict[str, object], status: int) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=_JSON)
