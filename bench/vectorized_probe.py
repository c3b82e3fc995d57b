"""Would shingle hashes computed in numpy (not as Python bytes objects) make `fingerprint` cheaper?

    python bench/vectorized_probe.py [--articles 3000] [--rounds 5] [--chunk 64]

`fingerprint` spends most of its time making Python objects: a ``bytes`` per token, one per
shingle, a set of them (docs/BENCHMARKS.md, "Where fingerprint's time goes"); rensa's MinHash
itself is a few µs. rensa 0.5 can take 64-bit token *hashes* instead
(``RMinHash.digest_matrix_from_flat_token_hashes``, many rows in one call), so shingle hashes
made in numpy would skip those objects. They would not be rensa's hashes of the shingle bytes:
a new fingerprint scheme. This probe times, over the match keys of real articles (the same
process, the sides alternating, medians of the rounds), what stands between a match key and
its full MinHash, distinct shingle count and opening values:

- ``python``: today's path (`_tokens`, `_shingles`, ``set``, rensa ``update``, `_opening`);
- ``numpy``: per article, token hashes by a polynomial prefix sum over the key's bytes, shingle
  hashes mixed from three token hashes, rensa's matrix call for one row, ``np.unique``;
- ``numpy, chunked``: the same over `--chunk` articles at a time (one buffer, one rensa call),
  as a batch-wise prepare stage would run it.

It compares costs only; the two hash families are not the same values (a scheme change).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rensa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus
from worker.dedup import fingerprint as fp
from worker.normalize.text import normalize_text

U = np.uint64
_BASE = 0x100000001B3  # odd: invertible modulo 2**64
_C1, _C2 = U(0xFF51AFD7ED558CCD), U(0xC4CEB9FE1A85EC53)
_K1, _K2 = U(0x9E3779B97F4A7C15), U(0xC2B2AE3D27D4EB4F)
_SEED = 0x6E657773


def _inverse(x: int) -> int:
    y = x
    for _ in range(6):  # Newton's iteration doubles the correct low bits each time
        y = (y * (2 - x * y)) & ((1 << 64) - 1)
    return y


def _powers(base: int, n: int) -> np.ndarray:
    out = np.cumprod(np.full(n, base, dtype=U), dtype=U)
    return np.concatenate(([U(1)], out[:-1]))


def _fmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> U(33))
    h = h * _C1
    h = h ^ (h >> U(33))
    h = h * _C2
    return h ^ (h >> U(33))


class Hasher:
    def __init__(self, longest: int) -> None:
        self.pow = _powers(_BASE, longest + 1)
        self.inv = _powers(_inverse(_BASE), longest + 1)

    def token_hashes(self, buf: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of the space-separated tokens of `buf`, and their start offsets."""
        a = np.frombuffer(buf, dtype=np.uint8)
        spaces = np.flatnonzero(a == 32)
        starts = np.concatenate(([0], spaces + 1))
        ends = np.concatenate((spaces, [len(a)]))
        prefix = np.zeros(len(a) + 1, dtype=U)
        np.cumsum(a * self.pow[: len(a)], out=prefix[1:])
        raw = (prefix[ends] - prefix[starts]) * self.inv[starts]
        return _fmix(raw ^ (ends - starts).astype(U)), starts

    @staticmethod
    def shingles(tokens: np.ndarray) -> np.ndarray:
        return _fmix(tokens[:-2] * _K1 + tokens[1:-1] * _K2 + tokens[2:])


def python_path(keys: list[str]) -> None:
    for key in keys:
        tokens = fp._tokens(key, key.encode("utf-8"))
        full = fp._shingles(tokens, 3)
        fp._minhash(full, 128)
        len(set(full))
        fp._sequence(full, fp.DEFAULT_SCHEME)


def numpy_path(hasher: Hasher, keys: list[bytes]) -> None:
    offsets = np.zeros(2, dtype=U)
    for key in keys:
        tokens, _ = hasher.token_hashes(key)
        sh = hasher.shingles(tokens)
        offsets[1] = len(sh)
        rensa.RMinHash.digest_matrix_from_flat_token_hashes(sh, offsets, 128, _SEED).to_rows()
        len(np.unique(sh))
        (sh[:56] & U(63)).astype(np.uint8).tobytes()


def chunked_path(hasher: Hasher, keys: list[bytes], chunk: int) -> None:
    for at in range(0, len(keys), chunk):
        part = keys[at : at + chunk]
        tokens, _ = hasher.token_hashes(b" ".join(part))
        counts = np.fromiter((k.count(b" ") + 1 for k in part), dtype=np.int64, count=len(part))
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        sh = hasher.shingles(tokens)
        row = np.repeat(np.arange(len(part)), counts)[:-2]
        keep = row == np.repeat(np.arange(len(part)), counts)[2:]  # no shingle across articles
        sh, row = sh[keep], row[keep]
        offsets = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=len(part))))).astype(U)
        rensa.RMinHash.digest_matrix_from_flat_token_hashes(sh, offsets, 128, _SEED).to_rows()
        order = np.lexsort((sh, row))
        s, r = sh[order], row[order]
        new = np.ones(len(s), dtype=bool)
        new[1:] = (s[1:] != s[:-1]) | (r[1:] != r[:-1])
        np.bincount(r[new], minlength=len(part))
        (sh[: 56 * len(part)] & U(63)).astype(np.uint8)
        del first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=64)
    args = parser.parse_args(argv)
    articles = corpus.load_articles(limit=args.articles)
    if not articles:
        print("no corpus (../shared/data/ant-dev.jsonl.gz): nothing to time")
        return 0
    keys = [
        k
        for a in articles
        if (k := normalize_text(title=a.get("title"), text=a.get("text"), html=a.get("html")).match_key)
        and len(k.split()) >= 3
        and k.isascii() is False
    ]
    raw = [k.encode("utf-8") for k in keys]
    hasher = Hasher(len(b" ".join(raw)))
    sides: dict[str, Callable[[], None]] = {
        "python": lambda: python_path(keys),
        "numpy": lambda: numpy_path(hasher, raw),
        f"numpy, chunked by {args.chunk}": lambda: chunked_path(hasher, raw, args.chunk),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    with np.errstate(over="ignore"):
        for side in sides.values():
            side()  # warm-up
        for _ in range(args.rounds):
            for name, side in sides.items():
                start = time.perf_counter()
                side()
                times[name].append((time.perf_counter() - start) / len(keys) * 1e6)
    print(f"{len(keys)} match keys, {args.rounds} rounds, µs per article (median, range):")
    for name, values in times.items():
        print(f"  {name:24} {statistics.median(values):7.1f}  ({min(values):.1f}-{max(values):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
