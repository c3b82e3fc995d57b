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


class FakeProducer:
    """faust's producer as `Publisher` uses it: `send` returns a future of the delivery.

    `max_bytes`: the broker refuses a value over it as Kafka does (MESSAGE_SIZE_TOO_LARGE on
    the delivery); with `batched`, every output sent with it in one call of `publish` too, as a
    refused record batch takes its small records down with it."""

    def __init__(
        self, *, refuse: str | None = None, fail_delivery: str | None = None, max_bytes: int | None = None,
        batched: bool = False,
    ) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.delivered: list[tuple[str, bytes | None, bytes]] = []
        self.refuse, self.fail_delivery, self.max_bytes, self.batched = refuse, fail_delivery, max_bytes, batched
        self._batch: list[asyncio.Future[None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, **_: Any) -> asyncio.Future[None]:
        from aiokafka.errors import KafkaError, MessageSizeTooLargeError

        if topic == self.refuse:
            raise KafkaError("unknown topic")
        self.sent.append((topic, key, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic == self.fail_delivery:
            fut.set_exception(TimeoutError("no ack"))
        elif self.max_bytes is not None and len(value) > self.max_bytes:
            fut.set_exception(MessageSizeTooLargeError())
            for other in self._batch if self.batched else ():
                if not other.done():
                    other.set_exception(MessageSizeTooLargeError())
        else:
            self._batch.append(fut)
            asyncio.get_running_loop().call_soon(self._ack, fut, (topic, key, value))
        return fut

    def _ack(self, fut: asyncio.Future[None], record: tuple[str, bytes | None, bytes]) -> None:
        if not fut.done():
            fut.set_result(None)
            self.delivered.append(record)
        self._batch.clear()


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


@pytest.mark.parametrize("batched", [False, True])
def test_an_event_the_broker_refuses_as_too_large_becomes_the_articles_dead_letter(batched: bool) -> None:
    """Retried, the refusal would stall the partition for good: the article is set aside instead,
    with its original bytes, and everything else is delivered (a batch refused with it included)."""
    registry = CollectorRegistry()
    producer = FakeProducer(max_bytes=20_000, batched=batched)
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
