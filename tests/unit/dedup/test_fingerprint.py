from __future__ import annotations

import subprocess
import sys

from worker.dedup.fingerprint import (
    DEFAULT_SCHEME,
    KEPT,
    estimate_containment,
    estimate_jaccard,
    fingerprint,
    opening_agreement,
    pack_opening,
    unpack_opening,
)

WORDS = [f"w{i}" for i in range(400)]


def test_exact_hash_equal_for_equal_keys_only() -> None:
    a = fingerprint(" ".join(WORDS), None)
    assert a.exact == fingerprint(" ".join(WORDS), None).exact
    assert a.exact != fingerprint(" ".join(WORDS[1:]), None).exact


def test_sketch_sizes_and_bands() -> None:
    fp = fingerprint(" ".join(WORDS), "https://x.example/a")
    assert len(fp.sketch) == DEFAULT_SCHEME.num_perm
    assert len(fp.opening) == DEFAULT_SCHEME.opening_values == 56
    assert max(fp.opening) < 64
    assert len(pack_opening(fp.opening)) == 1 + 56 * 6 // 8  # a count, then 6 bits per value
    # the lead's 28 shingles all, then the kept ones (about one in two) of those after
    lead = DEFAULT_SCHEME.lead_shingles
    assert fp.opening[:lead] == bytes(b & 63 for b in fp.sequence[:lead])
    assert fp.opening[lead:] == bytes(b & 63 for b in fp.sequence[lead:] if b & KEPT)[: 56 - lead]
    kept = sum(1 for b in fp.sequence if b & KEPT) / len(fp.sequence)
    assert 0.35 < kept < 0.65 and len(fp.sequence) >= lead + 2 * (56 - lead) - 20
    assert len(fp.bands) == DEFAULT_SCHEME.full_bands + DEFAULT_SCHEME.lead_bands
    assert fp.url is not None and len(fp.url) == 8
    assert fp.tokens == 400 and fp.shingles == 398


def test_similar_texts_estimate_high_jaccard_and_different_low() -> None:
    a = fingerprint(" ".join(WORDS), None)
    edited = WORDS[:200] + ["new"] * 5 + WORDS[205:]
    b = fingerprint(" ".join(edited), None)
    c = fingerprint(" ".join(f"z{i}" for i in range(400)), None)
    assert estimate_jaccard(a.sketch, b.sketch) > 0.85
    assert estimate_jaccard(a.sketch, c.sketch) < 0.1


def test_teaser_is_contained_and_shares_lead() -> None:
    full = fingerprint(" ".join(WORDS), None)
    teaser = fingerprint(" ".join(WORDS[:120]), None)
    jac = estimate_jaccard(full.sketch, teaser.sketch)
    assert jac < 0.5
    assert estimate_containment(jac, full.shingles, teaser.shingles) > 0.8
    assert opening_agreement(teaser.sequence, full.opening) == (1.0, 1.0)
    assert opening_agreement(full.sequence, teaser.opening) == (1.0, 1.0)
    assert full.bands[-DEFAULT_SCHEME.lead_bands :] == teaser.bands[-DEFAULT_SCHEME.lead_bands :]


def _fp(words: list[str]):  # type: ignore[no-untyped-def]
    return fingerprint(" ".join(words), None)


def _agreement(earlier: list[str], later: list[str]) -> tuple[float, float]:
    """`opening_agreement` of the later text in hand against the earlier one's stored opening."""
    return opening_agreement(_fp(later).sequence, _fp(earlier).opening)


def test_an_opening_moved_by_a_sentence_is_found_moved_not_in_place() -> None:
    sentence = [f"s{i}" for i in range(20)]
    added = sentence + WORDS  # a sentence added in front: the old lead 20 further on
    removed = WORDS[15:]  # the first sentence removed: the new lead was 15 further on
    for other in (added, removed):
        for earlier, later in ((WORDS, other), (other, WORDS)):  # whichever came first
            in_place, moved = _agreement(earlier, later)
            assert in_place < 0.3 and moved > 0.9


def test_a_word_changed_in_the_lead_keeps_it_in_place() -> None:
    edited = list(WORDS)
    edited[10] = "changed"
    in_place, moved = _agreement(WORDS, edited)
    assert 0.85 < in_place <= moved < 1.0  # the three shingles over the changed word disagree
    dropped = WORDS[:10] + WORDS[11:]  # a word dropped: the rest of the lead is one place on
    assert _agreement(WORDS, dropped)[0] > 0.85


def test_a_new_lead_paragraph_over_the_old_body_is_not_the_same_opening() -> None:
    """A follow-up: its own lead (40 new words) over the body, the old lead (30 words) dropped."""
    new_lead = [f"n{i}" for i in range(40)]
    assert max(_agreement(WORDS, new_lead + WORDS[30:])) < 0.3


def test_a_new_paragraph_in_front_of_the_whole_earlier_article_is_not_a_moved_lead() -> None:
    """A follow-up that keeps the earlier article whole under a new lead paragraph (40 words):
    the old lead is further on than a sentence of the lead's length."""
    new_lead = [f"n{i}" for i in range(40)]
    assert max(_agreement(WORDS, new_lead + WORDS)) < 0.3
    sentence = new_lead[:24]  # a sentence: the old lead is found moved
    assert _agreement(WORDS, sentence + WORDS)[1] > 0.9


def test_a_lead_found_past_the_moved_reach_counts_only_one_way() -> None:
    """`lead_inside`: the later article begins 30-70 shingles into the earlier one's opening
    (its first sentence or two cut): found among the kept values the opening holds past its
    lead (scheme v10: up to ~84 shingles in). Not the other way (the earlier lead deep in the
    later one is a new paragraph in front), not within the moved search's reach (that one
    answers it), not where a new first line stands in front, and never by chance."""
    from worker.dedup.fingerprint import lead_inside

    full = _fp(WORDS)
    for cut in (33, 40, 50, 60):
        later = _fp(WORDS[cut:])
        # the shingles before the first kept one are not seen: counted as not found
        assert lead_inside(later.sequence, full.opening) > 0.85
        assert lead_inside(full.sequence, later.opening) < 0.3  # chance agreements only
        assert max(opening_agreement(later.sequence, full.opening)) < 0.7  # past the moved search
    assert lead_inside(_fp(WORDS[90:]).sequence, full.opening) < 0.3  # past what the opening holds
    assert lead_inside(_fp(WORDS[10:]).sequence, full.opening) < 0.3  # a short cut is the moved search's
    edited = list(WORDS[44:])
    edited[5] = "changed"  # a word changed in what is left of the lead
    assert 0.7 < lead_inside(_fp(edited).sequence, full.opening) < 1.0
    # a follow-up: a new first line (8 words) over the earlier body from its 50th word
    assert lead_inside(_fp([f"n{i}" for i in range(8)] + WORDS[50:]).sequence, full.opening) < 0.3
    for k in range(20):
        a = _fp([f"a{k}-{i}" for i in range(120)])
        b = _fp([f"b{k}-{i}" for i in range(120)])
        assert lead_inside(a.sequence, b.opening) < 0.5
    assert lead_inside(b"", full.opening) == lead_inside(full.sequence, b"") == 0.0


def test_in_unspaced_text_the_opening_reaches_past_a_cut_first_sentence() -> None:
    """Scheme v12: a text mostly of scripts written without spaces keeps one shingle in three
    past the lead (~112 characters), spaced text one in two (~84 shingles): a Chinese first
    sentence of ~90 characters cut is found inside the earlier opening."""
    from tests.support.pairs import han_text
    from worker.dedup.fingerprint import KEPT, fingerprint, lead_inside

    def kept_share(fp: object) -> float:
        past = fp.sequence[DEFAULT_SCHEME.lead_shingles :]  # type: ignore[attr-defined]
        return sum(1 for b in past if b & KEPT) / len(past)

    chinese = han_text(11, 900)
    whole = fingerprint(chinese, None)
    assert 0.25 < kept_share(whole) < 0.42 and 0.4 < kept_share(_fp(WORDS)) < 0.6
    cut = chinese.index("。", 80) + 1  # the text from its first sentence end past 80 characters
    assert 80 < cut < 115
    assert lead_inside(fingerprint(chinese[cut:], None).sequence, whole.opening) > 0.7
    # a few Latin words in a Chinese text keep it unspaced; a few characters in English do not
    mixed = fingerprint("iphone 15 " + chinese, None)
    assert 0.25 < kept_share(mixed) < 0.42
    english = fingerprint(" ".join(WORDS[:200]) + " 中文", None)
    assert 0.4 < kept_share(english) < 0.6


def test_a_sentence_added_or_removed_after_the_first_words_splits_the_opening() -> None:
    """`lead_split`: the opening agrees in place for its first words (a title line, a first
    clause), then on at another place: a sentence added there (up to a lead's length: more is a
    new paragraph) or removed (at any distance the window shows: the later one adds nothing).
    Neither the in-place nor the moved search sees these; chance and shared first paragraphs
    stay far below."""
    from worker.dedup.fingerprint import lead_split

    full = _fp(WORDS).opening
    sentence = [f"s{i}" for i in range(40)]
    for size in (12, 24):  # gained after the 12th word
        later = _fp(WORDS[:12] + sentence[:size] + WORDS[12:]).sequence
        assert lead_split(later, full) > 0.85
    in_place, moved = opening_agreement(later, full)
    assert in_place < 0.45 and moved < 0.7  # 24 words: what the other searches cannot see
    for size in (12, 30, 40, 60):  # lost after the 9th word: at any distance the opening shows
        later = _fp(WORDS[:9] + WORDS[9 + size :]).sequence
        assert lead_split(later, full) > 0.8
    assert max(opening_agreement(later, full)) < 0.7
    # gained more than a lead's length after the first words: a new paragraph, not a sentence
    assert lead_split(_fp(WORDS[:12] + sentence + WORDS[12:]).sequence, full) < 0.5
    # two stories opening with the same 20 words of background, then each its own text
    intro = [f"i{i}" for i in range(20)]
    for k in range(20):
        a = _fp(intro + [f"a{k}-{i}" for i in range(80)])
        b = _fp(intro + [f"b{k}-{i}" for i in range(80)])
        assert lead_split(a.sequence, b.opening) < 0.7 and lead_split(b.sequence, a.opening) < 0.7
        c = _fp([f"c{k}-{i}" for i in range(80)])
        assert lead_split(a.sequence, c.opening) == lead_split(c.sequence, a.opening) == 0.0  # no prefix
    assert lead_split(b"", full) == lead_split(_fp(WORDS).sequence, b"") == 0.0


def test_a_short_text_is_counted_inside_another_on_the_openings() -> None:
    """`opening_containment`: a teaser of 30-45 words (an RSS item: the first sentences of a
    long article) lies wholly in the long one's opening, so the count is exact (1.0) where the
    sketch estimate, Jaccard times a size ratio, is far off; texts that only open alike, or do
    not at all, stay low."""
    from worker.dedup.fingerprint import opening_containment

    words = [f"w1-{i}" for i in range(400)]
    full = fingerprint(" ".join(words), None)
    for n in (30, 45):
        teaser = fingerprint(" ".join(words[:n]), None)
        sketched = estimate_containment(
            estimate_jaccard(full.sketch, teaser.sketch), full.shingles, teaser.shingles
        )
        assert sketched < 0.8  # this pair's sketches put it under the duplicate bar
        assert opening_containment(teaser.sequence, full.opening, teaser.shingles, full.shingles) == 1.0
        assert opening_containment(full.sequence, teaser.opening, full.shingles, teaser.shingles) == 1.0
    longer = fingerprint(" ".join(words[:100]), None)  # 98 shingles, ~84 of them in the opening
    # a lower bound: the earlier opening reaches ~70-90 of its 98 shingles
    assert 0.7 < opening_containment(longer.sequence, full.opening, longer.shingles, full.shingles) < 0.95
    for k in range(20):
        shared = [f"s{k}-{i}" for i in range(20)]
        a = fingerprint(" ".join(shared + [f"a{k}-{i}" for i in range(40)]), None)
        b = fingerprint(" ".join(shared + [f"b{k}-{i}" for i in range(200)]), None)
        assert opening_containment(a.sequence, b.opening, a.shingles, b.shingles) < 0.45  # 18 of 58
        assert opening_containment(b.sequence, a.opening, b.shingles, a.shingles) < 0.45
        c = fingerprint(" ".join(f"c{k}-{i}" for i in range(60)), None)
        assert opening_containment(a.sequence, c.opening, a.shingles, c.shingles) < 0.15  # chance
    assert opening_containment(b"", full.opening, 0, full.shingles) == 0.0


def test_the_whole_opening_in_place_is_measured_only_on_full_openings() -> None:
    """`whole_opening`: a 100-word teaser begins as its article does (1.0, whichever side is
    given first); two stories that share only a 30-word first sentence agree on half of it;
    a text too short for a full opening is left to `opening_containment` (0.0)."""
    from worker.dedup.fingerprint import whole_opening

    words = [f"w2-{i}" for i in range(500)]
    full, teaser = fingerprint(" ".join(words), None), fingerprint(" ".join(words[:100]), None)
    assert whole_opening(teaser.sequence, full.opening, teaser.shingles, full.shingles) == 1.0
    assert whole_opening(full.sequence, teaser.opening, full.shingles, teaser.shingles) == 1.0
    for k in range(20):
        shared = [f"s{k}-{i}" for i in range(30)]
        a = fingerprint(" ".join(shared + [f"a{k}-{i}" for i in range(100)]), None)
        b = fingerprint(" ".join(shared + [f"b{k}-{i}" for i in range(300)]), None)
        assert 0.45 < whole_opening(a.sequence, b.opening, a.shingles, b.shingles) < 0.65
    short = fingerprint(" ".join(words[:40]), None)
    assert whole_opening(short.sequence, full.opening, short.shingles, full.shingles) == 0.0


def test_two_articles_sharing_a_third_of_their_text_mostly_share_a_full_band() -> None:
    """Scheme v7: half the full-text bands are one value, so a story link at Jaccard ~0.3 (a
    follow-up, a sibling) is a candidate with p ~ 0.84 (two values a band: ~0.53); an unrelated
    pair almost never is. 200 fixed pairs: deterministic."""
    n_full = DEFAULT_SCHEME.full_bands
    related = unrelated = 0
    for k in range(200):
        shared = [f"s{k}-{i}" for i in range(100)]
        a = fingerprint(" ".join([f"a{k}-{i}" for i in range(100)] + shared), None)
        b = fingerprint(" ".join([f"b{k}-{i}" for i in range(100)] + shared), None)
        c = fingerprint(" ".join(f"c{k}-{i}" for i in range(200)), None)
        related += any(x == y for x, y in zip(a.bands[:n_full], b.bands[:n_full], strict=True))
        unrelated += any(x == y for x, y in zip(a.bands[:n_full], c.bands[:n_full], strict=True))
    assert related / 200 > 0.75 and unrelated == 0


def test_agreeing_bytes_counts_equal_places_exactly() -> None:
    """The byte-parallel count behind `estimate_jaccard` is the definition, at the sketch's
    length and others, including bytes that differ only in the high bit or are 0x00/0xff."""
    import random

    from worker.dedup.fingerprint import agreeing_bytes

    rng = random.Random(11)
    for n in (1, 7, 32, 128, 200):
        for _ in range(300):
            a = bytes(rng.choice((0, 0x7F, 0x80, 0xFF, rng.randrange(256))) for _ in range(n))
            b = bytes(x if rng.random() < 0.4 else x ^ rng.choice((0x80, 0x01, 0xFF, 0x7F)) for x in a)
            assert agreeing_bytes(a, b) == sum(x == y for x, y in zip(a, b, strict=True))
    assert agreeing_bytes(b"", b"") == 0


def test_a_packed_opening_unpacks_to_its_values_at_every_length() -> None:
    import random

    rng = random.Random(5)
    for count in range(256):
        values = bytes(rng.randrange(64) for _ in range(count))
        packed = pack_opening(values)
        assert len(packed) == (0 if count == 0 else 1 + (6 * count + 7) // 8)
        assert unpack_opening(packed) == values


def test_the_byte_parallel_in_place_count_is_the_definition() -> None:
    """`_in_place` (XOR and zero-byte tests on ints) counts what its docstring says: the lead's
    values found within two places of their own in the other opening."""
    import random

    from worker.dedup.fingerprint import _in_place

    def by_definition(lead: bytes, other: bytes) -> int:
        return sum(1 for i, v in enumerate(lead) if v in other[max(0, i - 2) : i + 3])

    rng = random.Random(6)
    for _ in range(3000):
        lead = bytes(rng.randrange(64) for _ in range(rng.randint(1, 28)))
        other = bytes(rng.randrange(64) for _ in range(rng.randint(1, 56)))
        if rng.random() < 0.5:  # the lead in it, moved and lightly changed
            at = rng.randint(0, 4)
            other = (other[:at] + lead + other[at:])[:56]
        assert _in_place(lead, other) == by_definition(lead, other)


def test_openings_of_unrelated_texts_agree_at_chance_only() -> None:
    pairs = [
        _agreement([f"a{k}-{i}" for i in range(80)], [f"b{k}-{i}" for i in range(80)]) for k in range(200)
    ]
    assert max(moved for _, moved in pairs) < 0.45  # the best of ~100 shifts; the bar is 0.7
    assert max(in_place for in_place, _ in pairs) < 0.3  # the bar is 0.45


def test_a_short_lead_is_compared_in_place_only() -> None:
    short = [f"w{i}" for i in range(3, 9)]  # 4 shingles, all inside the long text, moved by 3
    in_place, moved = _agreement(WORDS, short)
    # no shift searched for the short lead; the long lead's 28 shingles find only those 4
    assert in_place == 0.0 and moved == 4 / 28
    assert opening_agreement(b"", _fp(WORDS).opening) == (0.0, 0.0)


def test_empty_key_has_no_bands() -> None:
    fp = fingerprint("", None)
    assert fp.bands == () and fp.sketch == b""


def test_deterministic_across_processes() -> None:
    code = (
        "from worker.dedup.fingerprint import fingerprint;"
        "fp = fingerprint('a b c d e f g h', 'https://x');"
        "print(fp.exact.hex(), fp.sketch.hex(), b''.join(fp.bands).hex())"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(outs) == 1
    fp = fingerprint("a b c d e f g h", "https://x")
    assert outs.pop().split() == [fp.exact.hex(), fp.sketch.hex(), b"".join(fp.bands).hex()]


def test_byte_shingles_hash_like_str_shingles() -> None:
    # rensa hashes a str token by its UTF-8 bytes: the byte shingles give the same MinHash.
    import rensa

    from worker.dedup import fingerprint as fp_module

    words = ["سوريا", "وأعلن", "talks", "٣", "x"] * 20
    key = " ".join(words)
    byte_shingles = fp_module._shingles(fp_module._tokens(key, key.encode()), 3)
    str_shingles = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    assert byte_shingles == [s.encode() for s in str_shingles]
    a, b = rensa.RMinHash(num_perm=16, seed=1), rensa.RMinHash(num_perm=16, seed=1)
    a.update(byte_shingles)
    b.update(str_shingles)
    assert a.digest() == b.digest()


def test_tokens_split_on_every_unicode_space() -> None:
    from worker.dedup import fingerprint as fp_module

    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert all(ord(c) < 0x10000 for c in spaces)  # the table is built from the BMP
    for space in spaces:
        key = f"a{space}b c\u00e9 d"
        assert fp_module._tokens(key, key.encode()) == [t.encode() for t in key.split()]


# --- text written without spaces (scheme v3) ------------------------------------------------------

from worker.dedup import fingerprint as fp_module  # noqa: E402


def _tokens_of(key: str) -> list[str]:
    return [t.decode() for t in fp_module._tokens(key, key.encode())]


def test_unspaced_runs_become_units_and_names_and_figures_stay_whole() -> None:
    assert _tokens_of("苹果公司ceo库克2024年表示") == [
        *"苹果公司", "ceo", *"库克", "2024", *"年表示",
    ]  # fmt: skip
    assert _tokens_of("東京で はじまった") == [*"東京で", *"はじまった"]


def test_southeast_asian_units_keep_marks_and_stacked_consonants() -> None:
    # Thai: the tone mark and the vowel above stay on their consonant
    assert _tokens_of("น้ำ") == ["น้", "ำ"]  # (sara am is a letter of its own, not a mark)
    assert _tokens_of("ที่") == ["ที่"]
    # Khmer: coeng + consonant (a subscript) and the vowel sign are one unit with the base
    assert _tokens_of("ស្រី") == ["ស្រី"]
    # Myanmar: the virama stacks the next consonant
    assert _tokens_of("မ္ဘ") == ["မ္ဘ"]


def test_spaced_scripts_keep_word_tokens() -> None:
    for key in (
        "سوريا وأعلن المبعوث",
        "talks in geneva 2018",
        "москва заявила",
        "한국 정부는 발표했다",
        "ལྷ་ས",
    ):
        assert _tokens_of(key) == key.split()


def test_unspaced_lead_bytes_cover_every_character_of_the_class() -> None:
    ranges = fp_module._UNSPACED_CLASS
    for a, b in zip(ranges[::3], ranges[2::3], strict=True):
        for cp in range(ord(a), ord(b) + 1, 7):
            assert chr(cp).encode()[:1] in fp_module._UNSPACED_LEADS, hex(cp)
    # and Arabic, Cyrillic, Latin never take the unspaced path
    for cp in (0x0627, 0x0416, 0x00E9, 0x05D0):
        assert chr(cp).encode()[:1] not in fp_module._UNSPACED_LEADS


_HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞"


def _han_text(seed: int, n: int) -> str:
    import random

    rng = random.Random(seed)
    sentences = []
    while sum(map(len, sentences)) < n:
        sentences.append("".join(rng.choice(_HAN) for _ in range(rng.randint(8, 30))) + "。")
    return "".join(sentences)[:n]


def test_chinese_teaser_is_contained_and_shares_the_lead() -> None:
    from worker.normalize.text import match_key

    full_key = match_key(_han_text(1, 900))
    teaser_key = match_key(_han_text(1, 900)[:400])  # cut mid-sentence, as teasers are
    full, teaser = fingerprint(full_key, None), fingerprint(teaser_key, None)
    jac = estimate_jaccard(full.sketch, teaser.sketch)
    assert estimate_containment(jac, full.shingles, teaser.shingles) > 0.8
    assert opening_agreement(teaser.sequence, full.opening) == (1.0, 1.0)
    assert set(full.bands) & set(teaser.bands)
    # word tokens (scheme v2) saw one token per sentence: the cut sentence shared nothing
    assert len(teaser_key.split()) < 40 < teaser.tokens


def test_unrelated_chinese_texts_stay_apart() -> None:
    from worker.normalize.text import match_key

    a = fingerprint(match_key(_han_text(2, 900)), None)
    b = fingerprint(match_key(_han_text(3, 900)), None)
    assert estimate_jaccard(a.sketch, b.sketch) < 0.1
    assert max(opening_agreement(b.sequence, a.opening)) < 0.3


# --- golden values: fingerprints that stay put -------------------------------------------------
#
# The fingerprints are Redis keys remembered for a whole window: if a library upgrade (rensa,
# xxhash, ftfy, selectolax, idna) or a new Python (its Unicode data) computed other values for the
# same text, every duplicate of the window would be missed, silently. These values were recorded
# with the scheme version they belong to. When a change of code or dependency changes them, the
# change needs a new `Scheme.version` (worker/dedup/fingerprint.py) and new values recorded under it
# (`python -m tests.unit.dedup.test_fingerprint` prints them); the values of a recorded version are
# never edited (GOLDEN_DIGESTS seals them).

import hashlib  # noqa: E402
import json  # noqa: E402
import unicodedata  # noqa: E402
from pathlib import Path  # noqa: E402

GOLDEN_FILE = Path(__file__).with_name("golden_fingerprints.json")
#: sha256 of each recorded version's entry (sorted-keys JSON): a recorded version is never edited.
GOLDEN_DIGESTS = {
    "v3": "e108bc7424a2499e2fa8fb30016c834b3f2e7ce4b597f4770e2de7e6a36d46ec",
    "v4": "4ff26f6aa94d0da497e12e37c0c1797b6e28c7a6e39da63d73eea68dbe359634",
    "v5": "41778ec54cfbf625422671c9bfd212ef8b4807559c7ccf4b71a0982c46d726ed",
    "v6": "81ce9382b8aadd33e2862be90aa2b80badb71e3643862b22d2390f7bfd334c22",
    "v7": "3f79cd3f84d26093d2a47278bf915b72e2ab5b42ee89550fa192bcdc9621e1e1",
    "v8": "09e2d2fbfc9a6011234b41f2b6439533ed97d4542126db026f1f68dc09a3dec7",
    "v9": "6478da9a8d4ef002d2785d1f0cc4e24f4b1ac9d20cfca8bfde87cdb8990397f2",
    "v10": "bcb71dc7bdde2b38341e52d4975c05acbeadee7fcecf41b11d7db74a0df47dd7",
    "v11": "3d84634e32db1187f449289e370c032dcb0dc50eff45a3ba64bcd4c2c1f54b29",
    "v12": "fcb01895a9b31de0cbc13e47c151a633f157172f2ca8ca1c5d3f2a0330523686",
    "v13": "dfe1dd90f0196ec53ae0fcda6adbaeda4da9bb975f31356b733a528f254a6843",
    "v14": "a94c23155e15d6f1612da9dfbfdcd8e67cf8eb77bd2f09384f09aa3d42350b29",
    "v15": "a53ba61755bde10d496a6cf4b3249b9d10f91b1e91a8f880101e6177dd26d442",
    "v16": "bebd4ba6eadc3064b74961d95a6fe23c5b176b523c31d0dd706d625262bfb378",
    "v17": "107317064221229350cca465c71ba81aa6bc0375addfb3b6d90704edc46a4bce",
}

#: Fixed texts in several scripts (written for this test; no corpus text), with a URL each.
GOLDEN_TEXTS: dict[str, tuple[str, str | None]] = {
    "arabic": (
        "أعلن المبعوث الدولي اليوم أن المحادثات ستستأنف في جنيف الأسبوع المقبل، وقال إن الأطراف "
        "وافقت على جدول أعمال من أربع نقاط. وأضاف أن الجولة السابقة انتهت دون اتفاق.",
        "https://www.example.net/ar/2018/02/12/محادثات-جنيف.html?utm_source=x",
    ),
    "arabic_diacritics": (
        "أَعْلَنَ المَبْعُوثُ الدَّوْلِيُّ اليَوْمَ أَنَّ المُحَادَثَاتِ سَتُسْتَأْنَفُ فِي جِنِيف ٢٠١٨.",
        None,
    ),
    "english": (
        "The envoy said on Monday that talks would resume in Geneva next week. The parties agreed on "
        "a four-point agenda, he told reporters, after the previous round ended without a deal.",
        "https://News.Example.com:443/world/talks?b=2&a=1#comments",
    ),
    "mojibake": ("The envoyâ€™s statement came after talks in GenÃ¨ve ended.", None),
    "chinese": (
        "特使周一表示，会谈将于下周在日内瓦恢复。他告诉记者，各方同意了一项四点议程，此前一轮会谈未能达成协议。",
        "https://新闻.例子.中国/世界/会谈",
    ),
    "mixed": ("苹果公司CEO库克2024年在上海表示，iPhone销量增长了15%。", "https://faß.de/a"),
    # v9: the "chinese" text in traditional characters: the same match key
    "chinese_traditional": (
        "特使週一表示，會談將於下週在日內瓦恢復。他告訴記者，各方同意了一項四點議程，此前一輪會談未能達成協議。",
        None,
    ),
    "japanese": (
        "特使は月曜日、協議が来週ジュネーブで再開されると述べた。各当事者は四項目の議題に合意した。",
        None,
    ),
    "thai": ("ทูตพิเศษกล่าวเมื่อวันจันทร์ว่าการเจรจาจะเริ่มขึ้นอีกครั้งที่เจนีวาในสัปดาห์หน้า", None),
    "khmer": ("បេសកជនពិសេសបាននិយាយថាកិច្ចចរចានឹងបន្តនៅទីក្រុងហ្សឺណែវនៅសប្តាហ៍ក្រោយ", None),
    "russian": ("Спецпосланник заявил в понедельник, что переговоры возобновятся в Женеве.", None),
    # v8: two paragraphs and no title; the first is a sentence (before v8, taken for a title)
    "chinese_untitled": ("特使周一表示，会谈将于下周在日内瓦恢复。\n各方同意了一项四点议程。", None),
    "html": ("", "https://example.com/a"),
    # v11: a page naming no headline but its <title> (a site's name): the first line is the headline
    "html_tab_title": ("", None),
    # v13: HTML markup sent as text (an RSS item's description): read as the fragment it is
    "text_markup": (
        "<p>The envoy said talks would <a href=\"/geneva\">resume in Geneva</a> next week.</p>"
        "<p>The parties agreed on a <strong>four-point</strong> agenda.<br/>No date was set.</p>",
        None,
    ),
    # v14: a page built with a page builder's classes, a link after a heading; a flash's page
    "html_builder": ("", None),
    "html_flash": ("", None),
    # v15: a short story (keyed without its title, as before), a WordPress post classed by its category, a
    # single-page site's route and a site's root as URLs
    "short_story": ("Talks resume\n\nThe envoy said talks would resume.", "https://m.news.example/#/article/1001"),
    "html_wordpress": ("", "https://example.com/"),
    # v16: an untitled Hindi text with the danda typed as a bar, an untitled German one opening
    # with a quote, Malayalam with chillus as written before Unicode 5.1, Urdu as an Arabic
    # keyboard types it, a Russian sentence with an abbreviation before a comma
    "hindi_pipe_untitled": ("विशेष दूत ने कहा कि बातचीत फिर से शुरू होगी|\nपक्षों ने सहमति जताई|", None),
    "german_quote_untitled": ("„Wir haben alles verloren.“\nMit diesen Worten beschreibt sie die Lage.", None),
    "malayalam_old_chillu": ("അവന്\u200d ഇന്നലെ കേരളത്തില്\u200d എത്തി.", None),
    "urdu_arabic_keyboard": ("وزیر اعظم نے كها كه حكومت بهی غور كر رهی هے۔", None),
    "russian_abbreviation": ("Выручка составила 5,2 млрд руб., что на 12% больше.", None),
    # v17: a domain ending at a line's end, ordinals and an abbreviation before the list rule's
    # comma, a comma in a URL and between ideographs, a story wrapped in a furniture-named block
    "arabic_domain_line": ("زوروا موقع بيت.كوم\nللمزيد من الأخبار عن الاجتماع في جنيف", None),
    "list_rule_v17": ("Najwięcej w Rumunii (15,3 proc.), Luksemburgu (13,5 proc.) i we Włoszech.\n"
                      "Die Bauten stammen aus dem 18., 19. und 20. Jahrhundert.", None),
    "comma_spacing_v17": ("Read it at https://example.com/news,sport/page today.\n北京,上海和广州都下雨了。", None),
    "html_furniture_story": ("", None),
    # v10: long enough for the opening's kept shingles past the lead (and the sequence's flags)
    "long": (" ".join(f"item{i} of part {i % 7}" for i in range(60)), None),
}
_GOLDEN_PAGES = {
    "html_furniture_story": "<html><body><h1>Cases rose</h1><div class='article-body ad-free'>"
    "<p>According to <a href='/r'>a report published by the World Health Organization on Monday</a>, cases rose.</p>"
    "<p>Hospitals in the north are at capacity, the report said.</p></div></body></html>",
    "html": "<html><head><title>Talks</title><script>var a=1;</script></head><body><nav>Home</nav>"
    "<article><h1>Talks resume</h1><p>The envoy said talks would resume in Geneva next week.</p>"
    "<p>The parties agreed on a four-point agenda.</p></article></body></html>",
    "html_tab_title": "<html><head><title>Example News</title></head><body><article><p>Talks resume</p>"
    "<p>The envoy said talks would resume in Geneva next week.</p>"
    "<p>The parties agreed on a four-point agenda.</p></article></body></html>",
    "html_builder": "<html><body><article><div class='elementor-widget elementor-widget-theme-post-content'>"
    "<div class='elementor-widget-container overflow-hidden'><h1>Talks resume</h1>"
    "<p>The envoy said talks would resume in Geneva next week.</p><h2>Next</h2><a href='/a'>The parties</a>"
    " agreed on a four-point agenda.</div></div></article></body></html>",
    "html_flash": "<html><body><article><h1>Earthquake strikes off Japan</h1>"
    "<p>This is a developing story. More details to follow.</p></article></body></html>",
    "html_wordpress": "<html><body><main><div class='post-9 post type-post category-comment tag-social'>"
    "<h1>Talks resume</h1><p>The envoy said talks would resume in Geneva next week.</p>"
    "<p>The parties agreed on a four-point agenda.</p></div></main></body></html>",
}


def golden_values() -> dict[str, object]:
    """What the golden texts fingerprint to now, with the scheme version and Unicode data."""
    import rensa

    from worker.normalize.text import normalize_text
    from worker.normalize.urls import canonicalize_url, names_an_article

    out: dict[str, object] = {}
    for name, (text, url) in GOLDEN_TEXTS.items():
        html = _GOLDEN_PAGES.get(name)
        norm = normalize_text(title=None, text=text or None, html=html)
        canonical = canonicalize_url(url)
        fp = fingerprint(norm.match_key, canonical if names_an_article(canonical) else None)
        out[name] = {
            "match_key": norm.match_key,
            "canonical_url": canonical,
            "exact": fp.exact.hex(),
            "sketch": fp.sketch.hex(),
            "opening": pack_opening(fp.opening).hex(),  # as a record stores it
            "sequence": fp.sequence.hex(),  # never stored, but it decides what the opening keeps
            "bands": [b.hex() for b in fp.bands],
            "url": fp.url.hex() if fp.url else None,
            "tokens": fp.tokens,
            "shingles": fp.shingles,
        }
    # Full 32-bit MinHash values of one shingle list (the sketch keeps only their low bytes).
    mh = rensa.RMinHash(num_perm=16, seed=fp_module._SEED)
    mh.update([b"a b c", b"b c d", "سوريا وأعلن المبعوث".encode()])
    out["rensa_minhash_16"] = [int(v) for v in mh.digest()]
    return {"scheme": DEFAULT_SCHEME.version, "unidata_version": unicodedata.unidata_version, "values": out}


def _digest(entry: object) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def test_golden_fingerprints_of_the_current_scheme() -> None:
    recorded = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    now = golden_values()
    version = DEFAULT_SCHEME.version
    assert version in recorded, (
        f"no golden values for scheme {version}: record them (python -m tests.unit.dedup.test_fingerprint)"
    )
    entry = recorded[version]
    assert now["unidata_version"] == entry["unidata_version"], (
        "Python's Unicode data changed (a Python upgrade): NFKC, case folding and the character classes "
        "of the match key may differ; if any golden value below changed, bump Scheme.version"
    )
    for name, values in entry["values"].items():
        assert now["values"][name] == values, (  # type: ignore[index]
            f"{name}: the fingerprint changed under scheme {version}; a change of code or dependency "
            "that changes fingerprints needs a new Scheme.version and new golden values"
        )


def test_the_same_chinese_text_in_either_script_has_one_key() -> None:
    values = golden_values()["values"]
    assert values["chinese_traditional"]["match_key"] == values["chinese"]["match_key"]  # type: ignore[index]
    assert values["chinese_traditional"]["exact"] == values["chinese"]["exact"]  # type: ignore[index]


def test_recorded_golden_versions_are_sealed() -> None:
    recorded = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    assert set(recorded) == set(GOLDEN_DIGESTS)
    for version, entry in recorded.items():
        assert _digest(entry) == GOLDEN_DIGESTS[version], f"golden values of {version} were edited"
    # a version is recorded once: a new one must differ in values, not only in name
    digests = [_digest(e["values"]) for e in recorded.values()]
    assert len(set(digests)) == len(digests)


if __name__ == "__main__":
    current = golden_values()
    print(json.dumps({DEFAULT_SCHEME.version: current}, ensure_ascii=False, indent=1, sort_keys=True))
    print("digest:", _digest(current))


#: The dependencies whose output becomes a fingerprint (hashes, MinHash, match key, URL key).
FINGERPRINT_DEPENDENCIES = ("rensa", "xxhash", "selectolax", "ftfy", "idna", "opencc")


def test_dependencies_that_feed_fingerprints_are_capped() -> None:
    import re
    import tomllib

    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    specs = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower(): d for d in deps}
    for name in FINGERPRINT_DEPENDENCIES:
        assert name in specs, f"{name} feeds the fingerprints: list it in pyproject.toml"
        assert "<" in specs[name], f"{specs[name]}: needs an upper bound (see the comment there)"


def test_the_lead_bytes_of_str_only_spaces_are_those_of_every_such_character() -> None:
    # made from the generated space class (worker/normalize/char_classes.py), not a scan of the BMP
    every = {
        c.encode("utf-8")[:1]
        for c in map(chr, range(0x110000))
        if not 0xD800 <= ord(c) < 0xE000 and c.isspace() and not c.encode("utf-8").isspace()
    }
    assert set(fp_module._STR_ONLY_SPACE_BYTES) == every
    assert b"\x1c" in every and "\u00a0".encode()[:1] in every and "\u3000".encode()[:1] in every


# -- the one-pass lead search (`_leads`) ------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: Characters of every kind the lead search tells apart: ASCII, Arabic, the str-only spaces
#: (``\x1c``, NBSP, U+1680, U+2000, U+3000), unspaced scripts (Han, kana, Thai, Khmer), and
#: others that share those first bytes (``…`` and ``ـ``'s neighbours, Devanagari, Hangul).
_LEAD_ALPHABET = "ab1 \n\x1c\u00a0\u1680\u2003\u3000\u2026سوريا新闻ニュースข่าวខ្មែរहिन्दी한국"


def _token_source_by_scans(match_key: str, key_bytes: bytes) -> list[bytes] | bytes:
    """`_token_source` as it was before `_leads`: each lead searched for in the whole key."""
    if fp_module._has_unspaced(key_bytes) and fp_module._RUN_RE.search(match_key):
        return " ".join(fp_module._RUN_RE.sub(fp_module._split_run, match_key).split()).encode().split()
    for lead in fp_module._STR_ONLY_SPACE_BYTES:
        if lead in key_bytes:
            return [token.encode("utf-8") for token in match_key.split()]
    return key_bytes


@given(st.text(alphabet=_LEAD_ALPHABET, max_size=40))
def test_the_one_pass_lead_search_finds_what_the_scans_find(key: str) -> None:
    key_bytes = key.encode("utf-8")
    leads = fp_module._leads(key_bytes)
    for lead in (*fp_module._UNSPACED_LEADS, *fp_module._STR_ONLY_SPACE_BYTES):
        assert (lead in leads) == (lead in key_bytes)
    assert fp_module._has_unspaced(leads) == fp_module._has_unspaced(key_bytes)
    assert fp_module._token_source(key, key_bytes) == _token_source_by_scans(key, key_bytes)
    assert fp_module._token_source(key, key_bytes, leads=leads) == _token_source_by_scans(key, key_bytes)


def test_a_key_without_leads_is_split_as_bytes() -> None:
    key = "سوريا وأعلن المبعوث talks 2018"
    assert fp_module._leads(key.encode()) == b""
    assert fp_module._token_source(key, key.encode()) == key.encode()
