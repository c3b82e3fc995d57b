"""Fingerprint stage: match key -> exact hash, MinHash sketches and LSH claim keys.

Pure and deterministic across processes, restarts and machines: hashes are xxh3 with fixed
seeds and rensa's seeded MinHash (no Python `hash()`, which is salted per process). Everything a
change of parameters would alter is covered by `Scheme.version`, which is part of every Redis
key, so entries of an old scheme never mix with new ones.

What is computed, and why:
- `exact`: xxh3-128 of the match key. Equal only for the same normalized text.
- full-text MinHash over word shingles (`Scheme.num_perm` values). Its first
  `full_bands * full_rows` values are grouped into LSH bands; two articles sharing any band are
  candidates. Jaccard 0.5 shares a band with p = 1-(1-0.5^r)^b.
- lead MinHash over the shingles of the first `lead_tokens` tokens only. A teaser (the article
  cut short) or an article with a few lines of boilerplate appended has a low full-text Jaccard
  with its original but the same lead, so lead bands find it.
- `sketch`: the low byte of every full MinHash value (b-bit MinHash, Li & König 2010): 128 bytes
  that estimate Jaccard to about +-0.045 when verifying a candidate fetched from Redis.
- `lead_sketch`: likewise for the lead, to tell a teaser of the same story from a different
  story that merely quotes a shared block (containment alone would fire on that).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import rensa
import xxhash

_SEED = 0x6E657773  # "news": fixed forever for a given scheme version


@dataclass(frozen=True, slots=True)
class Scheme:
    """Fingerprint parameters. Changing any of them, or what the match key keeps of a text,
    must change `version`."""

    #: v2: the match key leaves out syndication chrome (worker/normalize/boilerplate.py).
    version: str = "v2"
    shingle: int = 3
    num_perm: int = 128
    full_bands: int = 8
    full_rows: int = 3
    lead_tokens: int = 60
    lead_perm: int = 32
    lead_bands: int = 4
    lead_rows: int = 2


DEFAULT_SCHEME = Scheme()


@dataclass(frozen=True, slots=True)
class ArticleFingerprints:
    """Everything the dedup stage needs from one article."""

    exact: bytes  # 16 bytes
    tokens: int  # match-key token count
    shingles: int  # distinct shingle count of the full text (for containment estimates)
    sketch: bytes  # b-bit full MinHash, num_perm bytes; empty when there are no tokens
    lead_sketch: bytes  # b-bit lead MinHash, lead_perm bytes; empty when there are no tokens
    bands: tuple[bytes, ...]  # LSH claim keys (8 bytes each), full bands then lead bands
    url: bytes | None  # 8-byte hash of the canonical URL

    @property
    def exact_hex(self) -> str:
        return self.exact.hex()


#: Characters ``str.split()`` splits on but ``bytes.split()`` does not (``\x1c``-``\x1f``, NBSP,
#: the Unicode spaces; all in the BMP), by the first byte of their UTF-8 form: a key holding none
#: of these bytes splits the same either way.
_STR_ONLY_SPACE_BYTES: Final = tuple(
    sorted(
        {c.encode("utf-8")[:1] for c in map(chr, range(0x10000)) if c.isspace() and not c.encode().isspace()}
    )
)


def _tokens(match_key: str, key_bytes: bytes) -> list[bytes]:
    """``match_key.split()``, each token UTF-8 encoded (what rensa hashes), from the encoded key."""
    for lead in _STR_ONLY_SPACE_BYTES:
        if lead in key_bytes:
            return [token.encode("utf-8") for token in match_key.split()]
    return key_bytes.split()


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


def _bands(packed: bytes, bands: int, rows: int, tag: int) -> list[bytes]:
    width = rows * 4
    return [
        xxhash.xxh3_64_digest(packed[b * width : (b + 1) * width], seed=tag * 1000 + b) for b in range(bands)
    ]


def fingerprint(
    match_key: str, canonical_url: str | None, scheme: Scheme = DEFAULT_SCHEME
) -> ArticleFingerprints:
    """Fingerprints of one article's match key (tokens separated by single spaces)."""
    key_bytes = match_key.encode("utf-8")
    exact = xxhash.xxh3_128(key_bytes, seed=_SEED).digest()
    tokens = _tokens(match_key, key_bytes)
    url = xxhash.xxh3_64(canonical_url.encode("utf-8"), seed=_SEED).digest() if canonical_url else None
    if not tokens:
        return ArticleFingerprints(exact, 0, 0, b"", b"", (), url)
    full = _shingles(tokens, scheme.shingle)
    if scheme.lead_tokens > scheme.shingle:
        # the lead's shingles are the first ones of the full text (all of them for a short text)
        lead = full[: scheme.lead_tokens - scheme.shingle + 1]
    else:
        lead = _shingles(tokens[: scheme.lead_tokens], scheme.shingle)
    full_packed = _packed(_minhash(full, scheme.num_perm))
    lead_packed = _packed(_minhash(lead, scheme.lead_perm))
    bands = _bands(full_packed, scheme.full_bands, scheme.full_rows, 1)
    bands += _bands(lead_packed, scheme.lead_bands, scheme.lead_rows, 2)
    return ArticleFingerprints(
        exact=exact,
        tokens=len(tokens),
        shingles=len(set(full)),
        sketch=full_packed[::4],  # the low byte of each little-endian value
        lead_sketch=lead_packed[::4],
        bands=tuple(bands),
        url=url,
    )


def estimate_jaccard(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two b-bit (8-bit) MinHash sketches of equal length.

    With 8 bits, unrelated values still agree with probability 1/256, hence the correction.
    """
    if not a or len(a) != len(b):
        return 0.0
    agree = sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)
    return max(0.0, (agree - 1 / 256) / (1 - 1 / 256))


def estimate_containment(jaccard: float, size_a: int, size_b: int) -> float:
    """How much of the smaller shingle set lies in the larger, from Jaccard and the set sizes."""
    small = min(size_a, size_b)
    if small <= 0:
        return 0.0
    intersection = jaccard * (size_a + size_b) / (1 + jaccard)
    return min(1.0, intersection / small)
