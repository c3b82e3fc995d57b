"""The Redis watch (worker/service/redis_watch.py) against real redis-servers: lost data (a
sentinel that vanishes), memory pressure, an index-bloating config, each primary of a cluster."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.integration.test_store_cluster import redis_cluster  # noqa: F401 (a fixture)
from worker.tools.embedded import EmbeddedRedis


@pytest.fixture
def registry() -> CollectorRegistry:
    """A metrics registry of the test's own, the watch's gauges read from it."""
    return CollectorRegistry()


@contextlib.asynccontextmanager
async def watching(server: EmbeddedRedis, registry: CollectorRegistry, **kwargs: Any) -> AsyncIterator[tuple[Any, Any]]:
    """A watch over `server` and its client; the client is closed however the test ends (a
    client left open by a failed assertion would warn, unclosed, in whichever test GC runs)."""
    from worker.dedup.store import connect
    from worker.service.metrics import Metrics
    from worker.service.redis_watch import RedisWatch

    async with contextlib.aclosing(connect(server.url)) as client:
        yield RedisWatch.for_store(client, Metrics(registry), prefix="tw", scheme_version="v1", **kwargs), client


def test_redis_watch_reports_lost_data_memory_and_an_index_bloating_config(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture, registry: CollectorRegistry,
) -> None:
    # Redis' defaults for hash-max-listpack-value (64), and a memory limit to measure against
    server = make_redis(extra_args=["--maxmemory", "64mb", "--hash-max-listpack-value", "64"])
    value = registry.get_sample_value

    async def main() -> None:
        async with watching(server, registry) as (watch, client):
            await watch.start()
            assert value("newsworker_redis_hash_max_listpack_value_bytes") == 64
            assert "hash-max-listpack-value is 64" in caplog.text
            ratio = value("newsworker_redis_memory_used_ratio")
            assert ratio is not None and 0 < ratio < 0.5
            assert value("newsworker_redis_memory_max_bytes") == 64 * 1024 * 1024
            await watch.check()
            assert value("newsworker_redis_data_lost_total") == 0
            await client.flushall()
            await watch.check()
            assert value("newsworker_redis_data_lost_total") == 1
            assert "Redis lost the dedup index" in caplog.text
            await watch.check()  # re-planted: one loss is counted once
            assert value("newsworker_redis_data_lost_total") == 1
            await client.flushall()
            await watch.check()
            assert value("newsworker_redis_data_lost_total") == 2
            await client.config_set("hash-max-listpack-value", "512")
            await watch.start()  # as a new worker would: a fine config reads as fine
            assert value("newsworker_redis_hash_max_listpack_value_bytes") == 512
            # ... and a running worker reads it again (it was read at start only: a CONFIG SET or a
            # failover to a server configured otherwise went unseen, an operator-fault review)
            caplog.clear()
            await client.config_set("hash-max-listpack-value", "64")
            for _ in range(12):
                await watch.check()
            assert value("newsworker_redis_hash_max_listpack_value_bytes") == 64
            assert caplog.text.count("hash-max-listpack-value is 64") == 1
            for _ in range(12):
                await watch.check()
            assert caplog.text.count("hash-max-listpack-value is 64") == 1  # warned once per value

    asyncio.run(main())


def test_after_a_loss_the_index_parameters_are_written_back(make_redis: Callable[..., EmbeddedRedis]) -> None:
    """A FLUSHALL takes the index's generation length and bucket count with it; the watch of a
    running worker writes its store's back, so a worker that starts next with other settings
    joins this index (before, it would have set its own and split the index in two)."""
    from worker.dedup.decision import StoreItem, make_record
    from worker.dedup.fingerprint import fingerprint
    from worker.dedup.store import LAYOUT, RedisDedupStore, connect
    from worker.service.metrics import Metrics
    from worker.service.redis_watch import RedisWatch

    server = make_redis()

    async def main() -> tuple[int, int, list[bytes | None]]:
        async with contextlib.aclosing(connect(server.url)) as client:
            store = RedisDedupStore(client, prefix="tw", scheme_version="v1", window_seconds=7 * 86_400, buckets=256)
            watch = RedisWatch.for_store(client, Metrics(CollectorRegistry()), prefix="tw", scheme_version="v1",
                                         on_lost=store.replant_index)
            await watch.start()
            fp = fingerprint("a b c d e f g h i j", None)
            await store.check_and_record([StoreItem("a", fp, make_record("a", fp))])
            await client.flushall()
            await watch.check()
            kept = await client.mget([f"tw:v1:c{LAYOUT}:generation", f"tw:v1:c{LAYOUT}:buckets"])
            later = RedisDedupStore(client, prefix="tw", scheme_version="v1", window_seconds=86_400, buckets=4096)
            await later.check_and_record([StoreItem("b", fp, make_record("b", fp))])
        return later._generation, later._buckets, kept

    generation, buckets, kept = asyncio.run(main())
    assert kept == [str(7 * 86_400 // 2).encode(), b"256"]
    assert (generation, buckets) == (7 * 86_400 // 2, 256)


def test_redis_watch_on_a_cluster_sees_one_primary_lose_its_data(
    redis_cluster: str,  # noqa: F811 (the imported fixture)
    caplog: pytest.LogCaptureFixture,
    registry: CollectorRegistry,
) -> None:
    """One sentinel per primary: a single node flushed (or failed over empty) is seen too."""
    from worker.dedup.store import connect
    from worker.service.metrics import Metrics
    from worker.service.redis_watch import RedisWatch

    value = registry.get_sample_value

    async def main() -> None:
        async with contextlib.aclosing(connect(redis_cluster, cluster=True)) as client:
            watch = RedisWatch.for_store(client, Metrics(registry), prefix="twc", scheme_version="v1")
            await watch.start()
            keys = await watch._sentinel_keys()
            assert len(keys) == 3 and len({client.get_node_from_key(k).name for k in keys}) == 3
            assert value("newsworker_redis_hash_max_listpack_value_bytes") is not None
            assert value("newsworker_redis_hash_max_listpack_value_bytes") > 0
            assert value("newsworker_redis_memory_used_bytes") > 0
            await watch.check()
            assert value("newsworker_redis_data_lost_total") == 0
            one = client.get_primaries()[1]
            await client.execute_command("FLUSHALL", target_nodes=one)
            await watch.check()
            assert value("newsworker_redis_data_lost_total") == 1

    asyncio.run(main())


def test_redis_watch_says_when_redis_evicts_and_counts_what_it_evicted(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture, registry: CollectorRegistry,
) -> None:
    """A Redis that makes room by evicting (a managed service's default `volatile-lru` takes the
    dedup keys: they all expire) forgets articles without an error: said at once, and counted."""
    server = make_redis(extra_args=["--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru"])
    value = registry.get_sample_value

    async def main() -> None:
        async with watching(server, registry) as (watch, client):
            await watch.start()
            assert value("newsworker_redis_evicting") == 1
            assert "maxmemory-policy volatile-lru" in caplog.text and "noeviction" in caplog.text
            assert value("newsworker_redis_evicted_keys_total") == 0
            # keys with a time to live, as the dedup index's, past maxmemory
            for start in range(0, 20_000, 1_000):
                async with client.pipeline(transaction=False) as pipe:
                    for i in range(start, start + 1_000):
                        pipe.set(f"other:{i}", b"x" * 400, ex=3600)
                    await pipe.execute()
            # Redis still over maxmemory goes on evicting (before each command, and in the
            # background when an eviction ran out of time): room made, so the count stands still
            await client.config_set("maxmemory", "64mb")
            evicted = int((await client.info("stats"))["evicted_keys"])
            assert evicted > 0
            caplog.clear()
            await watch.check()
            assert value("newsworker_redis_evicted_keys_total") == evicted
            assert f"Redis evicted {evicted} key(s)" in caplog.text
            caplog.clear()
            await watch.check()  # nothing new: nothing counted, nothing said
            assert value("newsworker_redis_evicted_keys_total") == evicted
            assert "evict" not in caplog.text
            await client.config_set("maxmemory-policy", "noeviction")  # the fix, live
            await watch.check()
            assert value("newsworker_redis_evicting") == 0
            await client.config_set("maxmemory-policy", "allkeys-lru")  # and broken again: said again
            caplog.clear()
            await watch.check()
            assert value("newsworker_redis_evicting") == 1 and "maxmemory-policy allkeys-lru" in caplog.text

    asyncio.run(main())


@pytest.mark.parametrize(
    "args", [["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"], ["--maxmemory-policy", "allkeys-lru"]],
    ids=["noeviction", "no-maxmemory"],
)
def test_a_redis_that_never_evicts_is_not_flagged(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture, args: list[str],
    registry: CollectorRegistry,
) -> None:
    server = make_redis(extra_args=args)

    async def main() -> None:
        async with watching(server, registry) as (watch, _client):
            await watch.start()
            await watch.check()

    asyncio.run(main())
    assert registry.get_sample_value("newsworker_redis_evicting") == 0
    assert "evict" not in caplog.text


def test_redis_watch_measures_this_host_s_clock_against_redis(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture, registry: CollectorRegistry,
) -> None:
    """Generations and their expiry come from each worker's clock: a host whose time sync broke
    is said, against Redis' TIME (the clock all workers share)."""
    import time

    server = make_redis()
    skew = [0.0]

    async def main() -> None:
        async with watching(server, registry, clock=lambda: time.time() + skew[0]) as (watch, _client):
            await watch.start()
            offset = registry.get_sample_value("newsworker_clock_offset_seconds")
            assert offset is not None and abs(offset) < 5  # the same machine
            assert "clock" not in caplog.text
            skew[0] = -3 * 3600.0  # three hours behind
            await watch.check()
            offset = registry.get_sample_value("newsworker_clock_offset_seconds")
            assert offset is not None and abs(offset + 3 * 3600) < 5
            assert "clock is 10800 s behind Redis'" in caplog.text
            caplog.clear()
            await watch.check()  # said once per crossing
            assert "clock" not in caplog.text
            skew[0] = 0.0
            await watch.check()
            assert abs(registry.get_sample_value("newsworker_clock_offset_seconds") or 99) < 5

    asyncio.run(main())


def test_redis_that_comes_back_without_its_newest_writes_is_said(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture, registry: CollectorRegistry,
) -> None:
    """A Redis that restarts from an older snapshot (or fails over to a replica that was behind)
    keeps the sentinel, written long ago, and forgets only what came after the snapshot: the
    sentinel's counter, incremented at every check, goes back."""
    server = make_redis()
    value = registry.get_sample_value

    async def main() -> None:
        async with watching(server, registry) as (watch, client):
            await watch.start()
            await watch.check()
            await client.save()  # the snapshot Redis will come back from (sentinel and counter in it)
            for _ in range(3):  # writes after it: lost in the crash
                await watch.check()
            assert value("newsworker_redis_data_lost_total") == 0
            server.kill()
            server.start()  # same port and directory: loads the snapshot
            await watch.check()  # a step may meet the connection the restart broke; the client reconnects
            await watch.check()
            assert value("newsworker_redis_data_lost_total") == 1
            assert "Redis lost its most recent writes" in caplog.text
            assert "Redis lost the dedup index" not in caplog.text  # the sentinel came back: only the newest went
            caplog.clear()
            for _ in range(3):  # from the new baseline on, nothing more to say
                await watch.check()
            assert value("newsworker_redis_data_lost_total") == 1 and "lost" not in caplog.text

    asyncio.run(main())


def test_a_check_the_acl_refuses_is_said_once_and_its_gauges_read_unknown(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture, registry: CollectorRegistry,
) -> None:
    """A Redis user without +info (an older copy of the documented ACL line) on a Redis that
    evicts: the eviction and memory gauges read 0 and nothing was logged, so the alerts on them
    could never fire (an operator-fault review's finding). Now -1, and a warning, once."""
    import redis

    from worker.dedup.store import connect
    from worker.service.metrics import Metrics
    from worker.service.redis_watch import RedisWatch

    server = make_redis(extra_args=["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", "noinfo", "on", ">pw", "~*", "+@all", "-info")
    admin.close()
    value = registry.get_sample_value
    url = server.url.replace("redis://", "redis://noinfo:pw@")

    async def main() -> None:
        async with contextlib.aclosing(connect(url)) as client:
            watch = RedisWatch.for_store(client, Metrics(registry), prefix="tw", scheme_version="v1")
            await watch.start()
            await watch.check()
            assert value("newsworker_redis_evicting") == -1
            assert value("newsworker_redis_memory_used_ratio") == -1
            assert caplog.text.count("Redis memory and eviction check failed") == 1
            caplog.clear()
            await watch.check()
            assert "check failed" not in caplog.text  # said once

    asyncio.run(main())


def test_another_deployment_writing_the_index_is_reported(
    make_redis: Callable[..., EmbeddedRedis], caplog: pytest.LogCaptureFixture
) -> None:
    """Two deployments (their own topics and consumer groups) on one Redis with the default prefix:
    one feed came out as duplicates of the other's articles and nothing said so (an
    operator-fault review). Workers of one deployment share the index without a word."""
    from worker.dedup.store import connect
    from worker.service.metrics import Metrics
    from worker.service.redis_watch import RedisWatch

    server = make_redis()

    async def main() -> None:
        registries = [CollectorRegistry() for _ in range(3)]
        async with contextlib.aclosing(connect(server.url)) as client:
            a, a2, b = (
                RedisWatch.for_store(client, Metrics(registry), prefix="tw", scheme_version="v1", writer=writer)
                for registry, writer in zip(registries, ("group a, input raw-a", "group a, input raw-a",
                                                         "group b, input raw-b"), strict=True)
            )
            for watch in (a, a2, a, a2):
                await watch.check()
            assert [r.get_sample_value("newsworker_redis_index_shared") for r in registries[:2]] == [0, 0]
            assert "another deployment writes this dedup index" not in caplog.text
            for watch in (b, a, b):
                await watch.check()
            assert registries[0].get_sample_value("newsworker_redis_index_shared") == 1
            assert registries[2].get_sample_value("newsworker_redis_index_shared") == 1
            assert "another deployment writes this dedup index (group b, input raw-b" in caplog.text

    asyncio.run(main())
