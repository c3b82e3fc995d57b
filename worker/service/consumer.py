"""faust's Kafka consumer with a cheaper hand-off of each fetched message to the streams.

faust's `Consumer._drain_messages` hands every message to the topic conductor through
`Service.wait_first(callback(message), suspend_flow.wait())`: four tasks (the callback, the
flow-suspension wait, the consumer's stopped and crashed waits), an `asyncio.wait` and three
cancellations, about 29 µs of the event loop's CPU per message on this machine. The callback
almost never waits: it puts the message's event on the stream's buffer and returns.

`DrainingConsumer._drain_messages` is faust's loop with one change: it runs the callback's first
step at once, as Python 3.12's eager tasks do. When that step finishes the callback (the common
case), nothing else is needed. When the callback has to wait (flow control suspended during a
rebalance, the stream's buffer full, the producer's buffer full), the rest of it goes through
faust's `wait_first` exactly as before, so a rebalance or a stop still abandons a blocked hand-off.
What runs, in what order, and what a stop or a rebalance does are unchanged; only the tasks of the
common case are gone.

tests/unit/service/test_consumer.py pins the source of faust's loop this copies: an upgrade of
faust that changes it fails there, to be merged by hand.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Coroutine, Generator
from time import monotonic
from typing import Any, cast

from faust.sensors.monitor import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, Message, PendingMessage, ProducerT, RecordMetadata
from mode import Service


class _Resumed:
    """Awaits the rest of a coroutine that already ran to its first suspension, where it yielded
    `pending` (the future it waits on, or None for a bare yield). What a task does with the
    coroutine from there on (send, throw, close) is passed through to it."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, None, Any]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation, above all: the coroutine gets it
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(None)
                except StopIteration as stop:
                    return stop.value


def start_eagerly(awaitable: Awaitable[Any]) -> Awaitable[Any] | None:
    """Run a coroutine up to its first suspension. None when it finished there (its result is not
    needed here); else an awaitable for the rest of it. An exception it raises propagates. Any
    other awaitable is returned as it is, to be awaited."""
    if not isinstance(awaitable, Coroutine):
        return awaitable
    try:
        pending = awaitable.send(None)
    except StopIteration:
        return None
    return _Resumed(awaitable, pending)


class DrainingConsumer(driver.Consumer):
    """faust's aiokafka consumer whose drain hands messages on eagerly, and whose fetcher resumes
    as soon as a paused partition may be fetched again (module doc)."""

    @functools.cached_property
    def _resumed(self) -> asyncio.Event:
        return asyncio.Event()

    def on_buffer_drop(self, tp: Any) -> None:
        super().on_buffer_drop(tp)
        self._resumed.set()

    def _all_paused(self) -> bool:
        # every assigned partition paused because its stream's buffer is full
        return bool(self._buffered_partitions) and not self._get_active_partitions()

    async def _wait_next_records(self, timeout: float) -> Any:  # noqa: ASYNC109 - faust's signature
        if self.flow_active and not self.app.client_only and self._all_paused():
            # faust sleeps a whole second here; wake when a buffer drains to its low mark instead
            resumed = self._resumed
            resumed.clear()
            await self.wait_for_stopped(resumed.wait(), timeout=timeout)
            if self._all_paused():
                return {}, set()
        return await super()._wait_next_records(timeout)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - run by every integration test
        # faust-streaming 0.15.3's Consumer._drain_messages; changed lines are marked "newsworker".
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None:  # noqa: SIM102 - faust's code as it is
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            # newsworker: the callback's first step at once; only a callback
                            # that has to wait goes through wait_first (four tasks)
                            rest = start_eagerly(callback(message))
                            if rest is not None:
                                await self.wait_first(rest, self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class LeanMonitor(Monitor):
    """faust's Monitor (`app.monitor`, a sensor every message and event passes) without its
    per-message bookkeeping: the counts and timings it keeps feed faust's web views and its
    `Monitor.asdict()`, which the worker does not serve (its own metrics are worker/service/metrics.py).
    What faust itself reads from it stays: when each partition's stream last took an event (its
    slow-processing warnings) and the end and commit offsets it records per fetch and per commit."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: Any, event: Any, state: dict[str, Any] | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> Any:
        return None

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        return None
