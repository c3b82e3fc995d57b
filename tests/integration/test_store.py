"""The Redis dedup store against a real redis-server: atomic, replay-safe, bounded."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.cluster import key_slot

from worker.dedup.decision import DuplicateOf, StoreItem, Thresholds, Unique, decide, make_record
from worker.dedup.fingerprint import fingerprint
from worker.dedup.store import RedisDedupStore
from worker.tools.embedded import EmbeddedRedis

WORDS = [f"w{i}" for i in range(300)]
T = Thresholds()


def item(article_id: str, words: list[str], origin: bytes = b"origin-1", url: str | None = None) -> StoreItem:
    fp = fingerprint(" ".join(words), url)
    return StoreItem(article_id, origin, fp, make_record(article_id, origin, fp))


async def decide_all(store: RedisDedupStore, items: list[StoreItem]) -> list[object]:
    answers = await store.check_and_record(items)
    return [decide(i.fp, a.view, a.records, T) for i, a in zip(items, answers, strict=True)]


def make_store(url: str, **kw: object) -> tuple[aioredis.Redis, RedisDedupStore]:
    client = aioredis.Redis.from_url(url)
    return client, RedisDedupStore(client, prefix=f"t{uuid.uuid4().hex[:6]}", **kw)  # type: ignore[arg-type]


def test_exact_and_near_duplicates_in_one_batch(redis_server: EmbeddedRedis) -> None:
    async def run() -> list[object]:
        client, store = make_store(redis_server.url)
        try:
            return await decide_all(
                store,
                [
                    item("a", WORDS),
                    item("a-copy", WORDS, b"o2"),
                    item("a-edit", WORDS[:-4] + ["x"] * 4, b"o3"),
                    item("other", [f"z{i}" for i in range(300)], b"o4"),
                ],
            )
        finally:
            await client.aclose()

    a, copy, edit, other = asyncio.run(run())
    assert a == Unique() and other == Unique()
    assert copy == DuplicateOf("a", "exact", 1.0)
    assert isinstance(edit, DuplicateOf) and edit.canonical_id == "a" and edit.kind == "near"


def test_replay_gives_the_same_decisions(redis_server: EmbeddedRedis) -> None:
    """A worker died after recording but before committing: the redelivery decides the same."""

    async def run() -> tuple[list[object], list[object]]:
        client, store = make_store(redis_server.url)
        batch = [
            item("a", WORDS, b"p0:1"),
            item("b", WORDS[:-3] + ["y"] * 3, b"p0:2"),
            item("c", WORDS, b"p0:3"),
        ]
        try:
            first = await decide_all(store, batch)
            again = await decide_all(store, batch)
            return first, again
        finally:
            await client.aclose()

    first, again = asyncio.run(run())
    assert first == again
    assert first[0] == Unique()  # the clean article does not become a duplicate of itself


def test_racing_workers_give_exactly_one_clean(redis_server: EmbeddedRedis) -> None:
    """Two copies of one story decided at the same moment on two connections, many times."""

    async def run() -> list[tuple[object, object]]:
        results = []
        for round_ in range(40):
            c1, s1 = make_store(redis_server.url)
            c2 = aioredis.Redis.from_url(redis_server.url)
            s2 = RedisDedupStore(c2, prefix=s1._prefix.rsplit(":", 2)[0])
            words = [f"r{round_}-{i}" for i in range(250)]
            a = item("A", words, b"part0")
            b = item("B", words[:120] + ["changed"] * 3 + words[123:], b"part1")
            ra, rb = await asyncio.gather(decide_all(s1, [a]), decide_all(s2, [b]))
            results.append((ra[0], rb[0]))
            await c1.aclose()
            await c2.aclose()
        return results

    for ra, rb in asyncio.run(run()):
        assert [isinstance(ra, Unique), isinstance(rb, Unique)].count(True) == 1, (ra, rb)


def test_entries_expire_after_the_window(redis_server: EmbeddedRedis) -> None:
    now = [time.time()]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731

    async def run() -> tuple[object, object, int]:
        client, store = make_store(redis_server.url, window_seconds=3600, clock=clock)
        try:
            await decide_all(store, [item("a", WORDS)])
            now[0] += 3500  # inside the window
            inside = (await decide_all(store, [item("a2", WORDS, b"o2")]))[0]
            ttls = [await client.ttl(k) async for k in client.scan_iter(match=f"{store._prefix}*")]
            now[0] += 2 * 3600  # past the longest life of an entry (1.5 windows)
            outside = (await decide_all(store, [item("a3", WORDS, b"o3")]))[0]
            return inside, outside, max(ttls)
        finally:
            await client.aclose()

    inside, outside, max_ttl = asyncio.run(run())
    assert isinstance(inside, DuplicateOf)
    assert outside == Unique()
    assert 0 < max_ttl <= 3600 * 2  # every key carries an expiry, at most 1.5 windows + skew


def test_keys_are_cluster_safe(redis_server: EmbeddedRedis) -> None:
    """Each script call touches one hash slot; keys spread over many slots."""

    async def run() -> list[str]:
        client, store = make_store(redis_server.url)
        try:
            await decide_all(
                store, [item(f"a{i}", [f"k{i}-{j}" for j in range(80)], f"o{i}".encode()) for i in range(50)]
            )
            return [k.decode() async for k in client.scan_iter(match=f"{store._prefix}*")]
        finally:
            await client.aclose()

    keys = asyncio.run(run())
    slots = {key_slot(k.encode()) for k in keys}
    assert len(slots) > 16
    by_tag: dict[str, set[int]] = {}
    for k in keys:
        tag = k[k.index("{") + 1 : k.index("}")]
        by_tag.setdefault(tag, set()).add(key_slot(k.encode()))
    assert all(len(s) == 1 for s in by_tag.values())


def test_a_mark_after_a_generation_change_updates_the_record_where_it_lives(
    redis_server: EmbeddedRedis,
) -> None:
    """Every field lives in one generation: a duplicate's record marked with its canonical id in a
    later generation is updated in place (not copied), so the chain resolves from any generation."""
    now = [time.time()]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731

    async def run() -> tuple[object, object, int]:
        client, store = make_store(redis_server.url, window_seconds=3600, clock=clock)
        try:
            first, second = item("first", WORDS), item("second", [*WORDS[:-2], "x", "y"], b"o2")
            await decide_all(store, [first])
            now[0] += 1  # the near duplicate arrives, is decided...
            decided = await decide_all(store, [second])
            assert isinstance(decided[0], DuplicateOf)
            now[0] += 1800  # ...and is marked only after the next generation has begun
            await store.mark_duplicates([(second, "first")])
            third = item("third", [*WORDS[:-2], "x", "z"], b"o3")  # nearest to the second
            answers = await store.check_and_record([third])
            marked = answers[0].records.get(second.ref)
            copies = 0
            async for key in client.scan_iter(match=f"{store._prefix}*"):
                copies += await client.hexists(key, second.ref)
            return decided[0], marked, copies
        finally:
            await client.aclose()

    _, marked, copies = asyncio.run(run())
    assert copies == 1
    assert marked is not None and marked.canonical_id == "first"  # type: ignore[attr-defined]
