# The compiled shingle hashing (worker/dedup/_shingles.c); see worker/dedup/fingerprint.py.

from collections.abc import Sequence

def shingle_hashes(
    tokens: list[bytes] | bytes, k: int, seed: int, sequence_count: int, /
) -> tuple[bytes, int, bytes, bytes, int]: ...
def mapped(
    lead_shingles: int,
    stray: int,
    mask: int,
    kept: int,
    sequence: bytes,
    other: bytes,
    d: int,
    /,
    start: int = 0,
    *,
    resync: bool = True,
) -> tuple[int, int]: ...
def pack_opening(values: bytes, bits: int, /) -> bytes: ...
def prefixes(items: Sequence[bytes], width: int, /) -> bytes: ...
