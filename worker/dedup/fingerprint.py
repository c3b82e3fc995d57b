"""Fingerprint stage: match key -> exact hash, MinHash sketches and LSH claim keys.

Pure and deterministic across processes, restarts and machines: hashes are xxh3 with fixed
seeds and rensa's seeded MinHash (no Python `hash()`, which is salted per process). Everything a
change of parameters would alter is covered by `Scheme.version`, which is part of every Redis
key, so entries of an old scheme never mix with new ones.

What is computed, and why:
- `exact`: xxh3-128 of the match key. Equal only for the same normalized text.
- tokens, per Unicode script run: text of spaced scripts keeps its words; a run of a script
  written without spaces between words (Chinese, Japanese kana, Thai, Lao, Khmer, Burmese) is
  cut into units, one token each: a CJK character, or a Southeast Asian base letter with the
  marks (and subscript consonants) that sit on it. A shingle of 3 such tokens is a character
  3-gram, a sliding window that needs no word segmenter: a teaser cut mid-sentence, or an
  edited phrase, changes only the shingles it touches, as words do in spaced text. Names and
  figures inside such a run (``苹果ceo库克2024年``) stay whole tokens. Why this and not a
  segmenter (jieba, pythainlp, ICU): docs/NORMALIZATION.md, "Text without spaces".
- full-text MinHash over token shingles (`Scheme.num_perm` values). Its first
  `full_bands * full_rows` values are grouped into LSH bands; two articles sharing any band are
  candidates. Jaccard 0.5 shares a band with p = 1-(1-0.5^r)^b.
- lead MinHash over the shingles of the first `lead_tokens` tokens only. A teaser (the article
  cut short) or an article with a few lines of boilerplate appended has a low full-text Jaccard
  with its original but the same lead, so lead bands find it.
- `sketch`: the low byte of every full MinHash value (b-bit MinHash, Li & König 2010): 128 bytes
  that estimate Jaccard to about +-0.045 when verifying a candidate fetched from Redis.
- `opening`: 6 bits per shingle of the text's start, in text order: every shingle of the lead
  (the first `lead_tokens` tokens, 28 shingles), then one shingle in two after it, chosen by
  another byte of the same hash (content-defined: the same text keeps the same choice wherever
  it stands), 56 values in all reaching ~84 shingles. It tells a teaser or an edit of the same
  article (the opening agrees, in place, moved by a sentence added or removed in front, or
  found further on where the later one's first sentences were cut) from a follow-up or a
  different story that merely shares a block (containment alone would fire on those): see
  `opening_agreement`. Order is what makes 6 bits enough: a chance agreement must also fall at
  the right place (about 8% per value), where a set of 56 such values would hold a given one
  by chance more often than not. The article in hand also keeps `sequence` (every shingle's
  value and whether the opening keeps it, never stored), so the comparisons map its text onto
  a remembered opening's places exactly.
"""

from __future__ import annotations

import functools
import logging
import re
import struct
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Final

import msgspec
import rensa
import xxhash

from worker.normalize.char_classes import CLASSES
from worker.normalize.chinese import UNSPACED_RANGES

try:  # the shingling and hashing in C (worker/dedup/_shingles.c), where it was built
    from worker.dedup import _shingles as _compiled
except ImportError:  # no compiler or headers where this was installed: the same values in Python
    _compiled = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_SEED = 0x6E657773  # "news": fixed forever for a given scheme version


@dataclass(frozen=True, slots=True)
class Scheme:
    """Fingerprint parameters. Changing any of them, or what the match key keeps of a text,
    must change `version`."""

    #: v2: the match key leaves out syndication chrome (worker/normalize/boilerplate.py).
    #: v3: runs of scripts written without spaces are tokenized by character units; canonical
    #: URLs (the url key) have internationalized hosts by IDNA 2008 (worker/normalize/urls.py).
    #: v4: a 30-token lead window, not 60: a teaser shorter than the window had a low lead
    #: Jaccard with its original although all of it is that lead (docs/EVALUATION.md, "Lead").
    #: v5: the lead MinHash sketch is replaced by the ordered opening (`opening`), which finds
    #: the opening moved by a sentence (docs/EVALUATION.md, "Openings that moved").
    #: v6: full-text bands of 2 rows, not 3: a follow-up, a sibling or a rewrite shares a band
    #: with its story at Jaccard 0.2-0.5 (p = 0.28-0.90, was 0.06-0.66), so it is linked; the
    #: claims per article, and so the memory, are the same (docs/EVALUATION.md, "What ships").
    #: v7: half the full-text bands are one value each (`full_single`): a pair at Jaccard 0.3
    #: shares a band with p = 0.84 (0.53 in v6), so follow-ups and siblings are linked; the
    #: same claims again. All 8 of one value cost more: a one-value band is a shingle's own
    #: hash, and common phrases make it an unrelated article's (19 % of such keys at 20,000
    #: remembered, growing with the window; 9.5 % with half of them: docs/EVALUATION.md).
    #: v8: the match key keeps the first sentence of an untitled article in scripts whose
    #: sentences end in other marks (``。``, ``।``, ``۔``, ...): it had been taken for a title
    #: (worker/normalize/text.py, `_NOT_TITLE_ENDINGS`). Nothing else changes.
    #: v9: the match key folds traditional Chinese characters to simplified ones (OpenCC's
    #: ``t2s`` tables, per character: worker/normalize/chinese.py), so the same article in both
    #: scripts is one key; Japanese kanji fold the same way. Keys without an ideograph unchanged.
    #: v10: the opening keeps every shingle of the lead, then one in two (by a hash byte), so
    #: its 56 values reach ~84 shingles instead of 56: an article whose first sentence or two
    #: (30-60 words) were cut is found inside its earlier version, where the window used to end
    #: first. The lead's 28 values are v9's.
    #: v11: a page that names no headline but its `<title>` (a tab's text, often the site's name)
    #: has its body's first short line taken for the headline, as an untitled text has: the same
    #: article as text and as such a page has one match key (worker/normalize/text.py). Keys of
    #: text, and of pages with an ``<h1>`` or ``og:title``, unchanged.
    #: v12: in a text mostly of scripts written without spaces (`_mostly_unspaced`) the opening
    #: keeps one shingle in three past the lead, not two, reaching ~112 characters: a first
    #: sentence of Chinese is 40-120 of them, so one cut or added was past the reach. The lead,
    #: and every text mostly of spaced scripts, as in v11.
    #: v13: a `text` field holding HTML markup (two tags of common elements or more: an RSS
    #: item's description, a CMS API's rendered body) is read as the HTML fragment it is, so its
    #: tags are neither in the clean text nor words of the key (worker/normalize/text.py); a
    #: CDATA wrapper around a text or page is unwrapped, and a title loses its markup (a title
    #: repeated in the body is left out of the key). Every other text, and every page, as in v12.
    #: v14: a body with no story in it (nothing, or chrome and placeholders only: a flash's
    #: "more details to follow", a video's caption, a disclaimer) is keyed by its title, so
    #: flashes of different stories are not one text; a cookie notice at a body's edge is left
    #: out of the key like other chrome; a page's blocks classed by a page builder
    #: (``elementor-widget-container``, ``overflow-hidden``) are no longer furniture, teaser
    #: cards no story. Every other text and page as in v13.
    #: v15 (an adversarial review's wrong drops): a body with no story is keyed by its title
    #: *and* its whole body (a line the chrome rules take for a dateline may hold the news); a
    #: story is keyed without its title however short, as before; a WordPress post's
    #: category and tag classes, layout states and generated ids are no furniture (they hid
    #: whole bodies); one teaser card is not a page's story; ruby readings are dropped, a
    #: figure holding a table kept; entities decode in at most four passes; a page that would
    #: re-open formatting elements into a huge tree is flattened; a ``#/`` route stays in the
    #: canonical URL, and a site's root gives no URL signal. Every other text and page as in v14.
    #: v16 (a review of scripts other than Arabic and CJK): a first line ending in ``|`` (the
    #: danda as many Hindi sites type it) or another script's full stop (Mongolian, Sinhala,
    #: Tibetan), or a sentence closed inside German, Czech or Danish quotes (``.“``), is no
    #: title, so it stays in the key; Malayalam's chillus as written before Unicode 5.1 and
    #: Urdu's hehs as an Arabic keyboard types them fold onto one form; the ", " list rule keeps
    #: a sentence whole before a lowercase letter of any script and after Cyrillic, German and
    #: Greek abbreviations. Every other text as in v15.
    #: v17 (a review of the readable text): an Arabic domain ending at a line's end
    #: (``بيت.كوم``) and ``أيه.`` stay whole; the ", " list rule keeps ordinals (``18., 19.``),
    #: Roman numerals, ``,,`` quotes and more abbreviations (Polish, French months, references)
    #: whole, and a glued abbreviation before a name (``vs.Manchester``); a comma gets no space
    #: after a one-letter word, beside a script written without spaces or in a URL; a story
    #: wrapper marked ``ad-free`` is no furniture, and a paragraph that cites its source in a
    #: long link is kept. Every other text and page as in v16.
    version: str = "v17"
    shingle: int = 3
    num_perm: int = 128
    full_bands: int = 8
    full_rows: int = 2
    #: Of the `full_bands`, how many are a single value (first, from the first values); the
    #: rest take `full_rows` values each from the values after them.
    full_single: int = 4
    lead_tokens: int = 30
    lead_perm: int = 32
    lead_bands: int = 4
    lead_rows: int = 2
    #: Values of the opening (`opening`): 56 of 6 bits, 43 bytes with their count (8 bits each
    #: would have put a remembered article over its 512 B). The lead (`lead_tokens`: every
    #: shingle) is its start; the rest, where a lead moved or cut is found, keeps one shingle in
    #: `opening_sample` (`opening_sample_unspaced` in a text mostly of scripts written without
    #: spaces, whose shingles are characters: a sentence there is 40-120 of them, not 20-30).
    opening_values: int = 56
    opening_sample: int = 2
    opening_sample_unspaced: int = 3

    @property
    def lead_shingles(self) -> int:
        """Shingles of the lead (`lead_tokens` tokens): the opening keeps every one of them."""
        return self.lead_tokens - self.shingle + 1


DEFAULT_SCHEME = Scheme()


class ArticleFingerprints(msgspec.Struct, frozen=True):
    """Everything the dedup stage needs from one article."""

    exact: bytes  # 16 bytes
    tokens: int  # match-key token count
    shingles: int  # distinct shingle count of the full text (for containment estimates)
    sketch: bytes  # b-bit full MinHash, num_perm bytes; empty when there are no tokens
    opening: bytes  # 6 bits (a byte each) per shingle of the lead, then per kept shingle, in order
    bands: tuple[bytes, ...]  # LSH claim keys (8 bytes each), full bands then lead bands
    url: bytes | None  # 8-byte hash of the canonical URL
    #: Never stored: the value of every shingle the opening reaches, in order, with `KEPT` set
    #: where the opening keeps it (past the lead). Empty for an article known by its record only.
    sequence: bytes = b""
    #: Never stored: the key is mostly of scripts written without spaces (`_mostly_unspaced`):
    #: its lead is ~30 characters, not ~30 words (decision.Thresholds.dup_lead_unspaced).
    unspaced: bool = False

    @property
    def exact_hex(self) -> str:
        return self.exact.hex()


#: Characters ``str.split()`` splits on but ``bytes.split()`` does not (``\x1c``-``\x1f``, NBSP,
#: the Unicode spaces; all in the BMP), by the first byte of their UTF-8 form: a key holding none
#: of these bytes splits the same either way. (The BMP's spaces but " " and "\n" are a generated
#: class: worker/normalize/char_classes.py.)
_STR_ONLY_SPACE_BYTES: Final = tuple(
    sorted(
        {
            chr(cp).encode("utf-8")[:1]
            for first, last in CLASSES["space"]
            for cp in range(first, last + 1)
            if not chr(cp).encode("utf-8").isspace()
        }
    )
)


def _ranges(*pairs: tuple[int, int]) -> str:
    return "".join(f"{chr(a)}-{chr(b)}" for a, b in pairs)


#: Scripts written without spaces between words (`chinese.UNSPACED_RANGES`). Korean is written
#: with spaces: Hangul keeps word tokens; so does Tibetan, whose syllable mark (tsheg) is
#: punctuation, a separator in the match key already.
_UNSPACED_CLASS: Final = _ranges(*UNSPACED_RANGES)
#: Combining marks of those scripts (Thai vowel and tone marks, Khmer and Myanmar vowel signs,
#: kana voicing marks); a mark belongs to the unit of the letter it sits on.
_UNSPACED_MARKS: Final = "".join(
    ch
    for ch in map(chr, (*range(0x0E00, 0x1100), *range(0x1780, 0x1800), *range(0x3040, 0x3100)))
    if unicodedata.category(ch) in ("Mn", "Mc")
)
#: Khmer coeng and Myanmar virama: the consonant after one is written below the unit's letter.
_STACKERS: Final = "្္"
#: One unit of text without spaces: a letter with its marks and the consonants stacked under it.
_UNIT_RE: Final = re.compile(f"[{_UNSPACED_CLASS}](?:[{_STACKERS}][{_UNSPACED_CLASS}]|[{_UNSPACED_MARKS}])*")
_RUN_RE: Final = re.compile(f"[{_UNSPACED_CLASS}]+")


def _utf8_leads(ranges: str) -> tuple[bytes, ...]:
    """The first bytes of the UTF-8 forms of the characters of a class of ``a-b`` ranges (the
    first byte grows with the code point, within one encoded length)."""
    leads: set[int] = set()
    for a, b in zip(ranges[::3], ranges[2::3], strict=True):
        leads.update(range(a.encode()[0], b.encode()[0] + 1))
    return tuple(bytes([lead]) for lead in sorted(leads))


#: A key holding none of these bytes has no unspaced run (Latin, Greek, Cyrillic, Arabic and
#: Hebrew are all 1-2 byte characters): one ``in`` (memchr) per lead byte, ~0.3 µs each on an
#: article, keeps the word path as fast as before; a regex scan of the key cost ~25 µs.
_UNSPACED_LEADS: Final = _utf8_leads(_UNSPACED_CLASS)


def _split_run(m: re.Match[str]) -> str:
    run = m.group()
    # Ideographs and kana carry no marks in NFKC text: one C-level join. Runs of Southeast Asian
    # scripts (marks, stacked consonants) are cut by the unit pattern.
    units = run if run.isalpha() else _UNIT_RE.findall(run)
    return " " + " ".join(units) + " "


def _has_unspaced(key_bytes: bytes) -> bool:
    """Whether the key may hold a script written without spaces (a lead byte of one is in it)."""
    return any(lead in key_bytes for lead in _UNSPACED_LEADS)


#: Every byte but the leads the word path looks for (`_UNSPACED_LEADS`, `_STR_ONLY_SPACE_BYTES`).
_NOT_LEADS: Final = bytes(
    sorted(set(range(256)) - {lead[0] for lead in (*_UNSPACED_LEADS, *_STR_ONLY_SPACE_BYTES)})
)


def _leads(key_bytes: bytes) -> bytes:
    """The key's bytes that are one of those leads, in one C pass (``translate``): empty for most
    keys (Arabic, Latin, Cyrillic...), and then neither lead search scans the key (two dozen
    ``in`` scans of a 4 KB key cost ~6 µs, this ~2). A lead is in the key iff it is in these."""
    return key_bytes.translate(None, _NOT_LEADS)


def _tokens(match_key: str, key_bytes: bytes, unspaced: bool | None = None) -> list[bytes]:
    """The key's tokens, UTF-8 encoded (what rensa hashes): its words (``match_key.split()``),
    with runs of unspaced scripts cut into units (see the module docstring). `unspaced`:
    `_has_unspaced(key_bytes)`, when the caller knows it already."""
    tokens = _token_source(match_key, key_bytes, unspaced)
    return tokens.split() if isinstance(tokens, bytes) else tokens


def _token_source(
    match_key: str, key_bytes: bytes, unspaced: bool | None = None, leads: bytes | None = None
) -> list[bytes] | bytes:
    """`_tokens`, or the key's bytes where ``key_bytes.split()`` gives them (most texts: the
    compiled hashing splits them itself). `leads`: `_leads(key_bytes)`, when the caller has it."""
    if leads is None:
        leads = _leads(key_bytes)
    if not leads:
        return key_bytes
    if (_has_unspaced(leads) if unspaced is None else unspaced) and _RUN_RE.search(match_key):
        # str.split: any Unicode space separates, as on the word path
        return " ".join(_RUN_RE.sub(_split_run, match_key).split()).encode("utf-8").split()
    for lead in _STR_ONLY_SPACE_BYTES:
        if lead in leads:
            return [token.encode("utf-8") for token in match_key.split()]
    return key_bytes


def _mostly_unspaced(match_key: str) -> bool:
    """Whether runs of scripts written without spaces hold at least half the key's characters
    (spaces aside). Asked only of a key that `_has_unspaced`."""
    in_runs = sum(map(len, _RUN_RE.findall(match_key)))
    return 2 * in_runs >= len(match_key) - match_key.count(" ")


def _shingles(tokens: list[bytes], k: int) -> list[bytes]:
    """Word k-shingles, each its tokens joined by one space, in text order.

    Built as UTF-8 bytes: rensa hashes a ``str`` token by its UTF-8 bytes, so the MinHash values
    are the same as for the ``str`` shingles, and joining bytes (``map`` over ``zip``, no Python
    loop) costs about half of formatting ``str`` shingles."""
    if len(tokens) <= k:
        return [b" ".join(tokens)] if tokens else []
    return list(map(b" ".join, zip(*(tokens[i:] for i in range(k)), strict=False)))


def _minhash(shingles: list[bytes], num_perm: int) -> list[int]:
    mh = rensa.RMinHash(num_perm=num_perm, seed=_SEED)
    mh.update(shingles)
    digest: list[int] = mh.digest()
    return digest


def _packed(values: list[int]) -> bytes:
    """MinHash values (32-bit) as little-endian bytes: band input and b-bit sketch in one pass."""
    return struct.pack(f"<{len(values)}I", *values)


#: Bits kept of each opening shingle's hash.
OPENING_BITS: Final = 6
_OPENING_MASK: Final = (1 << OPENING_BITS) - 1


#: Byte -> its low `OPENING_BITS` bits (`bytes.translate`).
_LOW_BITS: Final = bytes(b & _OPENING_MASK for b in range(256))


#: Flag of a `sequence` byte whose shingle the opening keeps (past the lead).
KEPT: Final = 0x40
#: The bytes of a `sequence` without `KEPT` (`bytes.translate` deletes them).
_UNFLAGGED: Final = bytes(b for b in range(256) if not b & KEPT)


#: A hash's second byte -> `KEPT` for 1 in `rate` of them (`bytes.translate`), per rate.
_KEEP: Final = {rate: bytes(KEPT if b < 256 // rate else 0 for b in range(256)) for rate in (1, 2, 3, 4)}


def _sequence(shingles: list[bytes], scheme: Scheme, seed: int = _SEED, *, unspaced: bool = False) -> bytes:
    """Each shingle's value (the low 6 bits of its xxh3 hash) with `KEPT` set when the hash's
    second byte falls in the kept share, in text order, as far as the opening reaches (a little
    further, as a rule). C-level passes only: bytes 7 and 6 of a big-endian digest are the
    hash's low two."""

    def hashed(start: int, stop: int) -> tuple[bytes, bytes]:
        part = shingles[start:stop]
        digests = b"".join(map(xxhash.xxh3_64_digest, part, repeat(seed, len(part))))
        return digests[7::8], digests[6::8]

    return _assembled(hashed, scheme, unspaced)


def _assembled(hashed: Callable[[int, int], tuple[bytes, bytes]], scheme: Scheme, unspaced: bool) -> bytes:
    """`_sequence` from `hashed(start, stop)`: the low and second-lowest bytes of the xxh3 hashes
    of shingles start..stop (fewer at the text's end)."""
    lead = scheme.lead_shingles
    rest = scheme.opening_values - lead
    keep = _KEEP[_opening_sample(scheme, unspaced)]
    first = _first_part(scheme, unspaced)
    out = b""
    for start, stop in ((0, first), (first, 2 * first)):
        low, second = hashed(start, stop)
        if not low:
            break
        values = int.from_bytes(low.translate(_LOW_BITS), "little")
        flags = int.from_bytes(second.translate(keep), "little")
        out += (values | flags).to_bytes(len(low), "little")
        if len(out[lead:].translate(None, _UNFLAGGED)) >= rest:
            break
    return out


def _opening_sample(scheme: Scheme, unspaced: bool) -> int:
    """One in how many shingles past the lead the opening keeps (`KEPT`)."""
    return scheme.opening_sample_unspaced if unspaced else scheme.opening_sample


def _first_part(scheme: Scheme, unspaced: bool) -> int:
    """Shingles that fill the opening but for ~1 text in 100 (`_assembled` takes as many again
    when they do not)."""
    rest = scheme.opening_values - scheme.lead_shingles
    sample = _opening_sample(scheme, unspaced)
    return scheme.lead_shingles + rest * sample + rest // 2


def opening_of(sequence: bytes, scheme: Scheme = DEFAULT_SCHEME) -> bytes:
    """The stored opening of a `sequence`: the values of its lead's shingles, then those of the
    kept ones after them, `scheme.opening_values` in all."""
    lead = scheme.lead_shingles
    kept = sequence[lead:].translate(None, _UNFLAGGED)
    return (sequence[:lead] + kept).translate(_LOW_BITS)[: scheme.opening_values]


def sequence_of(opening: bytes, scheme: Scheme = DEFAULT_SCHEME) -> bytes:
    """The nearest `sequence` a stored opening gives, for an article known by its record only:
    its lead's values, then its kept ones, one place each (which lead shingles are kept is not
    stored, so a cut of its front past the other's lead is not seen from it)."""
    lead = scheme.lead_shingles
    return opening[:lead] + bytes(value | KEPT for value in opening[lead:])


def _lanes(mask: int) -> int:
    """`mask` repeated in every 32-bit lane of a 256-byte number (a count byte: <= 255 values)."""
    return int.from_bytes(mask.to_bytes(4, "little") * 64, "little")


_M0, _M1, _M2, _M3 = (_lanes(m) for m in (0x3F, 0xFC0, 0x3F000, 0xFC0000))


def _pack_opening_in_python(values: bytes) -> bytes:
    """An opening as stored (StoredRecord.opening): a count byte, then value i at bits 6i of a
    little-endian number (four values in three bytes). `unpack_opening` reverses it."""
    count = len(values)
    if not count:
        return b""
    values += bytes(-count % 4)
    groups = len(values) // 4
    w = int.from_bytes(values, "little")  # four values a byte each in every 32-bit lane ...
    w = (w & _M0) | (w >> 2 & _M1) | (w >> 4 & _M2) | (w >> 6 & _M3)  # ... as its low 24 bits
    packed = w.to_bytes(4 * groups, "little")
    out = bytearray(3 * groups)
    out[0::3], out[1::3], out[2::3] = packed[0::4], packed[1::4], packed[2::4]
    return bytes((count,)) + bytes(out[: (OPENING_BITS * count + 7) // 8])


def _pack_opening_compiled(values: bytes) -> bytes:
    return _compiled.pack_opening(values, OPENING_BITS)  # type: ignore[union-attr]


#: `_pack_opening_in_python`, compiled where it was built (worker/dedup/_shingles.c: the same
#: bytes, tests/unit/dedup/test_shingles_compiled.py; ~0.2 µs an article instead of ~2.5, in the
#: event loop's process, which packs every record).
pack_opening: Final[Callable[[bytes], bytes]] = (
    _pack_opening_compiled if hasattr(_compiled, "pack_opening") else _pack_opening_in_python
)


def _prefixes_in_python(items: Sequence[bytes], width: int) -> bytes:
    return b"".join([item[:width] for item in items])


#: The first `width` bytes of each of `items`, joined (a record's band tags), compiled where it
#: was built (~0.15 µs for 12 bands instead of ~1.5).
prefixes: Final[Callable[[Sequence[bytes], int], bytes]] = (
    _compiled.prefixes if hasattr(_compiled, "prefixes") else _prefixes_in_python  # type: ignore[union-attr]
)


def unpack_opening(opening: bytes) -> bytes:
    """One byte (0-63) per shingle of a stored opening; empty for an empty one."""
    if not opening:
        return b""
    count = opening[0]
    groups = (count + 3) // 4
    src = opening[1:].ljust(3 * groups, b"\0")
    buf = bytearray(4 * groups)
    buf[0::4], buf[1::4], buf[2::4] = src[0::3], src[1::3], src[2::3]
    x = int.from_bytes(buf, "little")
    x = (x & _M0) | (x & _M1) << 2 | (x & _M2) << 4 | (x & _M3) << 6
    values = x.to_bytes(4 * groups, "little")
    return values[:count]


def _bands_in_python(packed: bytes, bands: int, rows: int, tag: int) -> list[bytes]:
    """The LSH band keys: band b is xxh3 of its `rows` values (4 bytes each), seeded by its tag
    (which part of the signature it is, so that equal bytes in two parts are other keys) and b."""
    width = rows * 4
    return [
        xxhash.xxh3_64_digest(packed[b * width : (b + 1) * width], seed=tag * 1000 + b) for b in range(bands)
    ]


#: `_bands_in_python`, compiled where it was built (worker/dedup/_shingles.c: the same digests,
#: tests/unit/dedup/test_shingles_compiled.py; ~1.2 µs an article instead of ~4.4).
_bands: Callable[[bytes, int, int, int], list[bytes]] = (
    _compiled.bands if _compiled is not None and hasattr(_compiled, "bands") else _bands_in_python
)


def fingerprint(
    match_key: str, canonical_url: str | None, scheme: Scheme = DEFAULT_SCHEME
) -> ArticleFingerprints:
    """Fingerprints of one article's match key (tokens separated by single spaces)."""
    return _fingerprint(match_key, canonical_url, scheme, compiled=COMPILED)


def _fingerprint(
    match_key: str, canonical_url: str | None, scheme: Scheme, *, compiled: bool
) -> ArticleFingerprints:
    key_bytes = match_key.encode("utf-8")
    exact = xxhash.xxh3_128(key_bytes, seed=_SEED).digest()
    leads = _leads(key_bytes)
    unspaced = bool(leads) and _has_unspaced(leads)
    url = xxhash.xxh3_64(canonical_url.encode("utf-8"), seed=_SEED).digest() if canonical_url else None
    mostly_unspaced = unspaced and _mostly_unspaced(match_key)
    if compiled and scheme.lead_tokens > scheme.shingle:
        hashed = _hashed_in_c(_token_source(match_key, key_bytes, unspaced, leads), scheme, mostly_unspaced)
    else:
        hashed = _hashed_in_python(_tokens(match_key, key_bytes, unspaced), scheme, mostly_unspaced)
    if hashed is None:
        return ArticleFingerprints(exact, 0, 0, b"", b"", (), url)
    count, full_packed, lead_packed, shingles, sequence = hashed
    single = scheme.full_single  # one-value bands first, then the two-value ones (4 bytes a value)
    bands = _bands(full_packed, single, 1, 1)
    bands += _bands(full_packed[4 * single :], scheme.full_bands - single, scheme.full_rows, 3)
    bands += _bands(lead_packed, scheme.lead_bands, scheme.lead_rows, 2)
    return ArticleFingerprints(
        exact=exact,
        tokens=count,
        shingles=shingles,
        sketch=full_packed[::4],  # the low byte of each little-endian value
        opening=opening_of(sequence, scheme),
        bands=tuple(bands),
        url=url,
        sequence=sequence,
        unspaced=mostly_unspaced,
    )


#: What the shingle hashing gives `_fingerprint`: the token count, the full and lead MinHash
#: values (packed), the distinct shingle count and the `sequence`; None for a key without tokens.
_Hashed = tuple[int, bytes, bytes, int, bytes] | None


def _hashed_in_python(tokens: list[bytes], scheme: Scheme, unspaced: bool) -> _Hashed:
    """`_Hashed` from the shingles as Python objects (rensa and xxhash hash each one)."""
    if not tokens:
        return None
    full = _shingles(tokens, scheme.shingle)
    if scheme.lead_tokens > scheme.shingle:
        # the lead's shingles are the first ones of the full text (all of them for a short text)
        lead = full[: scheme.lead_shingles]
    else:
        lead = _shingles(tokens[: scheme.lead_tokens], scheme.shingle)
    full_packed = _packed(_minhash(full, scheme.num_perm))
    sequence = _sequence(full, scheme, unspaced=unspaced)
    return len(tokens), full_packed, _packed(_minhash(lead, scheme.lead_perm)), len(set(full)), sequence


def _hashed_in_c(tokens: list[bytes] | bytes, scheme: Scheme, unspaced: bool) -> _Hashed:
    """`_Hashed` from the compiled shingle hashing: rensa's hash of every shingle, given to
    rensa's MinHash as the hashes it would compute itself (the same digest as `RMinHash.update`
    over the shingles)."""
    if _compiled is None:
        raise RuntimeError("the compiled shingle hashing is not built")
    packed_hashes, distinct, low, second, count = _compiled.shingle_hashes(
        tokens, scheme.shingle, _SEED, 2 * _first_part(scheme, unspaced)
    )
    if not count:
        return None
    hashes = memoryview(packed_hashes).cast("Q")  # native u64s
    digest = rensa.RMinHash.digest_matrix_from_flat_token_hashes
    full = digest(hashes, [0, len(hashes)], scheme.num_perm, _SEED).to_rows()[0]
    lead_hashes = hashes[: scheme.lead_shingles]
    lead = digest(lead_hashes, [0, len(lead_hashes)], scheme.lead_perm, _SEED).to_rows()[0]
    if _compiled_sequence is not None:
        rate = _opening_sample(scheme, unspaced)
        sequence = _compiled_sequence(
            low, second, scheme.lead_shingles, scheme.opening_values - scheme.lead_shingles,
            256 // rate, _first_part(scheme, unspaced), _OPENING_MASK, KEPT,
        )  # fmt: skip
    else:
        sequence = _assembled(lambda start, stop: (low[start:stop], second[start:stop]), scheme, unspaced)
    return count, _packed(full), _packed(lead), distinct, sequence


#: `_assembled` over the compiled hashing's bytes, compiled (worker/dedup/_shingles.c: the same
#: bytes, tests/unit/dedup/test_shingles_compiled.py; ~0.3 µs an article instead of ~4.5).
_compiled_sequence: Callable[..., bytes] | None = getattr(_compiled, "sequence", None)


#: Keys both hashing paths fingerprint at import: words of several lengths and scripts, repeated
#: (split by the compiled code itself), and a run written without spaces (cut into units first).
_PROBE_KEYS: Final = ("a bb ccccccccc سوريا " + "x" * 40 + " a bb ccccccccc news", "新闻发布会 today 今天")


def _compiled_agrees() -> bool:
    """Whether the compiled hashing fingerprints the probe keys as the Python path does: it
    reproduces rensa's token hash, which a rensa release could change (pyproject.toml caps it;
    this is the guard for an install that does not follow the pins)."""
    if _compiled is None:
        return False
    agrees = all(
        _fingerprint(key, None, DEFAULT_SCHEME, compiled=True)
        == _fingerprint(key, None, DEFAULT_SCHEME, compiled=False)
        for key in _PROBE_KEYS
    )
    if not agrees:
        log.warning(
            "the compiled shingle hashing disagrees with rensa %s: fingerprints computed in Python "
            "(slower); install the rensa version pyproject.toml allows",
            getattr(rensa, "__version__", "(unknown version)"),
        )
    return agrees


#: Whether the fingerprints are computed by the compiled shingle hashing (the same bytes either
#: way; about half the fingerprint stage's CPU compiled, docs/BENCHMARKS.md).
COMPILED: Final = _compiled_agrees()


def estimate_jaccard(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two b-bit (8-bit) MinHash sketches of equal length.

    With 8 bits, unrelated values still agree with probability 1/256, hence the correction.
    """
    if not a or len(a) != len(b):
        return 0.0
    agree = agreeing_bytes(a, b) / len(a)
    return max(0.0, (agree - 1 / 256) / (1 - 1 / 256))


def agreeing_bytes(a: bytes, b: bytes) -> int:
    """How many places two equal-length byte strings hold the same byte: the zero bytes of their
    XOR (`_zero_bytes`), one popcount instead of a Python loop over the pairs."""
    n = len(a)
    return _zero_bytes(int.from_bytes(a, "little") ^ int.from_bytes(b, "little"), n).bit_count()


#: 0x80 and 0x7f in each of the bytes the byte-parallel tests handle (a sketch's 128 at most;
#: longer strings build their own).
_WIDTH: Final = DEFAULT_SCHEME.num_perm
_HIGH: Final = int.from_bytes(b"\x80" * _WIDTH, "little")
_LOW7: Final = int.from_bytes(b"\x7f" * _WIDTH, "little")


def _byte_masks(n: int) -> tuple[int, int]:
    """0x80 and 0x7f in each of the low `n` bytes of a number."""
    if n <= _WIDTH:
        mask = (1 << 8 * n) - 1
        return _HIGH & mask, _LOW7 & mask
    return int.from_bytes(b"\x80" * n, "little"), int.from_bytes(b"\x7f" * n, "little")


def _zero_bytes(y: int, n: int) -> int:
    """The high bit of every zero byte among the low `n` bytes of `y`, others clear: the classic
    exact zero-byte test, byte-parallel on a Python int."""
    high, low7 = _byte_masks(n)
    return ~(((y & low7) + low7) | y) & high


#: Lead shingles compared (the opening's first ones, every one kept: `lead_tokens` - 2), and
#: how far (in shingles) a match may stray from the shift it counts for: a word or two added or
#: dropped. Past the lead, where one shingle in `opening_sample` is kept, kept values are
#: compared in their order (each side counts the kept shingles it holds), one place either way
#: (`_SPREAD_KEPT`) where an edit may have changed what is kept.
_LEAD_SHINGLES: Final = DEFAULT_SCHEME.lead_shingles
_STRAY: Final = 2
#: A lead this short is compared in place only: a moved match of a few bytes could be chance.
_MIN_MOVED: Final = 8
#: The moved search goes at most one lead's length either way: a sentence of up to 28 shingles
#: added or removed in front. Further, a new lead is a paragraph: a follow-up that put one of
#: 30-40 words over the whole earlier article was dropped 11 times in 100 with no limit, 3 with
#: this one (bench/story_split.py), at the price of edits that added a longer sentence.
_MAX_SHIFT: Final = _LEAD_SHINGLES
#: How many of the article in hand's values, consecutive, the earlier lead is looked for in (as
#: far as v9's opening reached: the moved search needs no further).
_WINDOW: Final = 2 * _LEAD_SHINGLES


_SPREAD: Final = range(-_STRAY, _STRAY + 1)
#: Past the lead, a kept value is looked for one place either way too: an edit may make a
#: shingle kept on one side and not on the other.
_SPREAD_KEPT: Final = range(-1, 2)


_PAD: Final = b"\xff" * _STRAY  # never equal to a value (< 64)


def _agree_in_place(lead: bytes, other: bytes) -> int:
    """Which of `lead`'s shingles agree with `other`'s at the same place (within `_STRAY`): the
    high bit of byte i is set when shingle i does.

    Byte-parallel on Python ints: for each offset, the XOR of the two is zero in the bytes that
    agree; `_zero_bytes` marks them, and the union of the marks is the answer."""
    n = len(lead)
    x = int.from_bytes(lead, "little")
    padded = _PAD + other + b"\xff" * (n + _STRAY)
    agree = 0
    for k in _SPREAD:
        agree |= _zero_bytes(x ^ int.from_bytes(padded[_STRAY + k : _STRAY + k + n], "little"), n)
    return agree


def _in_place(lead: bytes, other: bytes) -> int:
    """How many of `lead`'s shingles agree with `other`'s at the same place (within `_STRAY`)."""
    return _agree_in_place(lead, other).bit_count()


def _prefix_in_place(lead: bytes, other: bytes) -> int:
    """How many of `lead`'s first shingles agree with `other`'s in place without a break."""
    n = len(lead)
    broken = ~_agree_in_place(lead, other) & _byte_masks(n)[0]  # the high bit of each that disagrees
    return n if not broken else ((broken & -broken).bit_length() - 1) // 8


def _shift_votes(
    lead: bytes, other: bytes, lo: int, hi: int, *, in_window: bool = False, start: int = 0
) -> dict[int, int]:
    """For each shift d in [lo, hi]: how many of `lead`'s shingles (from `start` on) agree with
    `other`'s at their place + d (within `_STRAY`). `in_window`: count shingle i only where
    i + d lies in `other` (not by a stray match at its edge), so a count can be set against what
    `other` holds there."""
    places: dict[int, list[int]] = {}
    for j, value in enumerate(other):
        places.setdefault(value, []).append(j)
    size = len(other)
    votes: dict[int, int] = {}
    for i, value in enumerate(lead[start:], start):
        found = places.get(value)
        if found:
            for d in {j - i + k for j in found for k in _SPREAD}:
                if lo <= d <= hi and (not in_window or 0 <= d + i < size):
                    votes[d] = votes.get(d, 0) + 1
    return votes


def _moved(lead: bytes, other: bytes) -> int:
    """The same at the one shift (up to `_MAX_SHIFT` either way) where most of them agree."""
    return max(_shift_votes(lead, other, -_MAX_SHIFT, _MAX_SHIFT).values(), default=0)


# --- the article in hand against a remembered opening ---------------------------------------
# A remembered opening holds the values of its first `_LEAD_SHINGLES` shingles, then those of
# its kept shingles only. The article in hand knows every shingle's value and whether it is
# kept (`sequence`), so where its text lies past the other's lead it knows which of the other's
# kept values it must meet: the kept ones of its own, in the same order.


def _values(sequence: bytes) -> bytes:
    return sequence.translate(_LOW_BITS)


def _mapped_in_python(
    sequence: bytes, other: bytes, d: int, start: int = 0, *, resync: bool = True
) -> tuple[int, int]:
    """The article in hand (`sequence`, from shingle `start` on) laid over a remembered opening
    (`other`) with its shingle i at the other's shingle i + d: (agreeing, compared), counted in
    shingles. Within the other's lead every shingle is compared (within `_STRAY`); past it the
    kept ones, in the order of this side's kept shingles, each standing for itself and the
    shingles not kept before it, which count as agreeing only when it and the kept one before
    it both agree: new text weighs its length however few of its shingles are kept, and a
    chance agreement in it does not carry the gap before it. It holds only where the two texts
    agree from the other's lead's end on (needs `start` <= `_LEAD_SHINGLES` - d). Where this
    side ends first, the shingles after its last kept one go with that one. `resync`: a kept
    value found one place off (an edit made a shingle kept on one side only) sets the places
    from there on."""
    head, tail = other[:_LEAD_SHINGLES], other[_LEAD_SHINGLES:]
    lo = max(start, -d)
    hi = min(len(sequence), len(head) - d)  # this side's shingles that fall in the other's lead
    agree = compared = 0
    last = False  # the shingles before the first kept one agree as the last one compared did
    if hi > lo:
        compared = hi - lo
        found = _agree_in_place(sequence[lo:hi].translate(_LOW_BITS), head[lo + d :])
        agree, last = found.bit_count(), bool(found >> (8 * compared - 1) & 1)
    past = max(start, _LEAD_SHINGLES - d)
    rank, since = 0, past
    for i in range(past, len(sequence)):
        byte = sequence[i]
        if byte & KEPT:
            if rank >= len(tail):
                break
            value = byte & _OPENING_MASK
            found = tail[rank] == value
            if not found and resync:  # kept on one side only (an edit): one place off from here on
                for k in (-1, 1):
                    if 0 <= rank + k < len(tail) and tail[rank + k] == value:
                        rank, found = rank + k, True
                        break
            # the shingles not kept before this one agree if it and the one before agree
            compared += i + 1 - since
            agree += found * (i + 1 - since if last else 1)
            rank, since, last = rank + 1, i + 1, found
    else:
        if rank:  # the shingles after this side's last kept one go with it
            compared += len(sequence) - since
            agree += (len(sequence) - since) * last
    return agree, compared


#: `_mapped_in_python` compiled (worker/dedup/_shingles.c: the same counts, ~0.35 us a call
#: instead of ~6), given the constants above, where it was built; else, or where the module was
#: built before it had `mapped`, the Python.
_mapped = _mapped_in_python
if _compiled is not None and hasattr(_compiled, "mapped"):
    _mapped = functools.partial(_compiled.mapped, _LEAD_SHINGLES, _STRAY, _OPENING_MASK, KEPT)


def _kept_votes(
    sequence: bytes, other: bytes, *, start: int = 0, stop: int = _LEAD_SHINGLES, anchored: bool = False
) -> dict[int, tuple[int, int]]:
    """The kept shingles of `sequence` from `start` to `stop` looked for among the remembered
    opening's kept values, in order, from an unknown place on (text the article in hand does not
    have lies between): for each offset b of its first kept value there, (agreeing, compared),
    counted in shingles as `_mapped` counts them (each kept one standing for those not kept
    before it, agreeing when it and the one before agree). A value may stray one place
    (`_SPREAD_KEPT`). `anchored`: only the offsets at which that first value agrees."""
    tail = other[_LEAD_SHINGLES:]
    places: dict[int, list[int]] = {}
    for j, value in enumerate(tail):
        places.setdefault(value, []).append(j)
    weights: list[int] = []
    votes: dict[int, int] = {}
    matched: dict[int, int] = {}  # offset -> the last kept shingle found there
    since = start
    for i in range(start, min(stop, len(sequence))):
        byte = sequence[i]
        if not byte & KEPT:
            continue
        r, weight = len(weights), i + 1 - since
        weights.append(weight)
        since = i + 1
        for b in {j - r + k for j in places.get(byte & _OPENING_MASK, ()) for k in _SPREAD_KEPT}:
            if b >= 0 and r + b < len(tail) and (r == 0 or not anchored or b in votes):
                # the shingles not kept before this one agree if the one before agrees too
                votes[b] = votes.get(b, 0) + (weight if matched.get(b) == r - 1 else 1)
                matched[b] = r
    return {b: (agree, sum(weights[: len(tail) - b])) for b, agree in votes.items()}


def opening_agreement(later: bytes, earlier: bytes, *, moved: bool = True) -> tuple[float, float]:
    """How well two articles' openings agree: (in place, moved). `later` is the article in
    hand's `sequence`, `earlier` a remembered `opening`.

    *In place*: the share of one lead's shingles found at the same place in the other's opening
    (the larger of the two ways): a teaser, an edit of a word or a figure, added chrome.
    *Moved*: the same at the best shift: a lead found again further on (a sentence added in
    front) or the other's lead found in this opening (the first sentence removed), moved by at
    most a lead's length. A follow-up's new lead paragraph replaces the old lead, or pushes it
    further than that, so neither finds the other. `moved=False` skips
    that search (the dearer half) and returns the in-place share twice.

    At least as large moved as in place. A chance agreement needs a value to match at the right
    place (p ~ 5/64 per shingle): 28 lead shingles agree by chance at ~0.1 in place, and up to
    ~0.35 at the best of the ~100 shifts tried."""
    if not later or not earlier:
        return 0.0, 0.0
    mine = _values(later[:_WINDOW])
    lead, theirs = mine[:_LEAD_SHINGLES], earlier[:_LEAD_SHINGLES]
    in_place = max(_in_place(lead, theirs) / len(lead), _in_place(theirs, mine) / len(theirs))
    if not moved:
        return in_place, in_place
    best = in_place
    if len(theirs) >= _MIN_MOVED:  # the earlier lead in this text: any shift, every shingle known
        best = max(best, _moved(theirs, mine) / len(theirs))
    if len(lead) >= _MIN_MOVED:  # this lead in the earlier opening, moved forward or back
        for d in range(-_MAX_SHIFT, _MAX_SHIFT + 1):
            agree, compared = _mapped(later[:_LEAD_SHINGLES], earlier, d, resync=False)
            # shifted back, the shingles before the earlier's start count as not found
            if compared >= _MIN_MOVED:
                best = max(best, agree / (len(lead) if d < 0 else compared))
    return in_place, best


#: The front-cut search compares the later article's lead, over at least this many shingles
#: (what the earlier opening still holds past the place found), by its kept ones: the first
#: agreeing and 70 % of ~8 more at one of ~30 places is ~1e-7 by chance (p ~ 3/64 each).
_MIN_INSIDE: Final = 16


def lead_inside(later: bytes, earlier: bytes) -> float:
    """The later article's lead (`later`: its `sequence`) found *further into* the earlier one's
    opening than the moved search reaches, past the earlier lead: the later one begins inside
    the earlier, its first sentence or two cut away. Counted over the lead's kept shingles the
    earlier opening still holds there (at least `_MIN_INSIDE`), at the place where most agree.

    Directional on purpose: the later article adds nothing in front, so it is not a follow-up,
    whose lead is new text: its first kept value must agree at the place counted. The other way
    round (the earlier lead found deep in the later article: a new paragraph put over the whole
    earlier one) stays a moved-search question."""
    if len(earlier) <= _LEAD_SHINGLES:
        return 0.0
    votes = _kept_votes(later, earlier, anchored=True)
    return max((agree / n for agree, n in votes.values() if n >= _MIN_INSIDE), default=0.0)


#: The split search (`lead_split`) needs the lead to agree in place over at least its first
#: `_MIN_PREFIX` shingles without a break (five words: by chance ~4e-4), then at least
#: `_MIN_REST` of the rest agreeing at one other place, and at that place as often as the
#: whole must (`_REST_SHARE`), over `_MIN_SPLIT` shingles counted in all. Six of eight values
#: agree by chance at one of ~80 shifts with p ~ 4e-4 (~5/64 each, within the stray).
_MIN_PREFIX: Final = 3
_MIN_REST: Final = 6
_REST_SHARE: Final = 0.7
_MIN_SPLIT: Final = 12


def _split_share(k: int, agree: int, rest: int) -> float:
    if agree < max(_MIN_REST, _REST_SHARE * rest) or k + rest < _MIN_SPLIT:
        return 0.0
    return (k + agree) / (k + rest)


def lead_split(later: bytes, earlier: bytes) -> float:
    """The opening agreeing in place up to a point and from there on at another place: a
    sentence removed from or added to the lead after its first words (a title line or a first
    clause kept, the sentence after it gone or a new one put there). `later` is the article in
    hand's `sequence`, `earlier` a remembered `opening`.

    Counted over the in-place prefix and those of the rest found at the shift; the best shift's
    share, whichever lead is looked for in the other opening. Directional, as `lead_inside`:
    text the later article *lost* is looked for as far as the earlier opening reaches (it adds
    nothing), text it *gained* at most a lead's length, as the moved search does (further, the
    gain is a paragraph: a follow-up that happens to open with the same words, then a new
    paragraph, then the earlier article). The rest must agree on its own as well as the whole
    must, so that a shared first paragraph (two stories opening with the same background) with
    chance agreements after it does not count."""
    if not later or not earlier:
        return 0.0
    best = 0.0
    mine = _values(later[:_WINDOW])
    # the later lost text after its first k shingles: its rest lies further on in the earlier
    lead = later[:_LEAD_SHINGLES]
    k = _prefix_in_place(_values(lead), earlier[:_LEAD_SHINGLES])
    n = len(lead)
    if _MIN_PREFIX <= k < n:
        for d in range(_STRAY + 1, _LEAD_SHINGLES - k + 1):  # places counted on this side
            agree, rest = _mapped(lead, earlier, d, start=k)
            best = max(best, _split_share(k, agree, rest))
        for agree, rest in _kept_votes(later, earlier, start=k).values():  # past that: kept ones
            best = max(best, _split_share(k, agree, rest))
    # the later gained text after the earlier's first k shingles: at most a lead's length
    theirs = earlier[:_LEAD_SHINGLES]
    n, size = len(theirs), len(mine)
    k = _prefix_in_place(theirs, mine)
    if _MIN_PREFIX <= k < n:
        for d, agree in _shift_votes(theirs, mine, -n, _MAX_SHIFT, in_window=True, start=k).items():
            rest = min(n, size - d) - max(k, -d)  # shingles i >= k with i + d inside `mine`
            if abs(d) > _STRAY:
                best = max(best, _split_share(k, agree, rest))
    return best


#: Shingles an opening stands for: its lead, then `opening_sample` for each kept value.
OPENING_SHINGLES: Final = (
    _LEAD_SHINGLES + (DEFAULT_SCHEME.opening_values - _LEAD_SHINGLES) * DEFAULT_SCHEME.opening_sample
)
#: How often a value agrees in place by chance: one of 5 places (within the lead), or of 3 (past
#: it: its place, or after a miss one either way), 6 bits each.
_CHANCE_IN_PLACE: Final = 1 - (1 - 2**-OPENING_BITS) ** (2 * _STRAY + 1)
_CHANCE_KEPT: Final = 1 - (1 - 2**-OPENING_BITS) ** len(_SPREAD_KEPT)


def _mapped_zones(sequence: bytes, other: bytes) -> tuple[int, int, int, int]:
    """`_mapped` at shift 0, split by zone: (agreeing, compared) within the other's lead, then
    past it."""
    a1, n1 = _mapped(sequence[:_LEAD_SHINGLES], other, 0)
    a, n = _mapped(sequence, other, 0)
    return a1, n1, a - a1, n - n1


def opening_containment(later: bytes, earlier: bytes, size_later: int, size_earlier: int) -> float:
    """How much of the smaller text lies in the larger, counted on the openings in place: the
    later article's shingles (`later`: its `sequence`) against the earlier's opening, over the
    part both reach, less the chance agreements expected, as the share of the smaller text.

    A lower bound where the smaller text is longer than what is compared, but a count where the
    sketch estimate is noisiest: a teaser or a short text that is all or most of an article's
    opening. Its containment from the sketches is Jaccard times a size ratio, so at Jaccard 0.3
    the 128 sampled values put it at +-0.13, and a teaser that is wholly the other's lead could
    fall under the duplicate bar. The sizes are the distinct shingle counts."""
    small = min(size_later, size_earlier)
    if not later or not earlier or small <= 0:
        return 0.0
    a1, n1, a2, n2 = _mapped_zones(later, earlier)
    # past the lead, the counts are in shingles already (`_mapped`), chance agreements only at
    # the kept ones: about one in `opening_sample` of those compared
    found = (a1 - _CHANCE_IN_PLACE * n1) / (1 - _CHANCE_IN_PLACE)
    found += (a2 - _CHANCE_KEPT * n2) / (1 - _CHANCE_KEPT)
    return max(0.0, min(1.0, found / small))


#: The whole opening compared by `whole_opening`: its first ~56 shingles (~58 words).
_WHOLE: Final = _WINDOW


def whole_opening(later: bytes, earlier: bytes, size_later: int, size_earlier: int) -> float:
    """The share of the two texts' first `_WHOLE` shingles (~58 words) that agree in place,
    `later` being the article in hand's `sequence`, `earlier` a remembered opening: ~1.0 when
    the two begin with the same ~58 words; 0.0 when the smaller one is shorter than that (a
    text that short is counted by `opening_containment`)."""
    if min(size_later, size_earlier) < _WHOLE or len(later) < _WHOLE or len(earlier) <= _LEAD_SHINGLES:
        return 0.0
    agree, compared = _mapped(later[:_WHOLE], earlier, 0)
    return agree / compared if compared else 0.0


def estimate_containment(jaccard: float, size_a: int, size_b: int) -> float:
    """How much of the smaller shingle set lies in the larger, from Jaccard and the set sizes."""
    small = min(size_a, size_b)
    if small <= 0:
        return 0.0
    intersection = jaccard * (size_a + size_b) / (1 + jaccard)
    return min(1.0, intersection / small)
