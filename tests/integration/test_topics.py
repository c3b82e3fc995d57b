"""The worker's start against its broker: a misspelled topic stops it, on a broker (Tansu) that
auto-creates topics; a broker that is not there yet is waited for.

Before the check, a worker pointed at `news.rwa` on such a broker joined its group, reported ready
and consumed nothing, silently (the broker created the empty topic for it). Before the wait, a
worker started ahead of its broker (docker-compose, a cluster restart) exited 1 within a second,
every time it was restarted: a crash loop, and no /healthz or /metrics to say why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.conftest import consume_all, produce
from worker.service.topics import missing_topics
from worker.tools.embedded import EmbeddedKafka, create_topics, find_free_port


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


def test_an_unreachable_broker_is_no_verdict(caplog: pytest.LogCaptureFixture) -> None:
    """No answer is not "missing": the worker starts and waits for the broker (see below). The
    log says where it looked and what happened (aiokafka's errors often have no message: the
    line read "could not list the broker's topics ()")."""
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(missing_topics("127.0.0.1:1", [("INPUT_TOPIC", "news.raw")])) is None
    line = next(r.getMessage() for r in caplog.records if "could not list" in r.getMessage())
    assert "127.0.0.1:1" in line and "()" not in line, line


def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of the worker's endpoint; (0, error) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def waited_for_broker(port: int) -> float:
    """The worker's `newsworker_broker_unreachable_seconds`, or -1 when /metrics does not answer."""
    status, text = http_get(port, "/metrics")
    found = re.search(r"^newsworker_broker_unreachable_seconds ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if status == 200 and found else -1.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str, worker: Any) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        log = worker.log_path.read_text(errors="replace")[-3000:]
        assert worker.proc.poll() is None, f"the worker exited ({worker.proc.poll()}) {what}\n{log}"
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}\n{log}"
        time.sleep(0.2)


def test_a_worker_started_before_its_broker_waits_alive_and_not_ready_then_processes(
    make_kafka: Callable[..., EmbeddedKafka], start_worker: Callable[..., Any]
) -> None:
    """The operator's order of events: the worker first, the broker some seconds later, on the
    address the worker was given. Meanwhile the worker is alive (/healthz 200: a restart would
    not bring the broker), not ready (/readyz 503 naming the broker) and says how long it has
    waited; then it joins and every article it was sent comes out."""
    port = find_free_port()
    bootstrap = f"127.0.0.1:{port}"
    topics = [f"news.{kind}.late-broker" for kind in ("raw", "clean", "dups", "dlq")]
    worker = start_worker(topics, bootstrap=bootstrap)
    metrics_port = worker.metrics_port
    # Several failed attempts (back-off 0.5, 1, 2 s): the wait is a state, not one lucky retry.
    wait_until(lambda: waited_for_broker(metrics_port) >= 3.0, 60, "to report 3 s without a broker", worker)
    assert http_get(metrics_port, "/healthz")[0] == 200
    status, body = http_get(metrics_port, "/readyz")
    assert status == 503 and "broker" in json.loads(body)["missing"], body

    broker = make_kafka(port=port)
    asyncio.run(create_topics(broker.bootstrap, topics))
    article = b'{"id": "late-1", "text": "an article sent while the worker was waiting for its broker"}'
    asyncio.run(produce(broker.bootstrap, topics[0], [article]))
    records = asyncio.run(consume_all(broker.bootstrap, topics[1:], 1, timeout=90))
    assert [json.loads(r.value)["id"] for r in records] == ["late-1"]
    assert records[0].topic == topics[1]
    wait_until(lambda: http_get(metrics_port, "/readyz")[0] == 200, 60, "to become ready", worker)
    assert waited_for_broker(metrics_port) == 0.0
    log = worker.log_path.read_text(errors="replace")
    assert "not reachable" in log and "reachable after" in log and "Traceback" not in log
    assert worker.stop() == 0


def test_a_broker_that_comes_up_without_the_topics_still_stops_the_worker(
    make_kafka: Callable[..., EmbeddedKafka], start_worker: Callable[..., Any]
) -> None:
    """The topic check is not skipped because the broker was late: it runs once the broker answers."""
    port = find_free_port()
    topics = [f"news.{kind}.late-check" for kind in ("raw", "clean", "dups", "dlq")]
    worker = start_worker(topics, bootstrap=f"127.0.0.1:{port}")
    wait_until(lambda: waited_for_broker(worker.metrics_port) > 0, 60, "to wait for the broker", worker)
    broker = make_kafka(port=port)
    asyncio.run(create_topics(broker.bootstrap, topics[:3]))  # no dead-letter topic
    status = wait_for_exit(worker, 60)
    log = worker.log_path.read_text(errors="replace")
    assert status == 2, f"exit 2 expected, got {status}\n{log[-3000:]}"
    assert f"NEWSWORKER_DLQ_TOPIC={topics[3]!r}" in log and "Traceback" not in log


def test_sigterm_while_waiting_for_the_broker_stops_the_worker_cleanly(start_worker: Callable[..., Any]) -> None:
    worker = start_worker([f"news.{k}.never" for k in ("raw", "clean", "dups", "dlq")],
                          bootstrap=f"127.0.0.1:{find_free_port()}")
    wait_until(lambda: waited_for_broker(worker.metrics_port) > 0, 60, "to wait for the broker", worker)
    assert worker.stop(timeout=20) == 0, worker.log_path.read_text(errors="replace")[-3000:]
