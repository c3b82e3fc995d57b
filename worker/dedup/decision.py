"""Dedup decision: given what the store answered for one article, is it a duplicate of an
article already published, its own article on a story already seen, or a new story?

Pure: no Redis here. The store (`store.py`) records each article, claims its keys atomically and
hands back, per article, who owned each of its claim keys before it and those owners' records.
This module judges (`judge`: which remembered article it matches, and how) and resolves the
verdict into ids (`resolve`: the published article and the story it stands for).

Three answers (docs/DEDUP.md, "Three answers"):
- *duplicate*: the same article again (reshaped, re-crawled after small edits, a teaser, the same
  URL revised). It leaves `news.clean`: `duplicate_of` names the clean article it repeats.
- *related*: its own article that shares a story with an earlier one (a follow-up over an earlier
  body, a rewrite, a sibling reusing background paragraphs). Published clean, with `story_id`
  (the story's first article) and `related_to` (the clean article it matched).
- *unique*: a new story; its `story_id` is its own id.

Claim keys of an article, in a fixed order of precedence:
  0. exact  - first REF_BYTES of the match-key hash; its value in Redis *is* the owner's record
  1. url    - hash of the canonical URL (absent when the article has no URL)
  2.. bands - LSH bands of the full-text and the lead MinHash

Who comes first must be decided the same way by both articles of a pair, even when two workers
process them at the same instant (each may win some claim keys of the other). The rule: among
the keys the two articles *share*, take the first (in the order above) that one of the two owns;
its owner comes first. Both articles know the owner of every key they have (they tried to claim
it) and both know the other's keys (they are in its record), so both reach the same answer:
two copies can never both be dropped or both be published, and two related articles never link
to each other (no cycle of story ids). Only the article that comes second acts on the pair
(`judge` passes over a candidate that does not precede it), so the similarity rule may ask one
thing of the second one alone: whether it begins inside the first (`Thresholds.dup_inside`).

Records are written before any claim key (store.py), so a claim whose owner's record is missing
has truly expired. A record is *pending* from its write until its article's decision is recorded
in it; `resolve` needs the target decided (the store waits for it, see `RedisDedupStore`).

Replay: an article that finds a record of its own id under its exact key is the same article
again (a redelivery, or the same message produced twice): its recorded decision stands, so one
id never gets two outcomes and never references itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import msgspec

from worker.dedup.fingerprint import (
    OPENING_SHINGLES,
    ArticleFingerprints,
    estimate_containment,
    estimate_jaccard,
    lead_inside,
    lead_split,
    opening_agreement,
    opening_containment,
    pack_opening,
    prefixes,
    unpack_opening,
    whole_opening,
)
from worker.events import DuplicateKind

#: Bytes of an article's reference (the start of its exact hash): the field of its exact claim
#: (its record) and the value of its url and band claims. 48 bits: two remembered articles share
#: one with a chance of n^2 / 2^49 among n, ~0.2 % in an index of a million, ~16 % of ten
#: million. A shared reference never drops an article wrongly: a candidate's record is compared
#: before it counts, and an exact owner must have the article's own fingerprints (`judge`); it
#: costs that article its memory (its later copies are published too).
REF_BYTES = 6
#: The Jaccard of 4 agreeing sketch bytes out of 128 beyond chance (1 in 256 a byte): unrelated
#: texts reach it with a chance of ~0.2 %. Below it the sketches show no containment.
SKETCH_FLOOR_JACCARD: Final = (4 / 128 - 1 / 256) / (1 - 1 / 256)
#: Bytes per band kept in a record, only to tell which bands two articles share (precedence).
TAG_BYTES = 2

#: Record states. The state is the record's first element, so its msgpack byte is the value's
#: second byte (after the fixarray header): the store's Lua reads and flips it without decoding.
PENDING: Final = 0
CLEAN: Final = 1
DUPLICATE: Final = 2


def ref_of(fp: ArticleFingerprints) -> bytes:
    """The article's reference: the field of its exact claim, and the value of its other claims."""
    return fp.exact[:REF_BYTES]


class StoredRecord(msgspec.Struct, array_like=True, frozen=True):
    """What Redis remembers of an article (msgpack, under its exact claim key).

    Kept small on purpose: it is most of the memory per remembered article (<= 512 B budget).
    """

    state: int  # PENDING until the article's decision is recorded; first: see PENDING
    id: str
    url: bytes | None  # canonical-URL hash, REF_BYTES long
    bands: bytes  # TAG_BYTES per band, in band order
    sketch: bytes
    opening: bytes  # packed (fingerprint.pack_opening): 43 B
    shingles: int
    canonical_id: str | None = None  # DUPLICATE: the clean article it repeats
    story_id: str | None = None  # the story's first article, when that is not `published`

    @property
    def published(self) -> str:
        """The clean article this record stands for: itself, or the one it duplicates."""
        return self.canonical_id if self.state == DUPLICATE and self.canonical_id else self.id

    @property
    def story(self) -> str:
        return self.story_id or self.published


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(StoredRecord)


def encode_record(record: StoredRecord) -> bytes:
    return _encoder.encode(record)


def decode_record(data: bytes) -> StoredRecord:
    return _decoder.decode(data)


def band_tags(fp: ArticleFingerprints) -> bytes:
    """The band tags stored in a record: enough to tell shared bands apart (2^-16 false match)."""
    return prefixes(fp.bands, TAG_BYTES)


def same_text(fp: ArticleFingerprints, record: StoredRecord) -> bool:
    """Does `record` hold these fingerprints' text (the same match key)? Equal keys give equal
    sketches, shingle counts and band tags; texts that merely share a reference (`REF_BYTES`)
    differ in them (a 128-byte sketch alike by chance is not a risk worth a number)."""
    return record.sketch == fp.sketch and record.shingles == fp.shingles and record.bands == band_tags(fp)


def make_record(article_id: str, fp: ArticleFingerprints) -> StoredRecord:
    """An article's record as first written: pending until its decision is recorded."""
    return StoredRecord(
        state=PENDING,
        id=article_id,
        url=fp.url[:REF_BYTES] if fp.url else None,
        bands=band_tags(fp),
        sketch=fp.sketch,
        opening=pack_opening(fp.opening),
        shingles=fp.shingles,
    )


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where a duplicate ends and a story link begins. Measured on real news (docs/DEDUP.md,
    "The rule and its numbers"): word 3-shingles of the match key, 8-bit sketches.

    A duplicate is the shorter text (almost) inside the longer *and* the same article: an
    agreeing opening (a teaser, an edit, added chrome), or nearly the same text throughout.
    A follow-up (a new lead over an earlier body), a sibling (shared background paragraphs) or a
    rewrite fails one of the two and is linked instead of dropped.
    """

    #: Share of the shorter text's shingles found in the longer. 0.8: copies, edits and teasers
    #: are >= 0.87 at their 1st percentile; the wrongly dropped follow-ups/siblings the issue
    #: measured were 0.46-0.77 (0.6, the old bar, dropped them). 0.85 would cost teasers that
    #: gained a dateline (combo recall 0.956 -> 0.951).
    dup_containment: float = 0.8
    #: ... or this much, when the smaller text's whole opening (its first 56 shingles, ~58
    #: words) agrees in place with the larger's at `dup_whole_opening`: the same first two or
    #: three sentences word for word. Containment from the sketches is Jaccard times a size
    #: ratio, +-0.15 for a 100-word teaser of a 500-word article, so 1 in 10 of those fell under
    #: 0.8; two outlets' rewrites of one wire report keep its first sentence, not three.
    dup_containment_whole: float = 0.7
    dup_whole_opening: float = 0.9
    #: ... and the openings agree (`opening_agreement`): the lead (its first 28 shingles) found
    #: in the other's opening *in place* this much: what tells a teaser or an edit (median 1.0)
    #: from a follow-up, whose new lead paragraph puts it near chance (~0.1). 0.45: an edit
    #: that rewrote a few words of the lead is at 0.5-0.8.
    dup_lead: float = 0.45
    #: ... for a text mostly of scripts written without spaces (Chinese, Japanese, Thai), whose
    #: shingles are characters: its lead is ~30 characters, a dateline and a reporter's name
    #: (``新华社东京12月7日电（记者刘军）``, 17) fill half of it, and two short stories of different
    #: events under one agency's dateline and one official statement were near duplicates (a
    #: review's finding). A copy's lead agrees whole; 0.75 asks ~6 characters past such a dateline.
    dup_lead_unspaced: float = 0.75
    #: ... unless the shorter text is this much inside the other: a syndicated copy under
    #: another outlet's source line (新华社 vs 环球网: lead 0.54) is at 0.94, two events under one
    #: dateline and one statement at ~0.8 (a review of the first version of the bar).
    unspaced_whole_containment: float = 0.9
    #: ... or *moved*: found again at one shift this much. An edit that added a sentence in
    #: front, or removed its first one, moves the lead by that sentence; a follow-up drops the
    #: old lead for a new paragraph, so neither lead is found in the other's opening. 0.7, not
    #: the in-place bar: a moved match is the best of ~100 shifts tried (chance reaches ~0.35),
    #: and at 0.6 a follow-up whose new lead is one short paragraph was dropped (1-3 in 500).
    dup_moved_lead: float = 0.7
    #: ... or, whatever the opening, the texts are all but one (a lead rewritten, nothing else):
    #: 0.95, as a follow-up that reuses the whole body under a new lead reaches 0.94.
    dup_jaccard: float = 0.95
    #: ... or the later article *begins inside* the earlier one (`lead_inside`): its lead found
    #: further into the earlier opening than the moved search goes, so a first sentence or two
    #: were cut and nothing was put in their place: it adds nothing in front, which is what a
    #: follow-up does. 0.7, the moved bar (by chance ~1e-7: `fingerprint._MIN_INSIDE`).
    dup_inside: float = 0.7
    #: ... or the opening agrees in place up to a point and on from there at another place
    #: (`lead_split`): a sentence added or removed inside the lead, after its first words,
    #: further than the moved search goes. 0.7, the moved bar.
    dup_split: float = 0.7
    #: ... and the later one brings less text of its own than this share of it: a later article
    #: that holds an earlier one whole and as much again (the full article after its teaser or
    #: feed item, an update with new paragraphs) is published, linked; dropping it would leave
    #: consumers only the shorter text. 0.5: an edit adds at most ~20 % (a long donor sentence
    #: more: 0.4 cost 2-4 labelled edits), and a feed item or short teaser leaves its article far
    #: more than half its own (docs/EVALUATION.md).
    dup_added: float = 0.5
    #: A candidate (one that shared a band or the URL) this much contained is the same story:
    #: linked. Siblings sharing two background paragraphs are at a median of 0.41 (p05 0.21),
    #: follow-ups >= 0.58.
    link_containment: float = 0.3
    #: ... with at least this Jaccard: the containment estimate of a tiny text against a long
    #: one is Jaccard times the size ratio, so noise alone (1-2 agreeing sketch bytes, ~0.015)
    #: could claim a link; 0.04 is 5 agreeing bytes out of 128.
    link_jaccard: float = 0.04
    #: Same canonical URL: a revision, unless the text changed beyond recognition (this little
    #: alike, and its opening no longer agreeing in place by `dup_lead`). A revision that brings
    #: `dup_added` of its own (an update of the page, a rewrite) is linked, not dropped.
    url_min_jaccard: float = 0.1


class ClaimView(msgspec.Struct, frozen=True):
    """What the store saw for one article: the owner of each claim key before this article.

    `None` means this article owns the key (it was free, or this is the article again).
    `own` is this article's own record when it found one (a replay, or the same id sent again).
    """

    exact_owner: StoredRecord | None
    url_owner: bytes | None
    band_owners: tuple[bytes | None, ...]
    own: StoredRecord | None = None


class StoreItem(msgspec.Struct, frozen=True):
    """One article as the store needs it."""

    article_id: str
    fp: ArticleFingerprints
    record: StoredRecord

    @property
    def ref(self) -> bytes:
        return ref_of(self.fp)


class StoreAnswer(msgspec.Struct, frozen=True):
    view: ClaimView
    records: dict[bytes, StoredRecord]


class Unique(msgspec.Struct, frozen=True):
    """The first article of its story in the window: published clean, its own story."""


class Related(msgspec.Struct, frozen=True):
    """Its own article on a story already seen: published clean, linked to the story."""

    related_to: str  # the clean article it matched
    story_id: str  # the story's first article
    similarity: float


class DuplicateOf(msgspec.Struct, frozen=True):
    canonical_id: str
    kind: DuplicateKind
    similarity: float
    story_id: str | None = None  # the canonical's story, when it is not the canonical itself


Decision = Unique | Related | DuplicateOf


class Match(msgspec.Struct, frozen=True):
    """`judge`'s verdict: the remembered article this one repeats (or shares a story with)."""

    ref: bytes
    record: StoredRecord
    duplicate: bool
    kind: DuplicateKind
    similarity: float
    #: The other candidates this article was judged *not* a copy of: their ids, with the Jaccard
    #: of each. A copy of a record that is itself a copy of one of them has drifted from that
    #: original in steps (each adding less than `Thresholds.dup_added`, together more):
    #: `resolve` links it to the original instead.
    not_copy_of: tuple[tuple[str, float], ...] = ()


class Signals(msgspec.Struct, frozen=True):
    """What two articles' fingerprints say of each other (see `Thresholds`)."""

    jaccard: float
    containment: float
    lead: float  # the opening agreeing in place
    moved_lead: float  # ... or at its best shift (>= lead)
    inside: float = 0.0  # the later one's lead found past that shift: its front cut away
    split: float = 0.0  # the opening in place up to a point, then at another place
    added: float = 0.0  # the share of the later one's text not in the earlier one
    whole: float = 0.0  # the two texts' first 56 shingles in place (`whole_opening`)
    unspaced: bool = False  # the later one is mostly of scripts without spaces (`dup_lead_unspaced`)


def similarity(
    fp: ArticleFingerprints,
    other: StoredRecord,
    thresholds: Thresholds | None = None,
    *,
    same_url: bool = False,
) -> Signals:
    """The signals between an article (`fp`, the later) and a remembered one (`other`).

    With `thresholds`, only what can change the verdict is computed: the openings are compared
    when the containment reaches the duplicate bar (or the URL is the same), and the moved lead
    is searched (the dearer half) only when neither the lead in place nor Jaccard decides, and
    the later lead inside the earlier opening only when the moved one does not either, the split
    opening last. A short text's containment is also counted on the openings (the larger of the
    two is kept, `opening_containment`), and the whole opening is compared only between the
    lower and the duplicate containment bar. A signal not computed is 0.0 (the moved lead: the
    lead in place)."""
    jac = estimate_jaccard(fp.sketch, other.sketch)
    # Containment from the sketches is the Jaccard times the size ratio: below a few agreeing
    # bytes beyond chance the ratio multiplies noise (one chance byte, ~39 % of unrelated
    # pairs, made a 130-word story 1.0 contained in a 38,000-word report: a wrong drop). The
    # sketch then shows no containment; a short text's is still counted on the openings.
    cont = estimate_containment(jac, fp.shingles, other.shingles) if jac >= SKETCH_FLOOR_JACCARD else jac
    t = thresholds
    theirs: bytes | None = None
    bar = t.dup_containment if t is not None else 1.0
    if cont < bar and min(fp.shingles, other.shingles) * bar <= OPENING_SHINGLES:
        # a text short enough that its opening could hold the duplicate bar's share of it
        theirs = unpack_opening(other.opening)
        counted = opening_containment(fp.sequence, theirs, fp.shingles, other.shingles)
        if counted > cont:
            # a lower bound of the intersection, so of the Jaccard too
            small, large = sorted((fp.shingles, other.shingles))
            common = counted * small
            cont, jac = counted, max(jac, common / (small + large - common))
    # what the later one has of its own: its shingles less those in common (containment is
    # the smaller one's share in the larger)
    added = max(0.0, 1.0 - cont * min(fp.shingles, other.shingles) / fp.shingles) if fp.shingles else 0.0
    whole = 0.0
    if cont < bar and (t is None or cont >= t.dup_containment_whole):
        theirs = unpack_opening(other.opening) if theirs is None else theirs
        whole = whole_opening(fp.sequence, theirs, fp.shingles, other.shingles)
    if t is not None and not contained(cont, whole, t) and not same_url:
        return Signals(jac, cont, 0.0, 0.0, added=added, whole=whole, unspaced=fp.unspaced)
    if theirs is None:
        theirs = unpack_opening(other.opening)
    if t is None:
        lead, moved = opening_agreement(fp.sequence, theirs)
        inside, split = lead_inside(fp.sequence, theirs), lead_split(fp.sequence, theirs)
        return Signals(jac, cont, lead, moved, inside, split, added, whole, fp.unspaced)
    lead, _ = opening_agreement(fp.sequence, theirs, moved=False)
    bars = opening_bars(t, fp.unspaced, cont)
    if lead < bars.lead and jac < t.dup_jaccard and contained(cont, whole, t):
        lead, moved = opening_agreement(fp.sequence, theirs)
        inside = split = 0.0
        if not moved_opening(lead, moved, bars):
            inside = lead_inside(fp.sequence, theirs)
            if inside < bars.inside:
                split = lead_split(fp.sequence, theirs)
        return Signals(jac, cont, lead, moved, inside, split, added, whole, fp.unspaced)
    return Signals(jac, cont, lead, lead, added=added, whole=whole, unspaced=fp.unspaced)


def contained(containment: float, whole: float, t: Thresholds) -> bool:
    """The shorter text (almost) inside the longer: by the duplicate bar, or a lower one when
    the two begin with the same ~58 words (`Thresholds.dup_containment_whole`)."""
    return containment >= t.dup_containment or (
        whole >= t.dup_whole_opening and containment >= t.dup_containment_whole
    )


def lead_bar(t: Thresholds, unspaced: bool, containment: float = 0.0) -> float:
    """The opening-in-place bar: `dup_lead_unspaced` for a mostly unspaced text that is not
    nearly all shared (`unspaced_whole_containment`), else `dup_lead`."""
    return t.dup_lead_unspaced if unspaced and containment < t.unspaced_whole_containment else t.dup_lead


class OpeningBars(NamedTuple):
    """The bars of the four opening signals for one pair (`opening_bars`)."""

    lead: float
    moved: float
    inside: float
    split: float


def opening_bars(t: Thresholds, unspaced: bool, containment: float) -> OpeningBars:
    """The opening in place's bar (`lead_bar`), and those of the opening moved, cut (inside) and
    split: their own, or the in-place bar where that is higher (a text mostly of scripts without
    spaces). At 0.70 a place name of another length shifted the rest of a Chinese template's
    lead by a few characters, and two different fires were one story's copies (a review's
    finding); a copy moved by a short note in front of it is then linked, not dropped."""
    bar = lead_bar(t, unspaced, containment)
    return OpeningBars(bar, max(t.dup_moved_lead, bar), max(t.dup_inside, bar), max(t.dup_split, bar))


def moved_opening(lead: float, moved: float, bars: OpeningBars) -> bool:
    """The same opening *moved*: found again at a shift at its bar, and better there than in
    place. The moved lead is the best of its shifts, shift 0 among them: two Khmer reports of
    different accidents in one template agreed 0.71 in place, under the unspaced bar, and passed
    as "moved" at 0.71 at shift 0 (a review's finding). (For a spaced text neither condition
    changes anything: 0.7 in place is over its in-place bar.)"""
    return moved >= bars.moved and moved > lead


def same_opening(s: Signals, t: Thresholds) -> bool:
    bars = opening_bars(t, s.unspaced, s.containment)
    return (
        s.lead >= bars.lead
        or moved_opening(s.lead, s.moved_lead, bars)
        or s.inside >= bars.inside
        or s.split >= bars.split
    )


def is_duplicate(s: Signals, t: Thresholds) -> bool:
    """The same article: the shorter inside the longer, with the same opening (in place, moved
    by a sentence, or the later one's front cut away) or nearly all alike."""
    return (
        contained(s.containment, s.whole, t)
        and s.added < t.dup_added
        and (same_opening(s, t) or s.jaccard >= t.dup_jaccard)
    )


def is_revision(s: Signals, t: Thresholds) -> bool:
    """Under the same canonical URL: the text still recognizably the same article."""
    return s.jaccard >= t.url_min_jaccard or s.lead >= t.dup_lead


def is_related(s: Signals, t: Thresholds) -> bool:
    """Not the same article, but enough shared text to be one story: contained by the link
    bar, with a Jaccard above sketch noise or the same opening in place (a feed item counted
    whole in the opening of an article 25 times its length has a Jaccard under the floor)."""
    return s.containment >= t.link_containment and (
        s.jaccard >= t.link_jaccard or s.lead >= lead_bar(t, s.unspaced, s.containment)
    )


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


def judge(
    fp: ArticleFingerprints,
    view: ClaimView,
    records: Mapping[bytes, StoredRecord],
    thresholds: Thresholds,
    article_id: str | None = None,
) -> Match | None:
    """Which remembered article this one repeats or is related to (None: a new story).

    `records` maps owner refs (from `view`) to their stored records. A duplicate match wins
    over any related one; among each, the most similar candidate that comes first.
    """
    if view.exact_owner is not None:
        owner = view.exact_owner
        if same_text(fp, owner):
            return Match(ref_of(fp), owner, True, "exact", 1.0)
        # Another text's record under this article's reference (a collision of REF_BYTES): not
        # a copy. The store recorded and claimed nothing for this article (its reference is
        # taken), so it is a new story that the index cannot remember.
        return None
    matches: list[Match] = []
    not_copy_of: list[tuple[str, float]] = []
    seen: set[bytes] = set()
    candidates: Sequence[bytes | None] = (view.url_owner, *view.band_owners)
    for ref in candidates:
        if ref is None or ref in seen or ref == ref_of(fp):
            continue
        seen.add(ref)
        record = records.get(ref)
        if record is None or record.id == article_id:
            continue  # expired; or this very article under other text (it is never its own match)
        same_url = fp.url is not None and record.url == fp.url[:REF_BYTES]
        sig = similarity(fp, record, thresholds, same_url=same_url)
        duplicate = is_duplicate(sig, thresholds)
        kind: DuplicateKind = "near"
        revised = not duplicate and same_url and is_revision(sig, thresholds)
        if revised and sig.added < thresholds.dup_added:
            duplicate, kind = True, "url"  # the same page again, revised
        if not duplicate:
            not_copy_of.append((record.id, round(sig.jaccard, 4)))
            # The same page with as much new text of its own as `dup_added` (an update, a
            # rewrite) is published, linked to the page's story, however little it shares.
            if not revised and not is_related(sig, thresholds):
                continue
        if not _precedes(ref, record, fp, view):
            continue  # the candidate will find this article and yield to it (or link to it)
        score = round(max(sig.jaccard, sig.containment if duplicate else sig.jaccard), 4)
        matches.append(Match(ref, record, duplicate, kind, score))
    if not matches:
        return None
    # The most similar duplicate, then the most similar link; a duplicate of a record that is
    # itself a copy of an original this article is not a copy of (it drifted: `resolve` links
    # it) only when no other duplicate stands: a copy of an update linked for its drift is a
    # copy of that update, though the copy the update drifted from is contained in it whole.
    not_copies = {article_id for article_id, _ in not_copy_of}
    best = max(
        matches,
        key=lambda m: (
            m.duplicate and not (m.record.state == DUPLICATE and m.record.canonical_id in not_copies),
            m.duplicate,
            m.similarity,
        ),
    )
    if best.duplicate and not_copy_of:
        best = msgspec.structs.replace(best, not_copy_of=tuple(not_copy_of))
    return best


def resolve(match: Match | None, target: StoredRecord | None = None) -> Decision:
    """The decision a verdict gives, once its target's own decision is known (`target`: its
    decided record; the matched record itself by default)."""
    if match is None:
        return Unique()
    decided = target or match.record
    similarity = match.similarity
    if match.duplicate:
        drifted = _drifted(match, decided)
        if drifted is None:
            story = decided.story
            own_story = None if story == decided.published else story
            return DuplicateOf(decided.published, match.kind, similarity, own_story)
        similarity = drifted  # a copy of a copy, not of the original: linked to the original
    return Related(decided.published, decided.story, similarity)


def not_itself(decision: Decision, article_id: str) -> Decision:
    """`decision` without a reference to the article's own id. A revision sent under an id
    already published (``x``), matching another article that repeats ``x`` (``y``, a copy of
    ``x``), resolved to "a duplicate of ``x``": the id had a second outcome, and named itself
    (a review's finding). An article never matches its own id's record (`judge`); through a
    third article's it is the story's own article again: linked to that story where it is
    another's, else a new story, as its first outcome was."""
    if isinstance(decision, DuplicateOf):
        if decision.story_id == article_id:
            # a copy of its own follow-up (the story's first article revised into the
            # follow-up's text): the story's own article again, as its first outcome was
            return Unique()
        if decision.canonical_id != article_id:
            return decision
        story = decision.story_id
    elif isinstance(decision, Related):
        if article_id not in (decision.related_to, decision.story_id):
            return decision
        story = decision.story_id
    else:
        return decision
    if story is None or story == article_id:
        return Unique()
    return Related(story, story, decision.similarity)


def _drifted(match: Match, decided: StoredRecord) -> float | None:
    """For a duplicate verdict on a record that is itself a copy (`decided`, its decided
    record): this article's Jaccard with that record's original when it was judged *not* a copy
    of the original (`Match.not_copy_of`), else None."""
    if decided.state != DUPLICATE or not match.not_copy_of:
        return None
    return next((jac for article_id, jac in match.not_copy_of if article_id == decided.canonical_id), None)


def decide(
    fp: ArticleFingerprints,
    view: ClaimView,
    records: Mapping[bytes, StoredRecord],
    thresholds: Thresholds,
    article_id: str | None = None,
) -> Decision:
    """Judge and resolve in one step, taking every record as decided (tests, explain)."""
    return resolve(judge(fp, view, records, thresholds, article_id))


def decided_record(record: StoredRecord, decision: Decision) -> StoredRecord:
    """An article's record once its decision is known: what later articles resolve through."""
    if isinstance(decision, DuplicateOf):
        return msgspec.structs.replace(
            record, state=DUPLICATE, canonical_id=decision.canonical_id, story_id=decision.story_id
        )
    story = decision.story_id if isinstance(decision, Related) else None
    return msgspec.structs.replace(record, state=CLEAN, canonical_id=None, story_id=story)


def recorded_decision(own: StoredRecord, match: Match | None) -> Decision:
    """The decision of an article that found its own decided record: the record's, with the
    kind and similarity of today's match where it agrees."""
    if own.state == DUPLICATE and own.canonical_id:
        kind: DuplicateKind = match.kind if match is not None and match.duplicate else "near"
        sim = match.similarity if match is not None and match.duplicate else 1.0
        return DuplicateOf(own.canonical_id, kind, sim, own.story_id)
    if own.story_id:
        if match is None:
            return Related(own.story_id, own.story_id, 0.0)
        drifted = _drifted(match, match.record) if match.duplicate else None
        return Related(match.record.published, own.story_id, match.similarity if drifted is None else drifted)
    return Unique()
