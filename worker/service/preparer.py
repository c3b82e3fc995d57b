"""Where the pure stages run: in the calling process, or in a pool of worker processes.

decode, normalize and fingerprint are CPU-bound Python and need nothing but the message bytes,
so a batch can be prepared in another process while the event loop waits for Redis and the
broker: that puts the machine's second core to work (measured in docs/BENCHMARKS.md).

    preparer = Preparer(processes=1, limits=..., scheme=...)
    staged = await preparer.prepare(messages, now=now, observer=metrics)

`processes=0` prepares inline (no pool). With a pool, stage timings measured in a worker
process are sent back with the batch and replayed into the caller's observer, so the stage
histograms read the same either way. A worker process that dies (killed, out of memory) does
not lose the batch: the pool is replaced and that batch is prepared inline.

Only our own objects cross the process boundary (the message bytes in, `Prepared` results
out); input is never unpickled: it is parsed by msgspec's JSON decoder in the worker process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import msgspec

from worker.dedup.fingerprint import DEFAULT_SCHEME, ArticleFingerprints, Scheme
from worker.events import CleanArticle
from worker.normalize.language import warm_up
from worker.pipeline import (
    DeadLettered,
    Limits,
    Message,
    Prepared,
    StageObserver,
    prepare_batch,
)

log = logging.getLogger(__name__)

Staged = list[Prepared | DeadLettered]


class _Recorder:
    """A stage observer that keeps what it saw, to be replayed in the parent process."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.seen.append((stage, seconds))


def _warm_up() -> None:
    """Run once in each worker process: imports and the language model load before the first batch."""
    from worker.logs import configure

    # The parent's format (spawned children inherit its environment, not its logging set-up).
    configure("json" if os.environ.get("NEWSWORKER_LOG_FORMAT") == "json" else "console", logging.WARNING)
    warm_up()


#: A message as sent to a worker process: a plain tuple pickles ~10x faster than the dataclass.
_MessageWire = tuple[bytes, str, str | None, int | None, int | None, float | None]
#: A prepared article as sent back: the parent re-attaches the message it already holds, the
#: fingerprints travel as a tuple and the clean event as msgpack (decoded by msgspec in C).
_PreparedWire = tuple[str, tuple[object, ...], bytes]

_encode_clean = msgspec.msgpack.Encoder().encode
_decode_clean = msgspec.msgpack.Decoder(CleanArticle).decode


def _to_wire(m: Message) -> _MessageWire:
    return (m.value, m.origin, m.topic, m.partition, m.offset, m.timestamp)


def _prepare_remote(
    wires: list[_MessageWire], *, limits: Limits, scheme: Scheme, now: float, events: bool
) -> tuple[list[_PreparedWire | DeadLettered], list[tuple[str, float]]]:
    recorder = _Recorder()
    messages = [Message(*w) for w in wires]
    staged = prepare_batch(messages, limits=limits, scheme=scheme, now=now, observer=recorder, events=events)
    out: list[_PreparedWire | DeadLettered] = [
        (s.article_id, _fp_wire(s.fp), _encode_clean(s.clean) if s.clean is not None else b"")
        if isinstance(s, Prepared)
        else s
        for s in staged
    ]
    return out, recorder.seen


def _fp_wire(fp: ArticleFingerprints) -> tuple[object, ...]:
    return (fp.exact, fp.tokens, fp.shingles, fp.sketch, fp.lead_sketch, fp.bands, fp.url)


def _from_wire(messages: Sequence[Message], wires: list[_PreparedWire | DeadLettered]) -> Staged:
    staged: Staged = []
    for message, w in zip(messages, wires, strict=True):
        if isinstance(w, DeadLettered):
            staged.append(DeadLettered(w.record, message))
        else:
            article_id, fp, clean = w
            fingerprints = ArticleFingerprints(*fp)  # type: ignore[arg-type]
            staged.append(
                Prepared(message, article_id, fingerprints, _decode_clean(clean) if clean else None)
            )
    return staged


class Preparer:
    """Runs `prepare_batch` inline (`processes=0`) or in a pool of `processes` worker processes."""

    def __init__(
        self, *, processes: int, limits: Limits, scheme: Scheme = DEFAULT_SCHEME, events: bool = True
    ) -> None:
        if processes < 0:
            raise ValueError("processes must be >= 0")
        self.processes = processes
        self._events = events
        self._limits = limits
        self._scheme = scheme
        self._pool: ProcessPoolExecutor | None = None
        self._warming: list[concurrent.futures.Future[float]] = []

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the parent runs an event loop and client threads that a forked
            # child would inherit in an undefined state.
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
            )
        return self._pool

    def start(self) -> None:
        """Start the worker processes now rather than on the first batch (they take ~1 s); inline,
        load the language model now."""
        if not self.processes:
            warm_up()
        else:
            pool = self._ensure_pool()
            self._warming = [pool.submit(time.time) for _ in range(self.processes)]

    def pids(self) -> list[int]:
        """Process ids of the live prepare processes (for metrics)."""
        pool = self._pool
        if pool is None:
            return []
        processes = getattr(pool, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid is not None and p.is_alive()]

    def _still_warming(self) -> bool:
        """True while the processes started by `start` are still starting (~1 s): batches are
        then prepared inline rather than queued behind the start-up."""
        if self._warming and all(f.done() for f in self._warming):
            self._warming = []
        return bool(self._warming)

    async def prepare(
        self, messages: Sequence[Message], *, now: float, observer: StageObserver | None = None
    ) -> Staged:
        if not self.processes or not messages or self._still_warming():
            return self._inline(messages, now, observer)
        loop = asyncio.get_running_loop()
        remote = functools.partial(
            _prepare_remote, limits=self._limits, scheme=self._scheme, now=now, events=self._events
        )
        try:
            wires, seen = await loop.run_in_executor(
                self._ensure_pool(), remote, [_to_wire(m) for m in messages]
            )
        except BrokenProcessPool:
            log.error("a prepare process died; replacing the pool and preparing this batch inline")
            self._discard_pool()
            return self._inline(messages, now, observer)
        if observer is not None:
            for stage, seconds in seen:
                observer.observe_stage(stage, seconds)
        return _from_wire(messages, wires)

    def _inline(self, messages: Sequence[Message], now: float, observer: StageObserver | None) -> Staged:
        return prepare_batch(
            messages,
            limits=self._limits,
            scheme=self._scheme,
            now=now,
            observer=observer,
            events=self._events,
        )

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes (waits for the batch they are on)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
