"""The quick normal-form checks (worker/normalize/normal_forms.py) answer as `unicodedata` does."""

from __future__ import annotations

import sys
import types
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.normalize import normal_forms

compiled = pytest.importorskip("worker.normalize._text_passes", reason="not built (see pyproject.toml)")


def _unsure(form: str, ch: str) -> bool:
    cp = ord(ch)
    return cp >= 0x10000 or normal_forms._TABLES[form][cp] == normal_forms.UNSURE


def test_what_makes_a_character_unsure() -> None:
    for ch in ("\u0301", "\u0308", "\u0653", "\u0654"):  # marks that compose with a letter before them
        assert _unsure("NFC", ch) and _unsure("NFKC", ch)
    for ch in ("\u064b", "\u064e", "\u0651", "\u0652"):  # Arabic harakat: marks that compose with nothing
        assert not _unsure("NFC", ch) and not _unsure("NFKC", ch)
        assert normal_forms._TABLES["NFC"][ord(ch)] == unicodedata.combining(ch) > 0
    for ch in ("\u212b", "\u0344"):  # changed by NFC on its own (a singleton, an exclusion)
        assert _unsure("NFC", ch)
    for ch in ("\ufefb", "\ufdfc", "\uff21", "\u00bd"):  # compatibility forms: NFKC only
        assert _unsure("NFKC", ch) and not _unsure("NFC", ch)
    for ch in ("\u1161", "\u11a8", "\u0b3e", "\u0cd5"):  # combine with what comes before (class 0)
        assert _unsure("NFC", ch) and _unsure("NFKC", ch)
    for ch in ("a", "Z", " ", "\n", "ا", "ب", "ة", "ى", "ي", "٣", "新", "ก", "é", "가"):
        assert not _unsure("NFC", ch) and not _unsure("NFKC", ch), ch
    assert _unsure("NFC", "\U0001f600")  # outside the BMP: always the full check


_ALPHABET = st.sampled_from(
    [
        *"aAeE oOuU\nاأإآبةتيىوء٣3,.",
        "\u0301", "\u0308", "\u064e", "\u0651", "\u0653", "\u0654", "\u0655",  # marks
        "\u212b", "\u00c5", "\u00e9", "\ufefb", "\ufdfc", "\uff21",  # changed alone, precomposed
        "\u1100", "\u1161", "\u11a8", "\uac00",  # Hangul jamo and a syllable
        "\u0b47", "\u0b3e", "\u0cd5", "\u0cbf", "\u3099", "\u304b",  # vowel signs, kana voicing
        "\U0001d15e", "\U0001d165", "\U0001f600",  # outside the BMP
    ]
)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(_ALPHABET, max_size=12).map("".join))
def test_quick_answers_are_the_full_ones(s: str) -> None:
    assert normal_forms.is_nfc(s) == unicodedata.is_normalized("NFC", s), ascii(s)
    assert normal_forms.is_nfkc(s) == unicodedata.is_normalized("NFKC", s), ascii(s)
    assert normal_forms.to_nfc(s) == unicodedata.normalize("NFC", s), ascii(s)
    assert normal_forms.to_nfkc(s) == unicodedata.normalize("NFKC", s), ascii(s)


#: Marks of many classes (most compose with nothing: sure in both forms; the dagesh is unsure) and
#: precomposed letters whose decompositions end in marks (sure too: é, أ, آ, ؤ, ئ, ḕ).
_SURE_MARKS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0316\u0317\u0334\u0591\u05b0\u05bc\u0e38\u0e48"
_LETTERS = "ab\u0628\u0627\u00e9\u0623\u0622\u0624\u0626\u1e15\u1ea5\u01d6 \n"


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_SURE_MARKS + _LETTERS), max_size=16).map("".join))
def test_reordering_marks_is_the_normal_form_of_sure_text(s: str) -> None:
    assert normal_forms.to_nfc(s) == unicodedata.normalize("NFC", s), ascii(s)
    assert normal_forms.to_nfkc(s) == unicodedata.normalize("NFKC", s), ascii(s)
    ordered = compiled.reorder_marks(s, normal_forms._TABLES["NFC"])
    assert ordered is None or ordered == unicodedata.normalize("NFC", s), ascii(s)
    if not set(s) - set("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0628\u0627\u0623 \n"):
        assert ordered is not None  # Arabic letters and harakat: always the quick way


def test_every_sure_mark_after_every_sure_letter_and_mark() -> None:
    for form in ("NFC", "NFKC"):
        table = normal_forms._TABLES[form]
        sure = [chr(cp) for cp in range(0x10000) if not 0xD800 <= cp < 0xE000 and table[cp] != normal_forms.UNSURE]
        marks = [ch for ch in sure if table[ord(ch)]]
        for ch in sure:  # every sure character between two marks out of order and after one
            for s in (f"a\u0651{ch}\u064e", f"\u0628{ch}\u0651\u064e", f"{ch}\u0652\u0650"):
                assert compiled.reorder_marks(s, table) == unicodedata.normalize(form, s), (form, hex(ord(ch)))
        for m in marks:  # every sure mark against marks of other classes, both ways
            for s in (f"\u0628{m}\u0651", f"\u0628\u0651{m}", f"\u00e9{m}\u0316", f"\u0623{m}\u064e"):
                assert compiled.reorder_marks(s, table) == unicodedata.normalize(form, s), (form, hex(ord(m)))


def test_what_reorder_marks_leaves_to_unicodedata() -> None:
    table = normal_forms._TABLES["NFC"]
    assert compiled.reorder_marks("e\u0301", table) is None  # composes
    assert compiled.reorder_marks("\u212b", table) is None  # changed alone
    assert compiled.reorder_marks("\u0628\U0001d165", table) is None  # outside the BMP
    assert compiled.reorder_marks("\u0628" + "\u0651\u064e" * 32, table) is not None  # a run of 64
    assert compiled.reorder_marks("\u0628" + "\u0651\u064e" * 32 + "\u0651", table) is None  # longer
    assert compiled.reorder_marks("", table) == ""
    with pytest.raises(ValueError):
        compiled.reorder_marks("abc", b"short")
    with pytest.raises(TypeError):
        compiled.reorder_marks(b"abc", table)  # type: ignore[arg-type]


def test_every_bmp_character_after_every_kind_of_starter() -> None:
    starters = ("", "a", "A", "e", "o", "\u1100", "\uac00", "\u0627", "\u0648", "\u0b47", "\u0cbf", "\u304b", "\u00e9")
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        for before in starters:
            s = before + ch
            assert normal_forms.is_nfc(s) == unicodedata.is_normalized("NFC", s), hex(cp)
            assert normal_forms.is_nfkc(s) == unicodedata.is_normalized("NFKC", s), hex(cp)
        for around in (f"\u0628\u0651{ch}", f"\u0628\u064e{ch}\u0651", f"a\u0301{ch}\u0316", f"{ch}\u0651\u064e"):
            assert normal_forms.is_nfc(around) == unicodedata.is_normalized("NFC", around), hex(cp)
            assert normal_forms.is_nfkc(around) == unicodedata.is_normalized("NFKC", around), hex(cp)


def test_arabic_marks_in_order_are_quick_and_out_of_order_are_not() -> None:
    in_order, reordered = "\u0628\u064e\u0651", "\u0628\u0651\u064e"  # fatha (30) then shadda (33)
    assert compiled.surely_normal(in_order, normal_forms._TABLES["NFC"])
    assert not compiled.surely_normal(reordered, normal_forms._TABLES["NFC"])
    assert normal_forms.is_nfc(in_order) and not normal_forms.is_nfc(reordered)


@pytest.mark.parametrize(
    "tables",
    [
        types.SimpleNamespace(UNIDATA_VERSION="1.0.0", TABLES={"NFC": "", "NFKC": ""}),  # another Unicode
        types.SimpleNamespace(UNIDATA_VERSION=unicodedata.unidata_version, TABLES={"NFC": "zz"}),  # damaged
        types.SimpleNamespace(UNIDATA_VERSION=unicodedata.unidata_version, TABLES={"NFC": "789c0300000001"}),
        types.SimpleNamespace(),
    ],
)
def test_tables_of_another_unicode_or_damaged_are_not_used(
    monkeypatch: pytest.MonkeyPatch, tables: types.SimpleNamespace
) -> None:
    monkeypatch.setitem(sys.modules, "worker.normalize.normal_form_tables", tables)
    assert normal_forms._loaded() == {}


def test_without_tables_every_answer_is_the_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(normal_forms, "_TABLES", {})
    check = normal_forms._checker("NFC")
    assert check("abc") and not check("e\u0301") and check("\u00e9")
    assert normal_forms._normalizer("NFC")("e\u0301") == "\u00e9"


def test_surely_normal() -> None:
    table = bytearray(0x10000)
    table[ord("x")] = normal_forms.UNSURE
    table[ord("m")], table[ord("n")] = 10, 20  # two "marks"
    check = lambda s: compiled.surely_normal(s, bytes(table))  # noqa: E731
    assert check("") and check("abc قال") and check("amn") and check("amnb")
    assert not check("abxc")  # unsure
    assert not check("anm")  # marks out of order
    assert check("anbm")  # a starter between them
    assert not check("ab\U0001f600")  # outside the BMP
    with pytest.raises(ValueError):
        compiled.surely_normal("abc", b"short")
    with pytest.raises(TypeError):
        compiled.surely_normal(b"abc", bytes(table))  # type: ignore[arg-type]


def test_an_extension_without_the_quick_check_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(normal_forms, "_compiled", types.SimpleNamespace())  # built from older source
    assert normal_forms._loaded() == {}
    monkeypatch.setattr(normal_forms, "_compiled", types.SimpleNamespace(surely_normal=compiled.surely_normal))
    assert normal_forms._loaded() == {}
