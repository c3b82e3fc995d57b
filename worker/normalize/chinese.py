"""Chinese in the match key: traditional characters folded to simplified ones.

The same Chinese article is published in both scripts: mainland wire copy republished in Hong
Kong or Taiwan, and back. To the key, two scripts are as different as two alphabets unless they
are folded, as the Arabic letter variants are (worker/normalize/arabic.py). Folding is per
character, from OpenCC's traditional-to-simplified tables (``t2s``: characters and their
variants; a well-kept library made for this), built once per process on the first key that
holds an ideograph: ~10 ms, paid only by processes that meet Chinese (or Japanese kanji, which
fold the same way on both sides of a comparison). OpenCC's own phrase-level conversion is not
used: a comparison key needs no idiomatic choice between readings, and one that depended on
word boundaries could fold a character differently in a teaser than in its article.

Only the match key is folded; the readable text keeps the script the outlet used. The table is
part of the fingerprints (``opencc`` is capped in pyproject.toml; a change of the table needs a
new fingerprint scheme, and the golden values hold a traditional text).
"""

from __future__ import annotations

import functools
import re
from typing import Final

#: CJK unified ideographs (with extension A, the compatibility block, and the supplementary
#: planes' extensions B-H): what the fold looks at (and, in worker/dedup/fingerprint.py, part of
#: the scripts written without spaces).
IDEOGRAPH_RANGES: Final = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))
#: Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, Khmer symbols, CJK
#: symbols with letters (々〆〇), hiragana, katakana (and its phonetic extensions), CJK unified
#: ideographs (with extension A, compatibility ideographs and the supplementary planes'
#: extensions B-H). Korean is written with spaces; so is Tibetan, whose syllable mark (tsheg) is
#: punctuation. The fingerprint's runs and the spacing rules' exceptions
#: (worker/normalize/_text_passes.c has the same ranges).
UNSPACED_RANGES: Final = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x19E0, 0x19FF),
    (0x3005, 0x3007),
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    *IDEOGRAPH_RANGES,
)
_IDEOGRAPH_RE: Final = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in IDEOGRAPH_RANGES) + "]")


@functools.cache
def fold_table() -> dict[int, str]:
    """Code point -> its simplified form, for every ideograph OpenCC's ``t2s`` changes on its own
    (one character each); applied to its own output, the table changes nothing more."""
    import opencc

    converter = opencc.OpenCC("t2s")
    chars = [chr(c) for a, b in IDEOGRAPH_RANGES for c in range(a, b + 1)]
    folded = converter.convert("\n".join(chars)).split("\n")
    if len(folded) != len(chars):  # a conversion that joined or split lines: no table is safer
        raise RuntimeError("opencc t2s changed the line count of the ideograph list")
    table = {ord(a): b for a, b in zip(chars, folded, strict=True) if a != b and len(b) == 1}
    # a fixed point, so that folding a folded key changes nothing (the key is idempotent)
    for code, target in table.items():
        seen = {code}
        while (nxt := table.get(ord(target))) is not None and ord(target) not in seen:
            seen.add(ord(target))
            target = nxt
        table[code] = target
    return table


@functools.cache
def _folded_characters() -> frozenset[str]:
    """The characters `fold_table` changes."""
    return frozenset(map(chr, fold_table()))


def fold_chinese(key: str) -> str:
    """``key`` with its traditional Chinese characters in their simplified forms; a key without
    an ideograph is returned as it is (one regular-expression search), and so is a key without a
    traditional character (most: simplified text), found by a set test ~3x faster than the
    translation it spares (a dict lookup per character)."""
    if _IDEOGRAPH_RE.search(key) is None or _folded_characters().isdisjoint(key):
        return key
    return key.translate(fold_table())
