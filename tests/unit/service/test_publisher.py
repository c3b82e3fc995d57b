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
    """faust's producer as `Publisher` uses it: `send` returns a future of the delivery."""

    def __init__(self, *, refuse: str | None = None, fail_delivery: str | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.refuse, self.fail_delivery = refuse, fail_delivery

    async def send(self, topic: str, key: bytes | None, value: bytes, **_: Any) -> asyncio.Future[None]:
        if topic == self.refuse:
            from aiokafka.errors import KafkaError

            raise KafkaError("unknown topic")
        self.sent.append((topic, key, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic == self.fail_delivery:
            fut.set_exception(TimeoutError("no ack"))
        else:
            fut.set_result(None)
        return fut


def outcomes() -> list[Outcome]:
    """A clean article, its exact copy and a dead letter, decided by the real pipeline."""
    article = encode(make_article(id="a-1"))
    values = [article, encode(make_article(id="a-2")), b"{not json"]
    messages = [Message(value=v, origin=f"raw:0:{i}") for i, v in enumerate(values)]
    return asyncio.run(process_batch(messages, InMemoryStore(), limits=LIMITS, thresholds=Thresholds()))


def publisher(producer: FakeProducer, registry: CollectorRegistry) -> Publisher:
    return Publisher(SimpleNamespace(producer=producer), TOPICS, Metrics(registry))  # type: ignore[arg-type]


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
