"""Where the pure stages run: in the calling process, or in a pool of worker processes.

decode, normalize and fingerprint are CPU-bound Python and need nothing but the message bytes,
so a batch can be prepared in another process while the event loop waits for Redis and the
broker: that puts the machine's second core to work (measured in docs/BENCHMARKS.md).

    preparer = Preparer(processes=1, limits=..., scheme=...)
    staged = await preparer.prepare(messages, now=now, observer=metrics)

`processes=0` prepares inline (no pool). With a pool, stage timings measured in a worker
process are sent back with the batch and replayed into the caller's observer, so the stage
histograms read the same either way.

Supervision: the pool is not trusted to notice its own failures. A prepare process killed
while writing its result (~2 MB for a batch of real articles) leaves the executor's manager
thread blocked in `recv()` forever and raises nothing, so every wait for a batch ticks every
`SUPERVISE_TICK_SECONDS` and checks that the pool's processes are alive and the batch is within
its time limit (`timeout_seconds` + `TIMEOUT_SECONDS_PER_MIB` of input). On a death, a time-out,
or a `KeyboardInterrupt`/`SystemExit` coming back as the batch's result, the pool is killed and
replaced and `on_restart(reason)` is told. The batch is then prepared again one message at a
time in a process of its own (`Preparer._isolate`), never inline: if an input is what killed or
hung the process (a crash in native code, a parse that does not end), the event loop's process
would die or stall on it too, and the worker crash-loop on the redelivery. The one message that
kills or outlasts its process alone becomes a dead letter (`prepare_crashed`, `prepare_timeout`)
and every other message is prepared as usual: nothing is lost, nothing wedges. (An interrupt is
no input's doing: that batch is prepared inline.)

Signals: the prepare processes ignore SIGINT and SIGTERM (the parent owns shutdown; a terminal's
Ctrl-C reaches the whole process group) and get SIGKILL when the parent dies.

Only our own objects cross the process boundary (the message bytes in, `Prepared` results
out); input is never unpickled: it is parsed by msgspec's JSON decoder in the worker process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import msgspec

from worker.dedup.fingerprint import DEFAULT_SCHEME, ArticleFingerprints, Scheme
from worker.normalize.language import warm_up
from worker.pipeline import (
    CleanDraft,
    DeadLettered,
    Limits,
    Message,
    Prepared,
    StageObserver,
    dead_letter,
    prepare_batch,
)
from worker.service.lifecycle import die_with_parent, settle_after_start

log = logging.getLogger(__name__)

Staged = list[Prepared | DeadLettered]

#: How often a wait for a prepared batch checks on the pool. A batch takes ~0.1-0.5 s to
#: prepare, so a 0.5 s tick costs nothing measurable and finds a dead process within a second.
SUPERVISE_TICK_SECONDS = 0.5

#: Time limit per MiB of input on top of `timeout_seconds`: preparing runs at ~10 MiB/s per
#: process on real articles (docs/BENCHMARKS.md), so this is ~50x that, only a hung or stopped
#: process exceeds it.
TIMEOUT_SECONDS_PER_MIB = 5.0

#: A batch is split over the pool's processes, in chunks of at least this many messages: its
#: preparation then takes 1/processes of the time when the pool is idle (latency at a steady
#: rate below capacity), and costs the same when the pool is busy (the chunks queue as the
#: batches did). Small batches stay whole: a chunk costs a round trip to a process.
MIN_CHUNK_MESSAGES = 32


def chunks(
    messages: Sequence[Message], parts: int, smallest: int = MIN_CHUNK_MESSAGES
) -> list[Sequence[Message]]:
    """`messages` in at most `parts` consecutive chunks of nearly equal length, none shorter than
    `smallest` (unless the whole is); joined in order they are `messages` again."""
    count = max(1, min(parts, len(messages) // max(1, smallest)))
    size, extra = divmod(len(messages), count)
    out: list[Sequence[Message]] = []
    start = 0
    for n in range(count):
        end = start + size + (n < extra)
        out.append(messages[start:end])
        start = end
    return out


#: `on_restart` reasons, a closed set (a metric label).
RESTART_REASONS = ("died", "timeout", "interrupted")

#: Dead-letter reasons of a message that killed or outlasted a prepare process on its own.
ISOLATION_REASONS = ("prepare_crashed", "prepare_timeout")

#: How long a new process may take to start (spawn, imports, the language model), and how many
#: starts the isolation tries, before it gives up on processes and prepares the rest inline.
START_LIMIT_SECONDS = 120.0
ISOLATION_STARTS = 3
#: Deaths of its process under one message alone that make it a dead letter: a crash of its own
#: repeats every time, a kill from outside (the OOM killer picks any process) rarely twice.
ISOLATION_DEATHS = 3


class _Recorder:
    """A stage observer that keeps what it saw, to be replayed in the parent process."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.seen.append((stage, seconds))


def _init_process(parent_pid: int) -> None:
    """Run once in each worker process, before its first batch.

    SIGINT/SIGTERM/SIGHUP are ignored: a Ctrl-C in a terminal goes to the whole process group, and a
    prepare process that dies of it mid-batch made its KeyboardInterrupt the batch's result,
    which escaped the parent's event loop and wedged its shutdown (issue #14, item 1). The
    parent stops these processes itself (`Preparer.close` / `kill`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal's, to the group too
    die_with_parent(parent_pid)
    from worker.logs import LogFormat, configure

    # The parent's format (spawned children inherit its environment, not its logging set-up).
    log_format: LogFormat = "json" if os.environ.get("NEWSWORKER_LOG_FORMAT") == "json" else "console"
    configure(log_format, logging.WARNING, nonblocking=True)  # never blocked by a log pipe nobody reads
    warm_up()
    settle_after_start()


#: A message as sent to a worker process: a plain tuple pickles ~10x faster than the dataclass.
_MessageWire = tuple[bytes, str, str | None, int | None, int | None, float | None]
#: A prepared article as sent back: the parent re-attaches the message it already holds, the
#: fingerprints and the clean event's draft (its JSON, worker/pipeline.py) travel as tuples.
_PreparedWire = tuple[str, tuple[object, ...], tuple[object, ...] | None]


def _to_wire(m: Message) -> _MessageWire:
    return (m.value, m.origin, m.topic, m.partition, m.offset, m.timestamp)


def _prepare_remote(
    wires: list[_MessageWire], *, limits: Limits, scheme: Scheme, now: float, events: bool
) -> tuple[list[_PreparedWire | DeadLettered], list[tuple[str, float]]]:
    recorder = _Recorder()
    messages = [Message(*w) for w in wires]
    staged = prepare_batch(messages, limits=limits, scheme=scheme, now=now, observer=recorder, events=events)
    out: list[_PreparedWire | DeadLettered] = [
        (s.article_id, _fp_wire(s.fp), _draft_wire(s.clean) if s.clean is not None else None)
        if isinstance(s, Prepared)
        else s
        for s in staged
    ]
    return out, recorder.seen


def _fp_wire(fp: ArticleFingerprints) -> tuple[object, ...]:
    return msgspec.structs.astuple(fp)  # every field in order: `_from_wire` rebuilds it positionally


def _draft_wire(d: CleanDraft) -> tuple[object, ...]:
    return (d.head, d.id, d.source, d.url, d.title, d.warnings)


def _from_wire(messages: Sequence[Message], wires: list[_PreparedWire | DeadLettered]) -> Staged:
    staged: Staged = []
    for message, w in zip(messages, wires, strict=True):
        if isinstance(w, DeadLettered):
            staged.append(DeadLettered(w.record, message))
        else:
            article_id, fp, clean = w
            fingerprints = ArticleFingerprints(*fp)  # type: ignore[arg-type]
            staged.append(
                Prepared(message, article_id, fingerprints, CleanDraft(*clean) if clean else None)  # type: ignore[arg-type]
            )
    return staged


class Preparer:
    """Runs `prepare_batch` inline (`processes=0`) or in a pool of `processes` worker processes."""

    def __init__(
        self,
        *,
        processes: int,
        limits: Limits,
        scheme: Scheme = DEFAULT_SCHEME,
        events: bool = True,
        timeout_seconds: float = 60.0,
        on_restart: Callable[[str], None] | None = None,
        remote: Callable[..., tuple[list[Any], list[tuple[str, float]]]] | None = None,
        inline_while_starting: bool = True,
        on_isolated: Callable[[], None] | None = None,
    ) -> None:
        if processes < 0:
            raise ValueError("processes must be >= 0")
        self.processes = processes
        self.timeout_seconds = timeout_seconds
        self._on_restart = on_restart
        self._events = events
        self._limits = limits
        self._scheme = scheme
        self._pool: ProcessPoolExecutor | None = None
        self._warming: list[concurrent.futures.Future[float]] = []
        # what a process runs for a chunk (a module-level function: it is pickled by name)
        self._remote = remote or _prepare_remote
        self._isolating: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        # Batches of small messages prepared here while the processes start: the offline command
        # gains (its first batches do not wait ~1 s); the worker does not, because an input that
        # crashes a process would crash it here, and again on every redelivery after its restart.
        self._inline_while_starting = inline_while_starting
        # told after each message the isolation resolves: slow, but progress (the worker's
        # stuck detector must not take it for a wedge and have the process restarted into it)
        self._on_isolated = on_isolated or (lambda: None)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = _new_pool(self.processes)
        return self._pool

    def start(self) -> None:
        """Start the worker processes now rather than on the first batch (they take ~1 s); inline,
        load the language model now. Processes that cannot be started (no room in /dev/shm for
        the pool's semaphores and queues, no process left under a limit) leave the stages inline,
        said once: faust restarted the agent every 5 s on the error, until the worker was
        restarted, and again (an operator-fault review's finding)."""
        if self.processes:
            try:
                pool = self._ensure_pool()
                self._warming = [pool.submit(time.time) for _ in range(self.processes)]
            except OSError as exc:
                log.error(
                    "cannot start %d prepare processes (%s): preparing in the event loop's process "
                    "instead, as NEWSWORKER_PREPARE_PROCESSES=0 does (slower); free /dev/shm, or raise "
                    "the container's shm size or process limit, and restart the worker",
                    self.processes, exc,
                )
                self.kill()
                self.processes = 0
        if not self.processes:
            warm_up()

    def pids(self) -> list[int]:
        """Process ids of the live prepare processes (for metrics)."""
        pool = self._pool
        if pool is None:
            return []
        processes = getattr(pool, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid is not None and p.is_alive()]

    def _still_warming(self) -> bool:
        """True while the processes started by `start` are still starting (~1 s): batches of
        small messages are then prepared inline rather than queued behind the start-up."""
        if self._warming and all(f.done() for f in self._warming):
            self._warming = []
        return bool(self._warming)

    async def prepare(
        self, messages: Sequence[Message], *, now: float, observer: StageObserver | None = None
    ) -> Staged:
        starting = self._inline_while_starting and self._still_warming()
        if not self.processes or not messages or (starting and _small(messages)):
            return self._inline(messages, now, observer)
        try:
            pool = self._ensure_pool()
        except OSError as exc:  # a pool replaced after a crash, with no room left for it (start)
            log.error("cannot start the prepare processes again (%s): this batch is prepared inline", exc)
            return self._inline(messages, now, observer)
        remote = self._bound_remote(now)
        parts = chunks(messages, self.processes)
        try:
            futures = [pool.submit(remote, [_to_wire(m) for m in part]) for part in parts]
        except (BrokenProcessPool, RuntimeError):  # broken, or shut down by another batch's recovery
            return await self._recover(pool, "died", messages, now, observer)
        staged: Staged = []
        for part, future in zip(parts, futures, strict=True):
            reason = await self._supervise(pool, future, self._time_limit(part))
            if reason is not None:
                for other in futures:
                    other.cancel()
                return await self._recover(pool, reason, messages, now, observer)
            staged.extend(_received(part, future, observer))
        return staged

    def _bound_remote(self, now: float) -> Callable[..., Any]:
        return functools.partial(
            self._remote, limits=self._limits, scheme=self._scheme, now=now, events=self._events
        )

    def _time_limit(self, messages: Sequence[Message]) -> float:
        mib = sum(len(m.value) for m in messages) / 1_048_576
        return self.timeout_seconds + TIMEOUT_SECONDS_PER_MIB * mib

    async def _supervise(
        self,
        pool: ProcessPoolExecutor,
        future: concurrent.futures.Future[Any],
        limit: float,
        *,
        own: bool = False,
    ) -> str | None:
        """Wait for `future`; None once it has a usable result, else why the pool must go.
        `own`: a pool of the caller's own (the isolation's), which no other batch replaces.

        The future is never awaited through asyncio: a KeyboardInterrupt set as its exception
        would be re-raised by the event loop itself. A done callback only wakes this wait.
        """
        loop = asyncio.get_running_loop()
        woken = loop.create_future()

        def set_woken() -> None:
            if not woken.done():
                woken.set_result(None)

        def wake(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(set_woken)

        future.add_done_callback(wake)
        deadline = time.monotonic() + limit
        while not future.done():
            await asyncio.wait({woken}, timeout=SUPERVISE_TICK_SECONDS)
            if future.done():
                break
            if not own and self._pool is not pool:
                return "died"  # another batch's wait found the pool broken and replaced it
            if not _all_alive(pool):
                return "died"
            if time.monotonic() > deadline:
                return "timeout"
        if future.cancelled():
            return "died"
        exc = future.exception()
        if exc is None:
            return None
        if isinstance(exc, BrokenProcessPool):
            return "died"
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit from a worker process
            return "interrupted"
        raise exc  # a bug in the pure stages: the caller's handling of bugs applies

    async def _recover(
        self,
        pool: ProcessPoolExecutor,
        reason: str,
        messages: Sequence[Message],
        now: float,
        observer: StageObserver | None,
    ) -> Staged:
        if self._pool is pool:  # several batches may find the same broken pool: replace it once
            log.error(
                "prepare pool failed (%s: %s); killing and replacing it, preparing the batch of %d %s",
                reason,
                {"died": "a prepare process died or stopped answering",
                 "timeout": "a batch exceeded its time limit",
                 "interrupted": "a prepare process was interrupted"}[reason],
                len(messages),
                "inline" if reason == "interrupted" else "again one message at a time",
            )
            self.kill()
            self.start()  # the new processes start now; batches are prepared inline meanwhile
            if self._on_restart is not None:
                self._on_restart(reason)
        if reason == "interrupted":  # no input's doing
            return self._inline(messages, now, observer)
        return await self._isolate(messages, now, observer)

    async def _isolate(
        self, messages: Sequence[Message], now: float, observer: StageObserver | None
    ) -> Staged:
        """Prepare `messages` one at a time in a process of their own, after a pool failure.

        A message that outlasts its time limit alone, or whose process dies under it
        `ISOLATION_DEATHS` times (a process may also be killed from outside: by the kernel's OOM
        killer, which may pick any, or by hand), is the failure's cause: it becomes a dead letter,
        and a fresh process takes the next message. One isolation at a time (batches that met the
        same failure wait their turn), in a one-process pool no other batch uses, so a death is
        the message's own or the outside's, never another batch's."""
        loop = asyncio.get_running_loop()
        if self._isolating is None or self._isolating[0] is not loop:
            self._isolating = (loop, asyncio.Lock())
        remote = self._bound_remote(now)
        staged: Staged = []
        async with self._isolating[1]:
            alone = _Alone(self)
            try:
                for at, message in enumerate(messages):
                    outcome = await self._prepare_alone(alone, message, remote, now, observer)
                    if outcome is None:
                        log.error("no prepare process would start; preparing the rest inline")
                        staged.extend(self._inline(messages[at:], now, observer))
                        break
                    staged.extend(outcome)
            finally:
                alone.drop()
        return staged

    async def _prepare_alone(
        self,
        alone: _Alone,
        message: Message,
        remote: Callable[..., Any],
        now: float,
        observer: StageObserver | None,
    ) -> Staged | None:
        """One message in `alone`'s process, until it is prepared or set aside (None: no process
        would start)."""
        limit = self._time_limit([message])
        deaths: list[int | None] = []
        lost = 0  # processes gone before the message reached them: none of its doing
        while True:
            pool = await alone.pool() if lost < ISOLATION_STARTS else None
            if pool is None:
                return None
            try:
                future = pool.submit(remote, [_to_wire(message)])
            except (BrokenProcessPool, RuntimeError):  # its process died since it started
                alone.drop()
                lost += 1
                continue
            reason = await self._supervise(pool, future, limit, own=True)
            if reason is None:
                self._on_isolated()
                return _received([message], future, observer)
            if reason == "died":
                deaths.append(_exit_status(pool))
            alone.drop()
            if reason == "interrupted":  # no input's doing
                return self._inline([message], now, observer)
            if reason == "timeout" or len(deaths) >= ISOLATION_DEATHS:
                self._on_isolated()
                return [self._set_aside(message, reason, limit, deaths, now)]

    async def _quarantine(self) -> ProcessPoolExecutor | None:
        """A started one-process pool, or None if none would start in `ISOLATION_STARTS` tries
        (its start-up is no message's doing: a process killed from outside meanwhile)."""
        for _ in range(ISOLATION_STARTS):
            pool = _new_pool(1)
            if not await self._supervise(pool, pool.submit(time.time), START_LIMIT_SECONDS, own=True):
                return pool
            _kill_pool(pool)
        return None

    def _set_aside(
        self, message: Message, reason: str, limit: float, deaths: Sequence[int | None], now: float
    ) -> DeadLettered:
        if reason == "timeout":
            kind = "prepare_timeout"
            error = (
                f"preparing this message alone took longer than its time limit ({limit:.0f} s: "
                "NEWSWORKER_PREPARE_TIMEOUT_SECONDS + 5 s per MiB); set aside so that the stream goes on"
            )
        else:
            kind = "prepare_crashed"
            how = ", ".join(_death_name(code) for code in deaths)
            error = (
                f"the prepare process died {len(deaths)} times while preparing this message alone ({how}: "
                "a crash in native code on this input, or memory it exhausts?); set aside so that the "
                "stream goes on; please report it"
            )
        log.error(
            "message %s set aside as a dead letter: %s", message.origin, error,
            extra={"topic": message.topic, "partition": message.partition, "offset": message.offset,
                   "reason": kind},
        )  # fmt: skip
        return dead_letter(message, kind, error, now, self._limits)

    def _inline(self, messages: Sequence[Message], now: float, observer: StageObserver | None) -> Staged:
        return prepare_batch(
            messages,
            limits=self._limits,
            scheme=self._scheme,
            now=now,
            observer=observer,
            events=self._events,
        )

    def kill(self) -> None:
        """Kill the worker processes now and drop the pool (a new one starts on the next batch).
        Safe from any thread and on a wedged pool (`_kill_pool`)."""
        pool, self._pool = self._pool, None
        self._warming = []
        if pool is not None:
            _kill_pool(pool)

    def close(self) -> None:
        """Stop the worker processes (waits for the batch they are on)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class _Alone:
    """The one-process pool an isolation prepares its messages in, started when first needed
    (`Preparer._quarantine`) and replaced after each failure (`drop`)."""

    def __init__(self, preparer: Preparer) -> None:
        self._preparer = preparer
        self._pool: ProcessPoolExecutor | None = None

    async def pool(self) -> ProcessPoolExecutor | None:
        if self._pool is None:
            self._pool = await self._preparer._quarantine()
        return self._pool

    def drop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            _kill_pool(pool)


#: While the processes start, a batch is prepared inline only if none of its messages is larger
#: than this: the time a pathological input takes grows with its size (an HTML element with
#: thousands of attributes: 0.1 s at 100 KB, 16 s at 1.2 MB), and inline it would stall the event
#: loop, where a process is watched and, past its time limit, replaced (`_isolate`).
INLINE_WHILE_STARTING_BYTES = 64 * 1024


def _small(messages: Sequence[Message]) -> bool:
    return all(len(m.value) <= INLINE_WHILE_STARTING_BYTES for m in messages)


def _new_pool(processes: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent runs an event loop and client threads that a forked child
    # would inherit in an undefined state.
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_process,
        initargs=(os.getpid(),),
    )


def _received(
    part: Sequence[Message], future: concurrent.futures.Future[Any], observer: StageObserver | None
) -> Staged:
    """A chunk's prepared results, its stage timings replayed into `observer`."""
    wires, seen = future.result()
    if observer is not None:
        many = getattr(observer, "observe_stages", None)  # the worker's metrics: all at once
        if many is not None:
            many(seen)
        else:
            for stage, seconds in seen:
                observer.observe_stage(stage, seconds)
    return _from_wire(part, wires)


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's processes now. After the kill, the parent's end of the result pipe is
    closed too, so a manager thread blocked in `recv()` on a half-written result gets EOF and
    ends instead of blocking the interpreter's exit forever."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    result_queue = getattr(pool, "_result_queue", None)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            process.join(1.0)
    writer = getattr(result_queue, "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()
    pool.shutdown(wait=False, cancel_futures=True)


def _exit_status(pool: ProcessPoolExecutor) -> int | None:
    """The exit status of a one-process pool's process that died (-N: killed by signal N)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(1.0)
        code: int | None = process.exitcode
        return code
    return None


def _death_name(code: int | None) -> str:
    if code is None:
        return "gone"
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
        return f"signal {-code}"
    return f"exit {code}"


def _all_alive(pool: ProcessPoolExecutor) -> bool:
    processes = getattr(pool, "_processes", None)
    if processes is None:  # shut down or broken
        return False
    return all(p.exitcode is None for p in list(processes.values()))
