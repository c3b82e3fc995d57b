"""The Redis dedup store against a real redis-server: atomic, replay-safe, bounded."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable

import msgspec
import pytest
import redis.asyncio as aioredis
from redis.cluster import key_slot

from worker.dedup.decision import (
    CLEAN,
    DUPLICATE,
    REF_BYTES,
    Decision,
    DuplicateOf,
    Related,
    StoreItem,
    Thresholds,
    Unique,
    make_record,
)
from worker.dedup.fingerprint import fingerprint
from worker.dedup.store import _CLAIM_LUA, RedisDedupStore
from worker.pipeline import decide_answered, decide_items
from worker.tools.embedded import EmbeddedRedis

WORDS = [f"w{i}" for i in range(300)]
T = Thresholds()


def item(article_id: str, words: list[str], url: str | None = None) -> StoreItem:
    fp = fingerprint(" ".join(words), url)
    return StoreItem(article_id, fp, make_record(article_id, fp))


async def decide_all(store: RedisDedupStore, items: list[StoreItem]) -> list[object]:
    """The whole protocol of one batch, as the pipeline runs it."""
    return list(await decide_items(items, store, T))


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
                    item("a-copy", WORDS),
                    item("a-edit", WORDS[:-4] + ["x"] * 4),
                    item("other", [f"z{i}" for i in range(300)]),
                ],
            )
        finally:
            await client.aclose()

    a, copy, edit, other = asyncio.run(run())
    assert a == Unique() and other == Unique()
    assert copy == DuplicateOf("a", "exact", 1.0)
    assert isinstance(edit, DuplicateOf) and edit.canonical_id == "a" and edit.kind == "near"


def test_a_text_under_another_text_s_reference_is_published_and_the_record_left_alone(
    redis_server: EmbeddedRedis,
) -> None:
    """Two texts whose exact hashes share their first REF_BYTES meet at one record in Redis (the
    reference is its field): the later one is a new story, not an exact copy of the first, and
    the first's record, its decision and its copies are as without it, replays included."""
    first = item("first", WORDS)
    other_fp = fingerprint(" ".join(f"z{i}" for i in range(300)), None)
    other_fp = msgspec.structs.replace(other_fp, exact=first.fp.exact[:REF_BYTES] + other_fp.exact[REF_BYTES:])
    other = StoreItem("other", other_fp, make_record("other", other_fp))
    assert other.ref == first.ref and other.fp.exact != first.fp.exact

    async def run() -> tuple[list[object], list[object], list[object], object]:
        client, store = make_store(redis_server.url)
        try:
            one = await decide_all(store, [first, other])
            two = await decide_all(store, [other, item("first-copy", WORDS)])
            replay = await decide_all(store, [first, other])
            records = await store.fetch([first.ref])
            return one, two, replay, records[first.ref]
        finally:
            await client.aclose()

    one, two, replay, record = asyncio.run(run())
    assert one == [Unique(), Unique()]
    assert two == [Unique(), DuplicateOf("first", "exact", 1.0)]
    assert replay == [Unique(), Unique()]
    assert (record.id, record.state, record.sketch) == ("first", CLEAN, first.fp.sketch)


def test_one_server_takes_a_round_trip_in_calls_of_a_few_hundred_ops(redis_server: EmbeddedRedis) -> None:
    """On one server the ops of a round trip go in calls of about `_OPS_PER_CALL`, whatever their
    shards (a cluster needs a call per shard): 150 articles' 1,800 claims in 4 calls, not 64, and
    the decisions across the calls' boundaries as in one."""
    stories = [[f"s{i}-{j}" for j in range(60)] for i in range(150)]
    batch = [item(f"a{i}", words) for i, words in enumerate(stories)]
    batch += [item(f"copy{i}", stories[i]) for i in range(0, 150, 7)]

    async def run() -> tuple[list[object], int]:
        client, store = make_store(redis_server.url)
        try:
            await decide_all(store, [item("warm", WORDS)])  # the script loaded, the index read
            before = (await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
            decisions = await decide_all(store, batch)
            after = (await client.info("commandstats"))["cmdstat_evalsha"]["calls"]
            return decisions, after - before
        finally:
            await client.aclose()

    decisions, calls = asyncio.run(run())
    assert decisions[:150] == [Unique()] * 150
    assert decisions[150:] == [DuplicateOf(f"a{i}", "exact", 1.0) for i in range(0, 150, 7)]
    # records (172 ops): 1 call; claims (150 x 12 bands): 4; decisions (150): 1; nothing to fetch
    assert calls == 6


def test_replay_gives_the_same_decisions(redis_server: EmbeddedRedis) -> None:
    """A worker died after recording but before committing: the redelivery decides the same."""

    async def run() -> tuple[list[object], list[object]]:
        client, store = make_store(redis_server.url)
        batch = [
            item("a", WORDS),
            item("b", WORDS[:-3] + ["y"] * 3),
            item("c", WORDS),
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
            a = item("A", words)
            b = item("B", words[:120] + ["changed"] * 3 + words[123:])
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
            inside = (await decide_all(store, [item("a2", WORDS)]))[0]
            ttls = [await client.ttl(k) async for k in client.scan_iter(match=f"{store._prefix}:{{*")]
            now[0] += 2 * 3600  # past the longest life of an entry (1.5 windows)
            outside = (await decide_all(store, [item("a3", WORDS)]))[0]
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
                store, [item(f"a{i}", [f"k{i}-{j}" for j in range(80)]) for i in range(50)]
            )
            return [k.decode() async for k in client.scan_iter(match=f"{store._prefix}:{{*")]
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


def test_the_claim_script_unpacks_any_field_and_value_into_the_layout_s_hashes(
    redis_server: EmbeddedRedis,
) -> None:
    """The claims travel packed in one argument per shard call, each with the index of its hashes
    among the call's keys: every byte value, empty and long values, and a field read back in
    another call come back as stored, from the hash the key layout names (`_key`)."""
    rng = random.Random(7)
    fields = [bytes(rng.randrange(256) for _ in range(6)) for _ in range(300)]
    fields += [b"\0" * 6, b"\xff" * 6, b":{}\r\n$", bytes(range(6))]
    values = [bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 6, 255, 256, 70_000)))) for _ in fields]
    values = [v or b"x" for v in values]  # a claim stores its value; an empty one is a read

    async def run() -> tuple[list[object], list[object], list[bool]]:
        client, store = make_store(redis_server.url)
        try:
            first = await store._run([(f, v, b"c") for f, v in zip(fields, values, strict=True)], "claim")
            again = await store._run([(f, b"", b"g") for f in reversed(fields)], "fetch")
            gen = int(time.time() // store._generation)
            placed = []
            for f, v in zip(fields, values, strict=True):
                bucket = int.from_bytes(f[:4], "little") % store._buckets
                placed.append(await client.hget(store._key(bucket % store._shards, bucket, gen), f) == v)
            return first, again, placed
        finally:
            await client.aclose()

    first, again, placed = asyncio.run(run())
    assert first == [None] * len(fields)  # all new: each claimed
    assert again == list(reversed(values))
    assert all(placed)


def test_a_decision_after_a_generation_change_updates_the_record_where_it_lives(
    redis_server: EmbeddedRedis,
) -> None:
    """Every field lives in one generation: a record decided in a later generation than it was
    written in is updated in place (not copied), so the chain resolves from any generation."""
    now = [time.time()]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731

    async def run() -> tuple[object, int]:
        client, store = make_store(redis_server.url, window_seconds=3600, clock=clock)
        try:
            await decide_all(store, [item("first", WORDS)])
            second = item("second", [*WORDS[:-2], "x", "y"])
            answers = await store.check_and_record([second])  # written in this generation...
            now[0] += 1800  # ...decided only after the next one has begun
            decided = msgspec.structs.replace(second.record, state=DUPLICATE, canonical_id="first")
            assert await store.record_decisions([(second, decided)]) == [None]
            assert answers[0].view.band_owners
            third = item("third", [*WORDS[:-2], "x", "z"])  # nearest to the second
            result = await decide_all(store, [third])
            copies = 0
            async for key in client.scan_iter(match=f"{store._prefix}:{{*"):
                copies += await client.hexists(key, second.ref)
            return result[0], copies
        finally:
            await client.aclose()

    third, copies = asyncio.run(run())
    assert copies == 1
    assert isinstance(third, DuplicateOf) and third.canonical_id == "first"


def _copy_dense_batches(rng: random.Random, round_: int, stories: int) -> tuple[list[StoreItem], list[StoreItem]]:
    """Two workers' batches over the same stories: each gets a near copy of every story, in
    its own order, beside articles of its own (so each story's keys spread over the pipeline)."""
    one, two = [], []
    for s in range(stories):
        words = [f"s{round_}-{s}-{i}" for i in range(rng.randint(150, 400))]
        cut = rng.randrange(20, len(words) - 20)
        one.append(item(f"{round_}-{s}-a", [*words[:cut], "edit", *words[cut + 1 :]]))
        two.append(item(f"{round_}-{s}-b", [*words[: cut + 5], "other", *words[cut + 6 :]]))
    for batch, tag in ((one, "x"), (two, "y")):
        batch += [item(f"{round_}-{tag}{i}", [f"{tag}{round_}-{i}-{j}" for j in range(200)]) for i in range(60)]
        rng.shuffle(batch)
    return one, two


def test_racing_workers_on_copy_dense_batches_publish_one_clean_per_story(redis_server: EmbeddedRedis) -> None:
    """Issue 14 #5: two workers' interleaved pipelines of per-shard scripts on batches dense with
    copies. Every story has exactly one clean article, and every duplicate names a clean one."""
    rng = random.Random(14_5)

    async def run() -> list[tuple[list[StoreItem], list[object]]]:
        c1, s1 = make_store(redis_server.url)
        c2 = aioredis.Redis.from_url(redis_server.url)
        s2 = RedisDedupStore(c2, prefix=s1._prefix.rsplit(":", 2)[0])
        rounds = []
        try:
            for round_ in range(12):
                one, two = _copy_dense_batches(rng, round_, 40)
                d1, d2 = await asyncio.gather(decide_all(s1, one), decide_all(s2, two))
                rounds.append((one + two, d1 + d2))
        finally:
            await c1.aclose()
            await c2.aclose()
        return rounds

    for items, decisions in asyncio.run(run()):
        outcome = {i.article_id: d for i, d in zip(items, decisions, strict=True)}
        clean = {k for k, d in outcome.items() if not isinstance(d, DuplicateOf)}
        for k, d in outcome.items():
            if isinstance(d, DuplicateOf):
                assert d.canonical_id in clean and d.canonical_id != k, (k, d)
        stories = {k.rsplit("-", 1)[0] for k in outcome if k.endswith(("-a", "-b"))}
        for story in stories:
            pair = [outcome[f"{story}-a"], outcome[f"{story}-b"]]
            assert [isinstance(d, DuplicateOf) for d in pair].count(False) == 1, (story, pair)


def test_a_copy_of_a_copy_in_one_batch_names_the_clean_article_and_replays_the_same(
    redis_server: EmbeddedRedis,
) -> None:
    """Issue 14 #6: Y, X a near copy of Y, X2 an exact copy of X, in one batch: X2 repeats Y
    (X was never published clean), and a replay of the batch gives the same outcomes."""
    x_words = WORDS[:-4] + ["x"] * 4

    async def run() -> tuple[list[object], list[object]]:
        client, store = make_store(redis_server.url)
        batch = [item("Y", WORDS), item("X", x_words), item("X2", x_words)]
        try:
            return await decide_all(store, batch), await decide_all(store, batch)
        finally:
            await client.aclose()

    first, replay = asyncio.run(run())
    assert first[0] == Unique()
    assert isinstance(first[1], DuplicateOf) and first[1].canonical_id == "Y"
    assert first[2] == DuplicateOf("Y", "exact", 1.0)
    assert replay == first


def test_the_same_id_produced_twice_gets_the_same_outcome(redis_server: EmbeddedRedis) -> None:
    """Issue 14 #6: the same message produced again (same id, new offset) is the same article:
    clean again (not a duplicate of itself); a duplicate sent twice is the same duplicate."""

    async def run() -> list[list[object]]:
        client, store = make_store(redis_server.url)
        try:
            first = await decide_all(store, [item("X", WORDS), item("D", WORDS[:-3] + ["d"] * 3)])
            later = await decide_all(store, [item("other", [f"o{i}" for i in range(100)])])
            again = await decide_all(store, [item("D", WORDS[:-3] + ["d"] * 3), item("X", WORDS)])
            return [first, later, again]
        finally:
            await client.aclose()

    first, _, again = asyncio.run(run())
    assert first[0] == Unique() and again[1] == Unique()
    assert isinstance(first[1], DuplicateOf) and first[1].canonical_id == "X"
    assert again[0] == first[1]


def test_a_follow_up_is_linked_to_its_story_and_its_copy_inherits_it(redis_server: EmbeddedRedis) -> None:
    """Story links chain to the first article: a follow-up (new lead over the body) is related,
    a later article related to the follow-up joins the same story, a copy of it is a duplicate."""
    lead = [f"new{i}" for i in range(60)]
    follow_up = lead + WORDS[:260]
    third = [f"third{i}" for i in range(70)] + follow_up[:200]

    async def run() -> list[object]:
        client, store = make_store(redis_server.url)
        try:
            out = await decide_all(store, [item("orig", WORDS), item("follow", follow_up)])
            out += await decide_all(store, [item("follow-copy", [*follow_up[:-2], "z", "z"]), item("third", third)])
            return out
        finally:
            await client.aclose()

    orig, follow, copy, later = asyncio.run(run())
    assert orig == Unique()
    assert isinstance(follow, Related) and follow.related_to == "orig" and follow.story_id == "orig"
    assert isinstance(copy, DuplicateOf) and copy.canonical_id == "follow" and copy.story_id == "orig"
    assert isinstance(later, Related) and later.story_id == "orig"


def test_updates_in_steps_are_linked_once_they_add_more_than_a_copy_would(redis_server: EmbeddedRedis) -> None:
    """v1 is v0 and 40 % more (a copy), v2 is v1 and a third more: a copy of v1 but 60 % new
    to v0, the article consumers have. In separate batches and in one, v2 is published linked
    to v0; replays give the same outcomes."""
    v0 = [f"d{i}" for i in range(150)]
    v1 = v0 + [f"e{i}" for i in range(100)]
    v2 = v1 + [f"f{i}" for i in range(120)]

    async def run(together: bool) -> tuple[list[object], list[object]]:
        client, store = make_store(redis_server.url)
        batch = [item("v0", v0), item("v1", v1), item("v2", v2)]
        try:
            if together:
                return await decide_all(store, batch), await decide_all(store, batch)
            out = [d for one in batch for d in await decide_all(store, [one])]
            return out, [d for one in batch for d in await decide_all(store, [one])]
        finally:
            await client.aclose()

    for together in (False, True):
        first, replay = asyncio.run(run(together))
        assert first[0] == Unique()
        assert isinstance(first[1], DuplicateOf) and first[1].canonical_id == "v0"
        assert isinstance(first[2], Related) and (first[2].related_to, first[2].story_id) == ("v0", "v0")
        assert replay == first


class _SteppedClient:
    """A client whose pipelines run their scripts one by one and stop half-way until `resume`
    is set: the slowest interleaving two workers' pipelines can have, made certain."""

    def __init__(self, real: aioredis.Redis, resume: asyncio.Event) -> None:
        self.real, self.resume = real, resume

    def register_script(self, script: str) -> object:
        return self.real.register_script(script)

    async def set(self, *args: object, **kwargs: object) -> object:  # the index's generation length
        return await self.real.set(*args, **kwargs)  # type: ignore[arg-type]

    async def get(self, key: str) -> object:
        return await self.real.get(key)

    def pipeline(self, transaction: bool = False) -> _SteppedPipeline:
        return _SteppedPipeline(self)


class _SteppedPipeline:
    def __init__(self, client: _SteppedClient) -> None:
        self.client, self.calls = client, []  # type: ignore[var-annotated]

    async def __aenter__(self) -> _SteppedPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def evalsha(self, *args: object) -> None:
        self.calls.append(args)

    async def execute(self) -> list[object]:
        replies = []
        for index, args in enumerate(self.calls):
            if index == len(self.calls) // 2 and not self.client.resume.is_set():
                await self.client.resume.wait()
            replies.append(await self.client.real.evalsha(*args))
        return replies


def test_an_article_half_way_through_its_pipeline_is_never_taken_for_expired(redis_server: EmbeddedRedis) -> None:
    """Issue 14 #5, deterministic: worker A stops half-way through each of its pipelines while
    worker B decides the same stories. B must never see A's band claims without A's record."""
    rng = random.Random(14_55)

    async def run() -> list[tuple[list[StoreItem], list[object]]]:
        c1 = aioredis.Redis.from_url(redis_server.url)
        c2 = aioredis.Redis.from_url(redis_server.url)
        prefix = f"t{uuid.uuid4().hex[:6]}"
        rounds = []
        try:
            for round_ in range(6):
                resume = asyncio.Event()
                await c1.script_load(_CLAIM_LUA)
                s1 = RedisDedupStore(_SteppedClient(c1, resume), prefix=prefix)  # type: ignore[arg-type]
                s2 = RedisDedupStore(c2, prefix=prefix)
                one, two = _copy_dense_batches(rng, round_, 30)

                async def second() -> list[Decision]:
                    await asyncio.sleep(0)  # A goes first, up to its first stop
                    answers = await s2.check_and_record(two)  # what B sees half-way through A
                    resume.set()
                    return await decide_answered(two, answers, s2, T)

                d1, d2 = await asyncio.gather(decide_all(s1, one), second())
                rounds.append((one + two, list(d1) + list(d2)))
        finally:
            await c1.aclose()
            await c2.aclose()
        return rounds

    for items, decisions in asyncio.run(run()):
        outcome = {i.article_id: d for i, d in zip(items, decisions, strict=True)}
        for story in {k.rsplit("-", 1)[0] for k in outcome if k.endswith(("-a", "-b"))}:
            pair = [outcome[f"{story}-a"], outcome[f"{story}-b"]]
            assert [isinstance(d, DuplicateOf) for d in pair].count(False) == 1, (story, pair)


def test_a_record_left_pending_by_a_dead_worker_is_taken_over_and_its_worker_adopts_it(
    redis_server: EmbeddedRedis,
) -> None:
    """Worker A records X (a near copy of Z) and stalls before deciding it. Worker B's exact copy
    of X waits for X, then takes it over (decided clean) and names it; A, coming back to record
    X as a duplicate of Z, finds X decided and keeps that: X is clean, as B's reference says."""
    x_words = [*WORDS[:-3], "x", "x", "x"]

    async def run() -> tuple[list[object], object, list[object], list[object]]:
        c1, s1 = make_store(redis_server.url)
        c2 = aioredis.Redis.from_url(redis_server.url)
        s2 = RedisDedupStore(c2, prefix=s1._prefix.rsplit(":", 2)[0])
        try:
            z = await decide_all(s1, [item("Z", WORDS)])
            x = item("X", x_words)
            answers = await s1.check_and_record([x])  # ...and A's worker stalls here
            copy = await decide_all(s2, [item("X-copy", x_words)])
            resumed = await decide_answered([x], answers, s1, T)
            again = await decide_all(s1, [x])  # X redelivered: the same outcome
            return z, copy[0], resumed, again
        finally:
            await c1.aclose()
            await c2.aclose()

    z, copy, resumed, again = asyncio.run(run())
    assert z == [Unique()]
    assert copy == DuplicateOf("X", "exact", 1.0)
    assert resumed == [Unique()] and again == [Unique()]  # adopted, though X repeats Z


def test_a_changed_window_keeps_what_the_index_remembers(
    redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator shortens (or lengthens) NEWSWORKER_DEDUP_WINDOW_SECONDS, as the runbook of a
    full Redis suggests: the workers after the change still find what those before it recorded.
    Before the fix the generation length was the window's half, so the new workers computed
    other key names and the whole index was forgotten, silently, for a window."""
    week, day = 7 * 86_400, 86_400
    now = [time.time()]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    prefix = f"t{uuid.uuid4().hex[:6]}"

    async def run() -> tuple[list[object], list[object], list[object], int]:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            before = RedisDedupStore(client, prefix=prefix, window_seconds=week, clock=clock)
            await decide_all(before, [item("a", WORDS), item("b", [f"b{i}" for i in range(200)])])
            now[0] += 3600
            shorter = RedisDedupStore(client, prefix=prefix, window_seconds=day, clock=clock)
            seen_shorter = await decide_all(shorter, [item("a2", WORDS)])
            longer = RedisDedupStore(client, prefix=prefix, window_seconds=3 * week, clock=clock)
            seen_longer = await decide_all(longer, [item("b2", [f"b{i}" for i in range(200)])])
            ttls = [await client.ttl(k) async for k in client.scan_iter(match=f"{prefix}:*:{{*")]
            # the generations stay the index's (half a week); past the shorter window and one
            # such generation, the shorter one has forgotten, as it should
            now[0] += 3 * week
            forgotten = await decide_all(shorter, [item("a3", WORDS)])
            return seen_shorter, seen_longer, forgotten, min(ttls)
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="worker.dedup.store"):
        seen_shorter, seen_longer, forgotten, min_ttl = asyncio.run(run())
    assert "reads 6 generations of the dedup index" in caplog.text  # three weeks over 3.5 days
    assert seen_shorter == [DuplicateOf("a", "exact", 1.0)]
    assert seen_longer == [DuplicateOf("b", "exact", 1.0)]
    assert forgotten == [Unique()]
    assert min_ttl > 0  # every hash written expires


def test_the_bucket_count_is_the_index_s(redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture) -> None:
    """A worker configured with another NEWSWORKER_REDIS_BUCKETS (a rolling update, or a change
    after going live) claims in the index's buckets, and says so. Before the fix it spread its
    claims over other hashes: nothing seen before was found, and two workers of different
    settings could each own the same claim."""
    prefix = f"t{uuid.uuid4().hex[:6]}"

    async def run() -> tuple[list[object], list[object]]:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            first = RedisDedupStore(client, prefix=prefix, buckets=4096)
            await decide_all(first, [item("a", WORDS)])
            other = RedisDedupStore(client, prefix=prefix, buckets=64)
            seen = await decide_all(other, [item("a2", WORDS), item("n", [f"n{i}" for i in range(90)])])
            # both claim the same new article's keys: one owner, the other finds it
            again = await decide_all(first, [item("n2", [f"n{i}" for i in range(90)])])
            return seen, again
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="worker.dedup.store"):
        seen, again = asyncio.run(run())
    assert seen == [DuplicateOf("a", "exact", 1.0), Unique()]
    assert again == [DuplicateOf("n", "exact", 1.0)]
    assert "built with 4096 buckets, not the 64" in caplog.text


def test_records_that_cannot_be_read_are_taken_as_expired_not_as_a_bug(redis_server: EmbeddedRedis) -> None:
    """Damaged bytes under the worker's prefix (another program writing there, a hand edit) used
    to raise from the decoder: a bug, so the worker exited and crashed again on the same batch
    after every restart. Such a record is now as good as expired: the article is decided anyway."""

    async def run() -> tuple[list[object], list[object], list[object]]:
        client, store = make_store(redis_server.url)
        try:
            first = await decide_all(store, [item("a", WORDS), item("b", [f"z{i}" for i in range(300)])])
            damaged = 0
            async for key in client.scan_iter(match=f"{store._prefix}*"):
                if await client.type(key) == b"hash":
                    for field in await client.hkeys(key):
                        await client.hset(key, field, b"\xc1 not a record")
                        damaged += 1
            assert damaged
            edit = [f"z{i}" for i in range(298)]
            copies = await decide_all(store, [item("a-copy", WORDS), item("b-edit", edit)])
            other = [f"y{i}" for i in range(300)]
            fresh = await decide_all(store, [item("c", other), item("c-copy", other)])
            return first, copies, fresh
        finally:
            await client.aclose()

    first, copies, fresh = asyncio.run(run())
    assert first == [Unique(), Unique()]
    assert copies == [Unique(), Unique()]  # what they copy can no longer be read: published
    assert fresh[0] == Unique() and fresh[1] == DuplicateOf("c", "exact", 1.0)  # the store works on


def test_a_cluster_client_on_a_single_server_is_a_refusal_and_on_no_server_an_outage(
    redis_server: EmbeddedRedis,
) -> None:
    """NEWSWORKER_REDIS_CLUSTER=true: the cluster client raises its own `RedisClusterException`
    when it cannot learn the slots, which the worker took for a bug (exit 70 at every restart),
    for a server that is not a cluster and for a cluster that is down at start alike."""
    from worker.dedup.store import connect
    from worker.errors import DedupStoreRefused, DedupStoreUnavailable
    from worker.tools.embedded import find_free_port

    async def attempt(url: str) -> Exception:
        client = connect(url, cluster=True)
        try:
            await decide_all(RedisDedupStore(client, prefix="cluster-mode"), [item("c1", WORDS)])
        except Exception as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("a cluster client decided on a single server")

    refused = asyncio.run(attempt(redis_server.url))
    assert isinstance(refused, DedupStoreRefused) and refused.kind == "cluster", repr(refused)
    down = asyncio.run(attempt(f"redis://127.0.0.1:{find_free_port()}"))
    assert isinstance(down, DedupStoreUnavailable) and not isinstance(down, DedupStoreRefused), repr(down)


def test_a_server_demoted_to_a_replica_has_its_connections_closed_before_the_next_call(
    make_redis: Callable[..., EmbeddedRedis],
) -> None:
    """After a failover behind one name (DNS, a Kubernetes Service) the old primary, now a
    replica, still answered the pooled connection, PING included: every write was refused
    READONLY for as long as the worker ran, never restarted (a review's finding; redis-py keeps
    such connections). After a READONLY refusal the store closes its connections, so the next
    call connects again, to whatever the name now names."""
    from worker.errors import DedupStoreRefused

    primary, other = make_redis(), make_redis()

    async def run() -> None:
        client, store = make_store(primary.url)
        admin = aioredis.Redis.from_url(primary.url)
        try:
            await decide_all(store, [item("before", WORDS)])
            await admin.replicaof("127.0.0.1", other.port)  # demoted: its writes are refused
            with pytest.raises(DedupStoreRefused) as refused:
                await decide_all(store, [item("during", WORDS[5:])])
            assert refused.value.kind == "readonly"
            await admin.replicaof("NO", "ONE")  # the name resolves to a primary again
            connections = (await admin.info("stats"))["total_connections_received"]
            await decide_all(store, [item("after", WORDS[10:])])
            assert (await admin.info("stats"))["total_connections_received"] > connections
        finally:
            await admin.aclose()
            await client.aclose()

    asyncio.run(run())
