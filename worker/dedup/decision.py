"""Dedup decision: given what the store answered for one article, is it new or a duplicate?

Pure: no Redis here. The store (`store.py`) does one atomic check-and-record per claim key and
hands back, per article, who owned each of its claim keys before it and those owners' records.
This module decides.

Claim keys of an article, in a fixed order of precedence:
  0. exact  - first 8 bytes of the match-key hash; its value in Redis *is* the owner's record
  1. url    - hash of the canonical URL (absent when the article has no URL)
  2.. bands - LSH bands of the full-text and the lead MinHash

Who repeats whom must be decided the same way by both articles of a pair, even when two workers
process them at the same instant (each may win some claim keys of the other). The rule: among
the keys the two articles *share*, take the first (in the order above) that one of the two owns;
its owner is the canonical one. Both articles know the owner of every key they have (they tried
to claim it) and both know the other's keys (they are in its record), so both reach the same
answer, and two copies of a story can never both be dropped or both be emitted. Verification is
symmetric (same similarity from either side), which keeps the two verdicts consistent.

Replay: an article that finds its own record under its exact key (same id, same origin) is the
same message redelivered; it decides exactly as it did the first time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec

from worker.dedup.fingerprint import ArticleFingerprints, estimate_containment, estimate_jaccard
from worker.events import DuplicateKind

#: Bytes of an article's reference (the start of its exact hash) held in url and band claims.
#: 48 bits: a collision between two remembered articles is ~1e-4 at 10 million of them, and
#: costs at most a missed candidate (its record would fail verification), never a wrong drop.
REF_BYTES = 6
#: Bytes per band kept in a record, only to tell which bands two articles share (precedence).
TAG_BYTES = 2


def ref_of(fp: ArticleFingerprints) -> bytes:
    """The article's reference: the field of its exact claim, and the value of its other claims."""
    return fp.exact[:REF_BYTES]


class StoredRecord(msgspec.Struct, array_like=True, frozen=True):
    """What Redis remembers of an article (msgpack, under its exact claim key).

    Kept small on purpose: it is most of the memory per remembered article.
    """

    id: str
    origin: bytes  # 8-byte hash of where the message came from (topic/partition/offset)
    url: bytes | None  # canonical-URL hash, REF_BYTES long
    bands: bytes  # TAG_BYTES per band, in band order
    sketch: bytes
    lead_sketch: bytes
    shingles: int
    canonical_id: str | None = None  # set when this article itself was a duplicate


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(StoredRecord)


def encode_record(record: StoredRecord) -> bytes:
    return _encoder.encode(record)


def decode_record(data: bytes) -> StoredRecord:
    return _decoder.decode(data)


def band_tags(fp: ArticleFingerprints) -> bytes:
    """The band tags stored in a record: enough to tell shared bands apart (2^-16 false match)."""
    return b"".join(band[:TAG_BYTES] for band in fp.bands)


def make_record(article_id: str, origin: bytes, fp: ArticleFingerprints) -> StoredRecord:
    return StoredRecord(
        id=article_id,
        origin=origin,
        url=fp.url[:REF_BYTES] if fp.url else None,
        bands=band_tags(fp),
        sketch=fp.sketch,
        lead_sketch=fp.lead_sketch,
        shingles=fp.shingles,
    )


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a candidate counts as the same story. Tuned on real news: see docs/EVALUATION.md."""

    #: Jaccard (word 3-shingles) at or above which two texts are one story reshaped.
    jaccard: float = 0.5
    #: A shorter text this much contained in a longer one (teaser, boilerplate added) ...
    #: 0.6, not 0.8: a teaser that also gained a dateline and "read also"/footer lines is only
    #: 50-70% contained in its original. 0.6 recovers most of those at no false positive on the
    #: eval's shared-quote / shared-chrome / shared-intro negatives; 0.5 starts to flag shared
    #: intros of short stories (docs/EVALUATION.md, "Tuning").
    containment: float = 0.6
    #: ... counts only when their leads also agree this much (a shared quote block does not).
    lead_jaccard: float = 0.5
    #: Same canonical URL: a revision, unless the text changed beyond recognition.
    url_min_jaccard: float = 0.1


@dataclass(frozen=True, slots=True)
class ClaimView:
    """What the store saw for one article: the owner of each claim key before this article.

    `None` means this article owns the key (it was free, or it is this article's own replay).
    """

    exact_owner: StoredRecord | None
    url_owner: bytes | None
    band_owners: tuple[bytes | None, ...]


@dataclass(frozen=True, slots=True)
class StoreItem:
    """One article as the store needs it."""

    article_id: str
    origin: bytes
    fp: ArticleFingerprints
    record: StoredRecord

    @property
    def ref(self) -> bytes:
        return ref_of(self.fp)


@dataclass(frozen=True, slots=True)
class StoreAnswer:
    view: ClaimView
    records: dict[bytes, StoredRecord]


@dataclass(frozen=True, slots=True)
class Unique:
    """The article is the first of its story in the window: publish it as clean."""


@dataclass(frozen=True, slots=True)
class DuplicateOf:
    canonical_id: str
    kind: DuplicateKind
    similarity: float


Decision = Unique | DuplicateOf


def is_self(record: StoredRecord, article_id: str, origin: bytes) -> bool:
    """A record written by this very message (a replay after a crash)."""
    return record.id == article_id and record.origin == origin


def similarity(fp: ArticleFingerprints, other: StoredRecord) -> tuple[float, float, float]:
    """(jaccard, containment, lead jaccard) between an article and a remembered one."""
    jac = estimate_jaccard(fp.sketch, other.sketch)
    cont = estimate_containment(jac, fp.shingles, other.shingles)
    lead = estimate_jaccard(fp.lead_sketch, other.lead_sketch)
    return jac, cont, lead


def same_story(jac: float, cont: float, lead: float, t: Thresholds) -> bool:
    """The verification rule: Jaccard alone, or containment backed by an agreeing lead."""
    return jac >= t.jaccard or (cont >= t.containment and lead >= t.lead_jaccard)


def _precedes(
    candidate_ref: bytes, candidate: StoredRecord, fp: ArticleFingerprints, view: ClaimView
) -> bool:
    """Does the candidate come before this article, by the shared-key rule above?"""
    if fp.url is not None and candidate.url == fp.url[:REF_BYTES]:  # the url key is shared
        if view.url_owner is None:
            return False
        if view.url_owner == candidate_ref:
            return True
    cand_tags = candidate.bands
    for i, band in enumerate(fp.bands):
        if cand_tags[i * TAG_BYTES : (i + 1) * TAG_BYTES] != band[:TAG_BYTES]:
            continue  # not shared
        owner = view.band_owners[i]
        if owner is None:
            return False  # this article owns the first shared key
        if owner == candidate_ref:
            return True
        # owned by a third article: look further
    # No shared key owned by either (all taken by third articles): a stable tie-break.
    return candidate_ref < ref_of(fp)


def decide(
    fp: ArticleFingerprints,
    view: ClaimView,
    records: Mapping[bytes, StoredRecord],
    thresholds: Thresholds,
) -> Decision:
    """Decide one article. `records` maps owner refs (from `view`) to their stored records."""
    if view.exact_owner is not None:
        owner = view.exact_owner
        return DuplicateOf(owner.canonical_id or owner.id, "exact", 1.0)

    best: DuplicateOf | None = None
    seen: set[bytes] = set()
    candidates: Sequence[bytes | None] = (view.url_owner, *view.band_owners)
    for ref in candidates:
        if ref is None or ref in seen or ref == ref_of(fp):
            continue
        seen.add(ref)
        record = records.get(ref)
        if record is None:
            continue  # expired between the two round trips
        jac, cont, lead = similarity(fp, record)
        same_url = fp.url is not None and record.url == fp.url[:REF_BYTES]
        if same_url and max(jac, lead) >= thresholds.url_min_jaccard:
            kind: DuplicateKind = "near" if same_story(jac, cont, lead, thresholds) else "url"
        elif same_story(jac, cont, lead, thresholds):
            kind = "near"
        else:
            continue
        if not _precedes(ref, record, fp, view):
            continue  # the candidate will find this article and yield to it
        score = max(jac, cont if lead >= thresholds.lead_jaccard else 0.0)
        if best is None or score > best.similarity:
            best = DuplicateOf(record.canonical_id or record.id, kind, round(score, 4))
    return best if best is not None else Unique()
