"""The multilingual section of `newsworker eval`: copies, teasers and edits in ten languages, and
other outlets' rewrites of one story, built from the SemEval-2022 Task 8 news pairs.

The pairs (`../shared/data/semeval-train.jsonl.gz`, README beside it) are real articles in
ar, de, en, es, fr, it, pl, ru, tr and zh, each pair judged by annotators from 1 (the same
story) to 4 (unrelated). Each distinct text becomes one record, in a seeded order:

- the second text of a pair judged the same story (`overall <= REWRITE_OVERALL`) is placed
  shortly after the first: another outlet's own article on that story, a `rewrite`: it must
  never be dropped, and should be linked to the first (`Labelled.related`);
- every other text is a story of its own (`original`), which must come out clean;
- a share of the texts get a generated re-publication shortly after them (`copy`, `teaser`,
  `edit`), labelled duplicates. The reshapings know nothing of a language but whether it is
  written with spaces: a teaser of Chinese is cut by characters, an edit of it rewrites a few
  characters, not "words".

Deterministic for a seed, and no text of the data set is stored in the project.
"""

from __future__ import annotations

import gzip
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import msgspec
import xxhash

from worker.tools.variants import Article, Labelled, _change_sentence, _log_uniform_int

#: Annotators' `overall` at or below which two articles are one story (README of the data set).
REWRITE_OVERALL: Final = 1.5
#: Generated duplicates, in the order of the report.
ML_VARIANT_KINDS: Final = ("copy", "teaser", "edit")
ML_NEGATIVE_KINDS: Final = ("original",)
ML_RELATED_KINDS: Final = ("rewrite",)
#: Natural kinds of the data set's own texts: one text crawled twice (a duplicate), and texts
#: whose overlap leaves the label uncertain (unscored).
ML_NATURAL_KINDS: Final = ("recrawl",)
ML_UNSCORED_KINDS: Final = ("related",)
#: Share of texts that get a generated re-publication (kinds in rotation).
VARIANT_RATE: Final = 0.6
#: A text needs this many units (words, or characters of unspaced text) to get a variant.
MIN_UNITS: Final = 40
#: Records placed after what they copy or rewrite: 1..MAX_DISTANCE positions later.
MAX_DISTANCE: Final = 60

_UNSPACED_CHAR = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff]")
#: Sentence ends: after ``. ! ? ؟`` a space follows; after ``。！？`` nothing need follow.
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|(?<=[。！？])")
TEASER_TAILS: Final = ("...", "…", " …", "……")
_TOKEN = re.compile(r"\S+")


def load_pairs(path: Path) -> list[dict[str, Any]]:
    """The pairs of the data set, in file order."""
    with gzip.open(path, "rb") as fh:
        return [msgspec.json.decode(line) for line in fh if line.strip()]


def is_unspaced(text: str) -> bool:
    """Is the text mostly of a script written without spaces between words?"""
    visible = len("".join(text.split()))
    return visible > 0 and len(_UNSPACED_CHAR.findall(text)) >= 0.3 * visible


def units(text: str) -> int:
    return len(_UNSPACED_CHAR.findall(text)) if is_unspaced(text) else len(text.split())


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph) if s.strip()]


def ml_teaser(text: str, rng: random.Random) -> str:
    """The lead 30-60% of the text (by characters where it has no spaces, else by words), cut
    mid-sentence, with an ellipsis; its line breaks (a title line) are kept as they were."""
    keep = rng.uniform(0.3, 0.6)
    if is_unspaced(text):
        return text[: max(1, round(len(text) * keep))].rstrip() + rng.choice(TEASER_TAILS)
    ends = [m.end() for m in _TOKEN.finditer(text)]
    return text[: ends[max(0, round(len(ends) * keep) - 1)]] + rng.choice(TEASER_TAILS)


def _change_unspaced(sentence: str, rng: random.Random, donor: str) -> str:
    """1-3 short spans (1-3 characters) rewritten with characters of another text."""
    chars = list(sentence)
    pool = [c for c in donor if _UNSPACED_CHAR.match(c)] or ["的"]
    for _ in range(rng.randint(1, 3)):
        if not chars:
            break
        at = rng.randrange(len(chars))
        span = rng.randint(1, 3)
        chars[at : at + span] = [rng.choice(pool) for _ in range(span)]
    return "".join(chars)


#: An edit adds and removes at most this share of a text (words; visible characters where it is
#: written without spaces) in all: a re-crawl after *small* edits. The data set's Arabic texts
#: often have a few "sentences" joined by commas, so one added or removed sentence was up to 84 %
#: of a text; such an operation now changes a few words of its sentence instead. Until session 16
#: there was no bound, and 40 of 408 edits (held-out seed; all ten languages, 7 of 19 Arabic)
#: added or removed over a quarter of their text. The Arabic section's `edit`
#: (worker.tools.variants) is unbounded still: its sentences are shorter, the worker finds
#: 99-100 % of its edits, and bounding it would re-draw that whole stream (its combos' later
#: draws depend on the edited text), leaving its figures comparable with no earlier session's.
EDIT_BUDGET: Final = 0.25


def side_rng(sentence: str) -> random.Random:
    """The draws of an operation the budget turned into a change: seeded by the sentence, so
    the stream's own generator draws what it drew before the budget existed, and (nearly always)
    no other record of a seed's stream changes."""
    return random.Random(xxhash.xxh3_64_intdigest(sentence.encode()))


#: A line that ends like a sentence (a headline line does not).
_ENDS_SENTENCE = re.compile(r"[.!?؟。！？][\"'”’»)\]]*\s*$")


def ml_edit(text: str, rng: random.Random, donors: Sequence[str]) -> str:
    """Re-crawled after an edit: 5-20% of sentences changed, added (from another text of the same
    language) or removed; digits updated or a few words (characters) rewritten; at most
    `EDIT_BUDGET` of the text added and removed in all (an operation over it changes a few words
    of its sentence instead). A sentence added at an untitled text's headline line (its first
    line, when it does not end like a sentence) opens the body instead: a re-crawl does not glue
    body text into its headline (the Arabic `edit` never touches the title either). Until
    session 15 it was glued there."""
    unspaced = is_unspaced(text)
    joiner = "" if unspaced else " "

    def size(sentence: str) -> int:  # characters (any script: a donor may carry a URL) or words
        return len("".join(sentence.split())) if unspaced else len(sentence.split())

    def change(sentence: str, draw: random.Random) -> str:
        if unspaced:
            return _change_unspaced(sentence, draw, draw.choice(donor_sentences))
        return _change_sentence(sentence, draw, donor_sentences)

    paragraphs = [_sentences(p) for p in text.split("\n") if p.strip()]
    headline = len(paragraphs) >= 2 and len(paragraphs[0]) == 1
    headline = headline and not _ENDS_SENTENCE.search(paragraphs[0][0])
    places = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
    donor_sentences = [s for d in donors for p in d.split("\n") for s in _sentences(p)] or ["."]
    budget = EDIT_BUDGET * size(text)
    for _ in range(max(1, round(len(places) * rng.uniform(0.05, 0.2)))):
        places = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
        if not places:
            break
        op = rng.choice(("change", "add", "remove") if len(places) > 2 else ("change", "add"))
        i, j = rng.choice(places)
        if op == "change":
            paragraphs[i][j] = change(paragraphs[i][j], rng)
        elif op == "add":
            at, added = j + rng.randint(0, 1), rng.choice(donor_sentences)
            if size(added) > budget:
                paragraphs[i][j] = change(paragraphs[i][j], side_rng(paragraphs[i][j]))
                continue
            budget -= size(added)
            if i == 0 and headline:
                i, at = 1, 0
            paragraphs[i].insert(at, added)
        elif size(paragraphs[i][j]) > budget:
            paragraphs[i][j] = change(paragraphs[i][j], side_rng(paragraphs[i][j]))
        else:
            budget -= size(paragraphs[i][j])
            del paragraphs[i][j]
    return "\n".join(joiner.join(p) for p in paragraphs if p)


def ml_copy(text: str, rng: random.Random) -> tuple[str, str | None]:
    """The same article published again: as an HTML page (half the time), or with its lines
    reflowed. Returns (text, html); one of them is empty."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    if rng.random() < 0.5:
        body = "".join(f"<p>{_escape(p)}</p>" for p in paragraphs)
        page = (
            "<html><head><title>news</title><script>var x=1;</script></head>"
            f"<body><article>{body}</article></body></html>"
        )
        return "", page
    return "\n\n".join(" ".join(p.split()) for p in paragraphs), None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: Exact overlap (3-shingles of words, or of characters where there are no spaces) between two
#: texts of the data set at or above which they are one text crawled twice (another title, a
#: shorter cut, a crawler's error page): a duplicate. Between that and the RELATED bars the
#: label is uncertain (two stories under one block of site chrome, or one story): unscored.
#: The same bars as the Arabic corpus's labels (worker.tools.variants).
COPY_JACCARD: Final = 0.8
RELATED_JACCARD: Final = 0.2
RELATED_CONTAINMENT: Final = 0.5
_WORD = re.compile(r"\w+")
_MAX_POSTING: Final = 100


def _label_shingles(text: str) -> set[int]:
    tokens: list[str] = []
    for word in _WORD.findall(text.lower()):
        tokens.extend(word if _UNSPACED_CHAR.search(word) else (word,))
    if len(tokens) < 3:
        return {xxhash.xxh3_64_intdigest(" ".join(tokens).encode())} if tokens else set()
    return {xxhash.xxh3_64_intdigest(" ".join(tokens[i : i + 3]).encode()) for i in range(len(tokens) - 2)}


def _natural_labels(
    placed: list[tuple[float, int, Labelled]],
) -> tuple[list[tuple[float, int, Labelled]], set[str]]:
    """Relabel the data set's own texts by their exact overlap with any earlier one (all pairs of
    one language; a few thousand texts): near-verbatim repeats become duplicates (`recrawl`),
    clear overlaps outside an annotated pair become `related` (unscored). Returns the records and
    the texts entangled with another (no variant is made of them: what it copies must be known)."""
    sets = [_label_shingles(str(r.article.get("text") or "")) for _, _, r in placed]
    postings: dict[int, list[int]] = {}  # shingle -> earlier texts holding it
    out: list[tuple[float, int, Labelled]] = []
    entangled: set[str] = set()
    # A text that opens its group and repeats an earlier one takes that one's group, and so do
    # the records of its group after it (another outlet's rewrite of it is a rewrite of the
    # story it repeats): otherwise the rewrite would open a group of its own, with nothing
    # earlier of its story to be linked to.
    moved: dict[int, int] = {}
    opened: set[int] = set()
    for i, (at, serial, r) in enumerate(placed):
        if r.group in moved:
            r = replace(r, group=moved[r.group])
        opens = r.group not in opened
        opened.add(r.group)
        # shingles in very many texts (set phrases, site chrome) only slow the candidate search
        shared: Counter[int] = Counter(
            j for h in sets[i] if len(posting := postings.get(h, ())) <= _MAX_POSTING for j in posting
        )
        best: tuple[int, float, float] | None = None
        for j, inter in shared.items():
            if placed[j][2].lang != r.lang:
                continue
            jac = inter / (len(sets[i]) + len(sets[j]) - inter)
            cont = inter / min(len(sets[i]), len(sets[j]))
            if (jac >= RELATED_JACCARD or cont >= RELATED_CONTAINMENT) and (best is None or jac > best[1]):
                best = (j, jac, cont)
        for h in sets[i]:
            postings.setdefault(h, []).append(i)
        if best is not None:
            j = best[0]
            other = out[j][2]
            entangled.update((str(r.article["text"]), str(other.article["text"])))
            if best[1] >= COPY_JACCARD:
                if opens and other.group != r.group:
                    moved[r.group] = other.group
                r = Labelled(r.article, True, "recrawl", other.group, lang=r.lang)
            elif not (r.related and other.group == r.group):
                r = Labelled(r.article, None, "related", r.group, lang=r.lang)
        out.append((at, serial, r))
    return out, entangled


def build_multilingual_stream(
    pairs: Sequence[Mapping[str, Any]], *, seed: int, variant_rate: float = VARIANT_RATE
) -> list[Labelled]:
    """The labelled multilingual stream (see the module docstring)."""
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    seen: dict[str, int] = {}  # text -> group
    placed: list[tuple[float, int, Labelled]] = []
    texts_by_lang: dict[str, list[str]] = {}
    originals: list[tuple[float, str, str, int]] = []  # position, text, lang, group
    serial = 0

    def record(text: str, lang: str, ident: str) -> Article:
        return {"id": ident, "url": f"https://{lang}.news.example/{ident}", "text": text, "language": lang}

    for position, k in enumerate(order):
        pair = pairs[k]
        same_story = float(pair["overall"]) <= REWRITE_OVERALL
        first = str(pair["text1"]).strip()
        second = str(pair["text2"]).strip()
        if not first or not second:
            continue
        base = float(position * (MAX_DISTANCE + 1))
        if first not in seen:
            seen[first] = len(seen)
            serial += 1
            lang = str(pair["lang1"])
            placed.append(
                (
                    base,
                    serial,
                    Labelled(record(first, lang, f"se{k}a"), False, "original", seen[first], lang=lang),
                )
            )
            texts_by_lang.setdefault(lang, []).append(first)
            originals.append((base, first, lang, seen[first]))
        if second in seen:
            continue
        lang2 = str(pair["lang2"])
        serial += 1
        if same_story:
            seen[second] = seen[first]
            at = base + _log_uniform_int(rng, 1, MAX_DISTANCE) - 0.5
            rewrite = record(second, lang2, f"se{k}b")
            placed.append(
                (at, serial, Labelled(rewrite, False, "rewrite", seen[first], lang=lang2, related=True))
            )
        else:
            seen[second] = len(seen)
            at = base + 0.25
            placed.append(
                (
                    at,
                    serial,
                    Labelled(record(second, lang2, f"se{k}b"), False, "original", seen[second], lang=lang2),
                )
            )
            texts_by_lang.setdefault(lang2, []).append(second)
            originals.append((at, second, lang2, seen[second]))

    placed.sort(key=lambda item: (item[0], item[1]))
    placed, entangled = _natural_labels(placed)
    eligible = [o for o in originals if units(o[1]) >= MIN_UNITS and o[1] not in entangled]
    chosen = rng.sample(eligible, round(len(eligible) * variant_rate))
    for number, (at, text, lang, group) in enumerate(chosen):
        kind = ML_VARIANT_KINDS[number % len(ML_VARIANT_KINDS)]
        html: str | None = None
        if kind == "teaser":
            body = ml_teaser(text, rng)
        elif kind == "edit":
            donors = [
                t for t in rng.sample(texts_by_lang[lang], min(3, len(texts_by_lang[lang]))) if t != text
            ]
            body = ml_edit(text, rng, donors)
        else:
            body, html = ml_copy(text, rng)
        ident = f"se-{group}~{kind}{number}"
        article: Article = {"id": ident, "url": f"https://mirror.example/{lang}/{ident}", "language": lang}
        if html is not None:
            article["html"] = html
        else:
            article["text"] = body
        serial += 1
        placed.append(
            (
                at + _log_uniform_int(rng, 1, MAX_DISTANCE) - 0.5,
                serial,
                Labelled(article, True, kind, group, lang=lang),
            )
        )

    placed.sort(key=lambda item: (item[0], item[1]))
    return [r for _, _, r in placed]
