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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
import msgspec
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from worker.errors import PublishFailed, TransientError
from worker.pipeline import Clean, DeadLettered, Duplicate, Limits, Outcome, dead_letter
from worker.service.metrics import Metrics

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
        pending: list[tuple[int, str, Any]] = []
        refused: list[int] = []  # articles whose event was refused as too large
        for i, outcome in enumerate(outcomes):
            role, topic, key, value = self._route(outcome)
            try:
                fut = await self._send(topic, key, value)
            except (ProducerSendError, KafkaError) as exc:
                self._metrics.kafka_send_error(role)
                if _set_aside(outcome, exc):
                    refused.append(i)
                    continue
                # Raised before delivery, e.g. the topic is unknown or refused by the broker. It is
                # retried like a failed delivery: crashing would only restart into the same error.
                raise PublishFailed(f"output to {topic!r} not sent: {exc}") from exc
            pending.append((i, role, fut))
        results = await asyncio.gather(*(f for _, _, f in pending), return_exceptions=True)
        paired = zip(pending, results, strict=True)
        failed = [(i, role, r) for (i, role, _), r in paired if isinstance(r, Exception)]
        errors: list[Exception] = []  # failures other than a too-large article's event
        for i, role, error in failed:
            self._metrics.kafka_send_error(role)
            if _set_aside(outcomes[i], error):
                refused.append(i)
            else:
                errors.append(error)
        if errors:
            raise TransientError(f"{len(failed)} of {len(outcomes)} outputs not delivered: {errors[0]!r}")
        delivered = list(outcomes)
        for i in sorted(refused):  # rare: one at a time
            delivered[i] = await self._alone(delivered[i])
        return delivered

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
            "NEWSWORKER_MAX_TEXT_CHARS, then replay this dead letter",
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
