"""The Faust app: one agent that takes input batches and hands them to `BatchHandler`
(worker/service/batches.py, where the delivery and commit guarantees are written down), the
metrics server, the lag timer and the stats log; `run_worker` runs it until SIGTERM/SIGINT.

Stopping: SIGTERM or SIGINT (also a terminal's Ctrl-C, which reaches the prepare processes too;
they ignore it) starts faust's shutdown *and* a `ShutdownDeadline` (worker/service/lifecycle.py):
whatever faust waits for, the process is gone `shutdown_grace_seconds` + 3 s later.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from prometheus_client import CollectorRegistry

from worker import __version__
from worker.config import Settings
from worker.dedup.fingerprint import COMPILED, DEFAULT_SCHEME
from worker.dedup.store import connect, make_store
from worker.normalize import text as normalize_text_module
from worker.pipeline import Message, limits_of
from worker.service.batches import BatchHandler
from worker.service.batching import BUSY_BATCHES, Backlog, BatchWindow
from worker.service.budget import ByteBoundedQueue, ByteBudget, message_bytes
from worker.service.consumer import DrainingConsumer, LeanMonitor
from worker.service.health import MetricsServer, Progress, Readiness
from worker.service.lag import LagOrigins
from worker.service.lifecycle import (
    EXIT_BUG,
    EXIT_CONFIGURATION,
    EXIT_GRACE_EXCEEDED,
    ShutdownDeadline,
    hard_exit,
    on_hard_exit,
    settle_after_start,
)
from worker.service.metrics import Metrics, log_stats_periodically
from worker.service.partitioner import kafka_partitioner
from worker.service.preparer import Preparer
from worker.service.publisher import Publisher, Topics
from worker.service.redis_watch import RedisWatch
from worker.service.security import faust_security_options, redis_connection

log = logging.getLogger("newsworker")


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
        # aiokafka's default (16 KiB) holds ~5 articles: a batch of 200 outcomes (then the default) became ~45
        # produce requests, each waiting for the one before on the same partition. 256 KiB stays
        # well under Kafka's default max.message.bytes (1 MiB), which applies to a whole batch.
        "producer_max_batch_size": 256 * 1024,
        # Kafka's default partitioner with murmur2 compiled (aiokafka's is pure Python, ~4 µs a key)
        "producer_partitioner": kafka_partitioner,
        "consumer_max_fetch_size": max(settings.max_message_bytes * 2, 1_048_576),
        "stream_buffer_maxsize": max(settings.batch_size * 2, 100),
        # Partitions added to the input topic (`kafka-topics.sh --alter --partitions`) are seen at
        # the next metadata refresh: aiokafka's default of 5 minutes left them unread, and out of
        # the lag, for that long (on `latest`, what they received meanwhile was skipped: an
        # operator-fault review). One metadata request a minute costs nothing.
        "consumer_metadata_max_age_ms": 60_000,
        "datadir": settings.data_dir,
        "broker_commit_interval": 1.0,
        # faust's compiled stream iterator takes an event already in the buffer without awaiting
        # the channel (as its pure-Python twin always did); off by default in faust 0.15
        "cython_optimizations": True,
        **faust_security_options(settings),  # SASL/SCRAM and TLS (worker/service/security.py)
    }


class _App(faust.App):
    """faust's app whose stream buffers are also bounded in bytes (worker/service/budget.py) and
    whose Kafka consumer hands messages to the streams without four tasks each
    (worker/service/consumer.py)."""

    _newsworker_buffer_bytes: int | None = None

    @functools.cached_property
    def _event_class(self) -> Any:
        return self.conf.Event

    def create_event(self, key: Any, value: Any, headers: Any, message: Any) -> Any:
        # faust looks its Event class up in its settings for every message (~2-3 µs); once here
        return self._event_class(self, key, value, headers, message)

    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        if isinstance(transport, faust_aiokafka.Transport):
            transport.Consumer = DrainingConsumer  # type: ignore[misc]  # faust reads it per instance
        return transport

    def FlowControlQueue(  # faust's name
        self, maxsize: int | None = None, *, clear_on_resume: bool = False
    ) -> ByteBoundedQueue:
        return ByteBoundedQueue(
            maxsize=maxsize,
            flow_control=self.flow_control,
            clear_on_resume=clear_on_resume,
            byte_limit=self._newsworker_buffer_bytes or 2**62,
        )


def new_faust_app(settings: Settings, options: dict[str, Any] | None = None) -> faust.App:
    """`faust.App` with `faust_options(settings)` (or `options`) and what faust has no option for:
    the consumer's fetch wait, `NEWSWORKER_CONSUMER_FETCH_MAX_WAIT_MS` (see `_install_fetch_wait_patch`),
    and stream buffers bounded in bytes, `NEWSWORKER_MAX_BUFFERED_BYTES`."""
    app = _App(
        settings.app_id,
        monitor=LeanMonitor(),  # no per-message bookkeeping for web views we do not serve
        **(options if options is not None else faust_options(settings)),
    )
    app._newsworker_buffer_bytes = settings.max_buffered_bytes
    _install_fetch_wait_patch()
    app._newsworker_fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms  # type: ignore[attr-defined]
    return app


def _install_fetch_wait_patch() -> None:
    """faust builds its consumer with `fetch_max_wait_ms=1500`, hard-coded; no setting reaches it.
    Wrap the builder once: an app carrying `_newsworker_fetch_max_wait_ms` gets that value on the
    consumer before it starts (aiokafka hands it to its fetcher in `start()`). Apps without it
    keep faust's value. tests/unit/service/test_app.py checks that the value reaches the fetcher,
    so an upgrade of faust or aiokafka that moves it fails there, not silently."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    if getattr(thread._create_worker_consumer, "_newsworker_patched", False):
        return
    original = thread._create_worker_consumer

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, "_newsworker_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)
        return consumer

    create._newsworker_patched = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = create  # type: ignore[method-assign]


def build_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> faust.App:
    """The Faust app with its one agent, metrics server and background timers."""
    registry = registry or CollectorRegistry()
    # worker_id: the host's name (the pod's on Kubernetes), to tell which worker runs which build
    metrics = Metrics(
        registry, tracked_sources=frozenset(settings.tracked_sources), worker_id=socket.gethostname()
    )
    metrics.set_build_info(
        version=__version__,
        fingerprint_scheme=DEFAULT_SCHEME.version,
        fingerprint_hashing="compiled" if COMPILED else "python",
        text_passes="compiled" if normalize_text_module.COMPILED else "python",
    )
    if not COMPILED:
        log.warning(
            "fingerprint shingles hashed in Python: the compiled hashing was not built where newsworker "
            "was installed (needs gcc, python3-dev and libxxhash-dev, then a reinstall); same fingerprints, "
            "about twice the fingerprint stage's CPU per article"
        )
    if not normalize_text_module.COMPILED:
        log.warning(
            "normalize: the spacing and match-key passes run in Python: the compiled ones were not built "
            "where newsworker was installed (needs gcc and python3-dev, then a reinstall); same text, "
            "about a fifth more of the normalize stage's CPU per article"
        )
    readiness = Readiness(
        progress=Progress(stuck_after=settings.stuck_seconds, dead_after=settings.stuck_liveness_seconds)
    )
    metrics.track_progress(readiness.progress.stalled_seconds, settings.stuck_seconds)
    app = new_faust_app(settings)
    input_topic = app.topic(
        settings.input_topic, value_serializer="raw", key_serializer="raw", allow_empty=True
    )
    redis_url, redis_auth = redis_connection(settings)  # AUTH/ACL user and TLS (worker/service/security.py)
    redis_client = connect(
        redis_url,
        cluster=settings.redis_cluster,
        socket_timeout=5,
        socket_connect_timeout=3,
        **redis_auth,
    )
    # latency + errors of every store round trip
    store = make_store(redis_client, settings, DEFAULT_SCHEME, observe=metrics.redis_call)
    # lost data, memory pressure, index-bloating config: worker/service/redis_watch.py
    watch = RedisWatch.for_store(
        redis_client,
        metrics,
        prefix=settings.redis_key_prefix,
        scheme_version=DEFAULT_SCHEME.version,
        on_lost=store.replant_index,
        writer=f"group {settings.app_id}, input {settings.input_topic}",
    )
    watching = False
    publisher = Publisher(
        app,
        Topics(settings.clean_topic, settings.duplicates_topic, settings.dlq_topic),
        metrics,
        limits_of(settings),
    )
    preparer = Preparer(
        processes=settings.prepare_processes,
        limits=limits_of(settings),
        timeout_seconds=settings.prepare_timeout_seconds,
        on_restart=metrics.prepare_restart,
        inline_while_starting=False,  # an input that crashes a process must never reach this one
        on_isolated=readiness.progress.finished,
    )
    metrics.track_prepare_processes(preparer.pids)
    on_hard_exit(preparer.kill)  # no exit path leaves the prepare processes running
    handler = BatchHandler(
        store=store,
        publisher=publisher,
        settings=settings,
        metrics=metrics,
        readiness=readiness,
        preparer=preparer,
    )
    grace = settings.shutdown_grace_seconds
    settled = False

    @app.agent(input_topic, name="newsworker.process")
    async def process(stream: Any) -> None:
        nonlocal settled
        handler.start()
        preparer.start()
        if not settled:  # once: the agent starts again after a rebalance
            settle_after_start()
            settled = True
        loop = asyncio.get_running_loop()
        # What is taken and not yet delivered, in bytes (worker/service/budget.py): the stream
        # admits an event only while there is room; `release` gives the bytes back on delivery.
        budget = ByteBudget(settings.max_buffered_bytes)

        def admit(value: Any) -> Any:
            # plain when there is room (every ordinary message): faust awaits only what is awaitable
            size = message_bytes(stream.current_event)
            return value if budget.try_acquire(size) else _admitted(value, size)

        async def _admitted(value: Any, size: int) -> Any:
            await budget.acquire(size)
            return value

        stream.add_processor(admit)
        # Short takes; the window makes them full batches while the pipeline is busy or the
        # partitions hold the rest of a batch already (worker/service/batching.py), or hands them
        # on at once when the byte budget is spent.
        backlog: Backlog[Any] = Backlog(app.consumer.highwater)
        window: BatchWindow[Any] = BatchWindow(
            size=settings.batch_size,
            timeout_seconds=settings.batch_timeout_seconds,
            busy=lambda: handler.in_flight >= BUSY_BATCHES,
            full=lambda: budget.exhausted,
            backlog=backlog,
            clock=loop.time,
        )
        takes = stream.take_events(
            settings.batch_size, within=min(settings.batch_idle_seconds, settings.batch_timeout_seconds)
        ).__aiter__()
        # The next take runs while earlier events wait in the window or for room in the handler:
        # faust's take buffer does not fill while its generator is suspended at a yield.
        taking: asyncio.Future[Any] | None = None
        submitting: asyncio.Future[Any] | None = None

        async def submit_due(*, everything: bool = False) -> None:
            nonlocal submitting
            while window.due() or (everything and len(window)):
                events = window.take()

                def release(held: Sequence[Any] = events) -> None:
                    for event in held:
                        event.ack()
                    budget.release(sum(message_bytes(event) for event in held))

                submitting = asyncio.ensure_future(handler.submit([message_of(e) for e in events], release))
                await asyncio.shield(submitting)
                submitting = None

        try:
            while True:
                if taking is None:
                    taking = asyncio.ensure_future(takes.__anext__())
                await asyncio.wait({taking}, timeout=window.wait_seconds())
                if taking.done():
                    done, taking = taking, None
                    try:
                        events = done.result()
                    except StopAsyncIteration:
                        break
                    # Hold every event: faust acks a taken batch when the next one is asked for,
                    # but its outcomes are delivered later (the stages overlap). The extra
                    # reference keeps the offsets uncommitted until `release` (after delivery).
                    for event in events:
                        event.message.incref()
                        backlog.taken(event.message.tp, event.message.offset)
                    window.add(events)
                    taking = asyncio.ensure_future(takes.__anext__())
                await submit_due()
            await submit_due(everything=True)
            await handler.drained()
        except asyncio.CancelledError:
            # Stopping or rebalancing: finish what was taken before faust commits (module doc).
            if taking is not None:
                taking.cancel()
                with contextlib.suppress(BaseException):
                    await taking

            async def finish() -> None:
                if submitting is not None:
                    await submitting
                await submit_due(everything=True)
                await handler.drained()

            try:
                await asyncio.wait_for(finish(), timeout=grace)
            except BaseException:
                log.error("in-flight batches not finished within %ss; exiting without commit", grace)
                hard_exit(EXIT_GRACE_EXCEEDED)
            raise
        except Exception:
            log.critical("bug while processing a batch; exiting without commit", exc_info=True)
            hard_exit(EXIT_BUG)
        finally:
            # as faust's take_events does with its own: a stream this agent runs on again gets a
            # new budget and processor, never two (an old budget may hold bytes never given back)
            with contextlib.suppress(ValueError):
                stream._processors.remove(admit)

    server: MetricsServer | None = None

    async def serve_http() -> None:
        """Start /metrics, /healthz and /readyz, once. `_Worker` calls it first thing, before the
        producer, the consumer and the group join, so a worker that is joining, or cannot reach
        its broker, answers as alive and not ready (saying what it waits for) instead of not at
        all; an app run without `_Worker` gets it with its tasks."""
        nonlocal server
        if server is None:
            server = MetricsServer(registry, readiness, settings.metrics_host, settings.metrics_port)
            try:
                await server.start()
            except OSError as exc:
                # a port taken (another worker on the host, a sidecar): one line and the settings'
                # exit status, not a traceback (an operator-fault review)
                log.critical(
                    "cannot serve /metrics, /healthz and /readyz on %s:%s (%s): set "
                    "NEWSWORKER_METRICS_PORT (or NEWSWORKER_METRICS_HOST) to a free one",
                    settings.metrics_host, settings.metrics_port, exc.strerror or exc,
                )
                hard_exit(EXIT_CONFIGURATION)
            log.info("metrics on http://%s:%s/metrics", settings.metrics_host, server.port)
            app._newsworker_server = server  # type: ignore[attr-defined]

    app._newsworker_serve_http = serve_http  # type: ignore[attr-defined]

    @app.task
    async def serve_metrics() -> None:
        await serve_http()
        try:
            await redis_client.ping()
            readiness.redis = True
            await start_watching()
        except Exception as exc:
            log.warning("Redis not reachable yet: %s", exc)

    async def start_watching() -> None:
        nonlocal watching
        if not watching:
            watching = True
            await watch.start()

    @app.task
    async def stats_log() -> None:
        await log_stats_periodically(metrics, settings.stats_interval_seconds, log)

    broker_silent_since: float | None = None
    lag_origins = LagOrigins(settings.consumer_auto_offset_reset, BROKER_PROBE_SECONDS)

    async def probe_broker(assigned: list[Any]) -> Mapping[Any, int] | None:
        """The assigned partitions' end offsets, as the broker tells them now (one ListOffsets
        round trip, `BROKER_PROBE_SECONDS` at most), or None when it does not answer. Cut off
        from it (a network partition, a frozen broker) the worker looked ready, its lag a stale
        0, for as long as it lasted (an operator-fault review's finding): not ready while it
        does not, `newsworker_broker_unreachable_seconds` counting."""
        nonlocal broker_silent_since
        now = asyncio.get_running_loop().time()
        try:
            ends = await asyncio.wait_for(app.consumer.highwaters(*assigned), timeout=BROKER_PROBE_SECONDS)
        except Exception as exc:  # a timeout, or the client's error: either way no answer
            if broker_silent_since is None:
                broker_silent_since = now - BROKER_PROBE_SECONDS
                log.error(
                    "the Kafka broker has not answered this worker for %.0f s (%s): not ready until it "
                    "does", now - broker_silent_since, type(exc).__name__,
                )
            readiness.broker = False
            metrics.broker_unreachable(now - broker_silent_since)
            return None
        if broker_silent_since is not None:
            log.warning("the Kafka broker answers again after %.0f s", now - broker_silent_since)
            broker_silent_since = None
            metrics.broker_unreachable(0.0)
        readiness.broker = True
        return ends

    @app.timer(interval=5.0)
    async def observe_lag() -> None:
        consumer = app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic == settings.input_topic]
        readiness.partitions = bool(assigned)
        ends: Mapping[Any, int] = {}
        if assigned:
            answer = await probe_broker(assigned)
            if answer is None:
                return  # the lag and Redis checks below would read stale offsets
            ends = answer
        metrics.set_partitions_assigned(len(assigned))
        metrics.retain_lag_partitions(tp.partition for tp in assigned)
        total_lag = 0
        origins = await lag_origins.origins(consumer, assigned)
        for tp in assigned:
            # The end offset the broker just gave, where it is past the one the last fetch
            # carried: a consumer paused by a full buffer fetches nothing, and its lag stood still
            # while the backlog grew (a review's finding: flat on the dashboard through a Redis
            # outage). Never below it: Tansu answers ListOffsets with the last record batch's
            # base offset + 1, so an input produced in one batch of 30 "ended" at 1, below the
            # group's commit, and was read again and again as a recreated topic.
            fetched, probed = consumer.highwater(tp), ends.get(tp)
            highwater = fetched if probed is None else probed if fetched is None else max(fetched, probed)
            # faust keeps the last committed offset per partition (None before the first commit)
            committed = consumer._committed_offset.get(tp) or 0  # type: ignore[attr-defined]
            origin = origins.get(tp, 0)
            if highwater is not None and committed > highwater:
                await restart_input_log(tp, committed, highwater)
                lag_origins.forget([tp])
                origin = 0
            if highwater is not None:
                lag = max(0, highwater - origin)
                metrics.set_consumer_lag(tp.partition, lag)
                total_lag += lag
        progress = readiness.progress
        was_stuck = progress.stuck
        progress.lag = total_lag
        if progress.stuck and not was_stuck:
            log.error("pipeline %s; /readyz fails until a batch finishes", progress.describe())
        elif was_stuck and not progress.stuck:
            log.warning("pipeline progressing again")
        try:
            await redis_client.ping()
            readiness.redis = True
        except Exception:
            readiness.redis = False
            return
        if watching:
            await watch.check()
        else:
            await start_watching()

    async def restart_input_log(tp: Any, committed: int, highwater: int) -> None:
        """An input partition that ends before the offset this group committed was deleted and
        created again (an operator dropping a backlog), or truncated: its offsets start again
        below the committed one, and the consumer would wait for the log to pass that offset,
        every article before it lost without a word (a review's finding). It is read again
        from its start: its articles are new, and any seen before are decided by their records."""
        log.error(
            "input partition %s ends at offset %d, before offset %d that this group committed: the "
            "topic was deleted and created again, or truncated. Reading it again from its start",
            tp.partition, highwater, committed,
        )
        metrics.input_log_reset()
        consumer = app.consumer
        for state in ("_acked", "_acked_index", "_gap"):  # offsets of the old log, never to commit
            getattr(consumer, state).pop(tp, None)
        consumer._committed_offset[tp] = None  # type: ignore[attr-defined]
        start = (await consumer.earliest_offsets(tp)).get(tp) or 0
        await consumer.seek(tp, start)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def on_shutdown(app_: Any, **kwargs: Any) -> None:
        preparer.close()  # after the consumer stopped: no batch is being prepared any more

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app_: Any, assigned: Any, **kwargs: Any) -> None:
        metrics.rebalance()
        lag_origins.forget()
        readiness.broker = True
        mine = [tp for tp in assigned if tp.topic == settings.input_topic]
        readiness.partitions = bool(mine)
        metrics.set_partitions_assigned(len(mine))  # at once, not at the next lag check (5 s)

    app._newsworker = (metrics, readiness, handler)  # type: ignore[attr-defined]
    return app


class _Worker(faust.Worker):
    """faust's Worker, with a hard deadline on every stop that a signal starts, serving HTTP from
    its first moment and waiting for the broker before faust starts."""

    def __init__(
        self,
        *args: Any,
        deadline: ShutdownDeadline,
        reach_broker: Callable[[], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        self._deadline = deadline
        self._reach_broker = reach_broker
        super().__init__(*args, **kwargs)

    async def on_first_start(self) -> None:
        await super().on_first_start()  # signal handlers: a SIGTERM during the wait below stops it
        # /healthz, /readyz and /metrics before any of faust's services; then the broker, which
        # faust's producer would not wait for (it exits at once when the broker is away: a crash
        # loop under an orchestrator).
        serve_http = getattr(self.app, "_newsworker_serve_http", None)
        if serve_http is not None:
            await serve_http()
        if self._reach_broker is not None:
            await self._reach_broker()

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        # First thing, before faust's shutdown can wait on anything (held messages, a frozen
        # Redis): the deadline thread ends the process if the shutdown takes too long.
        self._deadline.arm()
        super()._schedule_shutdown(signal)

    def _install_signal_handlers_unix(self) -> None:
        super()._install_signal_handlers_unix()
        # SIGHUP (a closed terminal, `kill -HUP` by habit: there is nothing to reload) had no
        # handler and killed the worker at once, without a drain or a word: a stop like SIGTERM's.
        self.loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        # ... and the stop's deadline armed outside the loop, should the loop be what is stuck
        self._deadline.arm_on_signals((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))

    def _on_sighup(self) -> None:
        self.log.warning("SIGHUP: stopping, as on SIGTERM (there is nothing to reload)")
        self._schedule_shutdown(signal.SIGHUP)

    def _on_sigusr2(self) -> None:
        # mode opens pdb on the event loop: with stdin a pipe or a terminal (`docker run -i`), the
        # worker froze, its consumer thread heartbeating, and its group's rebalance with it.
        self.log.warning("SIGUSR2 ignored (no debugger in the worker); SIGUSR1 logs every task's stack")


#: How long the broker may take to answer the worker's periodic offsets request before the worker
#: counts it as unreachable (not ready). Generous: a loaded broker answers in milliseconds.
BROKER_PROBE_SECONDS = 15.0


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Run the worker until SIGTERM/SIGINT (blocking). Faust's Worker owns the event loop.

    Raises `MissingTopics` before anything starts when one of its topics is not on the broker.
    """
    from worker.service.topics import MissingTopics, check_topics, wait_for_broker

    # The quick check first: a missing topic exits 2 here, before anything starts. A broker that
    # answered it needs no waiting for; one that did not (or was not asked) is waited for below.
    answered = check_topics(settings) if settings.check_topics_at_start else False
    app = build_app(settings)
    metrics = app._newsworker[0]  # type: ignore[attr-defined]

    async def reach_broker() -> None:
        missing = await wait_for_broker(settings, on_waiting=metrics.broker_unreachable)
        metrics.broker_unreachable(0.0)
        if missing and settings.check_topics_at_start:  # the check the broker missed, now
            log.critical("%s", MissingTopics(missing))
            hard_exit(EXIT_CONFIGURATION)

    deadline = ShutdownDeadline(settings.shutdown_grace_seconds)
    # override_logging=False: keep the handler `worker.logs.configure` set (faust would install its
    # own colour handler and multi-line output); quiet and no spinner: nothing printed beside it.
    worker = _Worker(
        app,
        loglevel=loglevel,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
        deadline=deadline,
        reach_broker=None if answered else reach_broker,
    )
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    finally:
        # The loop is gone; what is left is the interpreter's exit, which joins non-daemon
        # threads (faust's consumer thread among them) and could wait forever.
        deadline.arm()
