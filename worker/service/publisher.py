"""Publishing: each outcome to its topic, keyed by article id, and every delivery awaited.

`Publisher.publish` returns only when the broker has acknowledged every outcome of the batch
(`producer_acks=-1`: all in-sync replicas); otherwise it raises `PublishFailed` (not sent) or
`TransientError` (sent, not delivered), and the caller retries the batch. Nothing here commits.

One refusal is for good, and retrying it would stall the partition forever: an event larger
than its topic's `max.message.bytes` (Kafka's default is 1 MiB; a clean event holds the
article's text, up to `NEWSWORKER_MAX_TEXT_CHARS`). Each output so refused is sent again alone
(a refused batch may hold outputs that fit), and if the broker refuses it alone too, the article
becomes a dead letter, `output_too_large`, with its original bytes (a preview: it fits), and
`publish` returns the outcomes as delivered.

The outcomes go to the client as record batches built here, one per topic-partition (more when
one fills `producer_max_batch_size`), each with one delivery future: the partition is the one the
client's own `send` would pick (Kafka's default partitioner, worker/service/partitioner.py), and
the records, their order and the requests are what `send` would have made, without a `send`
call, a future and a RecordMetadata per output (~15 µs of the event loop's CPU per article, half
of what publishing cost: docs/BENCHMARKS.md, session 25). A refused batch fails every output in
it, as the client's batching did, and each of them refused as too large is sent again alone
(`_alone`, through `send`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import faust
import msgspec
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from worker.errors import PublishFailed, TransientError
from worker.pipeline import Clean, DeadLettered, Duplicate, Limits, Outcome, dead_letter
from worker.service.metrics import Metrics
from worker.service.partitioner import kafka_partitioner

_encode = msgspec.json.Encoder().encode

#: The dead-letter reason of an article whose event the broker refuses as too large.
OUTPUT_TOO_LARGE = "output_too_large"
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)


def _too_large(exc: BaseException) -> bool:
    """The broker's (or the client's own) refusal of a record for its size; faust wraps the
    client's in `ProducerSendError`."""
    return isinstance(exc, _TOO_LARGE) or isinstance(exc.__cause__, _TOO_LARGE)


def _set_aside(outcome: Outcome, exc: BaseException) -> bool:
    """Is this failure an article's event refused as too large (a dead letter is never set aside:
    nothing smaller could replace it)?"""
    return _too_large(exc) and not isinstance(outcome, DeadLettered)


#: A record's size as the client's `send` counts it against `producer_max_request_size`.
_record_size = DefaultRecordBatchBuilder.estimate_size_in_bytes


@dataclass(slots=True)
class _Records:
    """A record batch being built for one topic-partition, and the outputs in it."""

    topic: str
    partition: int
    builder: Any  # aiokafka's BatchBuilder
    indices: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Topics:
    clean: str
    duplicates: str
    dlq: str


class Publisher:
    """Sends outcomes to their topics and waits until the broker has them all."""

    def __init__(self, app: faust.App, topics: Topics, metrics: Metrics, limits: Limits) -> None:
        self._app = app
        self._topics = topics
        self._metrics = metrics
        self._limits = limits  # the dead letters' preview size

    def _route(self, outcome: Outcome) -> tuple[str, str, bytes | None, bytes]:
        if isinstance(outcome, Clean):
            return (
                "clean",
                self._topics.clean,
                outcome.draft.id.encode(),
                outcome.value,
            )
        if isinstance(outcome, Duplicate):
            return (
                "duplicates",
                self._topics.duplicates,
                outcome.event.id.encode(),
                _encode(outcome.event),
            )
        key = outcome.record.id.encode() if outcome.record.id else None
        return "dlq", self._topics.dlq, key, _encode(outcome.record)

    async def publish(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Deliver every outcome; return them as delivered (an article whose event the broker
        refuses as too large, as its dead letter)."""
        routed = [self._route(outcome) for outcome in outcomes]
        refused: list[int] = []  # articles whose event was refused as too large
        producer = cast(Any, self._app.producer)._ensure_producer()  # the client faust's `send` uses
        batches = await self._batches(producer, outcomes, routed, refused)
        pending: list[tuple[_Records, Any]] = []
        for records in batches:
            try:
                fut = await producer.send_batch(records.builder, records.topic, partition=records.partition)
            except KafkaError as exc:
                # Raised before delivery, e.g. the producer closed or its queue stayed full. It is
                # retried like a failed delivery: crashing would only restart into the same error.
                self._metrics.kafka_send_error(routed[records.indices[0]][0])
                raise PublishFailed(f"output to {records.topic!r} not sent: {exc}") from exc
            pending.append((records, fut))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        errors: list[BaseException] = []  # failures other than a too-large article's event
        failed = 0
        for (records, _), result in zip(pending, results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if not isinstance(result, Exception):
                raise result  # a cancellation: the caller's
            failed += len(records.indices)
            for i in records.indices:
                self._metrics.kafka_send_error(routed[i][0])
                if _set_aside(outcomes[i], result):
                    refused.append(i)
                else:
                    errors.append(result)
        if errors:
            raise TransientError(f"{failed} of {len(outcomes)} outputs not delivered: {errors[0]!r}")
        delivered = list(outcomes)
        for i in sorted(refused):  # rare: one at a time
            delivered[i] = await self._alone(delivered[i])
        return delivered

    async def _batches(
        self,
        producer: Any,
        outcomes: Sequence[Outcome],
        routed: Sequence[tuple[str, str, bytes | None, bytes]],
        refused: list[int],
    ) -> list[_Records]:
        """The outcomes as record batches per topic-partition, in order. An article's event larger
        than a request may be goes to `refused` instead, as the client's `send` refuses it."""
        limit = producer._max_request_size
        partitions: dict[str, tuple[list[int], list[int]]] = {}
        open_batches: dict[tuple[str, int], _Records] = {}
        closed: list[_Records] = []
        for i, (role, topic, key, value) in enumerate(routed):
            size = _record_size(key, value, [])
            if size > limit:
                self._metrics.kafka_send_error(role)
                exc = MessageSizeTooLargeError(f"the output is {size} bytes, over the request limit {limit}")
                if not _set_aside(outcomes[i], exc):
                    raise PublishFailed(f"output to {topic!r} not sent: {exc}")
                refused.append(i)
                continue
            known = partitions.get(topic)
            if known is None:
                known = partitions[topic] = await self._partitions(producer, topic, role)
            partition = kafka_partitioner(key, *known)
            records = open_batches.get((topic, partition))
            if records is not None:
                if records.builder.append(timestamp=None, key=key, value=value, headers=[]) is not None:
                    records.indices.append(i)
                    continue
                closed.append(records)  # full: it goes before the next one of its partition
            records = open_batches[topic, partition] = _Records(topic, partition, producer.create_batch())
            records.builder.append(timestamp=None, key=key, value=value, headers=[])  # a first always fits
            records.indices.append(i)
        return closed + list(open_batches.values())

    async def _partitions(self, producer: Any, topic: str, role: str) -> tuple[list[int], list[int]]:
        """A topic's partitions, all and available, as the client's partitioner is given them."""
        try:
            await producer.partitions_for(topic)  # waits for the topic's metadata, as `send` does
        except KafkaError as exc:
            self._metrics.kafka_send_error(role)
            raise PublishFailed(f"output to {topic!r} not sent: {exc}") from exc
        cluster = producer.client.cluster
        all_partitions = sorted(cluster.partitions_for_topic(topic) or ())
        if not all_partitions:
            self._metrics.kafka_send_error(role)
            raise PublishFailed(f"output to {topic!r} not sent: the topic has no partitions")
        return all_partitions, list(cluster.available_partitions_for_topic(topic) or ())

    async def _alone(self, outcome: Outcome) -> Outcome:
        """An output refused as too large, sent again on its own (the batch it was refused in may
        have been too large, not it); refused alone too, its article's dead letter instead."""
        role, topic, key, value = self._route(outcome)
        try:
            await self._deliver(topic, key, value)
            return outcome
        except Exception as exc:
            self._metrics.kafka_send_error(role)
            if not _too_large(exc):
                raise TransientError(f"output to {topic!r} not delivered: {exc!r}") from exc
            refusal = exc
        if isinstance(outcome, Clean):
            article_id: str | None = outcome.draft.id
        elif isinstance(outcome, Duplicate):
            article_id = outcome.event.id
        else:  # a dead letter is never set aside (`publish` retries it)
            raise TransientError(f"dead letter refused as too large for {topic!r}: {refusal!r}")
        dead = dead_letter(
            outcome.message,
            OUTPUT_TOO_LARGE,
            f"its {role} event ({len(value):,} bytes) was refused by the broker as too large for "
            f"{topic!r} ({refusal!r}); raise the topic's max.message.bytes to at least 2 x "
            "NEWSWORKER_MAX_MESSAGE_BYTES + 64 KiB (docs/RELIABILITY.md), or lower "
            "NEWSWORKER_MAX_TEXT_CHARS, then send the input message again: this record's "
            "'original' is all of it only where 'truncated' is false, else read it from the input "
            "topic at this record's partition and offset (its decision is recorded: it is "
            "published as decided)",
            time.time(),
            self._limits,
            article_id,
        )
        _, dlq, dead_key, dead_value = self._route(dead)
        try:
            await self._deliver(dlq, dead_key, dead_value)
        except Exception as exc:
            self._metrics.kafka_send_error("dlq")
            raise TransientError(f"dead letter of a too-large output not delivered: {exc!r}") from exc
        return dead

    async def _send(self, topic: str, key: bytes | None, value: bytes) -> Any:
        """Hand one output to the producer; returns the future of its delivery."""
        return await self._app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None)

    async def _deliver(self, topic: str, key: bytes | None, value: bytes) -> None:
        await (await self._send(topic, key, value))
