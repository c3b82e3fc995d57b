"""Where duplicates end and story links begin: the decision's signals on real pairs, and how
the old and the current rule split them (docs/DEDUP.md, "The rule and its numbers").

    python bench/story_split.py [--articles 5000]

Positives: every labelled duplicate of `newsworker eval`'s stream (worker.tools.variants) built
from the first N articles of ../shared/data/ant-dev.jsonl.gz, against its story's first record,
and 400 feed items (a title and the first 20-50 words of an article of >= 150 words).
Negatives that must not be dropped, built from the articles after those N: follow-ups (a
30-80-word lead of another article over 70-100 % of an article's paragraphs; the same opening
with the earlier article's first 5-8 words, with and without its lead paragraph), siblings (two
articles' first halves plus the same two background paragraphs of a third), and rewrites
(../shared/data/semeval-train.jsonl.gz pairs with `overall` <= 1.5 in one language).
Prints, per kind, the share called a duplicate by each rule and the share linked (current).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.dedup.decision import Thresholds, is_duplicate, is_related, make_record, similarity  # noqa: E402
from worker.dedup.fingerprint import ArticleFingerprints, fingerprint  # noqa: E402
from worker.normalize.text import normalize_text  # noqa: E402
from worker.tools.variants import build_stream  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
from worker.dedup.decision import Signals  # noqa: E402


def _fp(article: Mapping[str, Any]) -> ArticleFingerprints:
    text = normalize_text(title=article.get("title"), text=article.get("text"), html=article.get("html"))
    return fingerprint(text.match_key or text.text, None)


def signals(a: Mapping[str, Any], b: Mapping[str, Any]) -> Signals:
    return similarity(_fp(a), make_record("b", _fp(b)))


def _paragraphs(article: Mapping[str, Any]) -> list[str]:
    return [p for p in str(article["text"]).split("\n") if p.strip()]


def pairs(n: int) -> dict[str, list[Signals]]:
    with gzip.open(DATA / "ant-dev.jsonl.gz", "rt", encoding="utf-8") as fh:
        articles = [json.loads(line) for line in fh]
    out: dict[str, list[Signals]] = defaultdict(list)
    first: dict[int, Mapping[str, Any]] = {}
    for record in build_stream(articles[:n], seed=7):
        if record.group not in first:
            first[record.group] = record.article
        elif record.duplicate:
            out[f"copy: {record.kind}"].append(signals(record.article, first[record.group]))
    rng = random.Random(3)
    pool = [a for a in articles[n : n + 4000] if len(a["text"].split()) >= 150 and "\n" in a["text"]]
    # a feed item: the title and the first 20-50 words of a long article (the teaser kind of
    # the stream keeps 30-60 % of the words; an RSS description is much shorter than that)
    rss = random.Random(5)
    for a in pool[:400]:
        lead = " ".join(str(a["text"]).split()[: rss.randint(20, 50)])
        item = {"title": a.get("title"), "text": f"{lead} ..."}
        out["copy: feed item"].append(signals(item, a))
    for _ in range(400):
        a, b, c = rng.sample(pool, 3)
        pa, pb = _paragraphs(a), _paragraphs(b)
        lead = " ".join(str(b["text"]).split()[: rng.randint(30, 80)])
        keep = max(1, round(len(pa) * rng.uniform(0.7, 1.0)))
        follow_up = {"title": b.get("title"), "text": "\n".join([lead, *pa[:keep]])}
        out["keep: follow-up"].append(signals(follow_up, a))
        # the same, opening with the earlier article's first words (a formula, a kicker): its
        # opening agrees in place up to there, then holds the new lead (`lead_split`'s risk)
        opener = " ".join(str(a["text"]).split()[: rng.randint(5, 8)])
        same_start = {"title": b.get("title"), "text": "\n".join([f"{opener} {lead}", *pa[:keep]])}
        out["keep: follow-up, same first words"].append(signals(same_start, a))
        old_lead_dropped = {"title": b.get("title"), "text": "\n".join([f"{opener} {lead}", *pa[1:keep]])}
        out["keep: follow-up, same first words, old lead dropped"].append(signals(old_lead_dropped, a))
        background = _paragraphs(c)[:2]
        one = {"title": a.get("title"), "text": "\n".join([*pa[: max(1, len(pa) // 2)], *background])}
        two = {"title": b.get("title"), "text": "\n".join([*pb[: max(1, len(pb) // 2)], *background])}
        out["keep: sibling"].append(signals(two, one))
    chinese: set[str] = set()
    with gzip.open(DATA / "semeval-train.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            if p["overall"] <= 1.5 and p["lang1"] == p["lang2"]:
                out["keep: rewrite"].append(signals({"text": p["text2"]}, {"text": p["text1"]}))
            chinese.update(p[f"text{k}"] for k in "12" if p[f"lang{k}"] == "zh" and len(p[f"text{k}"]) >= 250)
    # Chinese follow-ups: a new lead of 60-160 characters (as many words' worth as the Arabic
    # ones' 30-80 words) from another text, over the earlier text under its title line
    zh = sorted(chinese)
    for _ in range(400):
        a, b = rng.sample(zh, 2)
        lines = [line for line in a.split("\n") if line.strip()]
        title = lines[0] + "\n" if len(lines) > 1 and len(lines[0]) < 60 else ""
        body = "\n".join(lines[1:]) if title else a
        lead = max(b.split("\n"), key=len)[: rng.randint(60, 160)].rstrip("。") + "。"
        out["keep: follow-up (Chinese)"].append(signals({"text": f"{title}{lead}\n{body}"}, {"text": a}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    args = parser.parse_args()
    t = Thresholds()
    rules: dict[str, Callable[[Signals], bool]] = {
        "old rule": lambda s: s.jaccard >= 0.5 or (s.containment >= 0.6 and s.lead >= 0.5),
        "duplicate": lambda s: is_duplicate(s, t),
        "linked": lambda s: not is_duplicate(s, t) and is_related(s, t),
    }
    print(f"{'kind':52} {'pairs':>6} " + " ".join(f"{name:>10}" for name in rules))
    for kind, values in sorted(pairs(args.articles).items()):
        shares = [sum(rule(v) for v in values) / len(values) for rule in rules.values()]
        print(f"{kind:52} {len(values):6} " + " ".join(f"{s:10.3f}" for s in shares))
    return 0


if __name__ == "__main__":
    sys.exit(main())
