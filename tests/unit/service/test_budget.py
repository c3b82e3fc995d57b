"""`ByteBudget` and `ByteBoundedQueue`: memory follows bytes, and one message always passes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mode.utils.queues import FlowControlEvent

from worker.service.budget import ByteBoundedQueue, ByteBudget, message_bytes


def event(size: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(value=b"x" * size))


def test_message_bytes_reads_an_event_s_value_and_nothing_else() -> None:
    assert message_bytes(event(7)) == 7
    assert message_bytes(SimpleNamespace(message=SimpleNamespace(value=None))) == 0
    assert message_bytes(None) == 0 and message_bytes("not an event") == 0


def test_the_budget_waits_for_room_and_always_admits_one_message() -> None:
    async def scenario() -> None:
        budget = ByteBudget(100)
        await budget.acquire(60)
        assert not budget.exhausted
        second = asyncio.ensure_future(budget.acquire(60))
        await asyncio.sleep(0)
        assert not second.done() and budget.held == 60  # 120 would be over: it waits
        assert budget.exhausted  # under the limit, but nothing more may come: the batch may go
        budget.release(60)
        await asyncio.wait_for(second, 1)
        assert budget.held == 60 and not budget.exhausted
        budget.release(60)
        assert budget.try_acquire(30) and not budget.try_acquire(80) and budget.held == 30
        budget.release(30)
        await asyncio.wait_for(budget.acquire(500), 1)  # larger than the limit, but alone: passes
        assert budget.exhausted
        budget.release(500)
        assert budget.held == 0 and not budget.exhausted

    asyncio.run(scenario())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=40), st.integers(1, 250))
def test_whatever_the_sizes_the_budget_never_holds_more_than_its_limit_or_one_message(
    sizes: list[int], limit: int
) -> None:
    async def scenario() -> None:
        budget = ByteBudget(limit)
        held: list[int] = []
        peak = 0

        async def take(size: int) -> None:
            nonlocal peak
            await budget.acquire(size)
            held.append(size)
            peak = max(peak, budget.held)
            # the bound: within the limit, or one message over it held alone (with empty ones)
            assert budget.held <= limit or budget.held == max(held)

        async def give_back() -> None:
            while held or not producer.done():
                await asyncio.sleep(0)
                if held:
                    budget.release(held.pop(0))

        async def produce() -> None:
            for size in sizes:
                await take(size)

        producer = asyncio.ensure_future(produce())
        await asyncio.wait_for(asyncio.gather(producer, give_back()), 5)
        assert budget.held == 0 and peak <= max(limit, max(sizes))

    asyncio.run(scenario())


def test_the_stream_buffer_is_full_at_its_byte_limit_too_and_takes_one_when_empty() -> None:
    async def scenario() -> None:
        flow = FlowControlEvent()
        flow.resume()  # faust resumes it once partitions are assigned
        queue = ByteBoundedQueue(maxsize=100, flow_control=flow, byte_limit=1000)
        queue.put_nowait(event(2000))  # over the limit alone: still taken
        assert queue.full() and queue.bytes == 2000
        waiting = asyncio.ensure_future(queue.put(event(10)))
        await asyncio.sleep(0)
        assert not waiting.done()  # full by bytes, with 1 of 100 items
        assert message_bytes(await queue.get()) == 2000
        await asyncio.wait_for(waiting, 1)
        assert queue.bytes == 10 and not queue.full()
        for _ in range(99):
            queue.put_nowait(event(1))
        assert queue.full()  # full by count, as before
        queue.clear()
        assert queue.bytes == 0 and queue.empty() and not queue.full()

    asyncio.run(scenario())


def test_the_faust_app_builds_its_stream_buffers_bounded_in_bytes() -> None:
    from worker.config import Settings
    from worker.service.app import new_faust_app

    app = new_faust_app(Settings(app_id="budget-test", max_buffered_bytes=5 * 1024 * 1024))
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=False)
    assert isinstance(queue, ByteBoundedQueue) and queue.byte_limit == 5 * 1024 * 1024


def test_the_budget_refuses_a_limit_below_one_byte() -> None:
    with pytest.raises(ValueError, match="limit"):
        ByteBudget(0)
