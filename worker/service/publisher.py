"""Publishing: each outcome to its topic, keyed by article id, and every delivery awaited.

`Publisher.publish` returns only when the broker has acknowledged every outcome of the batch
(`producer_acks=-1`: all in-sync replicas); otherwise it raises `PublishFailed` (not sent) or
`TransientError` (sent, not delivered), and the caller retries the batch. Nothing here commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
import msgspec
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from worker.errors import PublishFailed, TransientError
from worker.pipeline import Clean, Duplicate, Outcome
from worker.service.metrics import Metrics

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Topics:
    clean: str
    duplicates: str
    dlq: str


class Publisher:
    """Sends outcomes to their topics and waits until the broker has them all."""

    def __init__(self, app: faust.App, topics: Topics, metrics: Metrics) -> None:
        self._app = app
        self._topics = topics
        self._metrics = metrics

    def _route(self, outcome: Outcome) -> tuple[str, str, bytes | None, bytes]:
        if isinstance(outcome, Clean):
            return (
                "clean",
                self._topics.clean,
                outcome.article.id.encode(),
                _encode(outcome.article),
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

    async def publish(self, outcomes: Sequence[Outcome]) -> None:
        producer = self._app.producer
        pending: list[tuple[str, Any]] = []
        for outcome in outcomes:
            role, topic, key, value = self._route(outcome)
            try:
                fut = await producer.send(topic, key, value, partition=None, timestamp=None, headers=None)
            except (ProducerSendError, KafkaError) as exc:
                # Raised before delivery, e.g. the topic is unknown or refused by the broker. It is
                # retried like a failed delivery: crashing would only restart into the same error.
                self._metrics.kafka_send_error(role)
                raise PublishFailed(f"output to {topic!r} not sent: {exc}") from exc
            pending.append((role, fut))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        failed = [
            (role, r) for (role, _), r in zip(pending, results, strict=True) if isinstance(r, BaseException)
        ]
        for role, _ in failed:
            self._metrics.kafka_send_error(role)
        if failed:
            raise TransientError(f"{len(failed)} of {len(outcomes)} outputs not delivered: {failed[0][1]!r}")
