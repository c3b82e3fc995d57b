"""The multilingual eval stream (synthetic pairs only: no text of the data set)."""

from __future__ import annotations

import random
from typing import Any

from tests.support.factories import synthetic_article
from worker.tools import multilingual as ml

_HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"


def han_text(seed: int, n: int = 360) -> str:
    rng = random.Random(seed)
    out = ""
    while len(out) < n:
        out += "".join(rng.choice(_HAN) for _ in range(rng.randint(8, 30))) + "。"
    return out[:n]


def synthetic_pairs(n: int) -> list[dict[str, Any]]:
    """Pairs in two languages; every third judged the same story (`overall` 1)."""
    pairs = []
    for i in range(n):
        if i % 2:
            lang, a, b = "zh", han_text(2 * i), han_text(2 * i + 1)
        else:
            lang, a, b = "ar", synthetic_article(2 * i)["text"], synthetic_article(2 * i + 1)["text"]
        pairs.append({"pair_id": str(i), "lang1": lang, "lang2": lang, "text1": a, "text2": b,
                      "overall": 1.0 if i % 3 == 0 else 4.0})  # fmt: skip
    return pairs


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
