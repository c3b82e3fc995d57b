"""The worker's stream figures, two checkouts against each other, rounds interleaved.

    python bench/ab_stream.py --a ../wt-before --b . [--rounds 8] [--articles 20000] [--json FILE]

`bench/run.py --only stream` measured in two checkouts, one after the other, meets two machines:
on this one the speed drifts by 2x within an hour. Here both sides share one broker, one Redis,
one corpus and one set of input messages, and alternate run by run (A B, B A, ...), so a drift
falls on both. Only the worker runs (no passthrough): what a change does to the worker's own
CPU per article, its event loop's share, its rate and its mean batch.

Each side's worker runs from its checkout's directory (the current directory comes first on
`python -m`'s path), so it runs that checkout's code; the compiled extensions
(`worker/**/*.so`) must be built or copied there (`git worktree add`, then copy them from a
built checkout when the C did not change). Figures as `bench/run.py`'s stream section
(docs/BENCHMARKS.md, "Method").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import probes, stats  # noqa: E402
from bench.run import REDIS_ARGS, Bench, Plan, log  # noqa: E402
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis  # noqa: E402

FIGURES = ("cpu_us_per_article", "main_cpu_us_per_article", "articles_per_s", "mean_batch_articles")


def checkout(path: str) -> Path:
    root = Path(path).resolve()
    if not (root / "worker" / "__init__.py").is_file():
        raise SystemExit(f"{root} is not a checkout of newsworker (no worker/__init__.py)")
    if not list((root / "worker").glob("**/*.so")):
        raise SystemExit(f"{root} has no compiled extensions (worker/**/*.so): build or copy them")
    return root


def summary(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for figure in FIGURES:
        a = [r["a"][figure] for r in rounds]
        b = [r["b"][figure] for r in rounds]
        ratios = stats.paired_ratios(b, a)
        out[figure] = {
            "a_median": stats.median(a),
            "b_median": stats.median(b),
            "b_over_a": ratios,
            "b_over_a_median": stats.median(ratios),
            "b_lower_in": sum(x < 1 for x in ratios),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--a", required=True, help="the checkout to compare against (before)")
    parser.add_argument("--b", required=True, help="the checkout with the change (after)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--articles", type=int, default=Plan().articles)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sides = {"a": checkout(args.a), "b": checkout(args.b)}
    workdir = Path(tempfile.mkdtemp(prefix="newsworker-ab-"))
    log(f"logs in {workdir}; a = {sides['a']}, b = {sides['b']}")
    rounds: list[dict[str, dict[str, Any]]] = []
    with EmbeddedKafka() as kafka, EmbeddedRedis(extra_args=REDIS_ARGS) as redis_server:
        bench = Bench(kafka, redis_server, Plan(), workdir)
        records = bench.stream_messages(args.articles)
        for run in range(args.rounds):
            this: dict[str, dict[str, Any]] = {}
            for side in stats.turn(("a", "b"), run):
                probes.ROOT = sides[side]  # the worker process' directory: its code
                result = bench.one_stream_run("worker", run * 2 + (side == "b"), records)
                this[side] = result
                log(
                    f"  round {run} {side}: {result['articles_per_s']:6.0f}/s, "
                    f"{result['cpu_us_per_article']:4.0f} us CPU/article "
                    f"({result['main_cpu_us_per_article']:.0f} event loop), "
                    f"mean batch {result['mean_batch_articles']:.0f}, {result['outputs']} out"
                )
            rounds.append(this)
    result = {"a": str(sides["a"]), "b": str(sides["b"]), "rounds": rounds, "summary": summary(rounds)}
    for figure, s in result["summary"].items():
        log(
            f"{figure:26s} a {s['a_median']:8.1f}  b {s['b_median']:8.1f}  "
            f"b/a median {s['b_over_a_median']:.3f} (b lower in {s['b_lower_in']} of {len(rounds)})"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
        log(f"results in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
