"""The embedded broker and Redis: they answer, carry messages through a consumer group with
commits, restart on the same port, and leave no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.integration.conftest import (
    TEST_HEARTBEAT_INTERVAL_MS,
    TEST_SESSION_TIMEOUT_MS,
    consume_all,
    produce,
)
from worker.tools.embedded import (
    EmbeddedKafka,
    EmbeddedRedis,
    EmbeddedServiceError,
    create_topics,
    find_free_port,
    redis_server_binary,
    tansu_binary,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    """True when no process `pid` runs. A zombie counts as gone: it runs nothing, and whether
    an orphan is reaped promptly depends on the machine's init, not on us."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def wait_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_binaries_are_found() -> None:
    assert os.access(tansu_binary(), os.X_OK)
    assert os.access(redis_server_binary(), os.X_OK)
    assert 1024 <= find_free_port() <= 65535


def test_servers_answer_on_loopback(kafka: EmbeddedKafka, redis_server: EmbeddedRedis) -> None:
    assert kafka.bootstrap == f"127.0.0.1:{kafka.port}"
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert kafka.pid and redis_server.pid
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping()
    finally:
        client.close()


def test_created_topics_are_usable_at_once_and_creation_is_idempotent(
    kafka: EmbeddedKafka, topic_names
) -> None:
    [topic] = topic_names("raw", partitions=3)

    async def scenario() -> list[bytes]:
        await create_topics(kafka.bootstrap, [topic, topic], partitions=3)  # exists: fine
        await produce(kafka.bootstrap, topic, ["a", "b", "c"])
        records = await consume_all(kafka.bootstrap, [topic], 3, timeout=10)
        return sorted(record.value for record in records)

    assert asyncio.run(scenario()) == [b"a", b"b", b"c"]


def test_consumer_group_reads_commits_and_a_new_member_resumes(
    kafka: EmbeddedKafka, topic_names, unique_group: str
) -> None:
    [topic] = topic_names("raw", partitions=2)

    def consumer(**kwargs: object) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap,
            group_id=unique_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=TEST_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=TEST_HEARTBEAT_INTERVAL_MS,
            **kwargs,
        )

    async def drain(member: AIOKafkaConsumer, count: int) -> list[bytes]:
        values: list[bytes] = []
        deadline = time.monotonic() + 15
        while len(values) < count and time.monotonic() < deadline:
            batch = await member.getmany(timeout_ms=500)
            values += [record.value for records in batch.values() for record in records]
        return values

    async def scenario() -> tuple[list[bytes], dict[int, int | None], list[bytes]]:
        await produce(kafka.bootstrap, topic, [f"m{i}" for i in range(5)])
        member = consumer()
        member.subscribe([topic])
        await member.start()
        try:
            first = await drain(member, 5)
            await member.commit()
        finally:
            await member.stop()

        await produce(kafka.bootstrap, topic, ["late-1", "late-2"])
        # A second member of the same group resumes from the committed offsets. It is assigned
        # the partitions by hand: a subscribing member would wait for the first one's session
        # to expire, because the first generation of a Tansu group is 0 and aiokafka sends no
        # LeaveGroup for generation 0 (see worker.tools.embedded).
        partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        resumed = consumer()
        await resumed.start()
        try:
            resumed.assign(partitions)
            committed = {tp.partition: await resumed.committed(tp) for tp in partitions}
            rest = await drain(resumed, 2)
        finally:
            await resumed.stop()
        return first, committed, rest

    first, committed, rest = asyncio.run(scenario())
    assert sorted(first) == [f"m{i}".encode() for i in range(5)]
    assert sum(offset or 0 for offset in committed.values()) == 5
    assert sorted(rest) == [b"late-1", b"late-2"]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_redis_restarts_on_the_same_port_empty(make_redis, how: str) -> None:
    server: EmbeddedRedis = make_redis()
    port, old_pid, url = server.port, server.pid, server.url
    client = redis.Redis.from_url(url)
    try:
        client.set("k", "v")
        getattr(server, how)()
        assert server.pid is None and gone(old_pid)
        server.start()
        assert server.port == port and server.url == url and server.pid != old_pid
        assert client.ping()  # the client reconnects by itself
        assert client.get("k") is None  # memory only
    finally:
        client.close()


def test_broker_restarts_on_the_same_port_under_a_connected_producer(make_kafka) -> None:
    broker: EmbeddedKafka = make_kafka()
    topic = "restart.probe"

    async def scenario() -> list[bytes]:
        await create_topics(broker.bootstrap, [topic])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"before")
            await asyncio.to_thread(broker.stop)
            await asyncio.to_thread(broker.start)
            await create_topics(broker.bootstrap, [topic])  # the restarted broker is empty
            await asyncio.wait_for(producer.send_and_wait(topic, b"after"), 15)
        finally:
            await producer.stop()
        return [record.value for record in await consume_all(broker.bootstrap, [topic], 1)]

    port = broker.port
    assert asyncio.run(scenario()) == [b"after"]
    assert broker.port == port


def test_a_fifty_mebibyte_message_round_trips(make_kafka) -> None:
    """Tansu takes a 50 MiB record; only the producer's max_request_size has to allow it."""
    broker: EmbeddedKafka = make_kafka()
    value = os.urandom(1024) * (50 * 1024)

    async def scenario() -> bytes:
        await create_topics(broker.bootstrap, ["big"])
        await produce(broker.bootstrap, "big", [value], max_request_size=64 * 1024 * 1024)
        [record] = await consume_all(broker.bootstrap, ["big"], 1, timeout=30)
        return record.value

    assert asyncio.run(scenario()) == value


def test_stop_leaves_no_process_and_removes_the_log_dir() -> None:
    with EmbeddedKafka() as broker, EmbeddedRedis() as server:
        pids = [broker.pid, server.pid]
        dirs = [broker.work_dir, server.work_dir]
        assert all(pid and not gone(pid) for pid in pids)
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(path.exists() for path in dirs)


def test_a_server_that_cannot_start_says_why() -> None:
    server = EmbeddedRedis(extra_args=["--no-such-option", "x"])
    try:
        with pytest.raises(EmbeddedServiceError, match="no-such-option"):
            server.start()
        assert server.pid is None
    finally:
        server.close()


def test_a_taken_port_is_reported_when_the_port_was_given(redis_server: EmbeddedRedis) -> None:
    server = EmbeddedRedis(port=redis_server.port, startup_timeout=5)
    try:
        with pytest.raises(EmbeddedServiceError, match="in use"):
            server.start()
    finally:
        server.close()


CRASHING_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis
    kafka, redis_server = EmbeddedKafka().start(), EmbeddedRedis().start()
    print(kafka.pid, redis_server.pid, flush=True)
    if sys.argv[1] == "exit":
        sys.exit(3)  # no stop(): the atexit hook must clean up
    time.sleep(60)  # killed with SIGKILL: the parent-death signal must clean up
    """
)


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_no_server_outlives_a_crashing_parent(how: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", CRASHING_PARENT, how],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2
        if how == "sigkill":
            parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=20)
        assert all(wait_gone(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout and parent.stdout.close()
