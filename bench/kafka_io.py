"""Feeding the input topic and reading the output topics back, with broker timestamps.

The producer is as fast as aiokafka allows (large batches, deliveries awaited by windows), or
paced at a fixed rate for the latency runs. The reader keeps only what the figures need from
each record: its key (the article id) and its timestamp.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

#: Deliveries in flight before the fast producer waits for them.
WINDOW = 2000


def _producer(bootstrap: str, linger_ms: int) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,  # Tansu has no idempotent producer
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
        max_request_size=64 * 1024 * 1024,
    )


async def produce_fast(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> float:
    """Send every (key, value) as fast as possible; returns the seconds it took."""
    producer = _producer(bootstrap, linger_ms=10)
    await producer.start()
    started = time.perf_counter()
    try:
        pending: list[asyncio.Future[object]] = []
        for key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def produce_paced(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]], rate: float
) -> float:
    """Send at `rate` messages per second (in 10 ms ticks); returns the achieved rate."""
    producer = _producer(bootstrap, linger_ms=0)
    await producer.start()
    started = time.perf_counter()
    try:
        pending: list[asyncio.Future[object]] = []
        sent = 0
        while sent < len(records):
            due = min(len(records), int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                key, value = records[sent]
                pending.append(await producer.send(topic, value, key=key))
                sent += 1
            await asyncio.sleep(0.01)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(records) / max(time.perf_counter() - started, 1e-9)


@dataclass
class TopicReader:
    """Reads topics from the beginning, keeping (key -> timestamp ms) and a count per topic."""

    bootstrap: str
    topics: Sequence[str]
    timestamps: dict[bytes, int] = field(default_factory=dict)
    all_timestamps: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=64 * 1024 * 1024,
        )
        await self._consumer.start()
        self.counts = dict.fromkeys(self.topics, 0)
        return self

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    async def poll(self, timeout_ms: int = 200) -> int:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=50_000)
        for tp, records in batch.items():
            self.counts[tp.topic] += len(records)
            for r in records:
                self.all_timestamps.append(r.timestamp)
                if r.key is not None:
                    self.timestamps[r.key] = r.timestamp
        return self.total

    async def wait_for(self, expected: int, timeout: float) -> int:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while self.total < expected and time.monotonic() < deadline:
            await self.poll()
        return self.total

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


async def read_all(bootstrap: str, topics: Sequence[str], expected: int, timeout: float) -> TopicReader:  # noqa: ASYNC109
    reader = await TopicReader(bootstrap, topics).start()
    try:
        await reader.wait_for(expected, timeout)
    finally:
        await reader.stop()
    return reader
