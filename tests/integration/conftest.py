"""Integration fixtures: a real broker (Tansu) and a real redis-server, plus Kafka helpers.

- `kafka` and `redis_server` are session-scoped: one broker and one Redis for the whole run, on
  free loopback ports, torn down by PID at the end. Tests keep out of each other's way through
  unique names: `topic_names(...)` for topics, `unique_group` for consumer groups, and a unique
  Redis key prefix (e.g. `Settings(redis_key_prefix=...)`) for Redis state.
- A test that stops or kills a server (fault tests) takes its own with `make_kafka()` /
  `make_redis()`, so the shared ones stay up for everyone else.
- Every test under `tests/integration/` is marked `integration` (deselect with
  `-m "not integration"`).

The helpers `produce` and `consume_all` are plain async functions; import them with
`from tests.integration.conftest import consume_all, produce` and drive them with `asyncio.run`
from sync tests (these tests do not use pytest-asyncio).

Consumer groups on Tansu (see `worker.tools.embedded`): a group join takes about half the session
timeout (rounded up to whole seconds), so tests that need a group use a short session timeout
(`TEST_SESSION_TIMEOUT_MS`); `consume_all` avoids groups altogether by assigning partitions.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import RecordMetadata

from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis, create_topics

HERE = Path(__file__).resolve().parent

#: Session timeout for consumer groups in tests. Tansu delays a join by ~half of it, and a member
#: that vanished without LeaveGroup blocks the next join for the full timeout; 2 s keeps both
#: short while leaving heartbeats (every `TEST_HEARTBEAT_INTERVAL_MS`) room on a busy machine.
TEST_SESSION_TIMEOUT_MS = 2000
TEST_HEARTBEAT_INTERVAL_MS = 500

#: The topics of the worker, in the order `topic_names()` returns them by default.
NEWS_TOPICS = ("raw", "clean", "duplicates", "dlq")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


# --- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka() -> Iterator[EmbeddedKafka]:
    """The session's broker. Do not stop it in a test; use `make_kafka()` for that."""
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """The session's redis-server. Do not stop it in a test; use `make_redis()` for that."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def make_kafka() -> Iterator[Callable[..., EmbeddedKafka]]:
    """Factory of private, started brokers (keyword arguments go to `EmbeddedKafka`)."""
    started: list[EmbeddedKafka] = []

    def make(**kwargs: object) -> EmbeddedKafka:
        broker = EmbeddedKafka(**kwargs)  # type: ignore[arg-type]
        started.append(broker)
        return broker.start()

    yield make
    for broker in started:
        broker.close()


@pytest.fixture
def make_redis() -> Iterator[Callable[..., EmbeddedRedis]]:
    """Factory of private, started redis-servers (keyword arguments go to `EmbeddedRedis`)."""
    started: list[EmbeddedRedis] = []

    def make(**kwargs: object) -> EmbeddedRedis:
        server = EmbeddedRedis(**kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.close()


# --- unique names -------------------------------------------------------------------------------


def _slug(request: pytest.FixtureRequest) -> str:
    """A short, Kafka-legal form of the test's name, so that names say who made them."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:40].strip("-")


@pytest.fixture
def topic_names(kafka: EmbeddedKafka, request: pytest.FixtureRequest) -> Callable[..., list[str]]:
    """Factory: `raw, clean, dups, dlq = topic_names()` or `[t] = topic_names("raw", partitions=3)`.

    Each name is `news.<kind>.<test>.<random>`, unique to the call, and the topics already exist
    on the session broker when the factory returns.
    """

    def make(*kinds: str, partitions: int = 1) -> list[str]:
        token = uuid.uuid4().hex[:8]
        names = [f"news.{kind}.{_slug(request)}.{token}" for kind in kinds or NEWS_TOPICS]
        asyncio.run(create_topics(kafka.bootstrap, names, partitions))
        return names

    return make


@pytest.fixture
def unique_group(request: pytest.FixtureRequest) -> str:
    """A consumer group id no other test (or earlier run of this test) uses."""
    return f"test.{_slug(request)}.{uuid.uuid4().hex[:8]}"


# --- Kafka helpers ------------------------------------------------------------------------------


async def produce(
    bootstrap: str,
    topic: str,
    values: Iterable[bytes | str],
    *,
    key: bytes | None = None,
    max_request_size: int = 1024 * 1024,
) -> list[RecordMetadata]:
    """Send `values` (str is UTF-8 encoded) in order and wait until the broker has them all.

    Raise `max_request_size` above the largest value plus ~100 bytes to send big messages.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=max_request_size, acks="all"
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value.encode() if isinstance(value, str) else value, key=key)
            for value in values
        ]
        await producer.flush()
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def consume_all(
    bootstrap: str,
    topics: Iterable[str],
    expected_count: int,
    timeout: float = 15.0,  # noqa: ASYNC109 (a read deadline that returns what came, no error)
    *,
    settle: float = 0.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topics` from the beginning until `expected_count` records arrived or `timeout` passed.

    No consumer group: all partitions are assigned directly, so there is no join delay and no
    committed offset is touched. With `settle > 0` it keeps reading that long after reaching the
    count, so that a test asserting `count in == count out` also sees unexpected extra records.
    Records come back in arrival order (ordered per partition); fewer than expected at timeout.
    """
    names = list(topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await consumer.topics()  # refresh metadata so that partitions_for_topic knows them
        partitions = [
            TopicPartition(name, partition)
            for name in names
            for partition in sorted(consumer.partitions_for_topic(name) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if settle_until is None and len(records) >= expected_count:
                settle_until = now + settle
            end = deadline if settle_until is None else min(deadline, settle_until)
            if now >= end:
                return records
            batch = await consumer.getmany(timeout_ms=max(1, int(min(end - now, 0.5) * 1000)))
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()


# --- the worker as a real process ---------------------------------------------------------------


@pytest.fixture
def start_worker(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Factory: `worker = start_worker(topics, **env_overrides)` runs `newsworker worker` as a child.

    `topics` is the list from `topic_names()` (raw, clean, dups, dlq). Each worker gets its own
    consumer group unless `app_id=` is given (several workers sharing one group), its own Redis
    key prefix unless `redis_key_prefix=` is given, and a free metrics port (`worker.metrics_port`).
    Workers still running at the end of the test are killed.
    """
    from worker.tools.demo import WorkerProcess, worker_env
    from worker.tools.embedded import find_free_port

    started: list[WorkerProcess] = []
    default_group = f"test.{_slug(request)}.{uuid.uuid4().hex[:8]}"
    default_prefix = f"t{uuid.uuid4().hex[:8]}"

    def make(
        topics: list[str], *, app_id: str | None = None, bootstrap: str | None = None,
        redis_url: str | None = None, **overrides: str,
    ) -> WorkerProcess:
        port = find_free_port()
        extra = {"NEWSWORKER_REDIS_KEY_PREFIX": default_prefix, "NEWSWORKER_STATS_INTERVAL_SECONDS": "2"}
        extra.update({f"NEWSWORKER_{k.upper()}": str(v) for k, v in overrides.items()})
        env = worker_env(
            bootstrap or kafka.bootstrap, redis_url or redis_server.url,
            topics=dict(zip(("input", "clean", "duplicates", "dlq"), topics, strict=True)),
            metrics_port=port, app_id=app_id or default_group, session_timeout=6.0, extra=extra,
        )
        proc = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        proc.metrics_port = port  # type: ignore[attr-defined]
        proc.start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.kill()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for proc in started:
            print(proc.log_path.read_text(errors="replace")[-4000:])


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
