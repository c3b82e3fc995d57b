"""`wait_for_broker`: retries with a bounded back-off, reports the wait, logs without flooding."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from worker.config import Settings
from worker.service import topics


class Broker:
    """Refuses `failures` attempts, then lists `present`; records the sleeps between attempts."""

    def __init__(self, failures: int, present: Sequence[str]) -> None:
        self.failures = failures
        self.present = set(present)
        self.attempts = 0
        self.now = 0.0
        self.sleeps: list[float] = []

    async def missing(self, _bootstrap: str, wanted: Sequence[tuple[str, str]], _kwargs: Any) -> list[Any]:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise KafkaConnectionError("Unable to bootstrap")
        return [(setting, topic) for setting, topic in wanted if topic not in self.present]

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def settings() -> Settings:
    return Settings(input_topic="in", clean_topic="clean", duplicates_topic="dups", dlq_topic="dlq")


def run(broker: Broker, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[float]]:
    monkeypatch.setattr(topics, "_missing_topics", broker.missing)
    monkeypatch.setattr(topics.asyncio, "sleep", broker.sleep)
    waited: list[float] = []
    missing = asyncio.run(topics.wait_for_broker(settings, on_waiting=waited.append, clock=lambda: broker.now))
    return missing, waited


def test_a_broker_that_answers_at_once_is_not_waited_for(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(0, ["in", "clean", "dups", "dlq"])
    assert run(broker, settings, monkeypatch) == ([], [])
    assert broker.sleeps == [] and caplog.records == []


def test_the_back_off_doubles_to_its_cap_and_the_wait_is_reported(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker(8, ["in", "clean", "dups", "dlq"])
    missing, waited = run(broker, settings, monkeypatch)
    assert missing == [] and broker.attempts == 9
    assert broker.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    # seconds since the first failure, after each failure: growing, starting at 0
    assert waited == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 25.5, 35.5]


def test_a_long_wait_logs_once_a_minute_not_once_an_attempt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(40, ["in", "clean", "dups", "dlq"])  # ~6 minutes at 10 s per attempt
    with caplog.at_level(logging.WARNING, logger=topics.log.name):
        run(broker, settings, monkeypatch)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("broker") and "not reachable" in messages[0]
    assert messages[-1].startswith("broker") and "reachable after" in messages[-1]
    still = [m for m in messages if "still not reachable" in m]
    assert 4 <= len(still) <= 7, messages  # one per minute of a ~6 minute wait


def test_an_error_without_a_message_is_named_by_its_class(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Silent(Broker):  # a timeout says nothing
        async def missing(self, _bootstrap: str, wanted: Sequence[tuple[str, str]], _kwargs: Any) -> list[Any]:
            self.attempts += 1
            if self.attempts <= self.failures:
                raise TimeoutError()
            return []

    with caplog.at_level(logging.WARNING, logger=topics.log.name):
        run(Silent(1, []), settings, monkeypatch)
    assert "(TimeoutError)" in caplog.records[0].getMessage(), caplog.records[0].getMessage()


def test_the_topics_the_broker_lacks_are_returned_once_it_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing, _ = run(Broker(2, ["in", "clean"]), settings, monkeypatch)
    assert missing == [("DUPLICATES_TOPIC", "dups"), ("DLQ_TOPIC", "dlq")]
