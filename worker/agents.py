"""The Faust edge: consume raw bytes, run the pipeline per batch, route outcomes, commit safely.

Delivery guarantee (at-least-once, made harmless by dedup):
- An input batch is taken with `stream.take_events`. The agent holds every taken event (an extra
  reference on its message) and `BatchHandler` drops it only after every outcome of the batch
  is sent *and its delivery awaited*; faust commits an offset only when its message has no
  reference left. So when the process dies at any point, the offsets of every batch not fully
  delivered stay uncommitted and those batches are redelivered. The dedup store recognises a
  redelivered article (same id, same topic/partition/offset) and gives the same decision again,
  so a clean article stays clean.
- Batches overlap (prepare N+1 while N waits for Redis and N-1 for the broker), always in input
  order, at most `depth` at a time; faust commits only the contiguous acked prefix of a partition.
- Redis down: `decide_batch` raises before deciding anything; the handler backs off and retries
  the same batch. Batches behind it wait, the agent stops taking, faust stops fetching:
  consumption pauses, no article passes unchecked.
- Publishing fails: retried with back-off; offsets never move past an unpublished outcome.
- SIGTERM / rebalance cancel the agent: the batches in flight are finished (bounded by
  `shutdown_grace_seconds`) before faust commits. If they cannot finish in time, the process
  exits without committing them, and they are redelivered elsewhere.
- A bug (an exception that is neither poison input nor a transient outage) ends the process
  with a non-zero status without acking, so the orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
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
from worker.pipeline import (
    Clean,
    DeadLettered,
    Duplicate,
    Message,
    Outcome,
    Prepared,
    decide_batch,
    outcomes_of,
)
from worker.preparer import Preparer
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


def exit_on_bug() -> None:
    """Leave at once, without acking or committing: the orchestrator restarts the process."""
    logging.shutdown()
    os._exit(EXIT_BUG)


@dataclass(slots=True)
class _Batch:
    """One input batch on its way through the stages."""

    messages: Sequence[Message]
    release: Callable[[], None]  # acks the input events: called once every outcome is delivered
    now: float
    preparing: asyncio.Future[list[Prepared | DeadLettered]]
    outcomes: list[Outcome] | None = None


class BatchHandler:
    """Input batches -> outcomes published, in three stages that overlap across batches.

        submit:       hands the batch to the preparer (decode, normalize, fingerprint: CPU, in
                      a prepare process by default) and returns, so the caller takes the next
        decide task:  awaits the preparation, dedups against the store (Redis round trips)
        publish task: sends every outcome, awaits every delivery, then releases (acks) the batch

    Batch N+1 is prepared while batch N waits for Redis and batch N-1 for the broker's
    acknowledgements, so the CPU work is no longer idle while the process waits. Every stage
    takes batches in input order; at most `depth` batches are between `submit` and release
    (`submit` waits for room). A batch's inputs are released only after all its outcomes are
    delivered, so offsets never pass an unpublished outcome. A transient failure (Redis or the
    broker down) is retried with back-off and holds the batches behind it. Any other exception
    in a stage is a bug: the process exits without releasing anything (`EXIT_BUG`).
    """

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
        depth: int = 4,
        preparer: Preparer | None = None,
        on_bug: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._limits = limits_of(settings)
        self._metrics = metrics
        self._readiness = readiness
        self._thresholds = thresholds or Thresholds()
        self._preparer = preparer or Preparer(processes=0, limits=self._limits, scheme=scheme)
        self._on_bug = on_bug or exit_on_bug
        self._room = asyncio.Semaphore(depth)
        self._to_decide: asyncio.Queue[_Batch] = asyncio.Queue()
        self._to_publish: asyncio.Queue[_Batch] = asyncio.Queue()
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the decide and publish stages (inside the running event loop)."""
        if not self._tasks:
            self._tasks = [
                asyncio.ensure_future(self._stage("decide", self._to_decide, self._decide)),
                asyncio.ensure_future(self._stage("publish", self._to_publish, self._publish)),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._preparer.close()

    @property
    def in_flight(self) -> int:
        """Batches submitted and not yet released."""
        return self._in_flight

    async def drained(self) -> None:
        """Return once every submitted batch is published and released."""
        await self._drained.wait()

    async def submit(self, messages: Sequence[Message], release: Callable[[], None]) -> _Batch:
        """Prepare a batch and hand it to the later stages; waits while `depth` are in flight."""
        self.start()
        await self._room.acquire()
        m = self._metrics
        m.batch(len(messages))
        m.consumed(len(messages), sum(len(msg.value) for msg in messages))
        m.in_flight(len(messages))
        self._in_flight += 1
        self._drained.clear()
        now = time.time()
        # Not awaited here: while a prepare process works on this batch, the caller goes on to
        # take the next one. The decide stage awaits the batches' preparation in order.
        preparing = asyncio.ensure_future(self._preparer.prepare(messages, now=now, observer=m))
        batch = _Batch(messages, release, now, preparing)
        self._to_decide.put_nowait(batch)
        return batch

    async def handle(self, messages: Sequence[Message]) -> list[Outcome]:
        """One batch through every stage; returns its outcomes once all are delivered."""
        delivered = asyncio.Event()
        batch = await self.submit(messages, delivered.set)
        await delivered.wait()
        return batch.outcomes or []

    async def _stage(self, name: str, queue: asyncio.Queue[_Batch], step: Callable[[_Batch], Any]) -> None:
        while True:
            batch = await queue.get()
            try:
                await step(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.critical("bug in the %s stage; exiting without commit", name, exc_info=True)
                self._on_bug()
                return

    async def _decide(self, batch: _Batch) -> None:
        staged = await batch.preparing
        decisions = await self._retrying(
            "dedup",
            lambda: decide_batch(staged, self._store, thresholds=self._thresholds, observer=self._metrics),
        )
        batch.outcomes = outcomes_of(staged, decisions, now=batch.now)
        self._to_publish.put_nowait(batch)

    async def _publish(self, batch: _Batch) -> None:
        m = self._metrics
        outcomes = batch.outcomes or []
        started = time.perf_counter()
        await self._retrying("publish", lambda: self._publisher.publish(outcomes))
        m.observe_stage("publish", time.perf_counter() - started)
        now = time.time()
        for outcome in outcomes:
            if isinstance(outcome, Clean):
                m.outcome("clean", source=outcome.article.source)
            elif isinstance(outcome, Duplicate):
                m.outcome("duplicate", kind=outcome.event.kind, source=outcome.event.source)
            elif isinstance(outcome, DeadLettered):
                m.outcome("dead_letter", reason=outcome.reason)
                dead = outcome.record
                log.warning(
                    "dead letter: %s", dead.error,
                    extra={"topic": dead.topic, "partition": dead.partition, "offset": dead.offset,
                           "article_id": dead.id, "reason": outcome.reason},
                )
            if outcome.message.timestamp:
                m.observe_end_to_end(max(0.0, now - outcome.message.timestamp))
        m.in_flight(-len(batch.messages))
        batch.release()
        self._in_flight -= 1
        self._room.release()
        if not self._in_flight:
            self._drained.set()

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
                log.warning(
                    "%s failed, retrying in %.1fs: %s", what, delay, exc,
                    extra={"stage": what, "reason": type(exc).__name__},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if what == "dedup":
                self._readiness.redis = True
            else:
                self._readiness.broker = True
            return result


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
        # A clean article holds its cleaned body once (no longer than the input's, within 2x even
        # after JSON escaping), a dead letter its preview as base64 at worst; the margin covers the
        # other fields, so every outcome fits one request.
        "producer_max_request_size": max(
            settings.max_message_bytes * 2, settings.dead_letter_preview_bytes * 2, 1_048_576
        )
        + 65_536,
        # aiokafka's default (16 KiB) holds ~5 articles: a batch of 200 outcomes became ~45
        # produce requests, each waiting for the one before on the same partition. 256 KiB stays
        # well under Kafka's default max.message.bytes (1 MiB), which applies to a whole batch.
        "producer_max_batch_size": 256 * 1024,
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
    preparer = Preparer(processes=settings.prepare_processes, limits=limits_of(settings))
    metrics.track_prepare_processes(preparer.pids)
    handler = BatchHandler(
        store=store,
        publisher=publisher,
        settings=settings,
        metrics=metrics,
        readiness=readiness,
        preparer=preparer,
    )
    grace = settings.shutdown_grace_seconds

    @app.agent(input_topic, name="newsworker.process")
    async def process(stream: Any) -> None:
        handler.start()
        preparer.start()
        submitting: asyncio.Future[Any] | None = None
        try:
            async for events in stream.take_events(
                settings.batch_size, within=settings.batch_timeout_seconds
            ):
                # Hold every event: faust acks a taken batch when the next one is asked for, but
                # its outcomes are delivered later (the stages overlap). The extra reference keeps
                # the offsets uncommitted until `release` (after delivery) drops it.
                for event in events:
                    event.message.incref()

                def release(held: Sequence[Any] = events) -> None:
                    for event in held:
                        event.ack()

                submitting = asyncio.ensure_future(handler.submit([message_of(e) for e in events], release))
                await asyncio.shield(submitting)
                submitting = None
        except asyncio.CancelledError:
            # Stopping or rebalancing: finish what was taken before faust commits (module doc).
            async def finish() -> None:
                if submitting is not None:
                    await submitting
                await handler.drained()

            try:
                await asyncio.wait_for(finish(), timeout=grace)
            except BaseException:
                log.error("in-flight batches not finished within %ss; exiting without commit", grace)
                logging.shutdown()
                os._exit(EXIT_BUG)
            raise
        except Exception:
            log.critical("bug while processing a batch; exiting without commit", exc_info=True)
            logging.shutdown()
            os._exit(EXIT_BUG)

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

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def on_shutdown(app_: Any, **kwargs: Any) -> None:
        preparer.close()  # after the consumer stopped: no batch is being prepared any more

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
    # override_logging=False: keep the handler `worker.logs.configure` set (faust would install its
    # own colour handler and multi-line output); quiet and no spinner: nothing printed beside it.
    worker = faust.Worker(
        app, loglevel=loglevel, quiet=True, redirect_stdouts=False, override_logging=False
    )
    worker.spinner = None
    worker.execute_from_commandline()
