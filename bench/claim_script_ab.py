"""A/B of the claim script: session 1's (HGET of the write generation, then HSET) against the
current one (other generations first, then HSETNX), on the same preloaded Redis in one session.

    python bench/claim_script_ab.py [--preload 300000] [--buckets 10000] [--rounds 4]

300,000 articles in 10,000 buckets is ~420 fields per hash, the long-hash case where the script
could matter. Each round runs both scripts (alternating which goes first) against an empty
database and the preloaded one, each on its own fresh 3,000 articles, and prints the wall time
of `decide_batch` and Redis' CPU per article. Session 1's script is read from git (commit
79fc225). Figures: docs/BENCHMARKS.md, *1M remembered*.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus, preload, probes
from bench.run import REDIS_ARGS
from worker.config import Settings
from worker.dedup.decision import Thresholds
from worker.dedup.store import RedisDedupStore, connect
from worker.files.offline import BATCH
from worker.pipeline import Message, decide_batch, limits_of, prepare_batch
from worker.tools.embedded import EmbeddedRedis

OLD_COMMIT = "79fc225"
CHUNK = 3_000


def old_script() -> str:
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:worker/dedup/store.py"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    match = re.search(r'_CLAIM_LUA = """(.*?)"""', source, re.S)
    if match is None:
        raise SystemExit(f"no claim script in {OLD_COMMIT}:worker/dedup/store.py")
    return match.group(1)


async def decide_all(
    url: str, script: str | None, values: list[bytes], tag: str, buckets: int, redis_pid: int
) -> tuple[float, float]:
    """Wall µs and Redis CPU µs per article of `decide_batch` over `values` (prepared beforehand)."""
    client = connect(url)
    store = RedisDedupStore(client, prefix="nw", buckets=buckets)
    if script is not None:
        store._script = client.register_script(script)
    limits = limits_of(Settings())
    staged = [
        prepare_batch(
            [Message(value=v, origin=f"{tag}:{k}:{i}") for i, v in enumerate(values[k : k + BATCH])],
            limits=limits,
            now=time.time(),
            events=False,
        )
        for k in range(0, len(values), BATCH)
    ]
    cpu0 = probes.cpu_seconds(redis_pid)
    started = time.perf_counter()
    try:
        for batch in staged:
            await decide_batch(batch, store, thresholds=Thresholds())
    finally:
        await client.aclose()
    wall = time.perf_counter() - started
    cpu = probes.cpu_seconds(redis_pid) - cpu0
    return wall / len(values) * 1e6, cpu / len(values) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--preload", type=int, default=300_000)
    parser.add_argument("--buckets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    scripts: list[tuple[str, str | None]] = [("session 1", old_script()), ("current", None)]
    real = corpus.load_articles()
    articles = list(corpus.articles_for(real, args.rounds * 4 * CHUNK, corpus.Vocabulary(real), seed=5))
    chunks = [
        [v for _, v in corpus.messages(articles[i * CHUNK : (i + 1) * CHUNK], id_prefix=f"ab{i}-")]
        for i in range(args.rounds * 4)
    ]
    with EmbeddedRedis(extra_args=REDIS_ARGS) as redis_server:
        base = redis_server.url.rsplit("/", 1)[0]
        empty, full = f"{base}/1", f"{base}/2"
        seconds = preload.preload_sync(full, args.preload, buckets=args.buckets)
        print(f"preloaded {args.preload:,} into {args.buckets:,} buckets in {seconds:.0f} s", flush=True)
        k = 0
        for n in range(args.rounds):
            for name, script in scripts if n % 2 == 0 else scripts[::-1]:
                for db, url in (("empty", empty), ("preloaded", full)):
                    wall, cpu = asyncio.run(
                        decide_all(
                            url, script, chunks[k], f"{name}{n}{db}", args.buckets, redis_server.pid or 0
                        )
                    )
                    k += 1
                    print(
                        f"round {n} {name:9s} {db:9s}: decide {wall:5.0f} us/article, "
                        f"Redis CPU {cpu:4.0f} us/article",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
