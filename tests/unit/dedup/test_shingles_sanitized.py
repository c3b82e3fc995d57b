"""The C shingle hashing under AddressSanitizer and UndefinedBehaviorSanitizer
(tests/support/sanitized.py): random keys, token lists, shingle sizes and counts (empty, one
token, long tokens, every whitespace byte, bad arguments), the distinct count's keyed fallback,
the band keys and the opening's sequence."""

from __future__ import annotations

from pathlib import Path

from tests.support.sanitized import ROOT, run_sanitized

SOURCE = ROOT / "worker" / "dedup" / "_shingles.c"

WORKLOAD = r"""
rng = random.Random(20261206)
alphabet = b"ab \t\n\r\x0b\x0cxyz\xd8\xa7\xe3\x81\x82"
for i in range(6000):
    if rng.random() < 0.5:
        arg = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
    else:
        arg = [bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))) for _ in range(rng.randrange(0, 60))]
    hashes, distinct, low, second, count = m.shingle_hashes(arg, rng.randrange(1, 6), rng.getrandbits(64), rng.randrange(-3, 300))
    assert len(low) == len(second) <= len(hashes) // 8 and distinct <= len(hashes) // 8
m.shingle_hashes(b"a " * 200_000, 3, 1, 200)
m.shingle_hashes([b"x" * 100_000] * 5, 3, 1, 5)
for bad in (None, 3, "text", [b"a", "b"], (b"a",)):
    refused(m.shingle_hashes, bad, 3, 1, 1, errors=TypeError)
# the distinct count on the keyed hash: straight to it, and after the first probe
for limit in (-1, 0):
    previous = m.set_probe_limit(limit)
    for i in range(1500):
        arg = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
        m.shingle_hashes(arg, rng.randrange(1, 6), rng.getrandbits(64), rng.randrange(-3, 300))
    m.set_probe_limit(previous)
# the band keys: signatures shorter than their bands, empty ones, no bands
for i in range(3000):
    packed = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
    out = m.bands(packed, rng.randrange(0, 20), rng.randrange(0, 5), rng.getrandbits(40))
    assert all(len(d) == 8 for d in out)
refused(m.bands, b"x", -1, 2, 1, errors=ValueError)
refused(m.bands, b"x", 1, 2**62, 1, errors=ValueError)
m.bands(b"abc", 3, 2**60, 1)  # band offsets past any signature: empty slices, no overflow
m.sequence(b"abcd", b"abcd", 0, 100, 128, 2**62, 63, 64)
refused(m.bands, "text", 1, 2, 1, errors=TypeError)
# the opening's sequence: parts past the end, an empty first part, a rest never reached
for i in range(3000):
    n = rng.randrange(0, 120)
    low, second = rng.randbytes(n), rng.randbytes(n)
    out = m.sequence(low, second, rng.randrange(0, 40), rng.randrange(-2, 40), rng.randrange(0, 257),
                     rng.randrange(0, 70), 63, 64)
    assert len(out) <= n
refused(m.sequence, b"ab", b"a", 0, 1, 128, 2, 63, 64, errors=ValueError)
refused(m.sequence, b"ab", b"ab", 0, 1, 128, 2, 300, 64, errors=ValueError)
# the packed opening and the band tags: every length up to the count byte's, and past it
for i in range(3000):
    values = rng.randbytes(rng.randrange(0, 256))
    assert len(m.pack_opening(values, rng.randrange(1, 9))) <= 1 + len(values)
    items = [rng.randbytes(rng.randrange(0, 12)) for _ in range(rng.randrange(0, 30))]
    assert len(m.prefixes(items, rng.randrange(0, 12))) <= sum(map(len, items))
refused(m.pack_opening, bytes(256), 6, errors=ValueError)
refused(m.pack_opening, b"ab", 0, errors=ValueError)
refused(m.pack_opening, b"ab", 9, errors=ValueError)
refused(m.prefixes, [b"a"], -1, errors=ValueError)
refused(m.prefixes, [b"a", "b"], 2, errors=TypeError)
refused(m.prefixes, None, 2, errors=TypeError)
print("sanitized ok")
"""


def test_the_shingle_hashing_is_clean_under_address_and_ub_sanitizers(tmp_path: Path) -> None:
    run_sanitized(SOURCE, "_shingles", WORKLOAD, tmp_path)
