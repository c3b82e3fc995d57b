"""Articles for the benchmark: the real dev corpus, and synthetic stories to reach large counts.

- `load_articles` reads `../shared/data/ant-dev.jsonl.gz` (22,239 real Arabic articles) when it is
  there; otherwise the benchmark runs on synthetic articles only (and says so in its report).
- `synthetic_articles` makes *distinct* stories (so each one is remembered, as a new article
  would be) from the vocabulary of the real ones: sentences of words drawn by corpus frequency,
  with the corpus' own distribution of article lengths. They cost what real articles cost in
  every stage (same alphabet, same lengths) but never repeat each other, which is what the
  memory figures need (100k and 200k remembered articles from a 22k corpus).
- `messages` turns articles into the bytes a producer sends (JSON, as on the input topic),
  with ids unique within the run.

Deterministic: the same inputs and seed give the same articles, byte for byte.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
DEV_CORPUS = ROOT.parent / "shared" / "data" / "ant-dev.jsonl.gz"

Article = dict[str, Any]

#: Vocabulary kept for synthetic text: the most frequent words cover almost all running text,
#: and a bounded list keeps sampling fast.
VOCABULARY_SIZE = 50_000

#: Words of the built-in fallback vocabulary when no corpus is present (Arabic and English,
#: written for this module), so that a fresh clone without `../shared/` still runs.
_FALLBACK_WORDS = [
    "قال",
    "أعلن",
    "الرئيس",
    "الحكومة",
    "وزير",
    "الخارجية",
    "المتحدة",
    "مجلس",
    "الأمن",
    "اليوم",
    "أمس",
    "العاصمة",
    "مصادر",
    "رسمية",
    "الاتفاق",
    "المفاوضات",
    "الانتخابات",
    "البرلمان",
    "المعارضة",
    "الاقتصاد",
    "النفط",
    "الأسعار",
    "السوق",
    "البنك",
    "المركزي",
    "government",
    "minister",
    "said",
    "report",
    "city",
    "police",
    "court",
    "election",
    "market",
    "oil",
    "price",
    "bank",
    "talks",
    "agreement",
    "security",
    "council",
    "week",
    "year",
    "people",
    "officials",
    "according",
    "statement",
    "new",
    "first",
]


def load_articles(path: Path = DEV_CORPUS, limit: int | None = None) -> list[Article]:
    """Real articles from a `.jsonl.gz` (or `.jsonl`) file, in file order; [] when it is absent."""
    if not path.exists():
        return []
    opener = gzip.open if path.name.endswith(".gz") else open
    out: list[Article] = []
    with opener(path, "rb") as fh:
        for line in islice(fh, limit):
            if line.strip():
                out.append(msgspec.json.decode(line))
    return out


class Vocabulary:
    """Word frequencies and article lengths of a corpus, for sampling synthetic articles."""

    def __init__(self, articles: Sequence[Article], size: int = VOCABULARY_SIZE) -> None:
        counts: Counter[str] = Counter()
        lengths: list[int] = []
        for a in articles:
            words = (a.get("text") or "").split()
            counts.update(words)
            lengths.append(len(words))
        if not counts:
            counts.update({w: 10 - i % 7 for i, w in enumerate(_FALLBACK_WORDS)})
            lengths = [120, 240, 350, 500]
        common = counts.most_common(size)
        self.words = [w for w, _ in common]
        self.cum_weights = list(accumulate(c for _, c in common))
        self.lengths = sorted(max(40, n) for n in lengths if n > 0) or [240]


def synthetic_article(vocab: Vocabulary, rng: random.Random, number: int) -> Article:
    """One distinct synthetic story: paragraphs of sentences of words drawn by frequency."""
    n_words = rng.choice(vocab.lengths)
    words = rng.choices(vocab.words, cum_weights=vocab.cum_weights, k=n_words)
    paragraphs: list[str] = []
    sentences: list[str] = []
    i = 0
    while i < n_words:
        step = rng.randint(8, 24)
        sentences.append(" ".join(words[i : i + step]) + ".")
        i += step
        if len(sentences) >= rng.randint(2, 4):
            paragraphs.append(" ".join(sentences))
            sentences = []
    if sentences:
        paragraphs.append(" ".join(sentences))
    return {
        "id": f"syn-{number}",
        "url": f"https://synthetic.example/news/{number}.html",
        "source": "synthetic",
        "title": " ".join(words[:6]),
        "text": "\n\n".join(paragraphs),
        "published_at": f"2018-06-{1 + number % 28:02d}T12:00:00Z",
    }


def synthetic_articles(vocab: Vocabulary, count: int, *, seed: int = 8, start: int = 0) -> Iterator[Article]:
    rng = random.Random(seed * 1_000_003 + start)
    for number in range(start, start + count):
        yield synthetic_article(vocab, rng, number)


def articles_for(
    real: Sequence[Article], count: int, vocab: Vocabulary, *, seed: int = 8
) -> Iterator[Article]:
    """`count` articles: the real ones first, then synthetic ones as needed."""
    yield from islice(real, count)
    if count > len(real):
        yield from synthetic_articles(vocab, count - len(real), seed=seed)


def messages(
    articles: Iterator[Article] | Sequence[Article], *, id_prefix: str = ""
) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs as a producer sends them; the key is the (prefixed) article id."""
    encode = msgspec.json.encode
    out: list[tuple[bytes, bytes]] = []
    for number, article in enumerate(articles):
        article_id = f"{id_prefix}{article.get('id') or number}"
        out.append((article_id.encode(), encode({**article, "id": article_id})))
    return out
