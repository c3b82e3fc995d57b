"""The normalize stage: any shape of an article -> readable text + an aggressive match key.

Raw articles arrive as plain text with sentences glued together (``سوريا.وأعلن``), as
paragraphs joined by ``", "`` like a printed list, with the title repeated, as HTML pages, with
entities, invisible marks, presentation forms, tatweel and mojibake. ``normalize_text`` turns
every shape of one article into the same two outputs:

1. **Readable text** (``title``, ``paragraphs``, ``text``) for people and downstream consumers:
   meaning-bearing letters and diacritics stay; only junk, layout accidents and compatibility
   spellings are fixed.
2. **Match key** (``match_key``) for fingerprints: lossy on purpose (case, diacritics, letter
   variants, digits, punctuation folded), built from the body only and without syndication
   chrome (``worker/normalize/boilerplate.py``: dateline, "read also" lines, footers), so that two shapes
   of one article give near-identical keys.

Every rule, why it exists and an example is listed in ``docs/NORMALIZATION.md``; each rule has
a named golden test in ``tests/unit/test_normalize.py``. Guarantees, checked by property tests:
``normalize_text`` never raises on any ``str`` input; it is idempotent (normalizing
``(title, text)`` of its own output gives the same output); every regular expression here is
linear-time (character classes and bounded look-arounds only, no nested quantifiers).

Speed (hot path, ~2,500 articles/s on 2 cores with everything else): regexes are precompiled
and guarded by cheap membership tests, per-character tables are applied with ``str.replace``
chains rather than ``str.translate`` (see ``worker/normalize/arabic.py``), the match key of text that fits
the Arabic code page is one ``bytes.translate`` with a table derived from its rules (see
``_key_cp1256``), and ftfy runs only on text that shows mojibake byte patterns. Measured numbers
are in ``docs/NORMALIZATION.md``.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import msgspec

from worker.normalize import arabic, boilerplate
from worker.normalize.char_classes import CLASSES
from worker.normalize.chinese import UNSPACED_RANGES, fold_chinese
from worker.normalize.html_text import ANY_TAG_RE
from worker.normalize.html_text import extract as extract_html
from worker.normalize.normal_forms import is_nfc, is_nfkc, to_nfc, to_nfkc

try:  # the character passes in C (worker/normalize/_text_passes.c), where it was built
    from worker.normalize import _text_passes as _compiled
except ImportError:  # no compiler or headers where this was installed: the same passes in Python
    _compiled = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Public result
# ---------------------------------------------------------------------------------------------


class NormalizedText(msgspec.Struct, frozen=True):
    """One article's readable text and match key."""

    #: Readable title (from the title field, the HTML headline, or the first short line).
    title: str | None
    #: Readable body paragraphs: title not included, not repeated at the end.
    paragraphs: tuple[str, ...]
    #: ``"\n\n".join(paragraphs)``.
    text: str
    #: Aggressive lossy key of the body (title and syndication chrome excluded): tokens
    #: separated by single spaces.
    match_key: str
    #: Non-fatal notes, e.g. ``"mojibake_repaired"``.
    warnings: tuple[str, ...]


def word_count(paragraphs: tuple[str, ...]) -> int:
    """``len("\n\n".join(paragraphs).split())`` of normalized paragraphs, without a string per
    word (~1 µs instead of ~20 on an article): their words are separated by single spaces, with
    none at a paragraph's edges and no other whitespace (`_lines` collapses every kind, the
    spacing rules keep it so; property-tested)."""
    return sum(p.count(" ") for p in paragraphs) + len(paragraphs)


#: Tags of HTML's common elements, opening or closing (``<p>``, ``</a>``, ``<br/>``, ``<a href=...>``):
#: two or more in a `text` field make it an HTML fragment. A "<" in prose (``x < y``, ``<<``)
#: is no tag: the name must follow it at once and be one of these.
_HTML_TAG_RE: Final = re.compile(
    r"</?(?:p|br|div|span|a|b|i|u|em|strong|small|ul|ol|li|dl|dt|dd|h[1-6]|blockquote|q|cite|"
    r"figure|figcaption|img|picture|source|video|audio|iframe|table|thead|tbody|tr|td|th|section|"
    r"article|aside|header|footer|nav|main|hr|pre|code|sup|sub|script|style|noscript)"
    r"(?:\s[^<>]{0,2000})?/?>",
    re.IGNORECASE,
)


#: Elements whose bare tag marks up on its own (a line break, a rule, an image).
_VOID_TAGS: Final = frozenset(("br", "hr", "img"))


def _is_html_fragment(text: str) -> bool:
    """Does `text` hold HTML markup: two tags of common elements or more, one of them closing
    (``</p>``), self-closing (``<br/>``), with attributes (``<a href=...>``) or a line break,
    rule or image? Prose that names tags (``inject <script> tags into <div> content``, ``the
    <b> element``) opens them and closes none (scheme v14). A scan for "<" only, in text without
    it (most articles)."""
    if "<" not in text:
        return False
    markup = False
    for tags, m in enumerate(_HTML_TAG_RE.finditer(text), 1):
        if not markup:
            tag = m.group()
            inner = tag[1:-1]
            markup = tag[1] == "/" or tag[-2] == "/" or not inner.isalnum() or inner.lower() in _VOID_TAGS
        if markup and tags >= 2:
            return True
    return False


#: Words an unclosed raw-text element may hide and the fragment still be read as HTML.
_FEW_HIDDEN_WORDS: Final = 3
#: Elements whose text HTML reads raw up to their closing tag, and a comment: one opened in a
#: `text` field and never closed (prose naming ``<style>``, a cut fragment) hides the rest of it.
_RAW_OPEN_RE: Final = re.compile(
    r"<(script|style|textarea|title|xmp|noscript|iframe|noembed|noframes|template)\b[^<>]*>|<!--",
    re.IGNORECASE,
)


def _reads_as_html(fragment: str) -> bool:
    """Does reading a `text` field as HTML keep its text: is every script, style, comment (or
    other raw-text element) it opens closed after it, or followed by a few words at most (an
    embed's ``<script async src=...>`` left open at the end, ``<!-- ad slot``)? What the reading
    then leaves out is markup and page furniture (a related-links block, a share bar), as for
    any page. Linear: each kind's last closing tag is found once, the rest after an unclosed
    opening read once."""
    lower = fragment.lower()
    last_close: dict[str, int] = {}
    for m in _RAW_OPEN_RE.finditer(fragment):
        closer = "-->" if m.group(1) is None else "</" + m.group(1).lower()
        if closer not in last_close:
            last_close[closer] = lower.rfind(closer)
        if last_close[closer] < m.end():
            hidden = len(ANY_TAG_RE.sub(" ", fragment[m.end() :]).split())
            return hidden <= _FEW_HIDDEN_WORDS
    return True


# Warning codes (stable strings: dashboards and tests use them).
W_MOJIBAKE: Final = "mojibake_repaired"
W_HTML: Final = "html_extracted"
W_HTML_FLATTENED: Final = "html_too_deep_flattened"
#: The page showed no text; the article is its JSON-LD ``articleBody`` (with "html_extracted").
W_HTML_JSON_LD: Final = "html_json_ld_body"
#: The `text` field held HTML markup and was read as an HTML fragment (with "html_extracted").
W_HTML_IN_TEXT: Final = "html_in_text"
W_TITLE_REPEAT: Final = "title_repeated_in_body_removed"
W_FAILED: Final = "normalization_failed"
W_MARKS_CAPPED: Final = "combining_marks_capped"
#: The text arrived JSON-escaped a second time (``\u0627``, ``\n``, ``\"`` as characters) and was
#: decoded (scheme v15).
W_JSON_ESCAPES: Final = "json_escapes_decoded"
#: Every code above (a metric's label values: worker/service/metrics.py).
WARNING_CODES: Final = (
    W_MOJIBAKE, W_HTML, W_HTML_FLATTENED, W_HTML_JSON_LD, W_HTML_IN_TEXT,
    W_TITLE_REPEAT, W_FAILED, W_MARKS_CAPPED, W_JSON_ESCAPES,
)


@dataclass(slots=True)
class _Notes:
    """What the rules noticed while normalizing one article."""

    warnings: list[str]
    #: The text showed mojibake patterns. ftfy's verdict depends on context (what surrounds a
    #: run, spaces), so such an article is normalized again from its own output until nothing
    #: changes: normalization stays idempotent, and only these rare articles pay for it.
    suspicious: bool = False

    def warn(self, code: str) -> None:
        if code not in self.warnings:
            self.warnings.append(code)


# ---------------------------------------------------------------------------------------------
# Character-level cleanup (readable text)
# ---------------------------------------------------------------------------------------------

#: Mojibake of UTF-8 read as windows-1256 (``العربية`` -> ``ط§ظ„ط¹ط±ط¨ظٹط©``): every Arabic
#: letter becomes ``ط``/``ظ`` (lead bytes D8/D9) plus a character of the 0x80-0xBF half.
#: Three such pairs in a row never occur in real Arabic; ftfy does not handle this encoding.
#: ``§`` (from alef) and ``„`` (from lam) are in almost every damaged word and never in real
#: Arabic words, so they gate the (slower) pattern search.
_CP1256_HIGH: Final = bytes(range(0x80, 0x100)).decode("cp1256")
_CP1256_CONT: Final = bytes(range(0x80, 0xC0)).decode("cp1256")
_CP1256_MARKERS: Final = frozenset("\u00a7\u201e")
_CP1256_MOJIBAKE_RE: Final = re.compile(f"(?:[\u0637\u0638][{re.escape(_CP1256_CONT)}]){{3}}")
_CP1256_RUN_RE: Final = re.compile(f"[{re.escape(_CP1256_HIGH)}]{{2,}}")
#: What a repaired run may hold (scheme v15): Latin-1 and Latin Extended, the Arabic blocks,
#: general punctuation and the euro sign.
_CP1256_REPAIRED_RE: Final = re.compile(
    "[\u0080-\u024f\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\u2000-\u206f\u20ac\ufb50-\ufdff\ufe70-\ufeff]+"
)
#: Blank lines of an HTML fragment sent as text.
_BLANK_LINES_RE: Final = re.compile(r"\n[ \t\r]*\n\s*")
#: A UTF-8 lead byte followed by a continuation byte, both read as latin-1/cp1252
#: (``Ã©``, ``Ø§``, ``â€™``): the pattern ftfy repairs. Only text showing it is given to ftfy.
_LATIN_LEADS: Final = frozenset(chr(c) for c in range(0xC2, 0xF5))
_LATIN_MOJIBAKE_RE: Final = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
#: A run of characters that latin-1/cp1252 mojibake is made of (one line at most). ftfy is
#: given each run on its own: its verdict on a whole text depends on the rest of the text (it
#: refuses text that also holds Arabic), and a verdict that depends on context would make the
#: title, repaired alone, differ from the same line repaired inside the body.
_CP1252_RUN_RE: Final = re.compile(
    "[\t -~\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]+"
)
_HSPACE_RE: Final = re.compile(r"[^\S\n\r\x0b\x0c\x85\u2028\u2029]+")
#: Character references with their semicolon (bare ``&copy`` in running text is too often a
#: URL parameter to decode).
_ENTITY_RE: Final = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});")
#: An ampersand escaped once or more (``&amp;``, ``&AMP;``, ``&#38;``, ``&#x26;`` after an
#: ``&``): what `_ENTITY_RE`'s passes reduce to one ``&``, one level a pass (a 1 MB chain took
#: a minute). The entities among `_ENTITY_RE`'s that unescape to ``&``.
_AMP_CHAIN_RE: Final = re.compile(r"&(?:(?:amp|AMP|#0{0,6}38|#[xX]0{0,6}26);)+")
#: Line breaks other than ``\n``.
_NEWLINES: Final = ("\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")
_NEWLINE_CHARS: Final = frozenset("\r\u2028\u2029\x85\x0b\x0c")
#: Invisible junk: C0/C1 controls (not tab/newline), soft hyphen, Arabic letter mark, Mongolian
#: vowel separator, zero-width space, LRM/RLM, bidi embeddings/overrides/isolates, word joiner
#: and invisible operators, deprecated format characters, BOM, interlinear annotations,
#: noncharacters, lone surrogates (they cannot be encoded), and tatweel.
_JUNK_CLASS: Final = (
    "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ufffe\uffff"
    # the surrogates by chr(): mypyc cannot compile a surrogate in a literal (bench/compiled_probe.py)
    f"{chr(0xD800)}-{chr(0xDFFF)}\u0640"
)
_JUNK_RE: Final = re.compile(f"[{_JUNK_CLASS}]+")
#: Longest run of combining marks kept (the decoder rejects longer raw runs; these arrive spelled
#: as entities or through mojibake repair). NFC sorts each run with an insertion sort, so a
#: 40,000-mark run costs seconds; no writing system stacks more than a few marks, and Unicode's
#: stream-safe format allows 30.
MAX_COMBINING_RUN: Final = 32


def _class(ranges: list[tuple[int, int]]) -> str:
    """A regular-expression class body (without brackets) for ``ranges``."""
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


#: The BMP classes the rules below need (worker/normalize/char_classes.py: generated, not derived
#: at every process start).
_BMP: Final = CLASSES
_COMBINING_CLASS: Final = _class(_BMP["combining"])
_MARK_RUN_RE: Final = re.compile(f"[{_COMBINING_CLASS}]{{{MAX_COMBINING_RUN + 1},}}")
#: ZWNJ/ZWJ carry meaning between two letters (Persian ``می‌خواهم``, emoji sequences, Indic
#: conjuncts), and after Malayalam's virama at a word's end (a chillu as written before Unicode
#: 5.1: ``അവന്‍``, "he"; without it, ``അവന്``, "to him": scheme v16); anywhere else they are
#: junk. Runs collapse to one.
_ZW: Final = frozenset("\u200c\u200d")
_ZW_EDGE_RE: Final = re.compile(r"(?<!\S)[\u200c\u200d]+|(?<!\u0d4d)[\u200c\u200d]+(?!\S)")
_ZW_RUN_RE: Final = re.compile(r"([\u200c\u200d])[\u200c\u200d]+")


def _compat_ranges() -> list[tuple[int, int]]:
    return [
        (0xFB00, 0xFB06),  # Latin ligatures ﬁ ﬂ
        (0xFB13, 0xFB17),  # Armenian ligatures
        (0xFB1D, 0xFB4F),  # Hebrew presentation forms
        (0xFB50, 0xFDFF),  # Arabic presentation forms-A (incl. ﷲ ﷺ ﷼ ﷽)
        (0xFE70, 0xFEFC),  # Arabic presentation forms-B (isolated/initial/final forms, ﻻ)
        (0xFF10, 0xFF19),  # fullwidth digits
        (0xFF21, 0xFF3A),  # fullwidth Latin capitals
        (0xFF41, 0xFF5A),  # fullwidth Latin small letters
        (0xFF61, 0xFFDC),  # halfwidth CJK punctuation, katakana, Hangul
        (0xFFE8, 0xFFEE),  # halfwidth forms
    ]


def _compat_table() -> dict[str, str]:
    # NFKC where it is safe: presentation forms, ligatures and width variants only. NFKC on
    # everything would also flatten x² to x2, ½ to 1⁄2, and the fullwidth punctuation that is
    # correct CJK typography; the match key, which may lose anything, does take full NFKC.
    table: dict[str, str] = {}
    for lo, hi in _compat_ranges():
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            folded = arabic.normalize_unicode(ch)
            if folded != ch:
                table[ch] = folded
    return table


_COMPAT: Final = _compat_table()
_COMPAT_RE: Final = re.compile("[" + "".join(sorted(_COMPAT)) + "]")
#: Every character that one of the character rules acts on (a superset is harmless).
_UNUSUAL_RE: Final = re.compile(
    f"[{_JUNK_CLASS}\r\x0b\x0c\x85\u2028\u2029\u00a7\u201e\u00c2-\u00f4"
    + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _compat_ranges())
    + "]"
)


def _unusual_python(s: str) -> set[str]:
    """The characters of `s` some character rule acts on."""
    return set(_UNUSUAL_RE.findall(s))


#: ``_unusual_python``, compiled where it agrees (below).
_unusual: Callable[[str], set[str]] = _unusual_python


def _repair_cp1256(s: str) -> str:
    def fix(m: re.Match[str]) -> str:
        run = m.group()
        try:
            fixed = run.encode("cp1256").decode("utf-8")
        except UnicodeError:
            return run
        # Arabic, Latin or punctuation read as windows-1256 is what the repair is for; a run
        # that decodes to anything else was right as it was: correct Persian (``شک`` is two
        # windows-1256 bytes that happen to be UTF-8 for ``Ԙ``) in a text with some mojibake.
        return fixed if _CP1256_REPAIRED_RE.fullmatch(fixed) else run

    return _CP1256_RUN_RE.sub(fix, s)


def _fix_cp1252_run(m: re.Match[str]) -> str:
    run = m.group()
    if _LATIN_MOJIBAKE_RE.search(run) is None:
        return run
    import ftfy  # ~100 ms to import; only text showing mojibake needs it

    return ftfy.fix_encoding(run)


def _has_mojibake(s: str) -> bool:
    if _LATIN_MOJIBAKE_RE.search(s):
        return True
    return ("\u00a7" in s or "\u201e" in s) and _CP1256_MOJIBAKE_RE.search(s) is not None


def _repair_mojibake(s: str, notes: _Notes) -> str:
    fixed = s
    if ("\u00a7" in fixed or "\u201e" in fixed) and _CP1256_MOJIBAKE_RE.search(fixed):
        fixed = _repair_cp1256(fixed)
    if _LATIN_MOJIBAKE_RE.search(fixed):
        fixed = _CP1252_RUN_RE.sub(_fix_cp1252_run, fixed)
    if fixed != s:
        notes.warn(W_MOJIBAKE)
    return fixed


#: Passes of entity decoding at most: feeds escape twice, three times at worst.
MAX_ENTITY_PASSES: Final = 4


def _unescape(m: re.Match[str]) -> str:
    return html_lib.unescape(m.group())


def _cap_mark_runs(s: str, notes: _Notes | None) -> str:
    """Cut runs of combining marks to ``MAX_COMBINING_RUN`` (keeps normalization linear)."""
    if _MARK_RUN_RE.search(s) is None:
        return s
    if notes is not None:
        notes.warn(W_MARKS_CAPPED)
    return _MARK_RUN_RE.sub(lambda m: m.group()[:MAX_COMBINING_RUN], s)


def _clean_pass(s: str, notes: _Notes) -> tuple[str, bool]:
    """One pass of the character rules; also says whether another pass could change more."""
    if "&" in s:
        # Towards a fixed point: feeds double-escape (``&amp;quot;``). A chain of escaped
        # ampersands (``&amp;amp;amp;...``), which a pass peels one level of, goes in one step
        # (`_AMP_CHAIN_RE`). Entities built of entities (``&&#108;t;`` is ``&lt;``, and so on
        # down) take a pass per level, each over the whole text: passes stop at
        # `MAX_ENTITY_PASSES` (scheme v15; a 1 MB text of them took about an hour), and deeper
        # nesting, which no feed writes, stays as it is.
        for _ in range(MAX_ENTITY_PASSES):
            unescaped = _ENTITY_RE.sub(_unescape, _AMP_CHAIN_RE.sub("&", s))
            if unescaped == s:
                break
            s = unescaped
    # One scan finds every character some rule below acts on; clean text (most articles)
    # then costs this scan and the NFC check only.
    unusual = _unusual(s)
    maybe_mojibake = not unusual.isdisjoint(_LATIN_LEADS) or not unusual.isdisjoint(_CP1256_MARKERS)
    clean_of_mojibake: str | None = None  # `s` as `_has_mojibake` last found it: clean
    if unusual:
        repaired = False
        if maybe_mojibake and not _has_mojibake(s):
            clean_of_mojibake = s
        elif maybe_mojibake:
            notes.suspicious = True
            # Spaces as the later rules leave them (single, plain): ftfy reads a space after
            # "Ã" as a lost NBSP byte, so its verdict must not depend on which space it was.
            s = _HSPACE_RE.sub(" ", s)
            s = _repair_mojibake(s, notes)
            repaired = True
        if not unusual.isdisjoint(_NEWLINE_CHARS):
            for nl in _NEWLINES:
                if nl in s:
                    s = s.replace(nl, "\n")
        if repaired:
            s = _JUNK_RE.sub("", s)
        else:
            # The scan above found every junk character there is (usually tatweel alone): a
            # replace per character is what the pattern would do, without a second scan.
            for ch in unusual:
                if _JUNK_RE.match(ch):
                    s = s.replace(ch, "")
        if not unusual.isdisjoint(_COMPAT):
            s = _COMPAT_RE.sub(lambda m: _COMPAT[m.group()], s)
            s = _JUNK_RE.sub("", s)  # a presentation-form tatweel (U+FE71 etc.) folds to U+0640
    unstable = False
    if not s.isascii():
        if not is_nfc(s):
            s = _cap_mark_runs(s, notes)
            s = to_nfc(s)
            unstable = True  # composition can create a mojibake lead (A + U+0303 -> Ã)
        if "\u200c" in s or "\u200d" in s:
            s = _ZW_EDGE_RE.sub("", s)
            s = _ZW_RUN_RE.sub(r"\1", s)
    # Removing junk can bring mojibake bytes together that were apart (``Î\x1f¡``), and ftfy
    # may have declined a run: either way the text still looks broken, and another pass (and
    # another round from the output, see ``_normalize``) is worth its cost.
    # (Unless nothing changed since the first look: most text, where that look found none.)
    if maybe_mojibake and s != clean_of_mojibake and _has_mojibake(s):
        notes.suspicious = True
        unstable = True
    return s, unstable


#: Passes of the character rules at most (each further pass runs only while one could still
#: change the text; real text needs one, contrived mojibake two).
_MAX_PASSES: Final = 4


def _clean_chars(s: str, notes: _Notes) -> str:
    """Character-level cleanup to a fixed point; keeps line structure (``\\n``)."""
    s, unstable = _clean_pass(s, notes)
    for _ in range(_MAX_PASSES - 1):
        if not unstable:
            break
        again, unstable = _clean_pass(s, notes)
        if again == s:
            break
        s = again
    return s


# ---------------------------------------------------------------------------------------------
# Punctuation spacing and paragraph structure (readable text)
# ---------------------------------------------------------------------------------------------

# These rules run on collapsed lines (single spaces, stripped), so most are plain
# ``str.replace`` calls. The patterns start with a literal where they can: the regex engine then
# jumps between occurrences of it instead of trying the pattern at every position (a pattern
# that starts with a look-behind or a space costs ~20-60 µs on a 2,000-character article, this
# way ~1 µs).

#: No space before Arabic comma, semicolon, question mark: ``سوريا ، وأعلن`` -> ``سوريا، وأعلن``.
_SPACE_BEFORE: Final = ((" ،", "،"), (" ؛", "؛"), (" ؟", "؟"))
#: No space before a comma or period that ends a word: ``word , next`` -> ``word, next``
#: (``.NET`` after a space is left alone).
_SPACE_BEFORE_COMMA_RE: Final = re.compile(r" ,(?=\s|$)")
_SPACE_BEFORE_PERIOD_RE: Final = re.compile(r" \.(?=\s|$)")
#: No space inside brackets: ``( نص )`` -> ``(نص)``.
_SPACE_IN_BRACKETS: Final = (("( ", "("), ("[ ", "["), ("{ ", "{"), (" )", ")"), (" ]", "]"), (" }", "}"))
#: A space after an Arabic comma/semicolon glued to the next word: ``قال،وأضاف`` -> ``قال، وأضاف``.
_SPACE_AFTER_AR_COMMA_RE: Final = re.compile(r"،(?=\w)")
_SPACE_AFTER_AR_SEMICOLON_RE: Final = re.compile(r"؛(?=\w)")
#: A space after a comma glued between two letters: ``Paris,London`` -> ``Paris, London``
#: (never between digits: ``1,000``). Scheme v17: not after a one-letter word
#: (``N,N-dimethylformamide``; ``5G,LTE`` and ``राहुल,सोनिया`` are spaced), never beside a script
#: written without spaces (``北京,上海``), nor in a token with a slash and a URL's period
#: (``example.com/news,sport``; an agency's credit, ``DW/AÜ,TY.``, is spaced: `_spaced_commas`):
#: a review's findings.
_SPACED_LETTER: Final = r"[^\W\d_" + "".join(f"{chr(a)}-{chr(b)}" for a, b in UNSPACED_RANGES) + "]"
_SPACE_AFTER_COMMA_RE: Final = re.compile(f",(?<=\\S{_SPACED_LETTER},)(?={_SPACED_LETTER})")
#: A URL's period: before two lowercase ASCII letters or digits (``example.com``), not a
#: sentence's (``dpa.Die``, glued: a break the next pass would not see; ``i.e.``).
_INNER_PERIOD_RE: Final = re.compile(r"\.[a-z0-9]{2}")
#: A token (between white space) with a comma in it, each token tried once from its start.
_COMMA_TOKEN_RE: Final = re.compile(r"(?<!\S)[^\s,]*,\S*")
#: A space after a colon glued between Arabic letters: ``مستورا:وقف`` -> ``مستورا: وقف``.
_SPACE_AFTER_AR_COLON_RE: Final = re.compile(r":(?<=[\u0621-\u064a]:)(?=[\u0621-\u064a])")

#: Sentence ends that may start a new paragraph: a terminator after a word, closing quotes, then
#: either ``", "`` (the list-joined shape) before a non-space, or the next sentence glued on
#: (a letter). The pattern already skips ``3.5``, ``...`` and one-letter abbreviations, so
#: hostile input (``ا.ا.ا.``) does not call the callback; the callback decides the rest
#: (``example.com``, ``U.S., Japan``) from the words around it.
_CLOSERS: Final = "\"'”’»)]"
_OPENERS: Final = '"“«('
_BREAK_RE: Final = re.compile(
    r"[.!?؟]"
    # after a word of 2+ characters, or a word and a closing quote (checked after the
    # terminator: a pattern that starts with a look-behind is tried at every position)
    r"(?<=[^\W_][^\W_][.!?؟]|[^\W_][\"'”’»)\]][.!?؟])"
    r"[\"'”’»)\]]*"
    # ", " + anything, or a letter. The comma is never the first of two: ``,,`` is a low
    # opening quote typed as two commas (``Dudy. ,,2020``), not the list's comma.
    r"(?:(?P<sep>[ \t]*,(?!,)[ \t]*)(?=\S)|(?=[\"“«(]?[^\W\d_]))"
)
#: Latin letter names as Arabic news spells acronyms (``سي.آي.إيه`` CIA, ``إتش.آر`` H.R.): a
#: period after one of them is inside an acronym, never a sentence end.
ARABIC_LETTER_NAMES: Final = frozenset(
    [
        "إيه", "ايه", "أيه", "بي", "سي", "دي", "إي", "اي", "إف", "اف", "جي", "إتش", "اتش", "آي", "جيه",
        "كيه", "إل", "ال", "إم", "ام", "إن", "ان", "أو", "او", "كيو", "آر", "ار", "إس", "اس", "تي",
        "يو", "في", "دبليو", "إكس", "اكس", "واي", "زد", "زي",
    ]
)  # fmt: skip
#: Domain endings spelled in Arabic (``العربية.نت``, ``بيت.كوم``).
ARABIC_TLDS: Final = frozenset(["نت", "كوم", "أورج", "اورج", "أورغ", "اورغ", "إنفو", "انفو"])
_LONGEST_TLD: Final = max(map(len, ARABIC_TLDS))
#: Punctuation that may end the word after a glued terminator.
_TOKEN_TAIL: Final = ".,،;؛:!?؟…" + _CLOSERS
#: Longest word looked at before a terminator (abbreviation check).
_WORD_LOOKBACK: Final = 24


def _is_arabic_letter(ch: str) -> bool:
    return "\u0621" <= ch <= "\u064a" or "\u0671" <= ch <= "\u06d3" or ch in "\u06d5\u06fa\u06fb"


class _NextIndex:
    """``s.find(ch, start)`` for starts that only grow (the matches of one `re.sub`), in linear
    time over all of them: a find that found nothing before `start`'s answer needs no new scan.
    Without it a text with no space (``ab!ab!...``, 1 MB: ~20 s) scanned its rest per match."""

    __slots__ = ("ch", "found", "s", "start")

    def __init__(self, s: str, ch: str) -> None:
        self.s, self.ch, self.start, self.found = s, ch, len(s) + 1, -1

    def __call__(self, start: int) -> int:
        """The first index >= `start` of the character, or -1."""
        if not (self.start <= start and (self.found < 0 or start <= self.found)):
            self.start, self.found = start, self.s.find(self.ch, start)
        return self.found


class _SentenceBreaks:
    """`_sentence_break` for one text: the token after a glued terminator (up to the next space)
    looked at through `_NextIndex`es, never copied whole (a text without spaces is one token)."""

    __slots__ = ("dot", "line_tail", "newline", "s", "slash", "space", "tail")

    def __init__(self, s: str) -> None:
        self.s = s
        self.space, self.dot, self.slash = _NextIndex(s, " "), _NextIndex(s, "."), _NextIndex(s, "/")
        self.newline = _NextIndex(s, "\n")
        self.tail = (-1, -1)  # (a token's end, where the punctuation it ends with begins)
        self.line_tail = (-1, -1)  # the same for the token's part on its line

    def bare_line_end(self, start: int, end: int) -> int:
        """`bare_end` for a token's part on its line (a cache of its own: the two alternate)."""
        if self.line_tail[0] != end:
            self.line_tail = (end, _tail_start(self.s, end))
        return max(start, self.line_tail[1])

    def line_end(self, start: int, token_end: int) -> int:
        """Where the token starting at `start` (ending at `token_end`) ends within its line."""
        newline = self.newline(start)
        return token_end if newline < 0 else min(newline, token_end)

    def __call__(self, m: re.Match[str]) -> str:
        return _sentence_break(m, self)

    def bare_end(self, start: int, end: int) -> int:
        """Where ``s[start:end].rstrip(_TOKEN_TAIL)`` ends, each token's tail scanned once."""
        if self.tail[0] != end:
            self.tail = (end, _tail_start(self.s, end))
        return max(start, self.tail[1])


def _tail_start(s: str, end: int) -> int:
    """Where the run of `_TOKEN_TAIL` punctuation that ends at `end` begins."""
    while end > 0 and s[end - 1] in _TOKEN_TAIL:
        end -= 1
    return end


#: Abbreviations a comma follows in a sentence (``Microsoft Corp., Alphabet``, ``Calif.,``,
#: ``et al.,``, ``млрд руб., что``, ``bzw., Österreichs``): no paragraph break of the ", " list
#: rule after them. Those of one letter (any script), or of up to three Latin ones and a capital
#: (``Inc.,``, ``U.S.,``), are not listed: the rule keeps them already. No word of a language
#: is listed (``mio``, ``род`` were, for a review to find them ending sentences). Scheme v16
#: added the Cyrillic, German and Greek ones (a review found ``руб.,`` splitting a sentence,
#: its comma eaten).
_ABBREVIATIONS: Final = frozenset(
    {
        "corp", "bros", "assn", "dept", "univ", "govt", "intl", "mfg", "natl", "al", "etc", "vs",
        "calif", "conn", "mass", "mich", "minn", "penn", "tenn", "wash", "wis", "wisc", "ariz",
        "colo", "okla", "nebr", "kans", "mont", "oreg", "ore", "nev", "fla", "ill", "ind",
        "prof", "capt", "supt", "sgt", "gov", "sen", "rep", "gen", "col", "lt", "cmdr", "adm",
        "jan", "feb", "mar", "apr", "aug", "sept", "oct", "nov", "dec", "approx", "incl", "ltd",
        # Russian, Ukrainian, Bulgarian: money, counts, units, places, "and others", "years"
        "руб", "коп", "долл", "грн", "тыс", "млн", "млрд", "трлн", "лв", "гг", "вв", "др",
        "пр", "обл", "чел", "ул", "пл", "просп", "стр", "ст", "кв", "км", "кг", "см", "мин",
        "сек", "ед", "экз", "проц", "гр", "тис",
        # German, French, Spanish, Portuguese, Italian
        "bzw", "usw", "vgl", "ca", "evtl", "ggf", "inkl", "zzgl", "bzgl", "sog", "bspw", "mrd",
        "tsd", "env", "aprox", "pág", "págs", "núm", "tel", "ecc",
        # scheme v17: Polish (per cent, point, thousand, hour, "so-called", "e.g.", saint),
        # French months, Italian and Spanish titles, Turkish "see", Dutch "e.g.", references
        # (pages, ibid.); a review found ``15,3 proc.), Luksemburgu`` split, its comma eaten.
        # Not those written without a period (Polish ``zł``, ``mld``, ``nr``, ``dr``), nor words
        # (``im``, ``sig``, ``vol``, ``ul``): a review of the first version found them ending
        # sentences
        "proc", "pkt", "tys", "godz", "tzw", "np", "św", "janv", "févr", "avr", "juil", "déc",
        "dott", "avda", "bkz", "bijv", "pp", "ibid",
        # Greek: "and so on", kilometres, million, billion
        "κλπ", "λπ", "χλμ", "εκατ", "δισ",
    }
)  # fmt: skip


#: What follows an ordinal in a list: another one (``18., 19.``).
_ORDINAL_NEXT_RE: Final = re.compile(r"\d{1,2}\.")
#: Abbreviations written glued to the name they precede (``vs.Manchester``, ``prof.Nowak``,
#: ``ul.Piotrkowskiej``): a title, "versus", a street. The glued rule (``talks.The``) does not
#: break after them; the list's others may end a sentence (``ill.The``, ``mass.The``), and so
#: may ``rep``, ``gen``, ``sen`` (Turkish "you"), ``im`` (Polish "them"): a review.
_NAME_ABBREVIATIONS: Final = frozenset({"vs", "prof", "dr", "ul", "dott", "avda", "św"})
#: A Roman numeral of capitals (a regnal or ordinal number: ``Ludwig XVIII.,``).
_ROMAN_RE: Final = re.compile(r"M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")


#: Latin letters, accented and extended (``Cía.,``, ``Dña.,``) end before here; past it
#: (Cyrillic's ``США.,``) a capitalized short word is no abbreviation.
_LATIN_END: Final = "\u0250"


def _sentence_break(m: re.Match[str], scan: _SentenceBreaks) -> str:
    s = m.string
    i = m.start()
    end = m.end()
    term = s[i]
    # Ellipsis ("...", "…", "?!") is a pause inside a sentence, not an end.
    if i > 0 and s[i - 1] in ".…!?؟":
        return m.group()
    if end < len(s) and s[end] in ".…":
        return m.group()
    j = i
    while j > 0 and s[j - 1] in _CLOSERS:
        j -= 1
    k = j
    while k > 0 and j - k < _WORD_LOOKBACK and s[k - 1].isalnum():
        k -= 1
    word = s[k:j]
    if not word:
        return m.group()
    nxt = end
    if nxt < len(s) and s[nxt] in _OPENERS:
        nxt += 1
    if nxt >= len(s):
        return m.group()
    first = s[nxt]
    if m.group("sep"):
        # "..., " joined list: a break after a period, unless it looks like an abbreviation
        # in Latin text ("U.S., Japan", "Inc., ", "etc., and"). Not after "?" or "!":
        # ``"Is it over?", he asked`` is one sentence. (The Arabic comma never joins
        # paragraphs: ``"...؟"، مضيفا`` is how Arabic attributes a quote.)
        # Nor before a lowercase letter of a cased script (``руб., что``, ``..., état``: scheme
        # v16; Georgian's letters are lowercase to Unicode but its text has no capitals), nor
        # after a one-letter word of any script or a listed abbreviation. A short capitalized
        # word is an abbreviation in Latin text only (``U.S.,``): ``США.,`` ends a sentence.
        if term != "." or (first.islower() and not "\u10d0" <= first <= "\u10ff"):
            return m.group()
        if (
            len(word) == 1
            or (len(word) <= 3 and word[0].isupper() and max(word) < _LATIN_END)
            or word.lower() in _ABBREVIATIONS
            # ordinals in a list (``aus dem 18., 19. und 20. Jahrhundert``, ``Ludwig XVIII.,
            # Karl X.``: German, Turkish): a number of one or two digits before another and its
            # period (``in 2019., 2020 was`` ends a sentence), a regnal number
            or (len(word) <= 2 and word.isdecimal() and _ORDINAL_NEXT_RE.match(s, nxt) is not None)
            or _ROMAN_RE.fullmatch(word) is not None
        ):
            return m.group()
    else:
        # Glued "سوريا.وأعلن": a paragraph break lost by a scraper. Never inside a dotted chain,
        # host name or path (``سي.آي.إيه``, ``www.Example.Com``, ``a/b.Cd``).
        if k > 0 and s[k - 1] in "./@:\\":
            return m.group()
        token_end = scan.space(nxt)
        token_end = token_end if token_end >= 0 else len(s)
        bare_end = scan.bare_end(nxt, token_end)  # less its trailing punctuation
        if -1 < scan.dot(nxt) < bare_end or -1 < scan.slash(nxt) < bare_end:
            return m.group()
        if _is_arabic_letter(first):
            # Never after a one-letter abbreviation (``د.محمد``) or a Latin letter spelled in
            # Arabic (``إتش.آر``, ``بي.تي``), nor before a domain ending (``العربية.نت``,
            # ``بيت.كوم``) or a short word that ends at punctuation (a brand, not a sentence).
            letter_name = word in ARABIC_LETTER_NAMES or (
                word[0] == "و" and word[1:] in ARABIC_LETTER_NAMES  # "وسي.جيه": and C.J.
            )
            # the ending is a word of its own line too (``بيت.كوم`` at a line's end: the token
            # runs on into the next line, whose first word hid it; scheme v17). Only here: the
            # other tests keep the token to the next space, which a break they make inserts
            # nowhere, so that the output normalizes to itself.
            line_end = scan.line_end(nxt, token_end)
            tld = any(
                end - nxt <= _LONGEST_TLD and s[nxt:end] in ARABIC_TLDS
                for end in {bare_end, scan.bare_line_end(nxt, line_end)}
            )
            if len(word) < 2 or letter_name or tld:
                return m.group()
            if bare_end - nxt <= 2 and bare_end != token_end:
                return m.group()
        elif first.isascii() and first.isupper():
            # Latin: only "lowercase word.Capitalized" (``talks.The``), never ``U.S.A``, nor
            # after an abbreviation (``vs.Manchester``, ``ul.Piotrkowskiej``: a review's finding).
            after = s[nxt + 1 : nxt + 2]
            if not (word.isalpha() and word.islower() and len(word) >= 2 and after.islower()):
                return m.group()
            if word in _NAME_ABBREVIATIONS:
                return m.group()
        else:
            return m.group()
    closers = m.group()[1:]
    if m.group("sep"):
        closers = closers[: len(closers) - len(m.group("sep"))]
    return term + closers + "\n"


def _spaced_commas(s: str) -> str:
    """`_SPACE_AFTER_COMMA_RE`'s spaces, but in no token with a slash and a period."""
    if "/" not in s or _INNER_PERIOD_RE.search(s) is None:
        return _SPACE_AFTER_COMMA_RE.sub(", ", s)  # one pass, as before scheme v17
    if _SPACE_AFTER_COMMA_RE.search(s) is None:
        return s  # tokens are looked at only where a comma would be spaced
    return _COMMA_TOKEN_RE.sub(_spaced_commas_of_token, s)


def _spaced_commas_of_token(m: re.Match[str]) -> str:
    token = m.group()
    if "/" in token and _INNER_PERIOD_RE.search(token) is not None:
        return token
    return _SPACE_AFTER_COMMA_RE.sub(", ", token)


def _fix_spacing_python(s: str) -> str:
    """Punctuation spacing on collapsed lines (no double spaces, no spaces at line edges)."""
    # A one-character ``in`` is a memchr; a two-character one costs ~2 µs here, so the rarer
    # character is looked for first.
    if " " in s:
        for old, new in _SPACE_BEFORE:
            if old[1] in s and old in s:
                s = s.replace(old, new)
        if "," in s and " ," in s:
            s = _SPACE_BEFORE_COMMA_RE.sub(",", s)
        if "." in s and " ." in s:
            s = _SPACE_BEFORE_PERIOD_RE.sub(".", s)
        for old, new in _SPACE_IN_BRACKETS:
            bracket = old.strip()
            while bracket in s and old in s:
                s = s.replace(old, new)
    if "،" in s:
        s = _SPACE_AFTER_AR_COMMA_RE.sub("، ", s)
    if "؛" in s:
        s = _SPACE_AFTER_AR_SEMICOLON_RE.sub("؛ ", s)
    if "," in s:
        s = _spaced_commas(s)
    if ":" in s:
        s = _SPACE_AFTER_AR_COLON_RE.sub(": ", s)
    return s


#: Whitespace other than the space and ``\n`` (tab, NBSP, the Unicode spaces and line breaks;
#: all are in the BMP).
_OTHER_SPACE_RE: Final = re.compile(f"[{_class(_BMP['space'])}]")


def _lines(s: str) -> list[str]:
    """Non-empty lines with whitespace collapsed (any Unicode space, tabs, runs)."""
    # Fast path: plain single spaces inside the lines only (most clean text) are collapsed already.
    if "  " not in s and _OTHER_SPACE_RE.search(s) is None:
        lines = s.split("\n")
        for line in lines:
            if line[:1] == " " or line[-1:] == " ":
                break
        else:
            return [line for line in lines if line]
    out = []
    for line in s.split("\n"):
        words = line.split()
        if words:
            out.append(" ".join(words))
    return out


def _collapsed_python(s: str) -> str:
    """``_lines``, joined by ``"\n"``."""
    return "\n".join(_lines(s))


#: ``_collapsed_python`` and ``_fix_spacing_python``, compiled where they agree (below).
_collapsed: Callable[[str], str] = _collapsed_python
_fix_spacing: Callable[[str], str] = _fix_spacing_python


#: Where `_BREAK_RE` may match: a terminator, the closers after it (all of them), then a comma
#: (after spaces or tabs) or a character that is neither a space, a tab, a line break, a
#: decimal digit nor another terminator. Every match of `_BREAK_RE` starts with one of these,
#: and ~96 in 100 real articles have none (their sentences end in a space or a line break).
_MAY_BREAK_RE: Final = re.compile(r"[.!?؟][\"'”’»)\]]*+(?:[ \t]*,|[^ \t\n\d.!?؟])")


def _may_break_python(s: str) -> bool:
    return _MAY_BREAK_RE.search(s) is not None


#: `_may_break_python`, compiled where it agrees (below): one pass over the text's characters
#: where the regex engine tries its first class at each (~12 µs on a real article, ~1 compiled).
_may_break: Callable[[str], bool] = _may_break_python


def _paragraphs(body: str) -> list[str]:
    text = _collapsed(body)
    text = _fix_spacing(text)
    if _may_break(text):
        text = _BREAK_RE.sub(_SentenceBreaks(text), text)
    # Lines are already collapsed and stripped: the spacing rules never leave a space at a line
    # edge, and a break consumes the separator around it.
    return [line for line in text.split("\n") if line]


_CDATA_OPEN: Final = "<![CDATA["
_CDATA_CLOSE: Final = "]]>"


def _unwrap_cdata(s: str) -> str:
    """`s` with its CDATA sections' wrappers removed (an XML feed's, left by a reader that did
    not unwrap them). Linear: a regex would try every opening of a text full of them (a
    million characters of ``<![CDATA[`` took minutes)."""
    out: list[str] = []
    at = 0
    while (start := s.find(_CDATA_OPEN, at)) != -1:
        end = s.find(_CDATA_CLOSE, start + len(_CDATA_OPEN))
        if end == -1:
            break
        out += (s[at:start], s[start + len(_CDATA_OPEN) : end])
        at = end + len(_CDATA_CLOSE)
    return "".join(out) + s[at:] if out else s


def _clean_title(title: str, notes: _Notes) -> str | None:
    cleaned = " ".join(_clean_chars(title, notes).split())
    if "<" in cleaned:
        # An RSS title with its CDATA wrapper or inline markup (``<b>Breaking</b>: ...``),
        # escaped or not (entities are decoded by now): the words, not the tags.
        cleaned = _unwrap_cdata(cleaned)
        if _HTML_TAG_RE.search(cleaned):
            cleaned = " ".join(extract_html(cleaned, whole=True).text.split())
    cleaned = _fix_spacing(cleaned)
    cleaned = " ".join(cleaned.split())
    return cleaned or None


# ---------------------------------------------------------------------------------------------
# Title detection and repeats
# ---------------------------------------------------------------------------------------------

#: A first line longer than this is a paragraph, not a headline.
TITLE_MAX_CHARS: Final = 200
TITLE_MAX_WORDS: Final = 30
#: A first line that ends like a sentence or a clause is body text. Question and exclamation
#: marks count too: a paragraph the sentence rules split off ends with one, and must not become
#: the title (``اليوم؟أجاب`` is two sentences, not a headline and its body).
#: Every script's, not only the Latin and Arabic ones: a Chinese or Japanese paragraph ends with
#: ``。`` (or ``，！？；：、``, full width), Hindi with ``।``, Urdu with ``۔``, Burmese with ``။``,
#: Khmer with ``។``, Armenian with ``։``, Amharic with ``።``, Tibetan with ``།`` (Unicode's
#: Terminal_Punctuation, less the marks that also sit inside names, like the middle dot). Without
#: them the first sentence of every untitled Chinese article was taken for its title, and so left
#: out of the match key (scheme v8).
_NOT_TITLE_ENDINGS: Final = (
    ".", ",", "،", ";", "؛", ":", "…", "!", "?", "؟",
    "。", "，", "、", "；", "：", "！", "？", "．", "｡", "､",  # CJK, full and half width
    "\u0964", "\u0965",  # Devanagari danda, double danda (Hindi, Marathi, Nepali, Sanskrit)
    "\u06d4",  # Arabic full stop (Urdu, Sindhi)
    "\u104a", "\u104b",  # Myanmar little section, section
    "\u17d4", "\u17d5",  # Khmer khan, bariyoosan
    "\u0589",  # Armenian full stop
    "\u1362", "\u1363", "\u1364", "\u1367",  # Ethiopic full stop, comma, semicolon, question
    "\u0f0d", "\u0f0e",  # Tibetan shad, nyis shad
    "\u1803", "\u1809",  # Mongolian full stop, Manchu full stop
    "\u0df4",  # Sinhala kunddaliya
)  # fmt: skip
#: ``|`` typed for the danda, as on many Hindi sites, ends a sentence after a letter of the Indic
#: scripts (scheme v16: an untitled follow-up's new lead ending in it was taken for a title, and
#: the follow-up an exact duplicate); after Latin (``Rate decision |``, a site's name cut away)
#: it is a headline's.
_INDIC: Final = ("\u0900", "\u0dff")
#: Closing quotes and brackets a sentence may end inside (``“……。”``, ``「……。」``), German,
#: Czech and Bulgarian ``„…“`` and ``‚…‘``, Danish ``»…«`` among them (scheme v16: an untitled
#: article opening with a quote ending ``.“`` had the quote taken for its title, out of the key).
_TITLE_CLOSERS: Final = _CLOSERS + "“‘«‹›」』）】》〉〕〗＂＇"


def _looks_like_title(p: str) -> bool:
    if len(p) > TITLE_MAX_CHARS or p.count(" ") >= TITLE_MAX_WORDS:
        return False
    bare = p.rstrip(_TITLE_CLOSERS)
    if bare.endswith(_NOT_TITLE_ENDINGS):
        return False
    if bare.endswith("|"):
        letter = next((c for c in reversed(bare[:-1]) if c.isalpha()), "")  # past quotes, digits
        if _INDIC[0] <= letter <= _INDIC[1]:
            return False
    return any(c.isalpha() for c in p)


def _drop_title_repeats(title: str, paragraphs: list[str], notes: _Notes) -> list[str]:
    """Remove the title where the body repeats it: first or last paragraph(s), or the tail of
    the last paragraph after its final sentence. The body always keeps one paragraph."""
    # Only paragraphs of about the title's length can repeat it; the title's key is computed
    # only when one does (most articles never pay for it).
    shortest, longest = len(title) // 2 - 8, 2 * len(title) + 16
    title_key: str | None = None

    def repeats_title(p: str) -> bool:
        nonlocal title_key
        if not shortest <= len(p) <= longest:
            return False
        if p == title:
            return True
        if title_key is None:
            title_key = match_key(title)
        return bool(title_key) and match_key(p) == title_key

    if not paragraphs:
        return paragraphs
    # indices, not pops from the front: a body of thousands of title lines stays linear
    first, end = 0, len(paragraphs)
    last: str | None = None  # the last paragraph, once its tail lost a repeat
    # To a fixed point, or normalizing the output again would remove more: a tail cut can leave
    # the title as the last paragraph (``P`` / ``T. T.``), whose own repeats then go too.
    while True:
        while end - first > 1 and repeats_title(paragraphs[first]):
            first += 1
        while end - first > 1 and repeats_title(paragraphs[end - 1] if last is None else last):
            end -= 1
            last = None
        cut = _tail_without_title(paragraphs[end - 1] if last is None else last, title)
        if cut is None:
            break
        last = cut
    removed = (first, end) != (0, len(paragraphs)) or last is not None
    if removed:
        paragraphs = paragraphs[first:end]
        if last is not None:
            paragraphs[-1] = last
        notes.warn(W_TITLE_REPEAT)
    return paragraphs


def _tail_without_title(last: str, title: str) -> str | None:
    """``last`` without the title it repeats after its final sentence (``… ends. Title``), as
    many times as it does; None when it does not. Indices, not slices: linear in the repeats."""
    if title.count(" ") < 2:
        return None
    size, cut = len(title), len(last)
    while cut > size and last.startswith(title, cut - size):
        head = cut - size
        while head > 0 and last[head - 1].isspace():
            head -= 1
        if head == cut - size or last[head] != " ":  # the title does not start a word
            break
        end = head
        while end > 0 and last[end - 1] in _CLOSERS:
            end -= 1
        if end == 0 or last[end - 1] not in ".!?؟":  # not after a sentence's end
            break
        cut = head
    return last[:cut] if cut < len(last) else None


# ---------------------------------------------------------------------------------------------
# Match key
# ---------------------------------------------------------------------------------------------

#: Invisible format characters (the common Cf of news text): removed, so they join rather
#: than split a word (``می‌خواهم`` -> ``میخواهم``). Rarer Cf characters end up as separators.
_FORMAT_CLASS: Final = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
_FORMAT_RE: Final = re.compile(f"[{_FORMAT_CLASS}]+")
#: Malayalam's chillu letters: atomic since Unicode 5.1 (U+0D7A-U+0D7F, U+0D54-U+0D56), written
#: before as the consonant, a virama and a ZWJ (still on many sites), and as the consonant and
#: virama once a CMS strips zero-width characters. The key writes all three the last way, the
#: ZWJ dropped with the other format characters (scheme v16: a copy in another spelling was
#: missed). The key merges ``അവൻ`` "he" with ``അവന്`` "to him", as it merges other forms: a
#: word's spelling, not its grammar, is what tells copies apart.
_CHILLU_TABLE: Final = {
    ord(chillu): consonant + "\u0d4d"
    for chillu, consonant in zip("ൺൻർൽൾൿൔൕൖ", "ണനരലളകമയഴ", strict=True)
}
_CHILLUS: Final = frozenset(chr(c) for c in _CHILLU_TABLE)
#: Decimal digits of every script but ASCII (``٢٠١٨``, ``۲۰۱۸``, ``२०१८``), BMP.
_NON_ASCII_DIGITS: Final = _class(_BMP["digit"])
_NON_ASCII_DIGIT_RE: Final = re.compile(f"[{_NON_ASCII_DIGITS}]")
#: One scan tells whether any of the rules above has work to do.
_KEY_UNUSUAL_RE: Final = re.compile(f"[{_FORMAT_CLASS}{_NON_ASCII_DIGITS}{''.join(sorted(_CHILLUS))}]")
_DIGIT_SET: Final = frozenset(chr(c) for a, b in _BMP["digit"] for c in range(a, b + 1))
#: The punctuation and symbols of ordinary news text, replaced by a space with ``str.replace``
#: (fast); anything rarer is caught by ``_TOKEN_RE`` below.
_COMMON_PUNCT: Final = tuple("،.\":()-«»؟!,؛/%*#_'[]{}…–—“”‘’„;?+=&@<>|\\~^`$•·©®™°×÷")


#: A token: letters, digits and combining marks (so vowel signs of Indic scripts, or Arabic
#: marks outside CAMeL's diacritic set, do not shred words).
_TOKEN_RE: Final = re.compile(f"(?:[^\\W_]|[{_class(_BMP['mark'])}])+")


def _digit(m: re.Match[str]) -> str:
    return str(unicodedata.decimal(m.group()))


def _key_chars(s: str) -> str:
    """The character rules of the key after NFKC, in order: case folded (NFKC again if folding
    broke it), invisible format characters dropped, digits of every script to ASCII, Arabic letters
    folded, common punctuation to spaces. Expects NFKC text."""
    s = s.casefold()
    if not is_nfkc(s):
        s = to_nfkc(s)
    if not s.isascii():
        unusual = set(_KEY_UNUSUAL_RE.findall(s))
        if unusual:
            if not unusual.isdisjoint(_CHILLUS):
                s = s.translate(_CHILLU_TABLE)
            s = _FORMAT_RE.sub("", s)
            if not unusual.isdisjoint(_DIGIT_SET):
                s = _NON_ASCII_DIGIT_RE.sub(_digit, s)
        # Diacritics go before punctuation turns into spaces: a mark is not a word character,
        # so a vocalised word would otherwise be cut at every mark.
        s = arabic.fold_for_match(s)
    for p in _COMMON_PUNCT:
        if p in s:
            s = s.replace(p, " ")
    return s


def _join_tokens(s: str) -> str:
    """The tokens of ``s`` (runs of letters, digits and combining marks) joined by single spaces."""
    tokens = s.split()
    # Fast path: only letters and digits are left between the spaces. Otherwise (rare symbols,
    # combining marks of other scripts) the token pattern decides.
    if not "".join(tokens).isalnum():
        tokens = _TOKEN_RE.findall(" ".join(tokens))
    return " ".join(tokens)


def _is_token_char(ch: str) -> bool:
    return _TOKEN_RE.fullmatch(ch) is not None


#: Arabic news text nearly always fits windows-1256, the Arabic code page, where each character is
#: one byte. There ``_key_chars`` and the tokenizing of ``_join_tokens`` act on each character on
#: its own (NFKC text of this repertoire has nothing left to compose or reorder after case
#: folding), so for such text they are one ``bytes.translate``: this table is built by running
#: ``_key_chars`` on each of the 256 characters (a character that becomes a separator maps to a
#: space, one that vanishes is deleted). ~20 µs instead of ~60 µs on a 1,400-character key.
_KEY_CODEC: Final = "cp1256"


def _cp1256_key_table() -> tuple[bytes, bytes]:
    table, delete = bytearray(range(256)), bytearray()
    for byte in range(256):
        ch = bytes([byte]).decode(_KEY_CODEC)
        out = _key_chars(arabic.normalize_unicode(ch))
        if not out:
            delete.append(byte)
        elif not any(map(_is_token_char, out)):
            table[byte] = ord(" ")
        elif len(out) == 1 and len(encoded := out.encode(_KEY_CODEC, "ignore")) == 1:
            table[byte] = encoded[0]
        elif unicodedata.is_normalized("NFKC", ch):
            raise RuntimeError(f"match key: {ch!r} has no one-byte image in {_KEY_CODEC}")
        # else it becomes several characters (``½`` -> ``1⁄2``): it never occurs in NFKC text.
    return bytes(table), bytes(delete)


_CP1256_KEY_TABLE, _CP1256_KEY_DELETE = _cp1256_key_table()


def _key_cp1256_python(s: str) -> str | None:
    """``_join_tokens(_key_chars(s))`` by one table for NFKC text that fits windows-1256, else
    ``None``."""
    try:
        raw = s.encode(_KEY_CODEC)
    except UnicodeEncodeError:
        return None
    return b" ".join(raw.translate(_CP1256_KEY_TABLE, _CP1256_KEY_DELETE).split()).decode(_KEY_CODEC)


#: What the compiled ``_key_cp1256`` reads: per BMP code point (two bytes, little-endian), the
#: character ``_key_cp1256_python`` makes of it, or one of these (never a windows-1256 character).
_IMAGE_NONE: Final = 0xFFFF  # not in windows-1256: the text has no key by this table
_IMAGE_DELETE: Final = 0xFFFE  # removed
_IMAGE_SEPARATOR: Final = 0xFFFD  # a space between tokens (``bytes.split``'s whitespace)


def _cp1256_key_image() -> bytes:
    image = bytearray(_IMAGE_NONE.to_bytes(2, "little")) * 0x10000
    deleted = set(_CP1256_KEY_DELETE)
    for byte in range(256):
        ch = bytes([byte]).decode(_KEY_CODEC)
        if len(ch) != 1 or ch.encode(_KEY_CODEC) != bytes([byte]):
            raise RuntimeError(f"match key: {_KEY_CODEC} byte {byte} does not round-trip")
        to = bytes([_CP1256_KEY_TABLE[byte]])
        if byte in deleted:
            value = _IMAGE_DELETE
        elif to.isspace():
            value = _IMAGE_SEPARATOR
        else:
            value = ord(to.decode(_KEY_CODEC))
            if value >= _IMAGE_SEPARATOR:
                raise RuntimeError(f"match key: {_KEY_CODEC} maps to {value:#x}, a marker of the image")
        image[2 * ord(ch) : 2 * ord(ch) + 2] = value.to_bytes(2, "little")
    return bytes(image)


_CP1256_KEY_IMAGE: Final = _cp1256_key_image()


def _key_cp1256_compiled(s: str) -> str | None:
    return _compiled.cp1256_key(s, _CP1256_KEY_IMAGE)


_key_cp1256: Callable[[str], str | None] = _key_cp1256_python


def _key_once(s: str) -> tuple[str, bool]:
    """The key of ``s``, and whether it is NFKC for certain: a key made by the windows-1256 table
    is (its characters are NFKC starters that compose with none of each other; tested)."""
    if not is_nfkc(s):
        s = arabic.normalize_unicode(_cap_mark_runs(s, None))
    elif "\ufdfc" in s or "\ufdfd" in s:
        s = arabic.normalize_unicode(s)
    key = _key_cp1256(s)
    if key is not None:
        return key, True
    # windows-1256 text holds no ideograph: only this path folds Chinese (worker/normalize/chinese.py)
    return fold_chinese(_join_tokens(_key_chars(s))), False


def match_key(text: str) -> str:
    """The aggressive, lossy comparison key of any string: NFKC (with CAMeL's fixes), case
    folded, Arabic diacritics and tatweel removed, alef/alef maqsura/teh marbuta and Persian
    yeh/keheh unified, traditional Chinese characters in their simplified forms, digits of every
    script to ASCII, punctuation, symbols and invisible characters dropped, tokens joined by
    single spaces. ``match_key(match_key(s)) ==
    match_key(s)``."""
    key, nfkc = _key_once(text)
    # Dropping an invisible character can, in contrived inputs, bring a letter and a combining
    # mark together that NFKC then composes; one more pass reaches the fixed point.
    if not nfkc and not key.isascii() and not is_nfkc(key):
        key, _ = _key_once(key)
    return key


# ---------------------------------------------------------------------------------------------
# Compiled passes (worker/normalize/_text_passes.c): used where they give the Python ones' output
# ---------------------------------------------------------------------------------------------

#: Texts both paths of the compiled passes run at import: every rule's marks, spaces of several
#: kinds, lines, and characters of each width (Latin-1, Arabic, CJK, outside the BMP).
_PROBE_TEXTS: Final = (
    "  قال ، وأضاف؛وقال :  ( نص )  [ a ]{ b } x , y . z ؟\n\n\u00a0سوريا.وأعلن Paris,London ٣,٥ a_,b\r\n",
    "مستورا:وقف 1,000 (  ) ،كلمة ؛\u200fكلمة \u3000新闻 , 𝐀𝐁 .\n \n\tend ,",
    "café , naïve . \x85next\u2028line",
    "قَالَ الرئيـــس «نعم»، 2018; Café ü œ — ‘x’ … ‰ ™ ¬ \u200c\u200f _a_ ِ\t\x0bّ",  # windows-1256 only
    "انتهى.» \t, ثم 3.5 و٣.٥ end.\nnext!? done.)\n",  # sentence ends: the breaks' prefilter
)


def _bmp_bits(pattern: re.Pattern[str]) -> bytes:
    """One bit per BMP code point, set where `pattern` (one character class) matches it: what
    the compiled ``_unusual`` reads. The pattern itself decides, run over every BMP character."""
    units = bytearray(4 * 0x10000)  # the BMP in order, as UTF-32 (surrogates too)
    units[0::4] = bytes(range(256)) * 256
    units[1::4] = b"".join(bytes([high]) * 256 for high in range(256))
    bits = bytearray(0x10000 // 8)
    for ch in pattern.findall(units.decode("utf-32-le", "surrogatepass")):
        bits[ord(ch) >> 3] |= 1 << (ord(ch) & 7)
    return bytes(bits)


_UNUSUAL_BITS: Final = _bmp_bits(_UNUSUAL_RE) if _compiled is not None else b""


def _unusual_compiled(s: str) -> set[str]:
    return _compiled.chars_in(s, _UNUSUAL_BITS)


def _compiled_agrees() -> bool:
    """Whether the compiled passes give the Python ones' output on the probe texts (an extension
    built from an older source would not: then the Python passes run)."""
    if _compiled is None:
        return False
    if getattr(_compiled, "may_break", None) is None:  # an extension built from older source
        log.warning("the compiled character passes are out of date: normalizing in Python (slower)")
        return False
    pairs = (
        (_compiled.may_break, _may_break_python),
        (_compiled.collapse_lines, _collapsed_python),
        (_compiled.fix_spacing, _fix_spacing_python),
        (_key_cp1256_compiled, _key_cp1256_python),
        (_unusual_compiled, _unusual_python),
    )
    texts = (*_PROBE_TEXTS, *(" ".join(t.split()) for t in _PROBE_TEXTS))
    agrees = all(native(t) == python(t) for native, python in pairs for t in texts)
    if not agrees:
        log.warning("the compiled character passes disagree with text.py: normalizing in Python (slower)")
    return agrees


#: Whether the spacing passes, the Arabic match key and the scan for unusual characters run
#: compiled (the same text either way).
COMPILED: Final = _compiled_agrees()
if COMPILED:
    _collapsed, _fix_spacing = _compiled.collapse_lines, _compiled.fix_spacing
    _may_break = _compiled.may_break
    _key_cp1256, _unusual = _key_cp1256_compiled, _unusual_compiled


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


#: A JSON string escape as characters: ``\uXXXX``, or one of the one-letter escapes.
_JSON_ESCAPE_RE: Final = re.compile(r'\\(?:u[0-9A-Fa-f]{4}|[nrt"\\/bf])')
#: Escapes a text needs to be read as JSON-escaped.
_MIN_JSON_ESCAPES: Final = 2
#: Decodings of a JSON-escaped text at most (a producer that encoded it three times).
_MAX_JSON_DECODES: Final = 3


def _json_unescaped(text: str) -> str | None:
    r"""The text decoded as the body of a JSON string, when it is one: a producer that encoded
    its JSON twice sends ``\u0627\u0633...`` for Arabic and ``\n`` for its line breaks, which
    were the key's words (``u0627 u0633``: unrelated articles linked as one story) and the clean
    text's (a review's finding). Only a text with no line break of its own, two escapes or more,
    one of them a code point, a quote or a paragraph break (``\n\n``), and no character a JSON
    string must escape (a quote, a backslash or a control character alone): it decodes as JSON
    (again, for a text encoded more than twice: at most `_MAX_JSON_DECODES` times); else None."""
    decoded = None
    for _ in range(_MAX_JSON_DECODES):
        if "\n" in text or len(_JSON_ESCAPE_RE.findall(text)) < _MIN_JSON_ESCAPES:
            break
        if not ("\\u" in text or '\\"' in text or "\\n\\n" in text):
            break  # an escaped quote, a paragraph break or a code point: what such texts hold
        try:
            once = json.loads(f'"{text}"')
        except ValueError:
            break
        if not isinstance(once, str):
            break
        decoded = text = once
    return decoded


def _normalize_once(title: str | None, text: str | None, html: str | None) -> tuple[NormalizedText, bool]:
    notes = _Notes([])
    clean_title = _clean_title(title, notes) if title and title.strip() else None
    tab_title: str | None = None
    whole = False
    # A feed reader that left the CDATA wrapper around an item's description: the wrapper is
    # XML's, not the article's (in HTML it would start a comment and hide the text).
    if text is not None and _CDATA_OPEN in text:
        text = _unwrap_cdata(text)
    if text is not None and "\\" in text and (decoded := _json_unescaped(text)) is not None:
        text = decoded
        notes.warn(W_JSON_ESCAPES)
    if html is not None and _CDATA_OPEN in html:
        html = _unwrap_cdata(html)
    if text is not None and text.strip() and _is_html_fragment(text) and _reads_as_html(text):
        # An HTML fragment sent as text (an RSS item's description, a CMS API's rendered body):
        # read as HTML, all of it, or its tags would be the clean text's and the key's words;
        # unless it opens a script, style or comment and never closes it (its rest would be lost).
        # Its blank lines are paragraph breaks, as in any text (HTML would read them as
        # spaces: ``<b>Headline</b>\n\nBody`` was one paragraph; scheme v15).
        html, whole = _BLANK_LINES_RE.sub("<br>", text), True
        text = None
        notes.warn(W_HTML_IN_TEXT)
    if text is not None and text.strip():
        body = text
    elif html is not None and html.strip():
        page = extract_html(html, whole=whole)
        body = page.text
        notes.warn(W_HTML_FLATTENED if page.flattened else W_HTML)
        if page.from_json_ld:
            notes.warn(W_HTML_JSON_LD)
        if clean_title is None and page.title:
            if page.tab_title:
                tab_title = page.title
            else:
                clean_title = _clean_title(page.title, notes)
    else:
        body = ""
    paragraphs = _paragraphs(_clean_chars(body, notes))
    if clean_title is None and len(paragraphs) >= 2 and _looks_like_title(paragraphs[0]):
        # An untitled text's first short line is its headline; so is a page's, when the page
        # names none but its `<title>` (a tab's text, often the site's name): the same article
        # as text and as a page then has the same body and match key.
        clean_title = paragraphs.pop(0)
    if clean_title is None and tab_title is not None:
        clean_title = _clean_title(tab_title, notes)
    if clean_title is not None and paragraphs:
        paragraphs = _drop_title_repeats(clean_title, paragraphs, notes)
    joined = "\n\n".join(paragraphs)
    if _is_html_fragment(joined):
        # Tags that were escaped (``&lt;p&gt;``) are tags now: normalizing this output again
        # would read them as HTML, so it is done here (``_normalize``), and the result is stable.
        notes.suspicious = True
    result = NormalizedText(
        title=clean_title,
        paragraphs=tuple(paragraphs),
        text=joined,
        # Syndication chrome (dateline, "read also" lines, footers) is left out of the key only:
        # the readable text keeps what the outlet published (worker/normalize/boilerplate.py).
        match_key=_key_of(clean_title, paragraphs),
        warnings=tuple(notes.warnings),
    )
    return result, notes.suspicious


def _key_of(title: str | None, paragraphs: list[str]) -> str:
    """The match key: the story's paragraphs without their chrome (`boilerplate.story_of`),
    keyed without the title, which outlets rewrite. A body with no story in it (nothing, or
    chrome only: a flash's "more details to follow", a video page's caption, a disclaimer where
    a scraper missed the column, a credit or date line) cannot tell one story from another by
    itself: it is keyed with the title in front (scheme v14), and its whole body after it,
    chrome included (a line the rules took for a dateline may hold the news: scheme v15). A
    story, however short, is keyed without its title: with it, a retitled copy of a short flash
    was no copy, and two short stories under one long recurring title ("Stock market today: ...
    live updates") were one (a review of v15's first version)."""
    story = boilerplate.story_of(paragraphs)
    body = match_key("\n\n".join(paragraphs if story is None else story))
    if title is None or story is not None:
        return body
    title_key = match_key(title)
    if body.startswith(title_key):
        return body  # the body repeats the title (or both are empty): no need to key it twice
    return f"{title_key} {body}" if title_key and body else title_key or body


#: Re-normalizations of a suspicious (mojibake-looking) article at most; real mojibake settles
#: in one, contrived input in two.
_MAX_SETTLE_ROUNDS: Final = 3


def _normalize(title: str | None, text: str | None, html: str | None) -> NormalizedText:
    result, suspicious = _normalize_once(title, text, html)
    for _ in range(_MAX_SETTLE_ROUNDS):
        if not suspicious:
            break
        again, suspicious = _normalize_once(result.title, result.text, None)
        settled = (again.title, again.paragraphs) == (result.title, result.paragraphs)
        merged = tuple(dict.fromkeys(result.warnings + again.warnings))
        result = NormalizedText(again.title, again.paragraphs, again.text, again.match_key, merged)
        if settled:
            break
    return result


def normalize_text(*, title: str | None, text: str | None, html: str | None) -> NormalizedText:
    """Readable text and match key of one article. ``text`` wins over ``html`` when both hold
    content; the title comes from ``title``, else the HTML headline, else a short first line.
    Never raises: on an internal error the text is returned whitespace-normalized only, with
    the warning ``normalization_failed`` (and the error is logged)."""
    try:
        return _normalize(title, text, html)
    except Exception:  # a bug here must not lose the article; the log and warning surface it
        log.exception("normalization failed; falling back to whitespace cleanup")
        source = text if text is not None and text.strip() else (html or "")
        paragraphs = tuple(_lines(source))
        joined = "\n\n".join(paragraphs)
        return NormalizedText(
            title=" ".join(title.split()) or None if title else None,
            paragraphs=paragraphs,
            text=joined,
            match_key=" ".join(joined.casefold().split()),
            warnings=(W_FAILED,),
        )
