"""A misspelled topic stops the worker at start, on a broker (Tansu) that auto-creates topics.

Before the check, a worker pointed at `news.rwa` on such a broker joined its group, reported ready
and consumed nothing, silently (the broker created the empty topic for it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.conftest import consume_all, produce
from worker.service.topics import missing_topics
from worker.tools.embedded import EmbeddedKafka


async def list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def wait_for_exit(worker: Any, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.proc.poll() is None:
        time.sleep(0.1)
    return worker.proc.poll()


def test_a_misspelled_input_topic_stops_the_worker_and_is_not_created(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., Any]
) -> None:
    topics = topic_names()
    typo = topics[0] + ".rwa"
    worker = start_worker([typo, *topics[1:]])
    status = wait_for_exit(worker, 60)
    log = worker.log_path.read_text(errors="replace")
    assert status == 2, f"the worker must refuse to start (exit 2), got {status}\n{log[-3000:]}"
    assert f"NEWSWORKER_INPUT_TOPIC={typo!r}" in log, log[-3000:]
    assert "Traceback" not in log
    # The check asked for every topic without naming one, so the broker created nothing.
    assert typo not in asyncio.run(list_topics(kafka.bootstrap))


def test_a_misspelled_output_topic_stops_the_worker_too(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., Any]
) -> None:
    raw, clean, dups, dlq = topic_names()
    worker = start_worker([raw, clean, dups, dlq + "-typo"])
    assert wait_for_exit(worker, 60) == 2
    log = worker.log_path.read_text(errors="replace")
    assert f"NEWSWORKER_DLQ_TOPIC={dlq + '-typo'!r}" in log, log[-3000:]


def test_with_every_topic_there_the_worker_starts_and_processes(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., Any]
) -> None:
    """The check passes on the real topics (the control for the two tests above)."""
    topics = topic_names()
    asyncio.run(produce(kafka.bootstrap, topics[0], [b'{"id": "t-1", "text": "a short article body"}']))
    worker = start_worker(topics)
    records = asyncio.run(consume_all(kafka.bootstrap, topics[1:], 1, timeout=60))
    assert len(records) == 1 and worker.proc.poll() is None, worker.log_path.read_text()[-3000:]


def test_an_unreachable_broker_is_no_verdict() -> None:
    """No answer is not "missing": the worker starts and faust reconnects (a broker restarting)."""
    assert asyncio.run(missing_topics("127.0.0.1:1", [("INPUT_TOPIC", "news.raw")])) is None
