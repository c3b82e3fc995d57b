"""The Faust edge: consume raw bytes, run the pipeline per batch, route outcomes, commit safely.

Delivery guarantee (at-least-once, made harmless by dedup):
- An input batch is taken with `stream.take_events`; faust acks those events (making their
  offsets committable) only when the agent asks for the next batch.
- Before that, every outcome of the batch is sent *and its delivery awaited*. So when the
  process dies at any line of `BatchHandler.handle`, the batch's offsets are not committed and
  the whole batch is redelivered. The dedup store recognises a redelivered article (same id,
  same topic/partition/offset) and gives the same decision again, so a clean article stays clean.
- Redis down: `process_batch` raises before deciding anything; the handler backs off and retries
  the same batch. Meanwhile nothing is acked, the take buffer fills and faust stops fetching:
  consumption pauses, no article passes unchecked.
- Publishing fails: retried with back-off; offsets never move past an unpublished outcome.
- SIGTERM / rebalance cancel the agent: the batch in flight is finished (shielded from the
  cancellation, bounded by `shutdown_grace_seconds`) before faust acks and commits. If it cannot
  finish in time, the process exits without acking, and the batch is redelivered elsewhere.
- A bug (an exception that is neither poison input nor a transient outage) ends the process
  with a non-zero status without acking, so the orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
import msgspec
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from prometheus_client import CollectorRegistry

from worker import __version__
from worker.config import Settings
from worker.dedup import Thresholds
from worker.errors import PublishFailed, TransientError
from worker.fingerprint import DEFAULT_SCHEME, Scheme
from worker.http_server import MetricsServer, Readiness
from worker.metrics import Metrics, log_stats_periodically
from worker.offline import limits_of, make_store
from worker.pipeline import Clean, DeadLettered, Duplicate, Message, Outcome, process_batch
from worker.security import faust_security_options, redis_connection
from worker.store import connect

log = logging.getLogger("newsworker")

#: Back-off for retries of a batch while Redis or the broker is down: doubling from the first
#: value up to the cap. The cap keeps recovery quick (at most this long after the outage ends).
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0

_encode = msgspec.json.Encoder().encode

#: Exit status when the worker stops itself because of a bug (EX_SOFTWARE).
EXIT_BUG = 70


@dataclass(frozen=True, slots=True)
class Topics:
    clean: str
    duplicates: str
    dlq: str


class Publisher:
    """Sends outcomes to their topics and waits until the broker has them all."""

    def __init__(self, app: faust.App, topics: Topics, metrics: Metrics) -> None:
        self._app = app
        self._topics = topics
        self._metrics = metrics

    def _route(self, outcome: Outcome) -> tuple[str, str, bytes | None, bytes]:
        if isinstance(outcome, Clean):
            return (
                "clean",
                self._topics.clean,
                outcome.article.id.encode(),
                _encode(outcome.article),
            )
        if isinstance(outcome, Duplicate):
            return (
                "duplicates",
                self._topics.duplicates,
                outcome.event.id.encode(),
                _encode(outcome.event),
            )
        key = outcome.record.id.encode() if outcome.record.id else None
        return "dlq", self._topics.dlq, key, _encode(outcome.record)

    async def publish(self, outcomes: Sequence[Outcome]) -> None:
        producer = self._app.producer
        pending: list[tuple[str, Any]] = []
        for outcome in outcomes:
            role, topic, key, value = self._route(outcome)
            try:
                fut = await producer.send(topic, key, value, partition=None, timestamp=None, headers=None)
            except (ProducerSendError, KafkaError) as exc:
                # Raised before delivery, e.g. the topic is unknown or refused by the broker. It is
                # retried like a failed delivery: crashing would only restart into the same error.
                self._metrics.kafka_send_error(role)
                raise PublishFailed(f"output to {topic!r} not sent: {exc}") from exc
            pending.append((role, fut))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        failed = [
            (role, r) for (role, _), r in zip(pending, results, strict=True) if isinstance(r, BaseException)
        ]
        for role, _ in failed:
            self._metrics.kafka_send_error(role)
        if failed:
            raise TransientError(f"{len(failed)} of {len(outcomes)} outputs not delivered: {failed[0][1]!r}")


class BatchHandler:
    """One batch of input events -> outcomes published. Retries transient failures forever."""

    def __init__(
        self,
        *,
        store: Any,
        publisher: Publisher,
        settings: Settings,
        metrics: Metrics,
        readiness: Readiness,
        scheme: Scheme = DEFAULT_SCHEME,
        thresholds: Thresholds | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._limits = limits_of(settings)
        self._metrics = metrics
        self._readiness = readiness
        self._scheme = scheme
        self._thresholds = thresholds or Thresholds()

    async def _retrying(self, what: str, make: Any) -> Any:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                result = await make()
            except TransientError as exc:
                if what == "dedup":
                    self._readiness.redis = False
                    self._metrics.redis_retry()
                else:
                    self._readiness.broker = False
                log.warning("%s failed, retrying in %.1fs: %s", what, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if what == "dedup":
                self._readiness.redis = True
            else:
                self._readiness.broker = True
            return result

    async def handle(self, messages: Sequence[Message]) -> list[Outcome]:
        m = self._metrics
        m.batch(len(messages))
        m.consumed(len(messages), sum(len(msg.value) for msg in messages))
        m.in_flight(len(messages))
        try:
            outcomes: list[Outcome] = await self._retrying(
                "dedup",
                lambda: process_batch(
                    messages,
                    self._store,
                    limits=self._limits,
                    thresholds=self._thresholds,
                    scheme=self._scheme,
                    observer=m,
                ),
            )
            started = time.perf_counter()
            await self._retrying("publish", lambda: self._publisher.publish(outcomes))
            m.observe_stage("publish", time.perf_counter() - started)
        finally:
            m.in_flight(-len(messages))
        now = time.time()
        for outcome in outcomes:
            if isinstance(outcome, Clean):
                m.outcome("clean", source=outcome.article.source)
            elif isinstance(outcome, Duplicate):
                m.outcome("duplicate", kind=outcome.event.kind, source=outcome.event.source)
            elif isinstance(outcome, DeadLettered):
                m.outcome("dead_letter", reason=outcome.reason)
            if outcome.message.timestamp:
                m.observe_end_to_end(max(0.0, now - outcome.message.timestamp))
        return outcomes


def message_of(event: Any) -> Message:
    msg = event.message
    value = event.value if event.value is not None else b""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return Message(
        value=bytes(value),
        origin=f"{msg.topic}:{msg.partition}:{msg.offset}",
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        timestamp=msg.timestamp,
    )


def faust_options(settings: Settings) -> dict[str, Any]:
    """Faust's configuration, built only from our settings (faust's own env vars are ignored)."""
    return {
        "env": {},  # faust would otherwise read WEB_PORT, BROKER_URL, ... from the environment
        "broker": [f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",") if h.strip()],
        "store": "memory://",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "web_enabled": False,  # we serve /metrics, /healthz, /readyz ourselves
        "topic_disable_leader": True,
        "topic_allow_declare": False,  # topics are created by the operator (or `demo`)
        "broker_session_timeout": settings.broker_session_timeout_seconds,
        "broker_heartbeat_interval": min(3.0, settings.broker_session_timeout_seconds / 3),
        "consumer_auto_offset_reset": settings.consumer_auto_offset_reset,
        "producer_acks": -1,
        "producer_request_timeout": settings.publish_timeout_seconds,
        # A clean article holds its body twice (text + paragraphs), a dead letter its preview as
        # base64 at worst; the margin covers the other fields, so every outcome fits one request.
        "producer_max_request_size": max(
            settings.max_message_bytes * 2, settings.dead_letter_preview_bytes * 2, 1_048_576
        )
        + 65_536,
        "consumer_max_fetch_size": max(settings.max_message_bytes * 2, 1_048_576),
        "stream_buffer_maxsize": max(settings.batch_size * 2, 100),
        "datadir": settings.data_dir,
        "broker_commit_interval": 1.0,
        **faust_security_options(settings),  # SASL/SCRAM and TLS (worker/security.py)
    }


def build_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> faust.App:
    """The Faust app with its one agent, metrics server and background timers."""
    registry = registry or CollectorRegistry()
    metrics = Metrics(registry, tracked_sources=frozenset(settings.tracked_sources))
    metrics.set_build_info(version=__version__, fingerprint_scheme=DEFAULT_SCHEME.version)
    readiness = Readiness()
    app = faust.App(settings.app_id, **faust_options(settings))
    input_topic = app.topic(
        settings.input_topic, value_serializer="raw", key_serializer="raw", allow_empty=True
    )
    redis_url, redis_auth = redis_connection(settings)  # AUTH/ACL user and TLS (worker/security.py)
    redis_client = connect(
        redis_url,
        cluster=settings.redis_cluster,
        socket_timeout=5,
        socket_connect_timeout=3,
        **redis_auth,
    )
    # latency + errors of every store round trip
    store = make_store(redis_client, settings, DEFAULT_SCHEME, observe=metrics.redis_call)
    publisher = Publisher(
        app, Topics(settings.clean_topic, settings.duplicates_topic, settings.dlq_topic), metrics
    )
    handler = BatchHandler(
        store=store, publisher=publisher, settings=settings, metrics=metrics, readiness=readiness
    )
    grace = settings.shutdown_grace_seconds

    async def handle_guarded(events: Sequence[Any]) -> None:
        task = asyncio.ensure_future(handler.handle([message_of(e) for e in events]))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Stopping or rebalancing: finish this batch before faust acks it (see module doc).
            try:
                await asyncio.wait_for(task, timeout=grace)
            except BaseException:
                log.error("in-flight batch not finished within %ss; exiting without commit", grace)
                os._exit(EXIT_BUG)
            raise
        except Exception:
            log.critical("bug while processing a batch; exiting without commit", exc_info=True)
            logging.shutdown()
            os._exit(EXIT_BUG)

    @app.agent(input_topic, name="newsworker.process")
    async def process(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_seconds):
            await handle_guarded(events)

    @app.task
    async def serve_metrics() -> None:
        server = MetricsServer(registry, readiness, settings.metrics_host, settings.metrics_port)
        await server.start()
        log.info("metrics on http://%s:%s/metrics", settings.metrics_host, server.port)
        try:
            await redis_client.ping()
            readiness.redis = True
        except Exception as exc:
            log.warning("Redis not reachable yet: %s", exc)
        app._newsworker_server = server  # type: ignore[attr-defined]

    @app.task
    async def stats_log() -> None:
        await log_stats_periodically(metrics, settings.stats_interval_seconds, log)

    @app.timer(interval=5.0)
    async def observe_lag() -> None:
        consumer = app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic == settings.input_topic]
        readiness.partitions = bool(assigned)
        metrics.set_partitions_assigned(len(assigned))
        metrics.retain_lag_partitions(tp.partition for tp in assigned)
        for tp in assigned:
            highwater = consumer.highwater(tp)
            # faust keeps the last committed offset per partition (None before the first commit)
            committed = consumer._committed_offset.get(tp) or 0  # type: ignore[attr-defined]
            if highwater is not None:
                metrics.set_consumer_lag(tp.partition, max(0, highwater - committed))
        try:
            await redis_client.ping()
            readiness.redis = True
        except Exception:
            readiness.redis = False

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app_: Any, assigned: Any, **kwargs: Any) -> None:
        metrics.rebalance()
        readiness.broker = True
        readiness.partitions = any(tp.topic == settings.input_topic for tp in assigned)

    app._newsworker = (metrics, readiness, handler)  # type: ignore[attr-defined]
    return app


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Run the worker until SIGTERM/SIGINT (blocking). Faust's Worker owns the event loop."""
    app = build_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
