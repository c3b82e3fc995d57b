"""Golden tests of the Arabic letter rules (one per rule) and their agreement with the tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.normalize import arabic

# --- one test per rule ----------------------------------------------------------------------


def test_dediacritize_removes_camel_diacritic_set() -> None:
    # fatha, damma, kasra, tanwin, shadda, sukun, superscript alef
    assert arabic.dediacritize("مُحَمَّدٌ كَتَبَ") == "محمد كتب"
    assert arabic.dediacritize("هٰذا") == "هذا"
    assert arabic.dediacritize("مطالباً بدورٍ") == "مطالبا بدور"


def test_dediacritize_keeps_hamza_marks_outside_camel_set() -> None:
    # U+0654 (hamza above) is not in CAMeL's AR_DIAC_CHARSET
    assert arabic.dediacritize("\u0627\u0654") == "\u0627\u0654"


def test_remove_tatweel() -> None:
    assert arabic.remove_tatweel("جمـــيل") == "جميل"


def test_normalize_alef_variants_to_bare_alef() -> None:
    assert arabic.normalize_alef("إسلام أحمد آمن ٱلله") == "اسلام احمد امن الله"


def test_normalize_alef_maksura_to_yeh() -> None:
    assert arabic.normalize_alef_maksura("على مستوى") == "علي مستوي"


def test_normalize_teh_marbuta_to_heh() -> None:
    assert arabic.normalize_teh_marbuta("مدرسة جميلة") == "مدرسه جميله"


def test_fold_persian_letters() -> None:
    assert arabic.fold_persian_letters("کتاب یک") == "كتاب يك"


def test_hamza_on_waw_and_ya_are_not_folded() -> None:
    folded = arabic.fold_for_match("مؤتمر رئيس")
    assert folded == "مؤتمر رئيس"


def test_definite_article_is_not_stripped() -> None:
    assert arabic.fold_for_match("الكتاب") == "الكتاب"


def test_normalize_unicode_fixes_rial_and_basmala_before_nfkc() -> None:
    assert arabic.normalize_unicode("\ufdfc") == "ريال"  # NFKC alone gives a Persian yeh
    assert arabic.normalize_unicode("\ufdfd") == "بسم الله الرحمن الرحيم"


def test_normalize_unicode_folds_presentation_forms() -> None:
    # isolated/final/initial forms and the lam-alef ligature
    assert arabic.normalize_unicode("\ufee3\ufeae\ufea3\ufe92\ufe8e") == "مرحبا"
    assert arabic.normalize_unicode("\ufefb") == "لا"


def test_normalize_unicode_leaves_english_alone() -> None:
    assert arabic.normalize_unicode("Hello, world") == "Hello, world"


def test_fold_for_match_applies_every_rule() -> None:
    assert arabic.fold_for_match("إِلَى المَدرسةِ الـكبرى یک") == "الي المدرسه الكبري يك"


# --- the fast path equals the published tables ------------------------------------------------

_ARABIC_BLOCK = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
_MIXED = st.text(alphabet=st.one_of(_ARABIC_BLOCK, st.characters()), max_size=60)


@given(_MIXED)
def test_functions_equal_translate_with_their_tables(s: str) -> None:
    assert arabic.dediacritize(s) == s.translate(arabic.DEDIAC_TABLE)
    assert arabic.normalize_alef(s) == s.translate(arabic.ALEF_TABLE)
    assert arabic.normalize_alef_maksura(s) == s.translate(arabic.ALEF_MAKSURA_TABLE)
    assert arabic.normalize_teh_marbuta(s) == s.translate(arabic.TEH_MARBUTA_TABLE)
    assert arabic.fold_for_match(s) == s.translate(arabic.MATCH_FOLD_TABLE)
    assert arabic._fold_for_match_python(s) == s.translate(arabic.MATCH_FOLD_TABLE)


# --- the compiled fold (worker/normalize/_text_passes.c) ------------------------------------------


def test_the_compiled_fold_is_what_the_key_uses() -> None:
    pytest.importorskip("worker.normalize._text_passes", reason="not built (see pyproject.toml)")
    assert arabic.fold_for_match is arabic._fold_for_match_compiled


@given(st.text(alphabet=st.one_of(_ARABIC_BLOCK, st.sampled_from("\u0640\u064e\u0651ةىإ"), st.characters()), max_size=200))
def test_the_compiled_fold_is_the_table(s: str) -> None:
    pytest.importorskip("worker.normalize._text_passes", reason="not built (see pyproject.toml)")
    assert arabic._fold_for_match_compiled(s) == s.translate(arabic.MATCH_FOLD_TABLE)


def test_the_compiled_fold_on_every_bmp_character() -> None:
    compiled = pytest.importorskip("worker.normalize._text_passes", reason="not built (see pyproject.toml)")
    everything = "".join(chr(cp) for cp in range(0x10000) if not 0xD800 <= cp < 0xE000)
    assert arabic._fold_for_match_compiled(everything) == everything.translate(arabic.MATCH_FOLD_TABLE)
    unchanged = "abc قال 新闻 \U0001f600"
    assert compiled.fold_chars(unchanged, arabic._MATCH_FOLD_IMAGE) is unchanged
    with pytest.raises(ValueError):
        compiled.fold_chars("abc", b"odd")
    with pytest.raises(TypeError):
        compiled.fold_chars(b"abc", arabic._MATCH_FOLD_IMAGE)  # type: ignore[arg-type]


def test_an_extension_without_the_fold_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arabic, "_compiled", object())  # built from older source
    assert arabic._compiled_fold() is None


def test_tables_match_camel_definitions() -> None:
    assert {chr(c) for c in arabic.DEDIAC_TABLE} == set(
        "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670"
    )
    assert {chr(c) for c in arabic.ALEF_TABLE} == set("\u0625\u0623\u0671\u0622")
    assert set(arabic.ALEF_TABLE.values()) == {"\u0627"}
    assert arabic.ALEF_MAKSURA_TABLE == {0x0649: "\u064a"}
    assert arabic.TEH_MARBUTA_TABLE == {0x0629: "\u0647"}
