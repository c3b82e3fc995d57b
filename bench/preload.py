"""Fill the dedup store with remembered articles fast: synthetic fingerprints, straight into
`RedisDedupStore.check_and_record` (the path the worker uses), no Kafka and no text stages.

Each synthetic article has random claim keys (exact, URL, 12 bands) and random sketches of the
real sizes, so it takes the same room in Redis as a real one and is never a candidate for a
real article (random 64-bit keys do not collide): it only makes the hashes as full as a long
history would.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import msgspec

from worker.dedup.decision import CLEAN, StoreItem, make_record
from worker.dedup.fingerprint import DEFAULT_SCHEME, ArticleFingerprints, Scheme
from worker.dedup.store import RedisDedupStore, connect

#: Articles per `check_and_record` call while preloading (bigger than a worker batch: fewer
#: round trips; each per-shard script still stays well under a millisecond).
PRELOAD_BATCH = 2000


def synthetic_item(rng: random.Random, number: int, scheme: Scheme = DEFAULT_SCHEME) -> StoreItem:
    bands = scheme.full_bands + scheme.lead_bands
    fp = ArticleFingerprints(
        exact=rng.randbytes(16),
        tokens=300,
        shingles=298,
        sketch=rng.randbytes(scheme.num_perm),
        opening=bytes(rng.randrange(64) for _ in range(scheme.opening_values)),
        bands=tuple(rng.randbytes(8) for _ in range(bands)),
        url=rng.randbytes(8),
    )
    article_id = f"pre-{number}"
    # recorded as decided clean, as a finished article's record is (never waited for)
    record = msgspec.structs.replace(make_record(article_id, fp), state=CLEAN)
    return StoreItem(article_id, fp, record)


async def preload(
    redis_url: str,
    count: int,
    *,
    prefix: str = "nw",
    buckets: int = 4096,
    seed: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> float:
    """Remember `count` synthetic articles; returns the seconds it took."""
    client = connect(redis_url)
    store = RedisDedupStore(client, prefix=prefix, scheme_version=DEFAULT_SCHEME.version, buckets=buckets)
    rng = random.Random(seed)
    started = time.perf_counter()
    try:
        done = 0
        while done < count:
            n = min(PRELOAD_BATCH, count - done)
            await store.check_and_record([synthetic_item(rng, done + i) for i in range(n)])
            done += n
            if on_progress:
                on_progress(done)
    finally:
        await client.aclose()
    return time.perf_counter() - started


def preload_sync(redis_url: str, count: int, **kwargs: object) -> float:
    return asyncio.run(preload(redis_url, count, **kwargs))  # type: ignore[arg-type]
