"""worker/service/preparer.py: the pure stages in a pool of processes give exactly the inline results."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import gzip
import os
import signal
import struct
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest

from tests.conftest import SHARED_DIR
from worker.config import Settings
from worker.pipeline import DeadLettered, Message, Prepared, limits_of, outcomes_of, prepare_batch
from worker.service.preparer import INLINE_WHILE_STARTING_BYTES, MIN_CHUNK_MESSAGES, Preparer, chunks

NOW = 1_795_000_000.0
SEEDS = SHARED_DIR / "seeds"
CORPUS = SHARED_DIR / "data" / "ant-dev.jsonl.gz"


def messages() -> list[Message]:
    values: list[bytes] = []
    if CORPUS.exists():
        with gzip.open(CORPUS, "rb") as f:
            values = [line for _, line in zip(range(60), f, strict=False)]
    values += [
        msgspec.json.encode(
            {"id": "en", "title": "A headline", "text": "First line.\nSecond line, in English."}
        ),
        msgspec.json.encode(
            {"html": "<h1>T</h1><p>body <b>bold</b> &amp; more</p>", "url": "https://x.test/a?utm_source=z"}
        ),
        b"{not json",
        b"\xff\xfe not utf-8",
        msgspec.json.encode({"id": "empty", "text": "   "}),
    ]
    return [
        Message(value=v, origin=f"raw:0:{i}", topic="raw", partition=0, offset=i, timestamp=NOW)
        for i, v in enumerate(values)
    ]


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def observe_stage(self, stage: str, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append(stage)


class ManyRecorder(Recorder):
    """An observer that takes a chunk's timings at once (as the worker's metrics do)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def observe_stages(self, seen: list[tuple[str, float]]) -> None:
        self.calls += 1
        for stage, seconds in seen:
            super().observe_stage(stage, seconds)

    def observe_stage(self, stage: str, seconds: float) -> None:
        raise AssertionError("one at a time, though the observer takes them all at once")


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("observer", [Recorder, ManyRecorder])
def test_pooled_results_equal_inline_and_stage_timings_come_back(processes: int, observer: type[Recorder]) -> None:
    msgs = messages()
    if processes > 1:  # enough for a chunk per process (without the corpus there are only a few)
        while len(msgs) < processes * MIN_CHUNK_MESSAGES + 1:
            msgs = msgs + msgs
        assert len(chunks(msgs, processes)) == processes
    limits = limits_of(Settings())
    inline_obs, pooled_obs = Recorder(), observer()
    inline = prepare_batch(msgs, limits=limits, now=NOW, observer=inline_obs)
    preparer = Preparer(processes=processes, limits=limits)
    try:
        pooled = asyncio.run(preparer.prepare(msgs, now=NOW, observer=pooled_obs))
    finally:
        preparer.close()
    assert pooled == inline
    assert all(p.message is m for p, m in zip(pooled, msgs, strict=True))  # the caller's messages
    assert sorted(pooled_obs.seen) == sorted(inline_obs.seen) and "fingerprint" in pooled_obs.seen
    if isinstance(pooled_obs, ManyRecorder):
        assert pooled_obs.calls == len(chunks(msgs, processes))  # once a chunk
    dead = sum(isinstance(p, DeadLettered) for p in pooled)
    assert dead == 3 * len(msgs) // len(messages())
    assert sum(isinstance(p, Prepared) for p in pooled) == len(msgs) - dead


def test_a_killed_prepare_process_loses_no_batch() -> None:
    msgs = messages()
    limits = limits_of(Settings())
    preparer = Preparer(processes=1, limits=limits)

    async def main() -> tuple[Any, Any]:
        first = await preparer.prepare(msgs, now=NOW)
        pool = preparer._pool
        assert pool is not None
        for process in list(pool._processes.values()):  # type: ignore[attr-defined]
            os.kill(process.pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        after_kill = await preparer.prepare(msgs, now=NOW)  # prepared inline, pool replaced
        again = await preparer.prepare(msgs, now=NOW)  # by a new process
        assert preparer._pool is not None and preparer._pool is not pool
        return first, (after_kill, again)

    try:
        first, (after_kill, again) = asyncio.run(main())
    finally:
        preparer.close()
    assert after_kill == first and again == first


def test_no_processes_means_no_pool() -> None:
    preparer = Preparer(processes=0, limits=limits_of(Settings()))
    staged = asyncio.run(preparer.prepare(messages()[-5:], now=NOW))
    assert len(staged) == 5 and preparer._pool is None


def test_without_events_only_the_clean_event_is_left_out() -> None:
    msgs = messages()
    limits = limits_of(Settings())
    full = prepare_batch(msgs, limits=limits, now=NOW)
    preparer = Preparer(processes=1, limits=limits, events=False)
    try:
        bare = asyncio.run(preparer.prepare(msgs, now=NOW))
    finally:
        preparer.close()
    for a, b in zip(full, bare, strict=True):
        if isinstance(a, Prepared):
            assert isinstance(b, Prepared) and b.clean is None
            assert (b.article_id, b.fp) == (a.article_id, a.fp)
        else:
            assert b == a
    with pytest.raises(ValueError, match="without events"):
        outcomes_of(bare, [None] * len(bare), now=NOW)


def test_batches_are_prepared_inline_while_the_processes_start() -> None:
    msgs = messages()
    limits = limits_of(Settings())
    preparer = Preparer(processes=1, limits=limits)

    async def main() -> tuple[Any, Any]:
        preparer.start()
        assert preparer._still_warming()  # a spawned interpreter takes far longer than this
        early = await preparer.prepare(msgs, now=NOW)  # not queued behind the start-up
        for future in list(preparer._warming):
            await asyncio.wrap_future(future)
        assert not preparer._still_warming()
        late = await preparer.prepare(msgs, now=NOW)
        return early, late

    try:
        early, late = asyncio.run(main())
    finally:
        preparer.close()
    assert early == late == prepare_batch(msgs, limits=limits, now=NOW)


def test_only_small_messages_are_prepared_inline_while_the_processes_start() -> None:
    """A large input may be a pathological one (its time grows with its size): inline it would
    stall the event loop, so it waits for a process, where a crash or a hang is contained."""
    from tests.support.poison import CRASH, prepare_or_break

    def marked(size: int) -> Message:
        text = f"An article {CRASH.decode()} " + "with words " * (size // 11)
        return Message(value=msgspec.json.encode({"id": f"big-{size}", "text": text}), origin=f"raw:0:{size}")

    small, large = marked(1_000), marked(INLINE_WHILE_STARTING_BYTES)
    preparer = Preparer(processes=1, limits=limits_of(Settings()), remote=prepare_or_break)

    async def main() -> tuple[Any, Any]:
        preparer.start()
        assert preparer._still_warming()
        inline = await preparer.prepare([small], now=NOW)  # the marker means nothing inline
        assert preparer._still_warming()
        return inline, await preparer.prepare([large], now=NOW)

    try:
        [inline], [pooled] = asyncio.run(main())
    finally:
        preparer.close()
    assert isinstance(inline, Prepared)
    assert isinstance(pooled, DeadLettered) and pooled.record.error_type == "prepare_crashed"


def test_the_worker_never_prepares_inline_while_the_processes_start() -> None:
    """Inline, a small input that crashes a process would crash the worker, and again after every
    restart (the batch is redelivered): the worker's batches wait for a process instead."""
    from tests.support.poison import CRASH, prepare_or_break

    msgs, [spot] = _poisoned(CRASH)
    preparer = Preparer(
        processes=1, limits=limits_of(Settings()), remote=prepare_or_break, inline_while_starting=False
    )

    async def main() -> Any:
        preparer.start()
        assert preparer._still_warming()
        return await asyncio.wait_for(preparer.prepare(msgs, now=NOW), 120)

    try:
        staged = asyncio.run(main())
    finally:
        preparer.close()
    assert isinstance(staged[spot], DeadLettered) and staged[spot].record.error_type == "prepare_crashed"


def test_pids_name_the_live_prepare_processes() -> None:
    preparer = Preparer(processes=2, limits=limits_of(Settings()))
    assert preparer.pids() == []

    async def main() -> list[int]:
        preparer.start()
        for future in list(preparer._warming):
            await asyncio.wrap_future(future)
        return preparer.pids()

    try:
        pids = asyncio.run(main())
        assert pids and all(Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        preparer.close()
    assert preparer.pids() == []


def test_prepare_processes_freeze_what_their_start_up_left_alive() -> None:
    """The start-up's objects are out of the collector's way in each prepare process
    (`settle_after_start`): a full collection there walks only what batches leave behind."""
    preparer = Preparer(processes=1, limits=limits_of(Settings()))
    try:
        preparer.start()
        for future in list(preparer._warming):
            future.result(timeout=60)
        pool = preparer._pool
        assert pool is not None
        frozen = pool.submit(gc.get_freeze_count).result(timeout=60)
    finally:
        preparer.close()
    assert frozen > 10_000  # the stages' modules, tables and patterns (0 without the freeze)


# --- supervision (issue #14, items 1 and 2) ------------------------------------------------------


def _started(preparer: Preparer) -> list[Any]:
    """The pool's processes, once started (the first batch starts them)."""
    pool = preparer._pool
    assert pool is not None
    return list(pool._processes.values())  # type: ignore[attr-defined]


def _handlers() -> tuple[Any, Any]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_a_prepare_process_ignores_sigint_from_the_terminal() -> None:
    """Ctrl-C reaches the whole process group; the parent owns shutdown, the children must not die."""
    msgs = messages()
    preparer = Preparer(processes=1, limits=limits_of(Settings()))

    async def main() -> tuple[Any, Any]:
        first = await preparer.prepare(msgs, now=NOW)
        [process] = _started(preparer)
        pool = preparer._pool
        assert pool is not None
        handlers = pool.submit(_handlers).result(30)
        assert handlers == (signal.SIG_IGN, signal.SIG_IGN)
        os.kill(process.pid, signal.SIGINT)
        await asyncio.sleep(0.5)
        assert process.exitcode is None, "the prepare process died of SIGINT"
        os.kill(process.pid, signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert process.exitcode is None, "the prepare process died of SIGTERM"
        return first, await preparer.prepare(msgs, now=NOW)

    try:
        first, second = asyncio.run(main())
    finally:
        preparer.close()
    assert first == second


def test_an_interrupt_as_a_batch_result_replaces_the_pool_and_never_escapes() -> None:
    msgs = messages()
    restarts: list[str] = []
    preparer = Preparer(processes=1, limits=limits_of(Settings()), on_restart=restarts.append)

    async def main() -> Any:
        await preparer.prepare(msgs, now=NOW)
        pool = preparer._pool
        assert pool is not None
        interrupted: concurrent.futures.Future[Any] = concurrent.futures.Future()
        interrupted.set_exception(KeyboardInterrupt())
        pool.submit = lambda *a, **k: interrupted  # type: ignore[method-assign]
        staged = await preparer.prepare(msgs, now=NOW)
        assert preparer._pool is not pool
        return staged

    try:
        staged = asyncio.run(main())
    finally:
        preparer.close()
    assert staged == prepare_batch(msgs, limits=limits_of(Settings()), now=NOW)
    assert restarts == ["interrupted"]


def test_a_process_killed_while_writing_its_result_does_not_wedge_the_worker() -> None:
    """The executor never notices this death (its manager thread waits in recv() for the rest of
    the result): the supervision must, and the wedged thread must end so the process can exit."""
    msgs = messages()
    restarts: list[str] = []
    preparer = Preparer(processes=1, limits=limits_of(Settings()), on_restart=restarts.append)

    async def main() -> tuple[Any, Any, Any]:
        first = await preparer.prepare(msgs, now=NOW)
        pool = preparer._pool
        assert pool is not None
        [process] = _started(preparer)
        manager = pool._executor_manager_thread  # type: ignore[attr-defined]
        os.kill(process.pid, signal.SIGSTOP)  # mid-batch, as far as the parent can tell
        pending = asyncio.ensure_future(preparer.prepare(msgs, now=NOW))
        await asyncio.sleep(0.3)
        # The first bytes of a ~2 MB result, and then the writer dies.
        os.write(pool._result_queue._writer.fileno(), struct.pack("!i", 2_000_000))  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        os.kill(process.pid, signal.SIGKILL)
        second = await asyncio.wait_for(pending, 30)
        return first, second, manager

    try:
        first, second, manager = asyncio.run(main())
        manager.join(10)
        assert not manager.is_alive(), "the executor's manager thread is still blocked"
    finally:
        preparer.close()
    assert second == first
    assert restarts == ["died"]


def test_a_hung_prepare_process_is_replaced_after_the_batch_time_limit() -> None:
    msgs = messages()
    restarts: list[str] = []
    preparer = Preparer(processes=1, limits=limits_of(Settings()), on_restart=restarts.append)

    async def main() -> tuple[Any, Any, Any]:
        first = await preparer.prepare(msgs, now=NOW)
        [process] = _started(preparer)
        os.kill(process.pid, signal.SIGSTOP)
        preparer.timeout_seconds = 1.0  # only for the hung batch: a busy machine is slow, not hung
        second = await asyncio.wait_for(preparer.prepare(msgs, now=NOW), 30)
        preparer.timeout_seconds = 60.0
        third = await preparer.prepare(msgs, now=NOW)  # a fresh pool
        return first, second, (third, process)

    try:
        first, second, (third, stopped) = asyncio.run(main())
    finally:
        preparer.close()
    assert second == first and third == first
    assert restarts == ["timeout"]
    assert stopped.exitcode is not None, "the hung process was left behind"


def test_kill_leaves_no_prepare_process() -> None:
    preparer = Preparer(processes=2, limits=limits_of(Settings()))

    async def main() -> list[int]:
        preparer.start()
        for future in list(preparer._warming):
            await asyncio.wrap_future(future)
        return preparer.pids()

    pids = asyncio.run(main())
    assert len(pids) == 2
    preparer.kill()
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert preparer._pool is None


@pytest.mark.parametrize("count", [0, 1, 31, 32, 63, 64, 65, 500, 501])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_chunks_split_in_order_evenly_and_never_too_small(count: int, parts: int) -> None:
    items = [object() for _ in range(count)]
    out = chunks(items, parts)  # type: ignore[arg-type]
    assert [x for part in out for x in part] == items
    assert 1 <= len(out) <= parts
    sizes = [len(part) for part in out]
    assert max(sizes) - min(sizes) <= 1
    if len(out) > 1:
        assert min(sizes) >= MIN_CHUNK_MESSAGES


def _poisoned(*markers: bytes) -> tuple[list[Message], list[int]]:
    """The usual messages with one article per marker put among them; and where those are."""
    msgs = messages()
    spots = []
    for n, marker in enumerate(markers):
        at = (n + 1) * len(msgs) // (len(markers) + 1)
        value = msgspec.json.encode({"id": f"poison-{n}", "text": f"An article {marker.decode()} like any other."})
        msgs.insert(at, Message(value=value, origin=f"raw:1:{n}", topic="raw", partition=1, offset=n))
        spots.append(at)
    return msgs, spots


def test_a_message_that_crashes_its_prepare_process_is_set_aside_and_the_rest_prepared() -> None:
    """Prepared inline after the crash, the same input would kill the event loop's process, and
    the worker crash-loop on its redelivery: the batch is prepared again a message at a time,
    each in a process of its own, and only the one that kills its process alone is set aside."""
    from tests.support.poison import CRASH, prepare_or_break

    msgs, [spot] = _poisoned(CRASH)
    restarts: list[str] = []
    limits = limits_of(Settings())
    preparer = Preparer(processes=2, limits=limits, on_restart=restarts.append, remote=prepare_or_break)

    async def main() -> tuple[Any, Any]:
        staged = await asyncio.wait_for(preparer.prepare(msgs, now=NOW), 120)
        clean = [m for i, m in enumerate(msgs) if i != spot]
        return staged, await preparer.prepare(clean, now=NOW)  # the pool, replaced, works

    try:
        staged, after = asyncio.run(main())
    finally:
        preparer.close()
    expected = prepare_batch([m for i, m in enumerate(msgs) if i != spot], limits=limits, now=NOW)
    assert len(staged) == len(msgs)
    set_aside = staged.pop(spot)
    assert isinstance(set_aside, DeadLettered) and set_aside.message is msgs[spot]
    assert set_aside.record.error_type == "prepare_crashed"
    assert "died 3 times" in set_aside.record.error and "SIGSEGV" in set_aside.record.error
    assert b"poison-0" in msgspec.json.encode(set_aside.record)  # the original bytes are kept
    assert staged == expected and after == expected
    assert restarts == ["died"]


def test_messages_that_hang_or_crash_are_set_aside_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.poison import CRASH, HANG, prepare_or_break
    from worker.service import preparer as preparer_module

    monkeypatch.setattr(preparer_module, "TIMEOUT_SECONDS_PER_MIB", 0.0)
    msgs, spots = _poisoned(HANG, CRASH)
    restarts: list[str] = []
    resolved: list[None] = []  # the worker's stuck detector hears of each: slow, but progress
    limits = limits_of(Settings())
    preparer = Preparer(
        processes=1, limits=limits, on_restart=restarts.append, remote=prepare_or_break, timeout_seconds=2.0,
        on_isolated=lambda: resolved.append(None),
    )
    try:
        staged = asyncio.run(asyncio.wait_for(preparer.prepare(msgs, now=NOW), 120))
    finally:
        preparer.close()
    reasons = {i: s.record.error_type for i, s in enumerate(staged) if isinstance(s, DeadLettered)}
    expected = prepare_batch(msgs, limits=limits, now=NOW)
    assert [s.message for s in staged] == msgs
    assert {i: r for i, r in reasons.items() if i in spots} == {spots[0]: "prepare_timeout", spots[1]: "prepare_crashed"}
    assert [s for i, s in enumerate(staged) if i not in spots] == [s for i, s in enumerate(expected) if i not in spots]
    assert restarts == ["timeout"]  # the hang comes first in the batch
    assert len(resolved) == len(msgs)


def test_a_message_whose_process_dies_under_it_twice_alone_is_prepared_on_its_third_try(tmp_path: Path) -> None:
    """Under memory pressure the kernel kills some process, maybe the one preparing an innocent
    message alone, and an operator may kill them by hand: a message is set aside only when its
    process dies under it `ISOLATION_DEATHS` (3) times."""
    from tests.support.poison import CRASH_TIMES, prepare_or_break

    deaths = tmp_path / "deaths"
    msgs, _ = _poisoned(CRASH_TIMES + f"3:{deaths}".encode() + b"@@")  # in the batch, then alone twice
    limits = limits_of(Settings())
    restarts: list[str] = []
    preparer = Preparer(processes=1, limits=limits, on_restart=restarts.append, remote=prepare_or_break)
    try:
        staged = asyncio.run(asyncio.wait_for(preparer.prepare(msgs, now=NOW), 120))
    finally:
        preparer.close()
    assert deaths.read_text() == "3"
    assert staged == prepare_batch(msgs, limits=limits, now=NOW)  # and nothing was set aside
    assert restarts == ["died"]


def test_a_process_killed_before_the_isolated_message_reaches_it_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kill from outside between an isolating process' start and the next message's hand-off:
    `submit` on its broken pool raised out of the isolation, and the worker exited mid-stream (the
    process-kill fault test, once in CI). The process is replaced; the message was never in it."""
    from tests.support.poison import CRASH, prepare_or_break

    msgs, [spot] = _poisoned(CRASH)
    limits = limits_of(Settings())
    preparer = Preparer(processes=1, limits=limits, remote=prepare_or_break)
    original = Preparer._quarantine
    killed: list[int] = []

    async def quarantine_then_kill(self: Preparer) -> Any:
        pool = await original(self)
        if pool is not None and len(killed) < 2:  # the first two started are killed at once
            [process] = list(pool._processes.values())  # type: ignore[attr-defined]
            os.kill(process.pid, signal.SIGKILL)
            killed.append(process.pid)
            for _ in range(1000):  # until the executor notices
                if pool._broken:  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.01)
        return pool

    monkeypatch.setattr(Preparer, "_quarantine", quarantine_then_kill)
    try:
        staged = asyncio.run(asyncio.wait_for(preparer.prepare(msgs, now=NOW), 120))
    finally:
        preparer.close()
    assert len(killed) == 2
    expected = prepare_batch(msgs, limits=limits, now=NOW)
    assert [s for i, s in enumerate(staged) if i != spot] == [s for i, s in enumerate(expected) if i != spot]
    assert isinstance(staged[spot], DeadLettered) and staged[spot].record.error_type == "prepare_crashed"


def test_prepare_processes_that_cannot_start_leave_the_stages_inline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """/dev/shm full (or a process limit): the pool's start raised OSError outside the agent's
    error handling, and faust restarted the agent every 5 s for good (a review's finding). The
    stages run inline, and the log says why and what to do."""
    import worker.service.preparer as preparer_module

    def no_room(processes: int) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(preparer_module, "_new_pool", no_room)
    preparer = Preparer(processes=2, limits=limits_of(Settings()))
    preparer.start()
    assert preparer.processes == 0 and preparer._pool is None
    assert "cannot start 2 prepare processes" in caplog.text and "/dev/shm" in caplog.text
    staged = asyncio.run(preparer.prepare(messages()[-5:], now=NOW))
    assert len(staged) == 5
