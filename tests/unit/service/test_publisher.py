"""Publishing: each outcome to its topic keyed by article id, every delivery awaited, failures raised."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from tests.support.factories import encode, make_article
from tests.support.fakes import InMemoryStore
from worker.dedup.decision import Thresholds
from worker.errors import PublishFailed, TransientError
from worker.pipeline import Limits, Message, Outcome, process_batch
from worker.service.metrics import Metrics
from worker.service.publisher import Publisher, Topics

TOPICS = Topics(clean="out.clean", duplicates="out.dup", dlq="out.dlq")
LIMITS = Limits(max_message_bytes=1 << 20, max_text_chars=100_000, dead_letter_preview_bytes=4096)


class FakeBuilder:
    """aiokafka's BatchBuilder as `Publisher` uses it: `append` returns None once `cap` bytes are
    in (a first record always goes in)."""

    def __init__(self, cap: int) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []
        self.cap, self.size = cap, 0

    def append(self, *, timestamp: float | None, key: bytes | None, value: bytes, headers: list[Any]) -> object:
        n = len(value) + len(key or b"")
        if self.records and self.size + n > self.cap:
            return None
        self.records.append((key, value))
        self.size += n
        return object()


class FakeProducer:
    """faust's producer and the aiokafka client behind it, as `Publisher` uses them: record
    batches (`create_batch`, `send_batch`: one future a batch) and, for an output sent alone,
    `send` (a future per record).

    `max_bytes`: the broker refuses a value over it as Kafka does (MESSAGE_SIZE_TOO_LARGE), and
    the whole record batch it is in with it. `batch_bytes`: what a record batch holds (1: each
    output in a batch of its own). `partitions`: every topic's partitions."""

    def __init__(
        self, *, refuse: str | None = None, fail_delivery: str | None = None, max_bytes: int | None = None,
        batch_bytes: int = 1 << 20, partitions: int = 1, max_request_size: int = 1 << 22,
    ) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.delivered: list[tuple[str, bytes | None, bytes]] = []
        self.batches: list[tuple[str, int, int]] = []  # topic, partition, records
        self.refuse, self.fail_delivery, self.max_bytes = refuse, fail_delivery, max_bytes
        self.batch_bytes, self._max_request_size = batch_bytes, max_request_size
        ids = set(range(partitions))
        self.client = SimpleNamespace(
            cluster=SimpleNamespace(partitions_for_topic=lambda t: ids, available_partitions_for_topic=lambda t: ids)
        )

    def _ensure_producer(self) -> FakeProducer:
        return self

    async def partitions_for(self, topic: str) -> set[int]:
        from aiokafka.errors import KafkaError

        if topic == self.refuse:
            raise KafkaError("unknown topic")
        return set(self.client.cluster.partitions_for_topic(topic))

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder(self.batch_bytes)

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> asyncio.Future[None]:
        return self._sent(topic, partition, builder.records)

    async def send(self, topic: str, key: bytes | None, value: bytes, **_: Any) -> asyncio.Future[None]:
        from aiokafka.errors import MessageSizeTooLargeError
        from faust.exceptions import ProducerSendError

        if len(value) > self._max_request_size:  # the client's own check, wrapped by faust
            raise ProducerSendError("too large") from MessageSizeTooLargeError()
        return self._sent(topic, 0, [(key, value)])

    def _sent(self, topic: str, partition: int, records: list[tuple[bytes | None, bytes]]) -> asyncio.Future[None]:
        from aiokafka.errors import MessageSizeTooLargeError

        self.sent += [(topic, key, value) for key, value in records]
        self.batches.append((topic, partition, len(records)))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic == self.fail_delivery:
            fut.set_exception(TimeoutError("no ack"))
        elif self.max_bytes is not None and any(len(value) > self.max_bytes for _, value in records):
            fut.set_exception(MessageSizeTooLargeError())
        else:
            asyncio.get_running_loop().call_soon(self._ack, fut, [(topic, k, v) for k, v in records])
        return fut

    def _ack(self, fut: asyncio.Future[None], records: list[tuple[str, bytes | None, bytes]]) -> None:
        fut.set_result(None)
        self.delivered += records


def outcomes() -> list[Outcome]:
    """A clean article, its exact copy and a dead letter, decided by the real pipeline."""
    article = encode(make_article(id="a-1"))
    values = [article, encode(make_article(id="a-2")), b"{not json"]
    messages = [Message(value=v, origin=f"raw:0:{i}") for i, v in enumerate(values)]
    return asyncio.run(process_batch(messages, InMemoryStore(), limits=LIMITS, thresholds=Thresholds()))


def publisher(producer: FakeProducer, registry: CollectorRegistry) -> Publisher:
    return Publisher(SimpleNamespace(producer=producer), TOPICS, Metrics(registry), LIMITS)  # type: ignore[arg-type]


def test_each_outcome_goes_to_its_topic_keyed_by_id() -> None:
    producer = FakeProducer()
    asyncio.run(publisher(producer, CollectorRegistry()).publish(outcomes()))
    topics = [t for t, _, _ in producer.sent]
    assert topics == ["out.clean", "out.dup", "out.dlq"]
    (_, k1, v1), (_, k2, v2), (_, k3, v3) = producer.sent
    assert k1 == b"a-1" and msgspec.json.decode(v1)["id"] == "a-1"
    assert k2 == b"a-2" and msgspec.json.decode(v2)["duplicate_of"] == "a-1"
    assert k3 is None and msgspec.json.decode(v3)["error_type"]  # no id could be read: no key


def test_a_refused_send_raises_publish_failed_and_counts() -> None:
    registry = CollectorRegistry()
    with pytest.raises(PublishFailed, match=r"out\.dup"):
        asyncio.run(publisher(FakeProducer(refuse="out.dup"), registry).publish(outcomes()))
    assert registry.get_sample_value("newsworker_kafka_send_errors_total", {"topic_role": "duplicates"}) == 1


def test_an_undelivered_outcome_raises_transient_error_after_awaiting_all() -> None:
    registry = CollectorRegistry()
    producer = FakeProducer(fail_delivery="out.clean")
    with pytest.raises(TransientError, match="1 of 3 outputs not delivered"):
        asyncio.run(publisher(producer, registry).publish(outcomes()))
    assert len(producer.sent) == 3  # every send was made and awaited, not abandoned at the first
    assert registry.get_sample_value("newsworker_kafka_send_errors_total", {"topic_role": "clean"}) == 1


def big_outcomes() -> list[Outcome]:
    """Three clean articles, the middle one ~40 KB, and a dead letter."""
    values = [
        encode(make_article(id="s-1", text=" ".join(f"port{i}" for i in range(60)))),
        encode(make_article(id="big", text=" ".join(f"word{i}" for i in range(6000)))),
        encode(make_article(id="s-2", text=" ".join(f"wage{i}" for i in range(60)))),
        b"{not json",
    ]
    messages = [Message(value=v, origin=f"raw:0:{i}", topic="raw", partition=0, offset=i) for i, v in enumerate(values)]
    return asyncio.run(process_batch(messages, InMemoryStore(), limits=LIMITS, thresholds=Thresholds()))


@pytest.mark.parametrize("batch_bytes", [1, 1 << 20])
def test_an_event_the_broker_refuses_as_too_large_becomes_the_articles_dead_letter(batch_bytes: int) -> None:
    """Retried, the refusal would stall the partition for good: the article is set aside instead,
    with its original bytes, and everything else is delivered (a batch refused with it included)."""
    registry = CollectorRegistry()
    producer = FakeProducer(max_bytes=20_000, batch_bytes=batch_bytes)
    delivered = asyncio.run(publisher(producer, registry).publish(big_outcomes()))
    kinds = [type(o).__name__ for o in delivered]
    assert kinds == ["Clean", "DeadLettered", "Clean", "DeadLettered"]
    dead = delivered[1].record  # type: ignore[union-attr]
    assert dead.error_type == "output_too_large" and dead.id == "big" and dead.offset == 1
    assert "max.message.bytes" in dead.error and "out.clean" in dead.error
    assert dead.original_size == len(delivered[1].message.value)
    on_topics = [(t, msgspec.json.decode(v).get("id")) for t, _, v in producer.delivered]
    assert sorted(on_topics, key=str) == sorted(
        [("out.clean", "s-1"), ("out.clean", "s-2"), ("out.dlq", "big"), ("out.dlq", None)], key=str
    )
    assert registry.get_sample_value("newsworker_kafka_send_errors_total", {"topic_role": "clean"}) >= 1


def test_a_dead_letter_refused_as_too_large_is_retried_not_set_aside() -> None:
    # nothing smaller could replace it: the batch is retried (and the partition waits)
    producer = FakeProducer(max_bytes=10)
    with pytest.raises(TransientError):
        asyncio.run(publisher(producer, CollectorRegistry()).publish(big_outcomes()[3:]))


def test_an_event_over_the_request_limit_is_set_aside_without_being_sent_in_a_batch() -> None:
    # the client's `send` refuses such a record itself; built into a batch, it would take the
    # batch's other records down with it at the broker
    registry = CollectorRegistry()
    producer = FakeProducer(max_request_size=20_000)
    delivered = asyncio.run(publisher(producer, registry).publish(big_outcomes()))
    assert [type(o).__name__ for o in delivered] == ["Clean", "DeadLettered", "Clean", "DeadLettered"]
    assert delivered[1].record.error_type == "output_too_large"  # type: ignore[union-attr]
    assert all(len(value) <= 20_000 for _, _, value in producer.sent)


def test_a_dead_letter_over_the_request_limit_is_retried_not_set_aside() -> None:
    producer = FakeProducer(max_request_size=10)
    with pytest.raises(PublishFailed, match=r"out\.dlq"):
        asyncio.run(publisher(producer, CollectorRegistry()).publish(big_outcomes()[3:]))


def test_outputs_go_in_record_batches_per_partition_in_order_on_the_partition_of_their_key() -> None:
    from worker.service.partitioner import kafka_partitioner

    values = [encode(make_article(id=f"id-{i}", text=" ".join(f"w{i}x{j}" for j in range(60)))) for i in range(40)]
    messages = [Message(value=v, origin=f"raw:0:{i}") for i, v in enumerate(values)]
    outs = asyncio.run(process_batch(messages, InMemoryStore(), limits=LIMITS, thresholds=Thresholds()))
    producer = FakeProducer(partitions=3, batch_bytes=6_000)  # a few outputs a batch
    asyncio.run(publisher(producer, CollectorRegistry()).publish(outs))
    assert sorted(producer.delivered) == sorted(producer.sent) and len(producer.sent) == 40
    by_partition: dict[tuple[str, int], list[str]] = {}
    offset = 0
    for topic, partition, count in producer.batches:
        for sent_topic, key, _ in producer.sent[offset : offset + count]:
            assert sent_topic == topic
            assert key is not None and kafka_partitioner(key, [0, 1, 2], [0, 1, 2]) == partition
            by_partition.setdefault((topic, partition), []).append(key.decode())
        offset += count
    assert {topic for topic, _, _ in producer.batches} == {"out.clean"}  # 40 stories
    assert len(producer.batches) > 6  # full batches were closed and new ones begun
    ids = [f"id-{i}" for i in range(40)]
    for keys in by_partition.values():  # each partition's outputs in input order
        assert keys == [i for i in ids if i in keys]


def test_the_client_parts_the_publisher_uses_are_there() -> None:
    # Private to faust and aiokafka: an upgrade that renames one fails here, not in production.
    from aiokafka import AIOKafkaProducer
    from faust.transport.drivers import aiokafka as faust_aiokafka

    assert callable(faust_aiokafka.Producer._ensure_producer)

    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", max_request_size=123_456)
        try:
            assert producer._max_request_size == 123_456
            assert producer.create_batch().append(timestamp=None, key=b"k", value=b"v", headers=[]) is not None
            assert callable(producer.send_batch) and callable(producer.partitions_for)
            assert producer.client.cluster.partitions_for_topic("absent") is None
            assert callable(producer.client.cluster.available_partitions_for_topic)
        finally:
            await producer.stop()  # never started: stop only marks it closed

    asyncio.run(main())
