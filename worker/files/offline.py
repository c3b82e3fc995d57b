"""Offline dedup (`newsworker dedup`): the streaming pipeline over files, for backfills and evaluation.

Same stages, same Redis-backed store and decision as the worker; only the transport differs:
records come from files in order and each gets one output line, in input order:

    {"id", "status": "clean"|"duplicate"|"dead_letter", "kind", "duplicate_of", "story_id",
     "related_to", "similarity", "reason"}

`story_id` is the story's first article (a clean record's own id when it starts one);
`related_to` the earlier clean article of the story it matched; `similarity` is to
`duplicate_of` or `related_to`.

Batches keep the Redis round trips per article low; `NEWSWORKER_PREPARE_PROCESSES`
processes prepare the next batches while this one is checked against Redis
(worker/service/preparer.py). Re-running the same files against the same Redis reproduces the
same answers: an id seen before keeps the decision recorded for it (docs/DEDUP.md).
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from worker.config import Settings
from worker.dedup.decision import Decision, DuplicateOf, Related, Thresholds
from worker.dedup.fingerprint import DEFAULT_SCHEME, Scheme
from worker.dedup.store import connect, make_store
from worker.files.inputs import InputRecord
from worker.pipeline import DeadLettered, Message, Prepared, decide_batch, limits_of
from worker.service.lifecycle import settle_after_start
from worker.service.preparer import Preparer, Staged
from worker.service.redis_watch import Eviction, read_eviction
from worker.service.security import redis_connection

#: Records per batch: one round of Redis calls each (1,000 measured 3-7 % faster than 500).
BATCH = 1000


class OfflineResult(msgspec.Struct, omit_defaults=False):
    id: str | None
    status: str
    kind: str | None = None
    duplicate_of: str | None = None
    story_id: str | None = None
    related_to: str | None = None
    similarity: float | None = None
    reason: str | None = None


def result_of(staged: Prepared | DeadLettered, decision: Decision | None) -> OfflineResult:
    """One record's output line, from its decision (the output events are never built)."""
    if isinstance(staged, DeadLettered):
        d = staged.record
        return OfflineResult(id=d.id, status="dead_letter", reason=f"{d.error_type}: {d.error}")
    if isinstance(decision, DuplicateOf):
        return OfflineResult(
            id=staged.article_id,
            status="duplicate",
            kind=decision.kind,
            duplicate_of=decision.canonical_id,
            story_id=decision.story_id or decision.canonical_id,
            similarity=decision.similarity,
        )
    if isinstance(decision, Related):
        return OfflineResult(
            id=staged.article_id,
            status="clean",
            story_id=decision.story_id,
            related_to=decision.related_to,
            similarity=decision.similarity,
        )
    return OfflineResult(id=staged.article_id, status="clean", story_id=staged.article_id)


def _unreadable(record: InputRecord) -> OfflineResult:
    """The rest of a file that could not be read: a dead letter, so that it is counted and seen."""
    reason = f"unreadable_file: {record.origin}: {record.problem}"
    return OfflineResult(id=None, status="dead_letter", reason=reason)


@dataclass
class Summary:
    total: int = 0
    clean: int = 0
    duplicate: int = 0
    dead_letter: int = 0
    seconds: float = 0.0
    #: The Redis' eviction policy when it evicts once full (worker/service/redis_watch.py), and
    #: the keys it evicted during the run: dedup entries among them were forgotten. None: the
    #: server would not say (INFO refused).
    evicting: str | None = None
    evicted_keys: int | None = None
    #: Stopped by Ctrl-C (SIGINT) after the batch being decided: the counts are what was decided
    #: and recorded, the rest of the input was not read.
    interrupted: bool = False

    def add(self, r: OfflineResult) -> None:
        self.total += 1
        setattr(self, r.status, getattr(self, r.status) + 1)


async def _eviction(client: Any) -> Eviction | None:
    """The Redis' eviction policy and count, or None where INFO is refused (best effort: the
    dedup calls report a Redis that is down)."""
    try:
        return await read_eviction(client)
    except Exception:
        return None


def _batches(records: Iterable[InputRecord], size: int) -> Iterator[list[InputRecord]]:
    batch: list[InputRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _stop_on_sigint(loop: asyncio.AbstractEventLoop, summary: Summary) -> bool:
    """Whether SIGINT now marks `summary` interrupted (the main thread's loop only), the next
    one restoring Python's KeyboardInterrupt."""

    def stop() -> None:
        summary.interrupted = True
        loop.remove_signal_handler(signal.SIGINT)

    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        loop.add_signal_handler(signal.SIGINT, stop)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


async def dedup_records(
    records: Iterable[InputRecord],
    redis_url: str,
    settings: Settings,
    *,
    scheme: Scheme = DEFAULT_SCHEME,
    thresholds: Thresholds | None = None,
    on_result: Callable[[InputRecord, OfflineResult], Any],
    clock: Callable[[], float] = time.time,
    batch_size: int = BATCH,
    secure: bool = True,
    processes: int | None = None,
) -> Summary:
    """Run every record through the pipeline against the Redis at `redis_url`."""
    summary = Summary()
    started = time.perf_counter()
    # The settings' Redis user, password and TLS apply unless `secure=False` (an embedded Redis).
    url, auth = redis_connection(settings, redis_url) if secure else (redis_url, {})
    client = connect(url, cluster=settings.redis_cluster, **auth)
    batches = _batches(records, batch_size)
    # Records are prepared (decode, normalize, fingerprint) by a pool of processes, `ahead`
    # batches in advance, while this process runs the dedup stage against Redis in input order.
    # An input of one batch is prepared here: spawning the processes (each imports the stages
    # and loads the language model, ~0.5 s of CPU apiece) would cost more than it saves.
    head = list(itertools.islice(batches, 2))
    wanted = settings.prepare_processes if processes is None else processes
    preparer = Preparer(
        processes=wanted if len(head) > 1 else 0,
        limits=limits_of(settings),
        scheme=scheme,
        events=False,  # verdicts only: the clean events are never built
    )
    # Until its processes are up, batches are prepared here (Preparer.prepare). Inline, the language
    # model is loaded by the first article that needs it: none does when every article names its
    # language or is plainly Arabic (worker/normalize/language.py), and a short run is spared ~40 ms.
    if preparer.processes:
        preparer.start()
        settle_after_start()
    ahead = max(1, preparer.processes) + 1
    pending: deque[tuple[list[InputRecord], asyncio.Future[Staged]]] = deque()
    batches = itertools.chain(head, batches)
    # Ctrl-C stops the run after the batch being decided, its results written: asyncio's own
    # handler cancelled the task, and a cancellation absorbed inside a Redis call let the run go
    # on to its end, exit 0 (a review's finding); a second Ctrl-C interrupts at once.
    loop = asyncio.get_running_loop()
    on_sigint = _stop_on_sigint(loop, summary)
    try:
        before = await _eviction(client)
        store = make_store(client, settings, scheme)
        thresholds = thresholds or Thresholds()
        while not summary.interrupted:
            while len(pending) < ahead and (batch := next(batches, None)) is not None:
                messages = [Message(value=r.value, origin=r.origin) for r in batch]
                pending.append((batch, asyncio.ensure_future(preparer.prepare(messages, now=clock()))))
            if not pending:
                break
            batch, preparing = pending.popleft()
            staged = await preparing
            decisions = await decide_batch(staged, store, thresholds=thresholds)
            for record, s, decision in zip(batch, staged, decisions, strict=True):
                result = result_of(s, decision) if not record.unreadable else _unreadable(record)
                summary.add(result)
                on_result(record, result)
        after = await _eviction(client)
        if before is not None and after is not None:
            summary.evicting = after.policy or before.policy or None
            summary.evicted_keys = max(0, after.evicted_keys - before.evicted_keys)
    finally:
        if on_sigint:
            loop.remove_signal_handler(signal.SIGINT)
        for _, preparing in pending:
            preparing.cancel()
        preparer.close()
        await client.aclose()
    summary.seconds = time.perf_counter() - started
    return summary


__all__ = ["OfflineResult", "Summary", "dedup_records", "result_of"]
