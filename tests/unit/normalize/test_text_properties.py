"""Property tests of normalization: never raises, idempotent, linear-time on adversarial input."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from worker.dedup import fingerprint
from worker.normalize import boilerplate, html_text, timestamps, urls
from worker.normalize import text as normalize
from worker.normalize.text import match_key, normalize_text

# Text that exercises the rules: Arabic letters and marks, presentation forms, punctuation of
# both scripts, invisible characters, mojibake material, entities, newlines, plus anything.
_INTERESTING = (
    "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئىةـ"
    "\u064b\u064e\u064f\u0650\u0651\u0652\u0670\u0653\u0654"
    "\ufefb\ufe8e\ufdfc\ufdfd\ufe70"
    "٠١٢۳۴ی ک"
    ".,،؛؟!?:;\"'«»()[]…-"
    "\u200b\u200c\u200d\u200e\u200f\u202b\ufeff\u00ad\x00\x85\u2028\r\n\t \u00a0"
    "ÃØÙâ€§„©"
    "&#;amp"
    "aAzZé\u0301ßİ"
)
_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(_INTERESTING), st.characters()),
    max_size=300,
)
# Sentence-shaped text: words of both scripts glued to the punctuation the paragraph rules
# act on, so that splits, title detection and spacing rules meet each other.
_PIECES = st.sampled_from(
    ["سوريا", "وأعلن", "د", "ab", "The", "talks", "U", "S", "etc", "2254", "٣", ".", ",", "،", "؛",
     "؟", "!", "?", ":", '"', "'", "«", "»", "(", ")", "[", "]", " ", " ", "\n", "\n\n", "...",
     "…", "\u200c", "ـ", "Ã", "©", "&amp;", "\u0301", "é", "www", "com", "/", "@", "ا", "ل"]
)  # fmt: skip
_SENTENCES = st.lists(_PIECES, max_size=60).map("".join)
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _renormalized(out: normalize.NormalizedText) -> normalize.NormalizedText:
    return normalize_text(title=out.title, text=out.text, html=None)


@_SETTINGS
@given(title=st.one_of(st.none(), _TEXT), text=_TEXT)
@example(title=None, text="سوريا.وأعلن")
@example(title=None, text="عنوان\n\nنص., ثم")
@example(title=None, text="&amp;lt;p&amp;gt;")
@example(title=None, text="ط§ظ„ط¹ط±ط¨ظٹط©")
@example(title="x", text="x\n\nx\n\nx")
@example(title=None, text="aÄ¡\r\n\n\t  افتتح وزير الثقافة معرض الكتاب. ")  # ftfy verdict depends on context
@example(title=None, text=" Ã Ã…")  # ... and on a leading space
@example(title=None, text="القاهرة - (رويترز) - نص الخبر, اقرأ أيضا: عنوان\n\nتابعونا على فيسبوك")  # chrome
def test_normalize_text_never_raises_and_is_idempotent(title: str | None, text: str) -> None:
    out = normalize_text(title=title, text=text, html=None)
    assert normalize.W_FAILED not in out.warnings
    assert out.text == "\n\n".join(out.paragraphs)
    assert all(p and p == p.strip() and "\n" not in p for p in out.paragraphs)
    assert out.title is None or (out.title and "\n" not in out.title)
    body_key = match_key(boilerplate.story_text(out.paragraphs))
    told = boilerplate.story_of(out.paragraphs) is not None
    if out.title is None or told or body_key.startswith(match_key(out.title)):  # (or it repeats the title)
        assert out.match_key == body_key
    else:  # a body that tells no story: the title's key, then the body's
        assert out.match_key == " ".join(k for k in (match_key(out.title), body_key) if k)
    assert normalize.word_count(out.paragraphs) == len(out.text.split())
    again = _renormalized(out)
    assert (again.title, again.paragraphs, again.match_key) == (out.title, out.paragraphs, out.match_key)


@_SETTINGS
@given(title=st.one_of(st.none(), _SENTENCES), text=_SENTENCES)
def test_sentence_shaped_text_is_idempotent(title: str | None, text: str) -> None:
    out = normalize_text(title=title, text=text, html=None)
    assert normalize.word_count(out.paragraphs) == len(out.text.split())
    again = _renormalized(out)
    assert (again.title, again.paragraphs, again.match_key) == (out.title, out.paragraphs, out.match_key)


@_SETTINGS
@given(_TEXT)
def test_match_key_is_idempotent_and_canonical(text: str) -> None:
    key = match_key(text)
    assert match_key(key) == key
    assert key == " ".join(key.split())
    assert key == key.casefold() or match_key(key.casefold()) == key


@_SETTINGS
@given(st.text(alphabet=st.sampled_from("ab \n\t\u00a0\u2009\r\x1c\u3000"), max_size=40))
def test_lines_fast_path_equals_the_rule(text: str) -> None:
    expected = [" ".join(line.split()) for line in text.split("\n") if line.split()]
    assert normalize._lines(text) == expected


_CP1256 = [bytes([b]).decode("cp1256") for b in range(256)]


@_SETTINGS
@given(st.text(alphabet=st.sampled_from(_CP1256), max_size=200))
@example("Hello WORLD, «قَالَ» إلى المدرسة\u200c… ١٢")
def test_key_table_equals_the_key_rules(text: str) -> None:
    # The windows-1256 table is a shortcut of the character rules, never a rule of its own.
    nfkc = unicodedata.normalize("NFKC", text)
    if normalize._key_cp1256(nfkc) is not None:
        assert normalize._key_cp1256(nfkc) == normalize._join_tokens(normalize._key_chars(nfkc))


def test_key_table_equals_the_key_rules_on_every_pair() -> None:
    for a in _CP1256:
        for b in _CP1256:
            nfkc = unicodedata.normalize("NFKC", a + b)
            fast = normalize._key_cp1256(nfkc)
            assert fast is None or fast == normalize._join_tokens(normalize._key_chars(nfkc)), (a, b)


def test_keys_made_by_the_table_are_nfkc() -> None:
    # What match_key relies on to skip its NFKC check: the table's images of the characters
    # that can occur in NFKC text are starters, and no two of them compose.
    images = {
        bytes([normalize._CP1256_KEY_TABLE[b]]).decode("cp1256")
        for b, ch in enumerate(_CP1256)
        if b not in normalize._CP1256_KEY_DELETE and unicodedata.is_normalized("NFKC", ch)
    }
    assert all(unicodedata.combining(c) == 0 for c in images)
    assert all(unicodedata.is_normalized("NFKC", a + b) for a in images for b in images)


@_SETTINGS
@given(st.text(max_size=300))
def test_html_input_never_raises_and_is_idempotent(html: str) -> None:
    out = normalize_text(title=None, text=None, html=f"<article><p>{html}</p></article>")
    assert normalize.W_FAILED not in out.warnings
    again = _renormalized(out)
    assert (again.title, again.paragraphs, again.match_key) == (out.title, out.paragraphs, out.match_key)


# --- bounded regex time -----------------------------------------------------------------------

_N = 40_000


def _adversarial_inputs() -> dict[str, str]:
    """Long inputs built to make backtracking patterns blow up, were there any."""
    return {
        "dots": "." * _N,
        "glued_dots": "ا." * (_N // 2),
        "comma_joined": "ب., " * (_N // 4),
        "spaces_then_comma": " " * _N + ",",
        "arabic_commas": "،" * _N,
        "entities": "&amp;" * (_N // 5),
        "broken_entities": "&#" * (_N // 2),
        "cp1256_pairs": "ط§" * (_N // 2),
        "cp1256_broken": "طط§" * (_N // 3),
        "latin_mojibake": "Ã©" * (_N // 2),
        "zwnj": "\u200c \u200c" * (_N // 3),
        "closers": '".' * (_N // 2) + "x",
        "letters": "ا" * _N,
        "latin_glued": "ab.Cd" * (_N // 5),
        "colons": "ا:" * (_N // 2),
        "brackets": "( " * (_N // 2),
        "newlines": "\n" * _N,
        "entity_marks": "ب" + "&#x64e;&#x651;" * (_N // 14),
        # syndication chrome (worker/normalize/boilerplate.py): labels, datelines, run-in footers
        "link_labels": "اقرأ أيضاً:\n" * (_N // 11),
        "datelines": "القاهرة (رويترز) - " * (_N // 19),
        "open_brackets": "بيروت (" * (_N // 7),
        "run_in_chrome": "نص, تابعونا على فيسبوك" * (_N // 22),
        "credits": "(رويترز)\n" * (_N // 9),
        "marks": "ب" + "\u064e\u0651" * (_N // 2),
    }


def _elapsed(fn: Callable[[str], object], arg: str) -> float:
    start = time.process_time()
    fn(arg)
    return time.process_time() - start


@pytest.mark.parametrize("name", sorted(_adversarial_inputs()))
def test_normalize_is_linear_on_adversarial_input(name: str) -> None:
    text = _adversarial_inputs()[name]

    def run(s: str) -> object:
        return normalize_text(title=s[:500], text=s, html=None)

    small = min(_elapsed(run, text[: len(text) // 4]) for _ in range(3))
    large = min(_elapsed(run, text) for _ in range(3))
    # 4x the input: linear code takes ~4x; quadratic would take ~16x. Generous margins for a
    # loaded CI machine; the absolute bound catches anything slow at this size.
    assert large < 10 * small + 0.05, (name, small, large)
    assert large < 2.0, (name, large)


def _module_patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for module in (normalize, boilerplate, html_text, urls, timestamps, fingerprint):
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                found.append((f"{module.__name__}.{attr}", value))
    return found


@pytest.mark.parametrize(("name", "pattern"), _module_patterns(), ids=[n for n, _ in _module_patterns()])
def test_every_regex_is_linear_on_its_own_characters(name: str, pattern: re.Pattern[str]) -> None:
    # Adversarial text made of the pattern's own literal characters, repeated: the usual way
    # to trigger catastrophic backtracking.
    alphabet = sorted({c for c in pattern.pattern if not c.isspace()})[:40] or ["x"]
    unit = "".join(alphabet) + " "
    small_text = (unit * (5_000 // len(unit) + 1))[:5_000]
    large_text = (unit * (40_000 // len(unit) + 1))[:40_000]
    for text in (small_text, "".join(alphabet[:2]) * 2_500):
        assert _elapsed(pattern.findall, text) < 0.5, name
    # 8x the text: linear is 8x the time, quadratic 64x. The bound sits between them with room for
    # a noisy machine (CPU time, best of five: another process's load does not count).
    small = min(_elapsed(pattern.findall, small_text) for _ in range(5))
    large = min(_elapsed(pattern.findall, large_text) for _ in range(5))
    assert large < 24 * small + 0.05, (name, small, large)


def test_a_typical_article_stays_on_the_hot_path_budget() -> None:
    # ~2,300 characters of Arabic news (built here, not copied): ~150 µs on the project's
    # machine (docs/NORMALIZATION.md). The bound is 10x that, to catch a pattern that falls off
    # the fast path (e.g. one that starts with a look-behind) without flaking on a loaded CI.
    sentence = "وأعلن رئيس الوفد، في ختام الاجتماع، حصول المعارضة على تعهد بوقف القصف وفك الحصار."
    text = "\n\n".join(" ".join([sentence] * 3) for _ in range(10))
    best = min(
        _elapsed(lambda s: normalize_text(title="عنوان الخبر", text=s, html=None), text) for _ in range(20)
    )
    assert best < 0.0015, best
