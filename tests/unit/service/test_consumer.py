"""The consumer's hand-off (worker/service/consumer.py): a callback that does not wait runs to its
end at once, one that waits is awaited as faust awaits it (and abandoned as faust abandons it),
and the fetcher resumes when a paused partition's buffer drains instead of sleeping a second."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from typing import Any

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP
from mode import Service
from prometheus_client import CollectorRegistry

from worker.config import Settings
from worker.service.app import build_app
from worker.service.consumer import DrainingConsumer, LeanMonitor, start_eagerly

# faust's objects are built and never started here: they leave loops and clients unclosed
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_callback_that_does_not_wait_runs_to_its_end_at_once() -> None:
    done: list[int] = []

    async def callback(n: int) -> None:
        done.append(n)

    async def main() -> None:
        assert start_eagerly(callback(1)) is None
        assert done == [1]  # before anything else ran

    run(main())


def test_a_callback_that_waits_is_finished_by_awaiting_the_rest() -> None:
    steps: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        first, second = loop.create_future(), loop.create_future()

        async def callback() -> str:
            steps.append("start")
            a = await first
            await asyncio.sleep(0)  # a bare yield on the way
            steps.append(f"got {a}")
            b = await second
            return f"{a}+{b}"

        rest = start_eagerly(callback())
        assert rest is not None
        assert steps == ["start"]  # ran to its first wait, not past it
        task = asyncio.ensure_future(rest)
        await asyncio.sleep(0)
        assert not task.done()
        first.set_result("x")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert steps == ["start", "got x"]
        second.set_result("y")
        assert await task == "x+y"

    run(main())


def test_errors_come_out_where_they_happen() -> None:
    async def fails_at_once() -> None:
        raise ValueError("first step")

    async def main() -> None:
        with pytest.raises(ValueError, match="first step"):
            start_eagerly(fails_at_once())
        gate = asyncio.get_running_loop().create_future()

        async def fails_later() -> None:
            await gate
            raise KeyError("later")

        rest = start_eagerly(fails_later())
        assert rest is not None
        gate.set_result(None)
        with pytest.raises(KeyError, match="later"):
            await rest

    run(main())


def test_a_waiting_callback_is_cancelled_inside_when_faust_gives_up_on_it() -> None:
    """faust's drain waits for a callback or for flow to be suspended (a rebalance), whichever is
    first, and cancels the other: the callback must see the cancellation where it waits."""
    seen: list[str] = []

    class Drain(Service):
        pass

    async def main() -> None:
        never = asyncio.get_running_loop().create_future()
        suspended = asyncio.Event()

        async def callback() -> None:
            try:
                await never
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
            finally:
                seen.append("finally")

        rest = start_eagerly(callback())
        assert rest is not None
        drain = Drain()
        suspended.set()
        await drain.wait_first(rest, suspended.wait())
        for _ in range(3):
            await asyncio.sleep(0)
        assert seen == ["cancelled", "finally"]

    run(main())


def test_faust_s_drain_loop_is_the_one_this_copies() -> None:
    """DrainingConsumer._drain_messages is faust-streaming 0.15.3's with one change. A faust that
    changes its loop fails here: merge the change into worker/service/consumer.py, then update
    the digest."""
    source = inspect.getsource(FaustConsumer._drain_messages)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417", digest
    ours = inspect.getsource(DrainingConsumer._drain_messages)
    assert "wait_first(callback(message)" not in ours
    assert "start_eagerly(callback(message))" in ours


def _consumer(app_id: str) -> DrainingConsumer:
    app = build_app(Settings(app_id=app_id, prepare_processes=0), registry=CollectorRegistry())
    consumer = app.consumer
    assert isinstance(consumer, DrainingConsumer)
    return consumer


def test_the_worker_s_app_uses_the_draining_consumer() -> None:
    _consumer("draining-consumer")


def _fetching(app_id: str, *, active: set[TP], paused: set[TP], records: Any) -> tuple[DrainingConsumer, list[Any]]:
    """A consumer with these partitions active and paused (buffer full), whose fetch returns
    `records` (None: a fetch fails the test), and the active partitions each fetch was given."""
    consumer = _consumer(app_id)
    fetched: list[Any] = []

    async def getmany(active_partitions: Any, timeout: float) -> Any:  # noqa: ASYNC109 - faust's
        if records is None:
            raise AssertionError("fetched while every partition is paused")
        fetched.append(set(active_partitions))
        return records

    consumer._getmany = getmany  # type: ignore[method-assign]
    consumer._active_partitions = active
    consumer._buffered_partitions = paused
    return consumer, fetched


def test_with_every_partition_paused_the_fetcher_resumes_when_a_buffer_drains() -> None:
    """faust pauses a partition whose stream buffer is full and, with none left to fetch, sleeps a
    whole second before looking again: a stall per full buffer under a backlog. Here the fetch
    resumes as soon as the buffer drains to its low mark."""
    tp = TP("in", 0)

    async def main() -> None:
        # paused: its buffer was full
        consumer, fetched = _fetching("paused-partitions", active=set(), paused={tp}, records={tp: ["record"]})
        # an hour: only the buffer's drain can end this wait within the test's 10 s
        waiting = asyncio.ensure_future(consumer._wait_next_records(3600.0))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done() and fetched == []
        consumer.on_buffer_drop(tp)  # the stream took enough: the partition is active again
        records, active = await asyncio.wait_for(waiting, timeout=10)
        assert records == {tp: ["record"]} and active == {tp}
        assert fetched == [{tp}]

    run(main())


def test_with_every_partition_still_paused_the_fetcher_fetches_nothing() -> None:
    tp = TP("in", 0)

    async def main() -> None:
        consumer, _ = _fetching("still-paused", active=set(), paused={tp}, records=None)
        assert await consumer._wait_next_records(0.01) == ({}, set())
        # a stop ends the wait too
        waiting = asyncio.ensure_future(consumer._wait_next_records(3600.0))
        await asyncio.sleep(0)
        consumer._stopped.set()
        assert await asyncio.wait_for(waiting, timeout=10) == ({}, set())

    run(main())


def test_an_active_partition_is_fetched_without_waiting() -> None:
    tp = TP("in", 0)

    async def main() -> None:
        consumer, _ = _fetching("active", active={tp}, paused=set(), records={tp: ["record"]})
        waited = await asyncio.wait_for(consumer._wait_next_records(3600.0), timeout=10)
        assert waited == ({tp: ["record"]}, {tp})

    run(main())


def test_an_awaitable_that_is_not_a_coroutine_is_left_to_be_awaited() -> None:
    async def main() -> None:
        future = asyncio.get_running_loop().create_future()
        assert start_eagerly(future) is future

    run(main())


def test_the_monitor_keeps_what_faust_reads_and_nothing_per_message_besides() -> None:
    async def main() -> None:
        app = build_app(Settings(app_id="lean-monitor", prepare_processes=0), registry=CollectorRegistry())
        monitor = app.monitor
        assert isinstance(monitor, LeanMonitor)
        app.on_init_dependencies()  # what the app does as it starts: the monitor becomes a sensor
        assert monitor in set(app.sensors)
        tp = TP("in", 3)
        state = app.sensors.on_stream_event_in(tp, 7, object(), object())  # type: ignore[arg-type]
        assert tp in monitor.stream_inbound_time  # faust's slow-processing warnings read it
        app.sensors.on_stream_event_out(tp, 7, object(), object(), state)  # type: ignore[arg-type]
        assert monitor.events_total == 0 and monitor.messages_received_total == 0
        assert not monitor.events_runtime  # nothing kept per event

    run(main())


def test_faust_s_compiled_stream_iterator_takes_buffered_events_directly() -> None:
    app = build_app(Settings(app_id="cython-fast-path", prepare_processes=0), registry=CollectorRegistry())
    from faust.utils.optin import cython_optimizations_enabled

    assert cython_optimizations_enabled(app.conf)
