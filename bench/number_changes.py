"""Would a rule on changed numbers tell copies from updates? (docs/DEDUP.md, "Changed figures")

    python bench/number_changes.py [--limit N] [--seed 7]

A number rule would call two near-identical texts an update, not a copy, when each holds a
number the other lacks (a figure replaced, not one added or cut away: a teaser lacks some of its
article's numbers, a page with a footer has more). This script counts, over `newsworker eval`'s
two labelled streams (worker.tools.variants on ../shared/data/ant-dev.jsonl.gz, and
worker.tools.multilingual on semeval-train.jsonl.gz), how many records of each kind would meet
that condition against their story's first record, and how many of those differ in nothing but
numbers (the Jaccard of their word 3-shingles with every number left out, at several bars).

Numbers are read from the match key (digits of every script already ASCII); a run of number
tokens is one number, so "1,000" and "1000" agree. Labelled duplicates are what the rule would
stop dropping; links (follow-ups, siblings, rewrites) are published already.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.normalize.text import normalize_text  # noqa: E402
from worker.tools.evaluate import load_articles  # noqa: E402
from worker.tools.multilingual import build_multilingual_stream, load_pairs  # noqa: E402
from worker.tools.variants import Labelled, build_stream  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
_NUMBER_RUN = re.compile(r"(?<!\S)\d+(?: \d+)*(?!\S)")
BARS = (0.9, 0.95, 1.0)


def numbers(key: str) -> set[str]:
    """The numbers of a match key: runs of digit tokens, joined, without leading zeros."""
    return {m.group().replace(" ", "").lstrip("0") or "0" for m in _NUMBER_RUN.finditer(key)}


def wordless_shingles(key: str) -> set[str]:
    words = [w for w in key.split() if not w.isdigit()]
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def replaced(a: set[str], b: set[str]) -> bool:
    """Each side holds a number the other lacks."""
    return bool(a - b) and bool(b - a)


def label(r: Labelled) -> str:
    return ("link" if r.related else "duplicate" if r.duplicate else "new") + ": " + r.kind


def study(stream: Sequence[Labelled]) -> tuple[Counter[str], Counter[str], Counter[tuple[str, float]]]:
    keys = []
    for r in stream:
        a = r.article
        t = normalize_text(title=a.get("title"), text=a.get("text"), html=a.get("html"))
        keys.append(t.match_key or t.text)
    nums = [numbers(k) for k in keys]
    first: dict[int, int] = {}
    total: Counter[str] = Counter()
    conflict: Counter[str] = Counter()
    only: Counter[tuple[str, float]] = Counter()
    for i, r in enumerate(stream):
        j = first.setdefault(r.group, i)
        if j == i or r.duplicate is None:
            continue
        kind = label(r)
        total[kind] += 1
        if not replaced(nums[j], nums[i]):
            continue
        conflict[kind] += 1
        a, b = wordless_shingles(keys[j]), wordless_shingles(keys[i])
        jac = len(a & b) / max(1, len(a | b))
        for bar in BARS:
            only[kind, bar] += jac >= bar
    return total, conflict, only


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="ant-dev articles (default: all)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    articles = load_articles(DATA / "ant-dev.jsonl.gz", limit=args.limit)
    streams = [("ant-dev", build_stream(articles, seed=args.seed))]
    semeval = DATA / "semeval-train.jsonl.gz"
    if semeval.exists():
        streams.append(("multilingual", build_multilingual_stream(load_pairs(semeval), seed=args.seed)))
    bars = "  ".join(f"only numbers >={b:.2f}" for b in BARS)
    for name, stream in streams:
        total, conflict, only = study(stream)
        print(f"\n{name}: {len(stream)} records\n{'kind':28} {'pairs':>6} {'replaced':>9}  {bars}")
        for kind in sorted(total):
            row = "  ".join(f"{only[kind, b]:>18}" for b in BARS)
            share = conflict[kind] / total[kind]
            print(f"{kind:28} {total[kind]:>6} {conflict[kind]:>5} {share:>4.0%}  {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
