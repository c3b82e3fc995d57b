"""Arabic letter rules, written to match CAMeL Tools' definitions without installing it.

CAMeL Tools (``camel_tools.utils.normalize`` / ``dediac``) is the reference for these rules,
but installing it pulls a CUDA PyTorch of several GB; PyArabic is GPL and over-folds
(``ى`` -> ``ا``, every hamza carrier -> ``ء``). The rules are small, so they live here as
mapping tables, each with a named test (``tests/unit/test_arabic.py``):

==========================  ===========================================  ====================
rule                        CAMeL definition                             used by
==========================  ===========================================  ====================
``normalize_unicode``       U+FDFC -> ``ريال``, U+FDFD -> basmala, NFKC  match key
``dediacritize``            drop U+064B..U+0652 and U+0670               match key
``normalize_alef``          ``إ أ ٱ آ`` -> ``ا``                         match key
``normalize_alef_maksura``  ``ى`` -> ``ي``                               match key
``normalize_teh_marbuta``   ``ة`` -> ``ه``                               match key
``remove_tatweel``          drop U+0640 (kashida, stretching only)       readable + key
``fold_persian_letters``    ``ی`` -> ``ي``, ``ک`` -> ``ك`` (not CAMeL)   match key
                            Urdu ``ہ ھ ۃ`` -> ``ه`` (v16)
==========================  ===========================================  ====================

Deliberately *not* folded: ``ؤ`` and ``ئ`` (hamza on waw/ya carriers change the word) and the
article ``ال`` is never stripped: both would merge distinct words and buy little recall for
near-duplicate detection of whole articles.

Speed: every table is public for reference (``str.translate`` with it gives the defined
result, which the tests check), but the functions apply it as a chain of ``str.replace``
calls guarded by ``in``. On a 2,300-character Arabic article ``str.translate`` costs
~260 µs (one dict lookup per character on non-ASCII strings) while the guarded replace chain
costs ~6 µs; this module sits on the per-message hot path. ``fold_for_match`` (all the match
key's rules at once, ~3 µs a paragraph that way) runs compiled where the character passes are
built (``_text_passes.fold_chars``: one pass, a lookup per character, ~0.3 µs).
"""

from __future__ import annotations

import array
from collections.abc import Callable, Mapping
from typing import Final

from worker.normalize.normal_forms import is_nfkc, to_nfkc

try:
    from worker.normalize import _text_passes as _compiled
except ImportError:  # not built: the replace chains
    _compiled = None  # type: ignore[assignment]

#: Arabic diacritics (harakat, tanwin, shadda, sukun, superscript alef), CAMeL's
#: ``AR_DIAC_CHARSET``: U+064B..U+0652 and U+0670.
DIACRITICS: Final = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670"
#: Tatweel / kashida: a stretching character with no meaning.
TATWEEL: Final = "\u0640"
#: Alef with hamza below/above, alef wasla, alef with madda (CAMeL's ``normalize_alef_ar``).
ALEF_VARIANTS: Final = "\u0625\u0623\u0671\u0622"
ALEF: Final = "\u0627"
ALEF_MAKSURA: Final = "\u0649"
YEH: Final = "\u064a"
TEH_MARBUTA: Final = "\u0629"
HEH: Final = "\u0647"

#: CAMeL's fix applied before NFKC: NFKC turns U+FDFC (rial sign) into ``ریال`` with a
#: *Persian* yeh, and leaves the basmala ligature U+FDFD alone.
UNICODE_FIX: Final[Mapping[str, str]] = {
    "\ufdfc": "\u0631\u064a\u0627\u0644",  # ريال
    "\ufdfd": "\u0628\u0633\u0645 \u0627\u0644\u0644\u0647 \u0627\u0644\u0631\u062d\u0645\u0646 "
    "\u0627\u0644\u0631\u062d\u064a\u0645",  # بسم الله الرحمن الرحيم
}

DEDIAC_TABLE: Final[Mapping[int, str | None]] = {ord(c): None for c in DIACRITICS}
TATWEEL_TABLE: Final[Mapping[int, str | None]] = {ord(TATWEEL): None}
ALEF_TABLE: Final[Mapping[int, str | None]] = {ord(c): ALEF for c in ALEF_VARIANTS}
ALEF_MAKSURA_TABLE: Final[Mapping[int, str | None]] = {ord(ALEF_MAKSURA): YEH}
TEH_MARBUTA_TABLE: Final[Mapping[int, str | None]] = {ord(TEH_MARBUTA): HEH}
#: Persian yeh and keheh appear in Arabic text typed on Persian keyboards. Folding them is
#: right for a match key only: the readable text keeps them, and language detection runs on
#: the readable text (folded, Persian and Urdu would look Arabic).
PERSIAN_LETTERS_TABLE: Final[Mapping[int, str | None]] = {
    ord("\u06cc"): YEH,  # ی
    ord("\u06a9"): "\u0643",  # ک -> ك
    # Urdu's hehs, which an Arabic keyboard types as ه (scheme v16: a copy so typed was missed):
    ord("\u06c1"): HEH,  # ہ heh goal
    ord("\u06be"): HEH,  # ھ heh doachashmee
    ord("\u06c3"): HEH,  # ۃ teh marbuta goal (as teh marbuta, ة, folds to heh)
}
#: Hebrew points (niqqud, the shin and sin dots, dagesh) and cantillation marks, the match key's
#: counterpart of the Arabic diacritics (scheme v15): a pointed and an unpointed copy of one text
#: were unrelated. Hebrew punctuation in the block (maqaf U+05BE, paseq U+05C0, sof pasuq U+05C3,
#: nun hafukha U+05C6) stays.
HEBREW_POINTS: Final = "".join(
    chr(cp) for cp in range(0x0591, 0x05C8) if chr(cp) not in "\u05be\u05c0\u05c3\u05c6"
)
HEBREW_POINTS_TABLE: Final[Mapping[int, str | None]] = {ord(c): None for c in HEBREW_POINTS}
#: Everything the match key folds, as one table.
MATCH_FOLD_TABLE: Final[Mapping[int, str | None]] = {
    **DEDIAC_TABLE,
    **TATWEEL_TABLE,
    **ALEF_TABLE,
    **ALEF_MAKSURA_TABLE,
    **TEH_MARBUTA_TABLE,
    **PERSIAN_LETTERS_TABLE,
    **HEBREW_POINTS_TABLE,
}

_Pairs = tuple[tuple[str, str], ...]


def _pairs(table: Mapping[int, str | None]) -> _Pairs:
    return tuple((chr(k), v or "") for k, v in table.items())


_DEDIAC_PAIRS: Final = _pairs(DEDIAC_TABLE)
_TATWEEL_PAIRS: Final = _pairs(TATWEEL_TABLE)
_ALEF_PAIRS: Final = _pairs(ALEF_TABLE)
_ALEF_MAKSURA_PAIRS: Final = _pairs(ALEF_MAKSURA_TABLE)
_TEH_MARBUTA_PAIRS: Final = _pairs(TEH_MARBUTA_TABLE)
_PERSIAN_PAIRS: Final = _pairs(PERSIAN_LETTERS_TABLE)
_MATCH_FOLD_PAIRS: Final = _pairs(MATCH_FOLD_TABLE)
_UNICODE_FIX_PAIRS: Final = tuple(UNICODE_FIX.items())


def _apply(s: str, pairs: _Pairs) -> str:
    # Single-character sources only, so the order of the replacements cannot matter and the
    # result equals ``s.translate(table)``.
    for src, dst in pairs:
        if src in s:
            s = s.replace(src, dst)
    return s


def normalize_unicode(s: str) -> str:
    """CAMeL's ``normalize_unicode``: fix U+FDFC/U+FDFD, then NFKC (presentation forms and
    ligatures to plain letters, Arabic-Indic digits stay Arabic-Indic)."""
    s = _apply(s, _UNICODE_FIX_PAIRS)
    if is_nfkc(s):
        return s
    return to_nfkc(s)


def dediacritize(s: str) -> str:
    """Drop Arabic diacritics (CAMeL's ``dediac_ar``): ``مُحَمَّدٌ`` -> ``محمد``."""
    return _apply(s, _DEDIAC_PAIRS)


def remove_tatweel(s: str) -> str:
    """Drop tatweel: ``جمـــيل`` -> ``جميل``."""
    return _apply(s, _TATWEEL_PAIRS)


def normalize_alef(s: str) -> str:
    """Alef forms to bare alef (CAMeL's ``normalize_alef_ar``): ``إسلام أحمد`` -> ``اسلام احمد``."""
    return _apply(s, _ALEF_PAIRS)


def normalize_alef_maksura(s: str) -> str:
    """Alef maqsura to yeh (CAMeL's ``normalize_alef_maksura_ar``): ``على`` -> ``علي``."""
    return _apply(s, _ALEF_MAKSURA_PAIRS)


def normalize_teh_marbuta(s: str) -> str:
    """Teh marbuta to heh (CAMeL's ``normalize_teh_marbuta_ar``): ``مدرسة`` -> ``مدرسه``."""
    return _apply(s, _TEH_MARBUTA_PAIRS)


def fold_persian_letters(s: str) -> str:
    """Persian yeh/keheh to Arabic yeh/kaf: ``کتاب`` -> ``كتاب``."""
    return _apply(s, _PERSIAN_PAIRS)


def _fold_for_match_python(s: str) -> str:
    return _apply(s, _MATCH_FOLD_PAIRS)


#: What `_text_passes.fold_chars` deletes (a noncharacter: no table maps to it).
_DELETED: Final = 0xFFFF


def _image(table: Mapping[int, str | None]) -> bytes:
    """`table` as `_text_passes.fold_chars` reads it: two bytes (little-endian) per code point up
    to the table's last, each the character itself, `_DELETED`, or what it becomes."""
    image = array.array("H", range(max(table) + 1))
    for cp, to in table.items():
        image[cp] = _DELETED if to is None else ord(to)
    if array.array("H", [1]).tobytes() != b"\x01\x00":
        image.byteswap()
    return image.tobytes()


_MATCH_FOLD_IMAGE: Final = _image(MATCH_FOLD_TABLE)


def _fold_for_match_compiled(s: str) -> str:
    return _compiled.fold_chars(s, _MATCH_FOLD_IMAGE)


def _compiled_fold() -> Callable[[str], str] | None:
    """The compiled fold, where it is built and gives the table's result on every character it
    folds and a few around them (an extension from older source lacks it: the Python one runs)."""
    if getattr(_compiled, "fold_chars", None) is None:
        return None
    probes = ["", "abc", "قال", *(chr(cp) for cp in MATCH_FOLD_TABLE)]
    probes.append("x".join(probes) + "\U0001f600ۍ")
    if all(_fold_for_match_compiled(p) == p.translate(MATCH_FOLD_TABLE) for p in probes):
        return _fold_for_match_compiled
    return None


#: Every letter rule of the match key at once (diacritics, tatweel, alef, alef maqsura, teh
#: marbuta, Persian letters); equals ``s.translate(MATCH_FOLD_TABLE)``.
fold_for_match: Final[Callable[[str], str]] = _compiled_fold() or _fold_for_match_python
