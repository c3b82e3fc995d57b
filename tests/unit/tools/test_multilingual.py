"""The multilingual eval stream (synthetic pairs only: no text of the data set)."""

from __future__ import annotations

import random

from tests.support.factories import synthetic_article
from tests.support.pairs import han_text, synthetic_pairs
from worker.tools import multilingual as ml


def test_unspaced_detection() -> None:
    assert ml.is_unspaced(han_text(1))
    assert not ml.is_unspaced(synthetic_article(1)["text"])
    assert ml.units(han_text(1, 100)) == 100 - han_text(1, 100).count("。")


def test_teaser_of_chinese_is_cut_by_characters() -> None:
    text = han_text(3, 400)
    teaser = ml.ml_teaser(text, random.Random(1))
    body = teaser.rstrip(".… ")
    assert text.startswith(body) and 0.3 * len(text) <= len(body) <= 0.6 * len(text) + 1


def test_teaser_of_spaced_text_is_cut_by_words() -> None:
    text = synthetic_article(4)["text"]
    teaser = ml.ml_teaser(text, random.Random(2))
    words = teaser.split()
    assert words[:-1] == text.split()[: len(words) - 1]
    assert 0.3 * len(text.split()) <= len(words) <= 0.6 * len(text.split()) + 1


def test_edit_of_chinese_changes_a_few_characters_and_keeps_most() -> None:
    text = han_text(5, 600)
    edited = ml.ml_edit(text, random.Random(3), [han_text(6, 200)])
    assert edited != text

    def trigrams(s: str) -> set[str]:
        return {s[i : i + 3] for i in range(len(s) - 2)}

    assert len(trigrams(text) & trigrams(edited)) > 0.7 * len(trigrams(text))


def test_edit_never_glues_a_sentence_into_an_untitled_texts_headline_line() -> None:
    body = " ".join(f"Sentence number {i} of the body says something." for i in range(12))
    text = "A headline without a full stop\n" + body
    donor = "Another text's sentence is here. And one more."
    for seed in range(60):
        edited = ml.ml_edit(text, random.Random(seed), [donor])
        for line in edited.split("\n"):  # a word of it may change, or it may go: nothing is glued to it
            assert not ("headline" in line and "sentence" in line.lower()), (seed, line)
    # a first line that is a sentence is body: a sentence may be added beside it
    seen = {ml.ml_edit("A first sentence.\n" + body, random.Random(s), [donor]).split("\n")[0] for s in range(60)}
    assert any("text's sentence" in line for line in seen)


def test_edit_adds_and_removes_at_most_a_quarter_of_a_text_of_long_sentences() -> None:
    # Three "sentences" of 30-50 words joined by commas, as many Arabic texts of the data set
    # are: one added or removed sentence would be a third of the text or more
    long = [" ".join(f"w{k}x{i}" for i in range(n)) + "." for k, n in enumerate((50, 30, 40))]
    text = " ".join(long)
    donor = " ".join(f"d{i}" for i in range(45)) + ". Short donor sentence."
    sizes = set()
    for seed in range(80):
        edited = ml.ml_edit(text, random.Random(seed), [donor])
        before, after = text.split(), edited.split()
        removed = len(set(before) - set(after))
        added = len([w for w in after if w.startswith("d") or w in ("Short", "donor", "sentence.")])
        assert removed + added <= len(before) / 4 + 3, (seed, removed, added)  # + a change's words
        sizes.add(edited != text)
    assert sizes == {True}  # every edit changes something
    # the budget does not stop an edit of many short sentences from adding or removing them
    short = " ".join(f"Sentence {i} is short here." for i in range(30))
    counts = {len(ml.ml_edit(short, random.Random(s), ["A donor line."]).split(".")) for s in range(40)}
    assert min(counts) < 31 < max(counts)


def test_stream_labels_rewrites_variants_and_originals() -> None:
    pairs = synthetic_pairs(60)
    stream = ml.build_multilingual_stream(pairs, seed=1)
    again = ml.build_multilingual_stream(pairs, seed=1)
    assert [r.article for r in stream] == [r.article for r in again]  # deterministic
    kinds = {r.kind for r in stream}
    assert kinds == {"original", *ml.ML_VARIANT_KINDS, *ml.ML_RELATED_KINDS}
    position = {r.article["id"]: i for i, r in enumerate(stream)}
    first_of_group: dict[int, int] = {}
    for i, r in enumerate(stream):
        first_of_group.setdefault(r.group, i)
        assert r.lang in ("ar", "zh")
        if r.kind == "rewrite":
            assert r.related and r.duplicate is False and first_of_group[r.group] < i
        elif r.kind in ml.ML_VARIANT_KINDS:
            assert r.duplicate is True and first_of_group[r.group] < i
        else:
            assert r.duplicate is False and not r.related and first_of_group[r.group] == i
    assert len(position) == len(stream)  # ids are unique
    # rewrites come from the pairs judged one story only
    assert sum(r.kind == "rewrite" for r in stream) == sum(p["overall"] <= ml.REWRITE_OVERALL for p in pairs)


def test_texts_of_the_data_set_are_labelled_by_their_own_overlap() -> None:
    body = synthetic_article(70)["text"]
    pairs = [
        {"pair_id": "0", "lang1": "en", "lang2": "en", "text1": body, "text2": synthetic_article(71)["text"],
         "overall": 4.0},
        # the same article crawled again under another title: a duplicate of the first
        {"pair_id": "1", "lang1": "en", "lang2": "en", "text1": "Another title\n" + body,
         "text2": synthetic_article(72)["text"], "overall": 4.0},
        # a different story under the same large block of site chrome: uncertain, unscored
        {"pair_id": "2", "lang1": "en", "lang2": "en", "text1": synthetic_article(73)["text"],
         "text2": synthetic_article(74)["text"] + "\n" + body, "overall": 4.0},
    ]  # fmt: skip
    stream = ml.build_multilingual_stream(pairs, seed=1, variant_rate=0.0)
    kinds = {r.article["text"]: (r.kind, r.duplicate) for r in stream}
    # whichever of the two crawls comes first is the original, the other its duplicate
    assert sorted([kinds[body], kinds["Another title\n" + body]]) == [("original", False), ("recrawl", True)]
    assert kinds[synthetic_article(74)["text"] + "\n" + body] == ("related", None)


def test_a_rewrite_of_a_recrawled_text_belongs_to_the_story_it_repeats() -> None:
    body = synthetic_article(80)["text"]
    rewrite = synthetic_article(82)["text"]
    pairs = [
        {"pair_id": "0", "lang1": "en", "lang2": "en", "text1": body, "text2": synthetic_article(81)["text"],
         "overall": 4.0},
        # the same article crawled again, and another outlet's rewrite of it
        {"pair_id": "1", "lang1": "en", "lang2": "en", "text1": "Another title\n" + body, "text2": rewrite,
         "overall": 1.0},
    ]  # fmt: skip
    for seed in range(8):  # either pair may come first
        stream = ml.build_multilingual_stream(pairs, seed=seed, variant_rate=0.0)
        first_of_group: dict[int, int] = {}
        for i, r in enumerate(stream):
            first_of_group.setdefault(r.group, i)
        (i,) = (i for i, r in enumerate(stream) if r.article["text"] == rewrite)
        r = stream[i]
        assert r.kind == "rewrite" and r.related
        # its story opens earlier, with one of the two crawls it rewrites (not with itself: a
        # story link opening its own group has nothing to be linked to and cannot be scored)
        j = first_of_group[r.group]
        assert j < i and stream[j].article["text"] in (body, "Another title\n" + body)
