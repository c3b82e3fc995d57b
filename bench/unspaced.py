"""How to tokenize text written without spaces: accuracy and cost of the candidate methods.

For each method the fingerprints of every record of the multilingual eval stream
(`worker.tools.multilingual`, built from ../shared/data/semeval-train.jsonl.gz) are computed
with that method's tokens, and each pair is judged by the worker's own rule, without Redis:
found = the two share an LSH band *and* `worker.dedup.decision.is_duplicate` holds on their
sketches. Reported per language: recall of copies / teasers / edits against their original,
false positives among all pairs of distinct stories of the same language, rewrites (another
outlet's article on the story) that the rule would drop, and the cost of tokens + fingerprint
per article (µs, median of 5 rounds).

    .venv/bin/python bench/unspaced.py [--langs zh,en,ar] [--seed 7]

Methods: `words` (scheme v2: the match key's space-separated tokens), `units` (scheme v3: a
run of unspaced script cut into characters / clusters, one token each, so shingles are
character 3-grams), `bigrams` (overlapping unit bigrams as tokens: shingles are 4-grams),
`jieba` (Chinese words by jieba, when installed; not a dependency of the worker).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from worker.dedup import fingerprint as fpm
from worker.dedup.decision import Thresholds, is_duplicate, make_record, similarity
from worker.normalize.text import normalize_text
from worker.tools.multilingual import build_multilingual_stream, load_pairs

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "semeval-train.jsonl.gz"


def words_tokens(key: str, key_bytes: bytes) -> list[bytes]:
    return key_bytes.split()


def unit_tokens(key: str, key_bytes: bytes) -> list[bytes]:
    return ORIGINAL(key, key_bytes)


def bigram_tokens(key: str, key_bytes: bytes) -> list[bytes]:
    out: list[bytes] = []
    run: list[str] = []
    for token in ORIGINAL(key, key_bytes):
        if fpm._UNIT_RE.fullmatch(token.decode()):
            run.append(token.decode())
            continue
        out.extend(_bigrams(run))
        run = []
        out.append(token)
    out.extend(_bigrams(run))
    return out


def _bigrams(run: list[str]) -> list[bytes]:
    if len(run) == 1:
        return [run[0].encode()]
    return [(a + b).encode() for a, b in itertools.pairwise(run)]


def jieba_tokens(key: str, key_bytes: bytes) -> list[bytes]:
    import jieba

    return [t.encode() for t in jieba.lcut(key) if t.strip()]


ORIGINAL = fpm._tokens
METHODS: dict[str, Callable[[str, bytes], list[bytes]]] = {
    "words": words_tokens,
    "units": unit_tokens,
    "bigrams": bigram_tokens,
    "jieba": jieba_tokens,
}


def found(a: fpm.ArticleFingerprints, b: fpm.ArticleFingerprints, t: Thresholds) -> bool:
    if not set(a.bands) & set(b.bands):
        return False
    return is_duplicate(similarity(a, make_record("b", b)), t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--langs", default="zh,en,ar,de,ru")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--methods", default="words,units,bigrams,jieba")
    args = parser.parse_args()
    langs = set(args.langs.split(","))
    stream = [r for r in build_multilingual_stream(load_pairs(DATA), seed=args.seed) if r.lang in langs]
    keys = []
    for r in stream:
        a = r.article
        n = normalize_text(title=a.get("title"), text=a.get("text"), html=a.get("html"))
        keys.append(n.match_key or n.text)
    t = Thresholds()
    for name in args.methods.split(","):
        if name == "jieba":
            try:
                import jieba

                jieba.initialize()
            except ImportError:
                print("jieba: not installed, skipped")
                continue
        fpm._tokens = METHODS[name]  # type: ignore[assignment]
        try:
            rounds = []
            for _ in range(5):
                started = time.perf_counter()
                fps = [fpm.fingerprint(k, None) for k, r in zip(keys, stream, strict=True) if r.lang == "zh"]
                rounds.append((time.perf_counter() - started) / max(1, len(fps)))
            fps = [fpm.fingerprint(k, None) for k in keys]
        finally:
            fpm._tokens = ORIGINAL  # type: ignore[assignment]
        first: dict[int, int] = {}
        for i, r in enumerate(stream):
            first.setdefault(r.group, i)
        hits: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for i, r in enumerate(stream):
            if r.duplicate or r.related:
                j = first[r.group]
                counts = hits[(str(r.lang), r.kind)]
                counts[0] += found(fps[i], fps[j], t)
                counts[1] += 1
        fp_pairs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_lang: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(stream):
            if r.kind == "original":
                by_lang[str(r.lang)].append(i)
        for lang, idx in by_lang.items():
            for x, i in enumerate(idx):
                for j in idx[x + 1 :]:
                    fp_pairs[lang][0] += found(fps[i], fps[j], t)
                    fp_pairs[lang][1] += 1
        print(f"\n{name}: {1e6 * statistics.median(rounds):.0f} µs per zh article (tokens + fingerprint)")
        for lang in sorted(langs):
            cells = []
            for kind in ("copy", "teaser", "edit", "rewrite"):
                h, n = hits.get((lang, kind), [0, 0])
                cells.append(f"{kind} {h}/{n}")
            cells.append(f"FP pairs {fp_pairs[lang][0]}/{fp_pairs[lang][1]}")
            print(f"  {lang}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
