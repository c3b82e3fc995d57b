"""Synthetic news pairs shaped like the multilingual eval's data set (no text of it)."""

from __future__ import annotations

import random
from typing import Any

from tests.support.factories import synthetic_article

#: Frequent Chinese characters: text "written without spaces" for the tests.
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"


def han_text(seed: int, n: int = 360) -> str:
    """Pseudo-Chinese: random sentences of frequent characters, each ending with 。."""
    rng = random.Random(seed)
    out = ""
    while len(out) < n:
        out += "".join(rng.choice(HAN) for _ in range(rng.randint(8, 30))) + "。"
    return out[:n]


def synthetic_pairs(n: int) -> list[dict[str, Any]]:
    """Pairs in two languages (ar, zh), every third judged the same story (`overall` 1)."""
    pairs = []
    for i in range(n):
        if i % 2:
            lang, a, b = "zh", han_text(2 * i), han_text(2 * i + 1)
        else:
            lang, a, b = "ar", synthetic_article(2 * i)["text"], synthetic_article(2 * i + 1)["text"]
        overall = 1.0 if i % 3 == 0 else 4.0
        pairs.append({"pair_id": str(i), "lang1": lang, "lang2": lang, "text1": a, "text2": b, "overall": overall})
    return pairs
