"""Byte-identical outputs of the pure per-article stages, before and after a speed change.

    python bench/check_identical.py --write FILE      # record the digests of this commit
    python bench/check_identical.py --compare FILE    # report every article whose outputs differ

Runs what ``worker.pipeline`` does to one message before the dedup store (``decode_article``,
``normalize_text``, ``canonicalize_url``, ``fingerprint``) and what ``build_clean`` adds
(``detect_language`` on the text sample, ``parse_published``) over:

- every line of ``../shared/data/ant-dev.jsonl.gz`` (real Arabic news, as producers send it);
- the files of ``../shared/seeds/`` (as plain-text articles);
- both texts of every pair of ``../shared/data/semeval-train.jsonl.gz`` (ten languages);
- adversarial variants of a sample of the corpus: the generator's reshapings
  (``worker/tools/variants.py``: html page, diacritics, reflow, syndicated, teaser, combo) and
  character-level damage made here (mojibake, entities, presentation forms, invisible and
  combining marks, odd line breaks and spaces, other digits, shouted Latin, seeded junk).

It writes one line per article: its key, then a short xxhash of each output field (title, text,
paragraphs, match_key, warnings, canonical_url, exact, sketch, opening, sequence, bands, tokens,
shingles, language, published) and one of all of them together. ``--compare`` names the articles
and fields that differ. Deterministic: one seeded generator, inputs in a fixed order.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import html
import random
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
import xxhash

from worker.dedup.fingerprint import DEFAULT_SCHEME, fingerprint
from worker.errors import PoisonInput
from worker.normalize.language import detect_language
from worker.normalize.text import normalize_text
from worker.normalize.timestamps import parse_published
from worker.normalize.urls import canonicalize_url
from worker.pipeline import LANGUAGE_SAMPLE_CHARS, Limits
from worker.tools import variants
from worker.validate import decode_article

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "ant-dev.jsonl.gz"
SEEDS = ROOT.parent / "shared" / "seeds"
MULTILINGUAL = ROOT.parent / "shared" / "data" / "semeval-train.jsonl.gz"

FIELDS = (
    "title",
    "text",
    "paragraphs",
    "match_key",
    "warnings",
    "canonical_url",
    "exact",
    "sketch",
    "opening",
    "sequence",
    "bands",
    "tokens",
    "shingles",
    "language",
    "published",
)

#: Corpus articles given adversarial variants (every n-th one), and the seed of the generator.
VARIANT_EVERY = 20
SEED = 20240611

_ENCODER = msgspec.json.Encoder()


# --- outputs of one message -------------------------------------------------------------------


def _h(value: object) -> str:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    else:
        data = repr(value).encode("utf-8", "surrogatepass")
    return xxhash.xxh3_64_hexdigest(data)


def outputs(payload: bytes, limits: Limits) -> dict[str, object]:
    """Every output of the pure stages for one message (a dead letter's reason instead)."""
    try:
        raw = decode_article(
            payload, max_bytes=limits.max_message_bytes, max_text_chars=limits.max_text_chars
        )
    except PoisonInput as exc:
        return {"dead_letter": exc.reason}
    text = normalize_text(title=raw.title, text=raw.text, html=raw.html)
    canonical_url = canonicalize_url(raw.url)
    fp = fingerprint(text.match_key or text.text, canonical_url, DEFAULT_SCHEME)
    published = parse_published(raw.published_at)
    language = raw.language or detect_language(text.text[:LANGUAGE_SAMPLE_CHARS])
    return {
        "title": text.title,
        "text": text.text,
        "paragraphs": text.paragraphs,
        "match_key": text.match_key,
        "warnings": text.warnings,
        "canonical_url": canonical_url,
        "exact": fp.exact,
        "sketch": fp.sketch,
        "opening": fp.opening,
        "sequence": fp.sequence,
        "bands": fp.bands,
        "tokens": fp.tokens,
        "shingles": fp.shingles,
        "language": language,
        "published": published,
        "empty_text": not text.text.strip(),
        "url_hash": fp.url,
    }


def digest_line(key: str, out: dict[str, object]) -> str:
    parts = [f"{name}={_h(value)}" for name, value in sorted(out.items())]
    whole = xxhash.xxh3_64_hexdigest("|".join(parts).encode())
    return "\t".join([key, whole, *parts])


# --- inputs -----------------------------------------------------------------------------------


def corpus_lines() -> Iterator[bytes]:
    with gzip.open(CORPUS, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if line:
                yield line


_JUNK = (
    "\u200b\u200c\u200d\u200e\u200f\u202b\u202c\u2066\u2069\ufeff\u00ad\u061c\x00\x07\x1f\x7f\x85\x9f"
    "\u2028\u2029\r\x0b\x0c\t\u00a0\u2009\u3000\u0640"
)
_MARKS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0653\u0654\u0655\u0301\u0303\u0308"
_PUNCT = ".,،؛؟!?:;\"'«»()[]{}…-–—/%*#_“”‘’„+=&@<>|\\~^`$•·©®™°×÷"
_ODD = (
    "\ufefb\ufe8e\ufdfc\ufdfd\ufe70\ufe71\ufb50\uff10\uff21\uff41\ufb01ÃØÙâ€§„٠١٢٣۴ی ک²½é\u0301ßİ\U0001f600"
)


def _presentation_table() -> dict[int, str]:
    """Plain Arabic letter -> its isolated presentation form (Arabic presentation forms-B)."""
    table: dict[int, str] = {}
    for cp in range(0xFE70, 0xFEFD):
        ch = chr(cp)
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) == 1 and ord(folded) not in table and "ISOLATED" in unicodedata.name(ch, ""):
            table[ord(folded)] = ch
    return table


_PRESENTATION = _presentation_table()


def _damage(text: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    """Character-level damage of one text, each shape with its name."""
    yield "cp1252", text.encode("utf-8").decode("cp1252", "replace")
    yield "cp1256", text.encode("utf-8").decode("cp1256", "replace")
    half = len(text) // 2
    yield "cp1256_half", text[:half].encode("utf-8").decode("cp1256", "replace") + text[half:]
    yield "latin1_part", text[:200].encode("utf-8").decode("latin-1") + " " + text[200:]
    yield "entities", html.escape(text).replace(" ", "&nbsp;", 5).replace("ا", "&#1575;", 7)
    yield "double_escaped", html.escape(html.escape(text[:400]))
    yield "presentation", text.translate(_PRESENTATION)
    yield "nfd", unicodedata.normalize("NFD", text)
    yield "crlf", text.replace("\n", "\r\n").replace(". ", ".\u2028", 3)
    yield "nbsp_tabs", text.replace(" ", "\u00a0", 20).replace(" ", "\t ", 5).replace(" ", "  ", 5)
    yield "digits", text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")).replace("٥", "۵")
    yield "persian", text.replace("ي", "ی").replace("ك", "ک")
    yield (
        "upper_latin",
        "BREAKING NEWS: THE TALKS ENDED IN ASTANA WITHOUT AN AGREEMENT. " + text[:300].upper(),
    )
    yield "spacing", text.replace("، ", " ،").replace(". ", " . ").replace(" (", "( ").replace(")", " )")
    yield "glued", text.replace(". ", ".").replace("، ", "،").replace(": ", ":")
    for n in range(3):
        chars = list(text)
        pool = (_JUNK, _MARKS, _PUNCT, _ODD)[n] + _JUNK
        for _ in range(max(1, len(chars) // 25)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(pool))
        yield f"junk{n}", "".join(chars)
    # a few random-character strings, seeded (hostile shapes no corpus has)
    alphabet = _JUNK + _MARKS + _PUNCT + _ODD + "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئىة abc XYZ 123\n\n"
    yield "random", "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 600)))


_URLS = (
    "https://www.Example.COM:443/a/b?utm_source=x&b=2&a=1#frag",
    "http://example.com:8080/%d9%81%D9%8A%D9%84%D9%85?fbclid=1",
    "//alarabiya.net/ar/فيلم-بن-لادن.html#!/route",
    "https://مثال.إختبار/path with space",
    "example.com/no-scheme",
    "https://user:pw@[::1]:80/x?q=%80&q=%zz",
    "https://host./%7Euser/%2f?b=&a",
)
_DATES = (
    "2018-02-12T07:00:00Z",
    "2018-02-12 10:00",
    "Mon, 12 Feb 2018 10:00:00 +0300",
    "12 فبراير 2018 10:00 AST",
    "١٢/٠٢/٢٠١٨",
    1518418800,
    1518418800000,
    "tomorrow",
    "تشرين الثاني 3, 2017",
)


def variant_articles(articles: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    rng = random.Random(SEED)
    titles = [a["title"] for a in articles if a.get("title")]
    donors = [s for a in articles[:500] for s in str(a.get("text") or "").split(". ")[:3] if s]
    ctx = variants.Context(donor_sentences=donors, related_titles=titles[:50])
    for i, article in enumerate(articles[::VARIANT_EVERY]):
        base: dict[str, Any] = {
            k: article[k] for k in ("id", "url", "source", "title", "published_at") if k in article
        }
        for n, kind in enumerate(variants.VARIANT_KINDS):
            v = variants.make_variant(article, kind, rng, ctx, n)
            yield f"{article['id']}~{kind}", v
        text = str(article.get("text") or "")
        for name, damaged in _damage(text, rng):
            yield f"{article['id']}~{name}", {**base, "text": damaged}
            if name in ("cp1256", "entities", "presentation", "junk0", "random"):
                title = str(article.get("title") or "")
                title = (
                    title.encode("utf-8").decode("cp1256", "replace") if name == "cp1256" else damaged[:80]
                )
                yield f"{article['id']}~{name}~title", {**base, "title": title, "text": damaged}
        yield (
            f"{article['id']}~url_date",
            {**base, "url": _URLS[i % len(_URLS)], "published_at": _DATES[i % len(_DATES)], "text": text},
        )
        yield f"{article['id']}~html_only", {**base, "html": f"<p>{html.escape(text)}</p>", "title": None}


def multilingual_texts() -> Iterator[tuple[str, str]]:
    """Both texts of every pair of ``../shared/data/semeval-train.jsonl.gz`` (news in ten
    languages, Chinese among them: the paths the Arabic corpus never takes), if it is there."""
    if not MULTILINGUAL.exists():
        return
    with gzip.open(MULTILINGUAL, "rb") as fh:
        for line in fh:
            pair = msgspec.json.decode(line)
            for side in ("1", "2"):
                yield f"{pair['pair_id']}:{side}:{pair['lang' + side]}", str(pair["text" + side])


def inputs() -> Iterator[tuple[str, bytes]]:
    articles: list[dict[str, Any]] = []
    for n, line in enumerate(corpus_lines()):
        yield f"corpus:{n}", line
        with contextlib.suppress(msgspec.DecodeError):
            articles.append(msgspec.json.decode(line))
    for path in sorted(SEEDS.iterdir()):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        yield f"seed:{path.name}", _ENCODER.encode({"id": path.stem, "text": text})
    for key, article in variant_articles(articles):
        yield f"variant:{key}", _ENCODER.encode(article)
    for key, text in multilingual_texts():
        yield f"multilingual:{key}", _ENCODER.encode({"id": key, "text": text})
    for path in sorted((ROOT / "tests" / "fuzz" / "corpus").iterdir()):
        yield f"fuzz:{path.name}", path.read_bytes()


# --- main ---------------------------------------------------------------------------------------


def run(limit: int | None) -> list[str]:
    limits = Limits()
    lines = []
    for n, (key, payload) in enumerate(inputs()):
        if limit is not None and n >= limit:
            break
        lines.append(digest_line(key, outputs(payload, limits)))
    return lines


def compare(old: list[str], new: list[str]) -> int:
    before = {line.split("\t", 1)[0]: line.split("\t") for line in old}
    after = {line.split("\t", 1)[0]: line.split("\t") for line in new}
    differ = 0
    for key in before.keys() | after.keys():
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            print(f"{key}: only in {'new' if a is None else 'old'} run")
            differ += 1
        elif a[1] != b[1]:
            fields = [x.split("=")[0] for x, y in zip(a[2:], b[2:], strict=False) if x != y]
            print(f"{key}: differs in {', '.join(fields) or 'field set'}")
            differ += 1
    print(f"{len(after)} articles compared, {differ} differ")
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write the digests of this tree to FILE")
    group.add_argument("--compare", type=Path, help="compare this tree's digests with FILE")
    parser.add_argument("--limit", type=int, default=None, help="first N inputs only (a quick check)")
    args = parser.parse_args(argv)
    lines = run(args.limit)
    if args.write:
        args.write.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines)} digests written to {args.write}")
        return 0
    old = args.compare.read_text(encoding="utf-8").splitlines()
    if args.limit is not None:
        old = old[: args.limit]
    return 1 if compare(old, lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
