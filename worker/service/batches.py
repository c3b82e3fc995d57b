"""Batches through the stages, and the acks that make commits safe.

Delivery guarantee (at-least-once, made harmless by dedup):
- Input events are taken with `stream.take_events` in short windows and gathered into batches
  by `batching.BatchWindow` (full batches while the pipeline is busy). The agent holds every
  taken event from the moment it is taken (an extra reference on its message), also while it
  waits in the window, and `BatchHandler` drops it only after every outcome of the batch
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
- SIGTERM / rebalance cancel the agent: the events still in the window are submitted, and the
  batches in flight are finished (bounded by
  `shutdown_grace_seconds`) before faust commits. If they cannot finish in time, the process
  exits without committing them, and they are redelivered elsewhere.
- Redis refusing writes (full under `noeviction`, a read-only replica, ...) is an outage too,
  not a bug: retried the same way, counted by kind (`newsworker_redis_refused_total`).
- A bug (an exception that is neither poison input nor a transient outage) ends the process
  with a non-zero status without acking, so the orchestrator restarts it; the prepare processes
  are killed first, so no exit leaves them behind.
- Progress: the time the last batch was released is kept in `Progress` (worker/service/health.py),
  which turns "work pending and nothing finished for N seconds" into not ready / not live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.config import Settings
from worker.dedup.decision import Thresholds
from worker.dedup.fingerprint import DEFAULT_SCHEME, Scheme
from worker.errors import REFUSAL_HINTS, Action, DedupStoreRefused, action_for
from worker.pipeline import (
    Clean,
    DeadLettered,
    Duplicate,
    Message,
    Outcome,
    Prepared,
    decide_batch,
    limits_of,
    outcomes_of,
)
from worker.service.health import Readiness
from worker.service.lifecycle import EXIT_BUG, hard_exit
from worker.service.metrics import Metrics
from worker.service.preparer import Preparer
from worker.service.publisher import Publisher

log = logging.getLogger("newsworker")

#: Back-off for retries of a batch while Redis or the broker is down: doubling from the first
#: value up to the cap. The cap keeps recovery quick (at most this long after the outage ends).
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0

__all__ = ["EXIT_BUG", "BatchHandler"]

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
        self._on_bug = on_bug or self._exit_on_bug
        self.progress = readiness.progress  # what /readyz and /healthz read
        self.progress.in_flight = lambda: self._in_flight
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

    def _exit_on_bug(self) -> None:
        """Leave at once, without acking or committing: the orchestrator restarts the process.
        The prepare processes go first: `os._exit` would leave them running as orphans."""
        self._preparer.kill()
        hard_exit(EXIT_BUG)

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
        # as delivered: an article whose event the broker refused as too large is its dead letter
        outcomes = await self._retrying("publish", lambda: self._publisher.publish(outcomes))
        m.observe_stage("publish", time.perf_counter() - started)
        now = time.time()
        # counted per label set, then added once each (a labelled child's lookup is ~2 µs)
        tally: Counter[tuple[str, str | None, str | None, str | None]] = Counter()
        delays: list[float] = []
        for outcome in outcomes:
            if isinstance(outcome, Clean):
                tally["clean", None, None, outcome.draft.source] += 1
                if outcome.draft.warnings:
                    m.warned(outcome.draft.warnings)
            elif isinstance(outcome, Duplicate):
                tally["duplicate", outcome.event.kind, None, outcome.event.source] += 1
            elif isinstance(outcome, DeadLettered):
                tally["dead_letter", None, outcome.reason, None] += 1
                dead = outcome.record
                log.warning(
                    "dead letter: %s", dead.error,
                    extra={"topic": dead.topic, "partition": dead.partition, "offset": dead.offset,
                           "article_id": dead.id, "reason": outcome.reason},
                )
            if outcome.message.timestamp:
                delays.append(now - outcome.message.timestamp)
        m.observe_end_to_end_many(delays)
        for (name, kind, reason, source), count in tally.items():
            m.outcome(name, kind=kind, reason=reason, source=source, count=count)
        m.in_flight(-len(batch.messages))
        batch.release()
        self.progress.finished()
        self._in_flight -= 1
        self._room.release()
        if not self._in_flight:
            self._drained.set()

    async def _retrying(self, what: str, make: Any) -> Any:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                result = await make()
            except Exception as exc:
                # One mapping from exception to action (worker/errors.py); only outages retry.
                if action_for(exc) is not Action.RETRY:
                    raise
                if what == "dedup":
                    self._readiness.redis = self._readiness.dedup = False
                    self._metrics.redis_retry()
                else:
                    self._readiness.broker = False
                if isinstance(exc, DedupStoreRefused):
                    self._metrics.redis_refused(exc.kind)
                    log.error(
                        "Redis refused the %s (%s), retrying in %.1fs: %s. %s", what, exc.kind, delay, exc,
                        REFUSAL_HINTS.get(exc.kind, ""), extra={"stage": what, "reason": exc.kind},
                    )
                else:
                    log.warning(
                        "%s failed, retrying in %.1fs: %s", what, delay, exc,
                        extra={"stage": what, "reason": type(exc).__name__},
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if what == "dedup":
                self._readiness.redis = self._readiness.dedup = True
            else:
                self._readiness.broker = True
            return result
