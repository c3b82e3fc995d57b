"""What the garbage collector costs per article: `process_batch` in process, with and without
`settle_after_start` (gc.collect + gc.freeze once start-up is done).

    python bench/gc_cost.py [--articles 6000] [--batch 500] [--rounds 3]

Each side runs in a fresh interpreter (so one side's heap does not shape the other's), `--rounds`
times, each side first in turn: warm-up batch (imports, the language model, the script cache),
then, on the frozen side, `settle_after_start()`, then the articles through the real store on
an embedded redis-server. The time spent in collections is summed with `gc.callbacks` (start
to stop of each collection); the wall time per article is printed beside it. Figures and
method: docs/BENCHMARKS.md, "Results (sessions 10 and 11: the garbage collector)".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import probes, stats  # noqa: E402


def _one_side(articles: int, batch: int, freeze: bool) -> dict[str, float]:
    from prometheus_client import CollectorRegistry

    from bench import corpus
    from bench.profile_pipeline import run_pipeline
    from bench.run import REDIS_ARGS
    from worker.service.lifecycle import settle_after_start
    from worker.service.metrics import Metrics
    from worker.tools.embedded import EmbeddedRedis

    real = corpus.load_articles(limit=articles)
    vocab = corpus.Vocabulary(real)
    values = [v for _, v in corpus.messages(corpus.articles_for(real, articles, vocab))]
    spent = [0.0]
    started = [0.0]
    collections = [0, 0, 0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - started[0]
            collections[info["generation"]] += 1

    with EmbeddedRedis(extra_args=REDIS_ARGS) as redis_server:
        asyncio.run(run_pipeline(values[:200], redis_server.url, batch, Metrics(CollectorRegistry())))
        probes.redis_flush(redis_server.url)
        if freeze:
            settle_after_start()
        gc.callbacks.append(on_gc)
        seconds = asyncio.run(run_pipeline(values, redis_server.url, batch, Metrics(CollectorRegistry())))
        gc.callbacks.remove(on_gc)
    return {
        "us_per_article": seconds / len(values) * 1e6,
        "gc_us_per_article": spent[0] / len(values) * 1e6,
        "gen2_collections": collections[2],
        "collections": sum(collections),
        "frozen": gc.get_freeze_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--side", choices=["default", "frozen"], help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(_one_side(args.articles, args.batch, args.side == "frozen")))
        return 0
    runs: dict[str, list[dict[str, Any]]] = {"default": [], "frozen": []}
    for round_ in range(args.rounds):
        for side in stats.turn(list(runs), round_):
            argv = [sys.executable, __file__, "--side", side, "--articles", str(args.articles)]
            figures = probes.run_fresh([*argv, "--batch", str(args.batch)])
            runs[side].append(figures)
            print(
                f"{side:8s}: {figures['us_per_article']:.0f} us/article, "
                f"gc {figures['gc_us_per_article']:.1f} us/article ({figures['collections']:.0f} "
                f"collections, {figures['gen2_collections']:.0f} full; {figures['frozen']:.0f} frozen)",
                flush=True,
            )
    for side, side_runs in runs.items():
        print(f"{side:8s} medians: {stats.median([f['us_per_article'] for f in side_runs]):.0f} us/article, "
              f"gc {stats.median([f['gc_us_per_article'] for f in side_runs]):.1f} us/article")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
