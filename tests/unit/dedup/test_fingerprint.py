from __future__ import annotations

import subprocess
import sys

from worker.dedup.fingerprint import DEFAULT_SCHEME, estimate_containment, estimate_jaccard, fingerprint

WORDS = [f"w{i}" for i in range(400)]


def test_exact_hash_equal_for_equal_keys_only() -> None:
    a = fingerprint(" ".join(WORDS), None)
    assert a.exact == fingerprint(" ".join(WORDS), None).exact
    assert a.exact != fingerprint(" ".join(WORDS[1:]), None).exact


def test_sketch_sizes_and_bands() -> None:
    fp = fingerprint(" ".join(WORDS), "https://x.example/a")
    assert len(fp.sketch) == DEFAULT_SCHEME.num_perm
    assert len(fp.lead_sketch) == DEFAULT_SCHEME.lead_perm
    assert len(fp.bands) == DEFAULT_SCHEME.full_bands + DEFAULT_SCHEME.lead_bands
    assert fp.url is not None and len(fp.url) == 8
    assert fp.tokens == 400 and fp.shingles == 398


def test_similar_texts_estimate_high_jaccard_and_different_low() -> None:
    a = fingerprint(" ".join(WORDS), None)
    edited = WORDS[:200] + ["new"] * 5 + WORDS[205:]
    b = fingerprint(" ".join(edited), None)
    c = fingerprint(" ".join(f"z{i}" for i in range(400)), None)
    assert estimate_jaccard(a.sketch, b.sketch) > 0.85
    assert estimate_jaccard(a.sketch, c.sketch) < 0.1


def test_teaser_is_contained_and_shares_lead() -> None:
    full = fingerprint(" ".join(WORDS), None)
    teaser = fingerprint(" ".join(WORDS[:120]), None)
    jac = estimate_jaccard(full.sketch, teaser.sketch)
    assert jac < 0.5
    assert estimate_containment(jac, full.shingles, teaser.shingles) > 0.8
    assert estimate_jaccard(full.lead_sketch, teaser.lead_sketch) > 0.9
    assert full.bands[-DEFAULT_SCHEME.lead_bands :] == teaser.bands[-DEFAULT_SCHEME.lead_bands :]


def test_empty_key_has_no_bands() -> None:
    fp = fingerprint("", None)
    assert fp.bands == () and fp.sketch == b""


def test_deterministic_across_processes() -> None:
    code = (
        "from worker.dedup.fingerprint import fingerprint;"
        "fp = fingerprint('a b c d e f g h', 'https://x');"
        "print(fp.exact.hex(), fp.sketch.hex(), b''.join(fp.bands).hex())"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(outs) == 1
    fp = fingerprint("a b c d e f g h", "https://x")
    assert outs.pop().split() == [fp.exact.hex(), fp.sketch.hex(), b"".join(fp.bands).hex()]


def test_byte_shingles_hash_like_str_shingles() -> None:
    # rensa hashes a str token by its UTF-8 bytes: the byte shingles give the same MinHash.
    import rensa

    from worker.dedup import fingerprint as fp_module

    words = ["سوريا", "وأعلن", "talks", "٣", "x"] * 20
    key = " ".join(words)
    byte_shingles = fp_module._shingles(fp_module._tokens(key, key.encode()), 3)
    str_shingles = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    assert byte_shingles == [s.encode() for s in str_shingles]
    a, b = rensa.RMinHash(num_perm=16, seed=1), rensa.RMinHash(num_perm=16, seed=1)
    a.update(byte_shingles)
    b.update(str_shingles)
    assert a.digest() == b.digest()


def test_tokens_split_on_every_unicode_space() -> None:
    from worker.dedup import fingerprint as fp_module

    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert all(ord(c) < 0x10000 for c in spaces)  # the table is built from the BMP
    for space in spaces:
        key = f"a{space}b c\u00e9 d"
        assert fp_module._tokens(key, key.encode()) == [t.encode() for t in key.split()]
