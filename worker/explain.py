"""`newsworker explain A B`: why two articles are one article, one story, or unrelated.

The evidence a person needs to agree or disagree with the dedup decision: the verdict, each
signal the decision uses against its threshold (`worker.dedup.decision.Thresholds`), and the
passages the two texts share, side by side. Pure: articles in (as files are read for
`newsworker produce`, or records remembered in a Redis window), an `Explanation` out; the
command line prints it.

The signals are the worker's own: the same normalization, fingerprints and estimates
(`decision.similarity`), so the verdict here is the verdict the worker reaches for the pair
when the later one finds the earlier as a candidate (it shares an LSH band or the URL). From
records (`--redis-url`) only sketches are left: the signals and verdict, no passages.

Shared passages: the display text is split into sentences; a sentence counts as shared when
most of its match-key word 3-shingles occur in the other text, and is paired with the other
text's sentence it overlaps most, in text order (difflib's matching blocks over the sentence
keys first, so identical runs line up). Output is bounded (`MAX_PASSAGES`, `MAX_CHARS`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from worker.dedup.decision import (
    REF_BYTES,
    Signals,
    StoredRecord,
    Thresholds,
    decode_record,
    is_duplicate,
    is_related,
    is_revision,
    make_record,
    moved_opening,
    opening_bars,
    similarity,
)
from worker.dedup.fingerprint import (
    DEFAULT_SCHEME,
    ArticleFingerprints,
    Scheme,
    fingerprint,
    sequence_of,
    unpack_opening,
)
from worker.errors import PoisonInput
from worker.normalize.text import NormalizedText, match_key, normalize_text
from worker.normalize.urls import canonicalize_url, names_an_article
from worker.validate import article_id_of, decode_article

Verdict = Literal["duplicate", "same story", "unrelated"]

#: Shared passages shown at most, and characters of each side of one: readable in a terminal.
MAX_PASSAGES = 8
MAX_CHARS = 240
#: A sentence is shared when this share of its shingles is in the other text: most of it.
SHARED_SENTENCE = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?؟۔。！？])\s+|(?<=[.!?؟])(?=[^\s\d.!?؟])")


@dataclass(frozen=True, slots=True)
class Article:
    """One side of the comparison."""

    id: str
    fp: ArticleFingerprints
    record: StoredRecord
    text: NormalizedText | None = None  # None when only the remembered record is known


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    value: float
    threshold: float
    passed: bool
    meaning: str
    below: bool = False  # the threshold is an upper bound: passed when the value is under it


@dataclass(frozen=True, slots=True)
class Passage:
    left: str
    right: str
    overlap: float  # share of the left sentence's shingles found in the right text


@dataclass(frozen=True, slots=True)
class Explanation:
    left: str
    right: str
    verdict: Verdict
    reason: str
    signals: tuple[Signal, ...]
    candidate: bool  # would the worker compare them at all (a shared band or URL)?
    passages: tuple[Passage, ...] = ()
    note: str | None = None
    shared_total: int = 0  # shared passages found (at most MAX_PASSAGES are kept)


def article_from_value(value: bytes, scheme: Scheme = DEFAULT_SCHEME, *, origin: str = "") -> Article:
    """An article from a raw message (as `newsworker produce` sends it); PoisonInput if bad."""
    raw = decode_article(value, max_bytes=len(value) + 1, max_text_chars=10_000_000)
    text = normalize_text(title=raw.title, text=raw.text, html=raw.html)
    if not text.text.strip():
        raise PoisonInput("empty_text", f"{origin or 'article'} has no readable text after cleaning")
    url = canonicalize_url(raw.url)
    fp = fingerprint(text.match_key or text.text, url if names_an_article(url) else None, scheme)
    article_id = article_id_of(raw) or origin or "article"
    return Article(article_id, fp, make_record(article_id, fp), text)


def article_from_record(record: StoredRecord) -> Article:
    """An article remembered in the window: sketches only (no text, no exact hash). As the later
    of two, its `sequence` is what its stored opening gives (`sequence_of`)."""
    opening = unpack_opening(record.opening)
    fp = ArticleFingerprints(
        exact=b"",
        tokens=0,
        shingles=record.shingles,
        sketch=record.sketch,
        opening=opening,
        bands=(),
        url=None,
        sequence=sequence_of(opening),
    )
    return Article(record.id, fp, record)


def explain(a: Article, b: Article, thresholds: Thresholds | None = None) -> Explanation:
    """The verdict for the pair, each signal against its threshold, and the shared passages.

    `a` is the earlier article, `b` the later one (the order the worker would see them in): the
    one signal with a direction (the later one's front cut away) asks it of `b`."""
    t = thresholds or Thresholds()
    exact = bool(a.fp.exact) and a.fp.exact == b.fp.exact
    sig = similarity(b.fp, a.record)
    jac, cont, lead, moved, inside = sig.jaccard, sig.containment, sig.lead, sig.moved_lead, sig.inside
    split, added, whole = sig.split, sig.added, sig.whole
    bars = opening_bars(t, sig.unspaced, cont)
    bar = bars.lead
    moved_same = moved_opening(lead, moved, bars)
    same_url = a.record.url is not None and a.record.url == b.record.url
    shared_bands = _shared_bands(a.record, b.record)
    signals = (
        Signal("Jaccard", jac, t.dup_jaccard, jac >= t.dup_jaccard, "nearly the same text throughout"),
        Signal(
            "containment", cont, t.dup_containment, cont >= t.dup_containment,
            "the shorter text inside the longer",
        ),
        Signal(
            "whole opening in place", whole, t.dup_whole_opening, whole >= t.dup_whole_opening,
            f"the shorter one begins with the longer's first ~58 words: containment "
            f">= {t.dup_containment_whole:g} is then enough",
        ),
        Signal(
            "opening in place", lead, bar, lead >= bar,
            "the same opening (its first 30 words, or characters where unspaced, agree where they stand)",
        ),
        Signal(
            "opening moved", moved, bars.moved, moved_same,
            "the same opening, moved by a sentence added or removed in front (better than in place)",
        ),
        Signal(
            "opening cut", inside, bars.inside, inside >= bars.inside,
            "the later one begins inside the earlier (its first sentences cut, nothing new in front)",
        ),
        Signal(
            "opening split", split, bars.split, split >= bars.split,
            "the same first words, then the same opening on: a sentence added or removed after them",
        ),
        Signal(
            "text of its own", added, t.dup_added, added < t.dup_added,
            "the later one's share not in the earlier: as much as the bar, it is a fuller article",
            below=True,
        ),
        Signal(
            "containment (story)", cont, t.link_containment, cont >= t.link_containment,
            "enough shared text to be one story",
        ),
        Signal("Jaccard (story)", jac, t.link_jaccard, jac >= t.link_jaccard, "more than sketch noise"),
    )
    verdict: Verdict
    if exact:
        verdict, reason = "duplicate", "the same text after normalization (exact match key)"
    elif is_duplicate(sig, t):
        if lead >= bar:
            why = "the same opening"
        elif moved_same:
            why = "the same opening, moved by a sentence"
        elif inside >= bars.inside:
            why = "the later one's first sentences cut away"
        elif split >= bars.split:
            why = "the same opening, a sentence added or removed after its first words"
        else:
            why = "nearly all of the text alike"
        verdict, reason = "duplicate", f"the shorter is inside the longer, with {why}"
    elif same_url and is_revision(sig, t):
        verdict, reason = "duplicate", "the same canonical URL, revised (the texts still overlap)"
    elif is_related(sig, t):
        verdict, reason = "same story", _story_reason(sig, t)
    else:
        verdict, reason = "unrelated", "too little shared text"
    note = None
    if a.text is None or b.text is None:
        note = "explained from the remembered sketches: the window keeps no text, so no passages"
        if b.text is None:
            note += " (and of the later one only its stored opening: a front cut past its lead is not seen)"
    passages = shared_passages(a.text, b.text) if a.text is not None and b.text is not None else []
    candidate = exact or same_url or shared_bands > 0
    return Explanation(
        a.id, b.id, verdict, reason, signals, candidate, tuple(passages[:MAX_PASSAGES]), note, len(passages)
    )


def _story_reason(sig: Signals, t: Thresholds) -> str:
    cont = sig.containment
    if cont >= t.dup_containment and sig.added >= t.dup_added:
        return "the earlier one is inside it, but it has as much text again of its own: a fuller article"
    if cont >= t.dup_containment:
        return "much of one is in the other, but it opens differently: its own article (a follow-up?)"
    return "they share passages, but each has much of its own: two articles of one story"


def _shared_bands(a: StoredRecord, b: StoredRecord) -> int:
    n = min(len(a.bands), len(b.bands)) // 2
    return sum(a.bands[i * 2 : i * 2 + 2] == b.bands[i * 2 : i * 2 + 2] for i in range(n))


# --- shared passages ---------------------------------------------------------------------------


def sentences(text: NormalizedText) -> list[str]:
    out = []
    for paragraph in text.paragraphs:
        out += [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]
    return out


def _shingles(tokens: Sequence[str], k: int = 3) -> set[tuple[str, ...]]:
    if len(tokens) < k:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + k]) for i in range(len(tokens) - k + 1)}


def shared_passages(a: NormalizedText, b: NormalizedText) -> list[Passage]:
    """Sentences of `a` mostly found in `b`, each beside the sentence of `b` it overlaps most."""
    left, right = sentences(a), sentences(b)
    left_keys = [match_key(s).split() for s in left]
    right_keys = [match_key(s).split() for s in right]
    right_sets = [_shingles(k) for k in right_keys]
    everything_right = set().union(*right_sets) if right_sets else set()
    # identical sentences line up by difflib; the rest pair with their best-overlapping sentence
    matcher = difflib.SequenceMatcher(
        None, [" ".join(k) for k in left_keys], [" ".join(k) for k in right_keys], autojunk=False
    )
    paired = {i: j for block in matcher.get_matching_blocks() for i, j in _block_pairs(block)}
    passages: list[Passage] = []
    for i, key in enumerate(left_keys):
        own = _shingles(key)
        if not own:
            continue
        overlap = len(own & everything_right) / len(own)
        if overlap < SHARED_SENTENCE:
            continue
        j = paired.get(i)
        if j is None:
            j = max(range(len(right_sets)), key=lambda r: len(own & right_sets[r]))
        passages.append(Passage(_clip(left[i]), _clip(right[j]), round(overlap, 2)))
    return _merge_runs(passages)


def _block_pairs(block: difflib.Match) -> Iterable[tuple[int, int]]:
    return ((block.a + n, block.b + n) for n in range(block.size))


def _merge_runs(passages: list[Passage]) -> list[Passage]:
    """Consecutive shared sentences paired with the same sentence become one passage."""
    merged: list[Passage] = []
    for p in passages:
        if merged and merged[-1].right == p.right:
            last = merged[-1]
            merged[-1] = Passage(_clip(f"{last.left} {p.left}"), last.right, min(last.overlap, p.overlap))
        else:
            merged.append(p)
    return merged


def _clip(s: str) -> str:
    return s if len(s) <= MAX_CHARS else s[: MAX_CHARS - 1].rstrip() + "…"


def articles_from_files(paths: Sequence[Path], scheme: Scheme = DEFAULT_SCHEME) -> list[Article]:
    """The articles of the given files, read as `newsworker produce` reads them."""
    from worker.files.inputs import read_records

    out = []
    for record in read_records(paths):
        if record.problem:
            raise PoisonInput("invalid_input", f"{record.origin}: {record.problem}")
        name = Path(record.origin.rsplit(":", 1)[0]).stem
        out.append(article_from_value(record.value, scheme, origin=name))
    return out


def find_records(
    entries: Iterable[tuple[bytes, bytes]], ids: Sequence[str]
) -> dict[str, StoredRecord]:
    """The records of these ids among a window's (field, value) entries (claims are skipped)."""
    wanted = set(ids)
    found: dict[str, StoredRecord] = {}
    for field, value in entries:
        if len(field) != REF_BYTES or len(value) <= REF_BYTES:
            continue  # a url or band claim: its value is a reference, not a record
        try:
            record = decode_record(value)
        except msgspec.DecodeError:  # a value of another layout
            continue
        if record.id in wanted:
            found.setdefault(record.id, record)
    return found


__all__ = [
    "Article",
    "Explanation",
    "Passage",
    "Signal",
    "article_from_record",
    "article_from_value",
    "articles_from_files",
    "explain",
    "find_records",
    "shared_passages",
]
