"""The pure dedup decision, including the consistency rule for racing pairs."""

from __future__ import annotations

from worker.dedup.decision import (
    ClaimView,
    DuplicateOf,
    Thresholds,
    Unique,
    decide,
    decode_record,
    encode_record,
    make_record,
    ref_of,
)
from worker.dedup.fingerprint import ArticleFingerprints, fingerprint

T = Thresholds()
WORDS = [f"w{i}" for i in range(300)]


def fp_of(words: list[str], url: str | None = None) -> ArticleFingerprints:
    return fingerprint(" ".join(words), url)


def ref(fp: ArticleFingerprints) -> bytes:
    return ref_of(fp)


def test_record_roundtrip_is_small() -> None:
    fp = fp_of(WORDS, "https://x.example/1")
    rec = make_record("article-1", b"o" * 8, fp)
    data = encode_record(rec)
    assert decode_record(data) == rec
    assert len(data) < 230  # most of the memory per remembered article


def test_no_owners_means_unique() -> None:
    fp = fp_of(WORDS)
    view = ClaimView(None, None, tuple(None for _ in fp.bands))
    assert decide(fp, view, {}, T) == Unique()


def test_exact_owner_means_exact_duplicate_of_its_canonical() -> None:
    fp = fp_of(WORDS)
    owner = make_record("first", b"a" * 8, fp)
    view = ClaimView(owner, None, tuple(None for _ in fp.bands))
    assert decide(fp, view, {}, T) == DuplicateOf("first", "exact", 1.0)


def test_chain_points_at_the_canonical_article() -> None:
    first = fp_of(WORDS)
    second = fp_of(WORDS[:150] + ["edit"] * 3 + WORDS[153:])
    rec = make_record("second", b"b" * 8, second)
    chained = type(rec)(**{**{f: getattr(rec, f) for f in rec.__struct_fields__}, "canonical_id": "first"})
    view = ClaimView(None, None, tuple(ref(second) for _ in first.bands))
    decision = decide(first, view, {ref(second): chained}, T)
    assert isinstance(decision, DuplicateOf) and decision.canonical_id == "first" and decision.kind == "near"


def test_different_story_is_not_a_duplicate_even_if_it_owns_bands() -> None:
    a = fp_of(WORDS)
    other = fp_of([f"z{i}" for i in range(300)])
    view = ClaimView(None, None, tuple(ref(other) for _ in a.bands))
    assert decide(a, view, {ref(other): make_record("other", b"c" * 8, other)}, T) == Unique()


def _view_for(me: ArticleFingerprints, owners: dict[int, bytes]) -> ClaimView:
    return ClaimView(None, None, tuple(owners.get(i) for i in range(len(me.bands))))


def test_race_split_claims_give_exactly_one_canonical() -> None:
    """A and B (one story) each won some of the shared band keys: exactly one yields."""
    a = fp_of(WORDS)
    b = fp_of(WORDS[:-5] + ["tail"] * 5)
    shared = [i for i in range(len(a.bands)) if a.bands[i] == b.bands[i]]
    assert len(shared) >= 2
    # A owns the first shared band, B owns the rest
    owners_a = {i: ref(b) for i in shared[1:]}
    owners_b = {shared[0]: ref(a)}
    rec_a, rec_b = make_record("A", b"1" * 8, a), make_record("B", b"2" * 8, b)
    da = decide(a, _view_for(a, owners_a), {ref(b): rec_b}, T)
    db = decide(b, _view_for(b, owners_b), {ref(a): rec_a}, T)
    assert da == Unique()
    assert isinstance(db, DuplicateOf) and db.canonical_id == "A"
    # and the mirror image
    da = decide(a, _view_for(a, {shared[0]: ref(b)}), {ref(b): rec_b}, T)
    db = decide(b, _view_for(b, {i: ref(a) for i in shared[1:]}), {ref(a): rec_a}, T)
    assert isinstance(da, DuplicateOf) and da.canonical_id == "B"
    assert db == Unique()


def test_same_url_with_revised_text_is_a_url_duplicate() -> None:
    url = "https://news.example/story"
    a = fp_of(WORDS, url)
    revised = fp_of(WORDS[:60] + [f"r{i}" for i in range(240)], url)
    view = ClaimView(None, ref(a), tuple(None for _ in revised.bands))
    decision = decide(revised, view, {ref(a): make_record("orig", b"1" * 8, a)}, T)
    assert isinstance(decision, DuplicateOf) and decision.kind == "url"


def test_same_url_but_unrelated_text_is_not_dropped() -> None:
    url = "https://news.example/live"
    a = fp_of(WORDS, url)
    other = fp_of([f"z{i}" for i in range(300)], url)
    view = ClaimView(None, ref(a), tuple(None for _ in other.bands))
    assert decide(other, view, {ref(a): make_record("orig", b"1" * 8, a)}, T) == Unique()


def test_teaser_after_full_article_is_a_near_duplicate() -> None:
    full = fp_of(WORDS)
    teaser = fp_of(WORDS[:100])
    lead = len(full.bands) - 4
    view = _view_for(teaser, {i: ref(full) for i in range(lead, len(teaser.bands))})
    decision = decide(teaser, view, {ref(full): make_record("full", b"1" * 8, full)}, T)
    assert isinstance(decision, DuplicateOf) and decision.canonical_id == "full"


def test_shared_quote_block_in_the_middle_is_not_a_duplicate() -> None:
    quote = [f"q{i}" for i in range(80)]
    short = quote  # a short statement...
    long_story = [f"s{i}" for i in range(150)] + quote + [f"t{i}" for i in range(150)]  # ...quoted inside
    a, b = fp_of(long_story), fp_of(short)
    view = _view_for(b, {i: ref(a) for i in range(len(b.bands))})
    assert decide(b, view, {ref(a): make_record("long", b"1" * 8, a)}, T) == Unique()
