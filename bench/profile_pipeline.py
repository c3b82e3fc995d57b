"""Where the worker's time goes: `process_batch` over real articles, in process, under cProfile.

    python bench/profile_pipeline.py [--articles 4000] [--batch 200] [--top 30]

Runs the pipeline exactly as the worker's agent does (batches of the worker's size, the real
store on an embedded redis-server, the worker's `Metrics` as stage observer), once without the
profiler for clean per-stage times, then once under cProfile (on a flushed Redis) for the
function table. Profiling the Faust agent loop around it needs the worker as its own process:
`py-spy record -p <worker pid>` (docs/BENCHMARKS.md shows how and what it found).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, generate_latest

from bench import corpus, probes, stats
from bench.run import REDIS_ARGS
from worker.config import Settings
from worker.dedup.decision import Thresholds
from worker.dedup.fingerprint import DEFAULT_SCHEME
from worker.dedup.store import connect, make_store
from worker.pipeline import Message, limits_of, process_batch
from worker.service.metrics import Metrics
from worker.tools.embedded import EmbeddedRedis


async def run_pipeline(values: list[bytes], redis_url: str, batch: int, metrics: Metrics) -> float:
    settings = Settings()
    client = connect(redis_url)
    store = make_store(client, settings, DEFAULT_SCHEME)
    store._observe = metrics.redis_call
    limits = limits_of(settings)
    thresholds = Thresholds()
    started = time.perf_counter()
    try:
        for start in range(0, len(values), batch):
            messages = [
                Message(value=v, origin=f"bench:0:{start + i}", topic="bench", partition=0, offset=start + i)
                for i, v in enumerate(values[start : start + batch])
            ]
            await process_batch(messages, store, limits=limits, thresholds=thresholds, observer=metrics)
    finally:
        await client.aclose()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=Settings().batch_size)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--output", type=Path, help="also dump the raw profile here (pstats format)")
    args = parser.parse_args(argv)
    real = corpus.load_articles(limit=args.articles)
    vocab = corpus.Vocabulary(real)
    values = [v for _, v in corpus.messages(corpus.articles_for(real, args.articles, vocab))]
    with EmbeddedRedis(extra_args=REDIS_ARGS) as redis_server:
        # warm-up: lazy imports, the language model, the script cache
        asyncio.run(run_pipeline(values[:200], redis_server.url, args.batch, Metrics(CollectorRegistry())))
        probes.redis_flush(redis_server.url)
        registry = CollectorRegistry()
        seconds = asyncio.run(run_pipeline(values, redis_server.url, args.batch, Metrics(registry)))
        per_stage = stats.per_article_us(
            stats.stage_seconds(generate_latest(registry).decode()), {}, len(values)
        )
        print(
            f"{len(values)} articles in {seconds:.2f} s = {len(values) / seconds:.0f} articles/s, "
            f"{seconds / len(values) * 1e6:.0f} us/article"
        )
        print("stage us/article: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(per_stage.items())))
        probes.redis_flush(redis_server.url)
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(run_pipeline(values, redis_server.url, args.batch, Metrics(CollectorRegistry())))
        profiler.disable()
    if args.output:
        profiler.dump_stats(str(args.output))
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
