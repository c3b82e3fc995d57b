"""The compiled character passes (worker/normalize/_text_passes.c) give text.py's Python passes' output.

Both are run on the same strings and compared: generated text dense in what the rules act on
(every mark, bracket and kind of space, letters and digits of several scripts, combining marks,
characters outside the BMP), every BMP character alone and around the marks, and whole
normalized articles.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.normalize import text as text_module
from worker.normalize.text import normalize_text

compiled = pytest.importorskip("worker.normalize._text_passes", reason="not built (see pyproject.toml)")

PAIRS = {
    "may_break": (compiled.may_break, text_module._may_break_python),
    "collapse_lines": (compiled.collapse_lines, text_module._collapsed_python),
    "fix_spacing": (compiled.fix_spacing, text_module._fix_spacing_python),
    "cp1256_key": (text_module._key_cp1256_compiled, text_module._key_cp1256_python),
    "unusual": (text_module._unusual_compiled, text_module._unusual_python),
}


def test_the_compiled_passes_are_what_normalize_uses() -> None:
    # scripts/setup.sh installs what the build needs: a test machine without the module has a
    # broken build, which pip reports only as a warning (the extension is optional)
    assert text_module.COMPILED
    assert text_module._fix_spacing is compiled.fix_spacing
    assert text_module._collapsed is compiled.collapse_lines
    assert text_module._key_cp1256 is text_module._key_cp1256_compiled
    assert text_module._unusual is text_module._unusual_compiled
    assert text_module._may_break is compiled.may_break


def _same(name: str, s: str) -> None:
    native, python = PAIRS[name]
    assert native(s) == python(s), (name, s)


#: What the rules look at: their marks, brackets, every kind of space and line break, word
#: characters of several kinds (letters, decimal digits of two scripts, "_", a digit that is not
#: decimal, a combining mark) and characters of each storage width.
_PIECES = st.sampled_from(
    [
        " ", "  ", "\n", "\r\n", "\t", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2003", "\u2028", "\u3000",
        "،", "؛", "؟", ",", ".", ":", "(", ")", "[", "]", "{", "}", "_", "²", "\u0651", "\u200f",
        "a", "Z", "é", "ß", "5", "٣", "سوريا", "وأعلن", "ا", "ي", "\u0640", "ۀ", "新闻", "ก", "𝐀", "\U0001f600",
        "ڤ", "پ", "«", "»", "…", "œ", "™", "!", "?", '"', "'", "”", "’", "“", "ab.", "قال.",
        # the comma rule's token (a slash in it), its two letters before, unspaced letters
        "/", ".", "ab,", ",cd", "北京,", "ก,ข", "http://x.y/", "DW/AÜ,TY", "राहुल,", ".co", ".De",
    ]
)  # fmt: skip


@st.composite
def _texts(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(_PIECES, max_size=80)))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts())
def test_generated_text_gives_the_same_output_both_ways(s: str) -> None:
    for name in PAIRS:
        _same(name, s)
    # as _paragraphs and _clean_title call them: on collapsed text
    _same("fix_spacing", text_module._collapsed_python(s))
    _same("fix_spacing", " ".join(s.split()))
    _same("cp1256_key", " ".join(s.split()))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_the_same_output_both_ways(s: str) -> None:
    for name in PAIRS:
        _same(name, s)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts())
def test_the_breaks_prefilter_passes_every_text_with_a_break(s: str) -> None:
    # `_paragraphs` skips `_BREAK_RE` where `_may_break` says no: that must never hide a break
    for text in (s, text_module._fix_spacing_python(text_module._collapsed_python(s))):
        if text_module._BREAK_RE.search(text):
            assert text_module._may_break_python(text), text
            assert compiled.may_break(text), text


def test_the_breaks_prefilter_says_no_to_plain_sentence_ends() -> None:
    # what nearly every real article looks like: each sentence ends in a space or a line break
    for text in ("قال الوزير. وأضاف أن 3.5 مليون!\nثم ماذا؟ انتهى.", "He said. Then: 2.5 m!\nWhy? \"End.\"", ""):
        assert not compiled.may_break(text)
        assert not text_module._may_break_python(text)
    for text in ("سوريا.وأعلن", 'end."next', "word.» , next", "U.S.,Japan", "a.(b"):
        assert compiled.may_break(text), text
        assert text_module._may_break_python(text), text


def test_every_bmp_character_alone_and_beside_the_marks() -> None:
    native, python = PAIRS["cp1256_key"]
    unusual_native, unusual_python = PAIRS["unusual"]
    for cp in range(0x10000):
        ch = chr(cp)
        assert native(ch) == python(ch), hex(cp)
        assert native(f"a{ch}b {ch}") == python(f"a{ch}b {ch}"), hex(cp)
        assert unusual_native(f"a{ch}") == unusual_python(f"a{ch}"), hex(cp)
    for cp in (0x10000, 0x1F600, 0x10FFFF):  # outside the BMP: never in the class
        assert unusual_native(chr(cp)) == unusual_python(chr(cp)) == set()
    for cp in range(0, 0x10000, 7):  # the spacing rules' character classes, sampled densely
        ch = chr(cp)
        for around in (f",{ch}", f"a,{ch}", f"{ch},a", f"،{ch}", f"؛{ch}", f"س:{ch}", f"{ch}:س", f" ,{ch}", f" .{ch}"):
            _same("fix_spacing", around)
        _same("collapse_lines", f" a{ch}{ch}b {ch}\n{ch}")
    for cp in range(0x10000):  # every character after a sentence end, its closers and spaces
        ch = chr(cp)
        for around in (f"ab.{ch}", f"ab؟»){ch}", f"ab! \t{ch}", f"ab.{ch},", f"{ch}.x"):
            _same("may_break", around)


def test_edges() -> None:
    for s in ("", " ", "\n", "\n\n", " \n ", "a", ",", " ,", " .", "( ", " )", "،", "a,b", "س:س", "(  )", " ، "):
        for name in PAIRS:
            _same(name, s)


def test_bad_arguments_raise_not_crash() -> None:
    with pytest.raises(TypeError):
        compiled.collapse_lines(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compiled.fix_spacing(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compiled.may_break(b"a.b")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compiled.cp1256_key("abc", b"short")
    with pytest.raises(ValueError):
        compiled.chars_in("abc", b"short")


def test_normalized_articles_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    articles = [
        ("عنوان", "قال المبعوث ، إن الوضع( صعب ) .وأضاف:الأمر مهم،وأعلن سوريا.وأعلن\n\nفقرة ثانية , تامة ."),
        (None, "Breaking news\nParis,London talks . The end ( really ) ,\n\n\u00a0 second  paragraph"),
        ("新闻", "今天，苹果公司发布了新手机。 第二段 , 结束 ."),
    ]
    with_c = [normalize_text(title=t, text=b, html=None) for t, b in articles]
    monkeypatch.setattr(text_module, "_collapsed", text_module._collapsed_python)
    monkeypatch.setattr(text_module, "_fix_spacing", text_module._fix_spacing_python)
    monkeypatch.setattr(text_module, "_key_cp1256", text_module._key_cp1256_python)
    monkeypatch.setattr(text_module, "_unusual", text_module._unusual_python)
    monkeypatch.setattr(text_module, "_may_break", text_module._may_break_python)
    in_python = [normalize_text(title=t, text=b, html=None) for t, b in articles]
    assert with_c == in_python


def test_a_disagreeing_extension_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stale:
        collapse_lines = staticmethod(compiled.collapse_lines)
        cp1256_key = staticmethod(compiled.cp1256_key)
        chars_in = staticmethod(compiled.chars_in)
        may_break = staticmethod(compiled.may_break)

        @staticmethod
        def fix_spacing(s: str) -> str:  # a rule missing, as in an extension built from older source
            return s

    monkeypatch.setattr(text_module, "_compiled", Stale)
    assert not text_module._compiled_agrees()


def test_an_extension_without_a_pass_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    class Older:  # built from a source before the breaks' prefilter
        collapse_lines = staticmethod(compiled.collapse_lines)
        fix_spacing = staticmethod(compiled.fix_spacing)
        cp1256_key = staticmethod(compiled.cp1256_key)
        chars_in = staticmethod(compiled.chars_in)

    monkeypatch.setattr(text_module, "_compiled", Older)
    assert not text_module._compiled_agrees()
