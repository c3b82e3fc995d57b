"""How long an opening, how many bits, which bars: the eval's own pairs, measured exactly.

For every edit, combo, teaser, copy, reflow, follow-up, sibling and rewrite of `newsworker
eval`'s two streams (Arabic, seed and offset as given; multilingual), against the first record of
its story: exact Jaccard and containment of the match keys' token 3-shingles (the worker's own
tokens), and the opening agreement (`worker.dedup.fingerprint` in-place and moved search) on the
first W shingles' hashes cut to B bits. Prints, per setting, how many of each kind the duplicate
rule (containment >= 0.8 and (in place >= T0 or moved >= T or Jaccard >= 0.95)) calls a
duplicate: edits, combos and copies should be, follow-ups, siblings and rewrites never.
No sketches and no Redis: this separates the rule's signals from sketch noise and candidate
generation, which `newsworker eval` adds.

    .venv/bin/python bench/opening_window.py [--seed 7] [--offset 0]   # ~1 min
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import xxhash

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.dedup import fingerprint as fpm  # noqa: E402
from worker.normalize.text import normalize_text  # noqa: E402
from worker.tools.evaluate import load_articles  # noqa: E402
from worker.tools.multilingual import build_multilingual_stream, load_pairs  # noqa: E402
from worker.tools.variants import build_stream  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
KINDS = ("edit", "combo", "teaser", "copy", "reflow", "followup", "sibling", "rewrite")
LEAD = 28


def shingles(article: dict) -> list[bytes]:
    text = normalize_text(title=article.get("title"), text=article.get("text"), html=article.get("html"))
    key = text.match_key or text.text
    return fpm._shingles(fpm._tokens(key, key.encode()), 3)


def agreement(a: list[int], b: list[int], window: int) -> tuple[float, float]:
    # consecutive windows: every shingle of `b` (the later one) marked kept, so past the lead
    # its values meet `a`'s one by one (scheme v10 keeps one in two there; this probe predates it)
    x, y = bytes(a[:window]), bytes(v | fpm.KEPT for v in b[:window])
    return fpm.opening_agreement(y, x)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args()
    streams = {
        "ar": build_stream(load_articles(DATA / "ant-dev.jsonl.gz", offset=args.offset), seed=args.seed),
        "ml": build_multilingual_stream(load_pairs(DATA / "semeval-train.jsonl.gz"), seed=args.seed),
    }
    rows = []
    for name, stream in streams.items():
        first: dict[int, dict] = {}
        for record in stream:
            if record.group not in first:
                first[record.group] = record.article
                continue
            if record.kind not in KINDS:
                continue
            a, b = shingles(first[record.group]), shingles(record.article)
            sa, sb = set(a), set(b)
            if not sa or not sb:
                continue
            inter = len(sa & sb)
            hashes = [[xxhash.xxh3_64_intdigest(s, fpm._SEED) for s in x[:120]] for x in (a, b)]
            la, lb = set(a[:LEAD]), set(b[:LEAD])
            lead = len(la & lb) / len(la | lb)
            jac, cont = inter / len(sa | sb), inter / min(len(sa), len(sb))
            rows.append((name, record.kind, jac, cont, lead, hashes))
    print(f"{len(rows)} pairs; per setting: duplicates / pairs of each kind")
    count: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    for name, kind, jac, cont, lead, _ in rows:
        total[(name, kind)] += 1
        count[(name, kind)] += cont >= 0.8 and (lead >= 0.3 or jac >= 0.95)
    cells = " ".join(f"{n}/{k} {count[(n, k)]}/{total[(n, k)]}" for n, k in sorted(total))
    print(f"v4 rule (lead Jaccard >= 0.3): {cells}")
    for window, bits in ((56, 8), (56, 6), (56, 5), (48, 6), (88, 6)):
        mask = (1 << bits) - 1
        signals = [
            agreement([h & mask for h in ha], [h & mask for h in hb], window) for *_, (ha, hb) in rows
        ]
        for t0, t in ((0.45, 0.6), (0.45, 0.7)):
            count: Counter[tuple[str, str]] = Counter()
            total: Counter[tuple[str, str]] = Counter()
            for (name, kind, jac, cont, _, _), (here, moved) in zip(rows, signals, strict=True):
                total[(name, kind)] += 1
                count[(name, kind)] += cont >= 0.8 and (here >= t0 or moved >= t or jac >= 0.95)
            cells = " ".join(f"{n}/{k} {count[(n, k)]}/{total[(n, k)]}" for n, k in sorted(total))
            print(f"W{window} {bits}-bit in place>={t0} moved>={t}: {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
