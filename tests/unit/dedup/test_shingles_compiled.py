"""The compiled shingle hashing (worker/dedup/_shingles.c) gives the Python path's fingerprints.

Both paths are run on the same keys and compared whole (`ArticleFingerprints`, every field):
generated keys that mix scripts, whitespace of every kind and repeated shingles, and rensa's own
hashing of the tokens at the lengths where its hash changes branch.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import rensa
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.dedup import fingerprint as fp_module
from worker.dedup.fingerprint import DEFAULT_SCHEME, Scheme

compiled = pytest.importorskip("worker.dedup._shingles", reason="not built (see pyproject.toml)")


def test_the_compiled_hashing_is_what_fingerprint_uses() -> None:
    # scripts/setup.sh installs what the build needs (gcc, libxxhash-dev): a test machine without
    # the module has a broken build, which pip reports only as a warning (the extension is optional)
    assert fp_module.COMPILED


def _both(key: str, scheme: Scheme = DEFAULT_SCHEME, url: str | None = "https://example.com/a") -> None:
    python = fp_module._fingerprint(key, url, scheme, compiled=False)
    in_c = fp_module._fingerprint(key, url, scheme, compiled=True)
    assert in_c == python, [
        name for name in python.__struct_fields__ if getattr(python, name) != getattr(in_c, name)
    ]


#: Words of several scripts, runs written without spaces, and every kind of space: ASCII ones
#: (``bytes.split`` splits on them), and the ones only ``str.split`` splits on.
_WORDS = st.sampled_from(
    [
        "سوريا", "وأعلن", "المبعوث", "news", "a", "bb", "ccccccc", "dddddddd", "eeeeeeeeeeeeeeeee",
        "x" * 40, "苹果公司", "今天发布了新手机", "สวัสดีครับ", "東京", "2024年", "ceo", "Ελλάδα", "Москва",
    ]
)
_SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\xa0", "\u2003", "\u3000"])


@st.composite
def _keys(draw: st.DrawFn) -> str:
    words = draw(st.lists(_WORDS, max_size=120))
    out = [draw(st.sampled_from(["", " ", "\n"]))]
    for word in words:
        out += [word, draw(_SPACES)]
    return "".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_keys())
def test_generated_keys_fingerprint_the_same_both_ways(key: str) -> None:
    _both(key)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 27, 28, 29, 30, 31, 97, 98, 99, 196, 197, 600])
def test_every_length_around_the_lead_and_the_opening_parts(count: int) -> None:
    # the lead (28 shingles), the opening's first part (98) and its second (196) end here
    _both(" ".join(f"w{i % 37}" for i in range(count)))
    _both(" ".join(["same"] * count))  # one distinct shingle however long


def test_keys_of_the_other_token_paths() -> None:
    _both("苹果公司今天发布了新的手机产品 iphone 16 售价 5999元")  # unspaced runs cut into units
    _both("word\u00a0another word here and\u2009there")  # a space str.split knows, bytes.split not
    _both("")
    _both("   \t\n ")


def test_another_scheme_fingerprints_the_same_both_ways() -> None:
    for scheme in (
        Scheme(version="t1", shingle=2, lead_tokens=10, lead_perm=16, opening_values=20),
        Scheme(version="t2", shingle=5, num_perm=64, full_bands=4),
        Scheme(version="t3", shingle=3, lead_tokens=3),  # lead no longer than a shingle: Python only
    ):
        _both(" ".join(f"w{i % 53}" for i in range(150)), scheme)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: b.split() == [b]), max_size=40))
def test_shingle_hashes_are_rensas_own(tokens: list[bytes]) -> None:
    # rensa's hash branches at 4, 8 and 16 bytes: arbitrary bytes of every length up to 40
    k = 3
    shingles = fp_module._shingles(tokens, k)
    hashes, distinct, low, second, count = compiled.shingle_hashes(tokens, k, 7, 10)
    assert count == len(tokens)
    assert distinct == len(set(shingles))
    assert len(hashes) == 8 * len(shingles)
    if shingles:
        mh = rensa.RMinHash(num_perm=16, seed=7)
        mh.update(shingles)
        flat = memoryview(hashes).cast("Q")
        digest = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, [0, len(flat)], 16, 7)
        assert digest.to_rows()[0] == mh.digest()
    digests = [xxhash.xxh3_64_digest(s, seed=7) for s in shingles[:10]]
    assert low == bytes(d[7] for d in digests)
    assert second == bytes(d[6] for d in digests)


def test_a_key_is_split_as_bytes_split_splits_it() -> None:
    key = b" \t a\x0bbb\x0c\r\nccc \x1c d\xc2\xa0e  "
    *_, count = compiled.shingle_hashes(key, 3, 1, 0)
    assert count == len(key.split()) == 5  # \x1c and NBSP are not ASCII whitespace


def test_bad_arguments_are_refused_not_crashed_on() -> None:
    with pytest.raises(TypeError):
        compiled.shingle_hashes(["a", "b"], 3, 1, 0)
    with pytest.raises(TypeError):
        compiled.shingle_hashes(("a",), 3, 1, 0)
    with pytest.raises(ValueError):
        compiled.shingle_hashes([b"a"], 0, 1, 0)
    assert compiled.shingle_hashes([], 3, 1, -5) == (b"", 0, b"", b"", 0)


def test_a_long_key_of_long_tokens() -> None:
    _both(" ".join(("y" * (i % 300)) + str(i) for i in range(20_000)))


def test_the_golden_texts_fingerprint_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.dedup.test_fingerprint import golden_values

    in_c = golden_values()
    monkeypatch.setattr(fp_module, "COMPILED", False)
    assert golden_values() == in_c


def test_a_compiled_hashing_that_disagrees_with_rensa_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # what an install that does not follow the pins would meet: a rensa whose token hash changed
    assert fp_module._compiled_agrees()

    class Drifted:
        @staticmethod
        def shingle_hashes(*args: object) -> tuple[bytes, int, bytes, bytes, int]:
            hashes, distinct, low, second, count = compiled.shingle_hashes(*args)
            return bytes(b ^ 1 for b in hashes), distinct, low, second, count

    monkeypatch.setattr(fp_module, "_compiled", Drifted)
    assert not fp_module._compiled_agrees()
    assert "disagrees with rensa" in caplog.text


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=2**40),
)
def test_compiled_bands_are_the_python_bands(packed: bytes, bands: int, rows: int, tag: int) -> None:
    # short signatures included: a band past the end hashes what its slice holds (maybe nothing)
    assert compiled.bands(packed, bands, rows, tag) == fp_module._bands_in_python(packed, bands, rows, tag)


@pytest.mark.parametrize(("bands", "rows"), [(3, 2**60), (5, 2**40), (2, 2**30)])
def test_compiled_bands_past_any_signature_are_the_python_slices(bands: int, rows: int) -> None:
    packed = bytes(range(100))
    assert compiled.bands(packed, bands, rows, 7) == fp_module._bands_in_python(packed, bands, rows, 7)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=256))
def test_compiled_pack_opening_is_the_python_packing(values: bytes) -> None:
    # values of 64 and over included: both keep their low six bits; 256 values: both refuse
    if len(values) > 255:
        with pytest.raises(ValueError):
            fp_module._pack_opening_in_python(values)
        with pytest.raises(ValueError):
            compiled.pack_opening(values, fp_module.OPENING_BITS)
        return
    packed = compiled.pack_opening(values, fp_module.OPENING_BITS)
    assert packed == fp_module._pack_opening_in_python(values)
    assert fp_module.unpack_opening(packed) == bytes(v & 0x3F for v in values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=12), max_size=30), st.integers(min_value=0, max_value=14))
def test_compiled_prefixes_are_the_python_slices(items: list[bytes], width: int) -> None:
    assert compiled.prefixes(items, width) == fp_module._prefixes_in_python(items, width)
    assert compiled.prefixes(tuple(items), width) == b"".join(item[:width] for item in items)


def test_records_pack_and_tag_with_the_compiled_functions() -> None:
    assert fp_module.pack_opening is fp_module._pack_opening_compiled
    assert fp_module.prefixes is compiled.prefixes
    assert compiled.pack_opening(bytes([1, 2, 3, 4]), 6) == bytes([4, 0x81, 0x30, 0x10])
    with pytest.raises(TypeError):
        compiled.prefixes([b"a", "b"], 1)


def test_fingerprint_uses_the_compiled_bands_and_they_are_xxh3() -> None:
    assert fp_module._bands is compiled.bands
    packed = bytes(range(64))
    assert compiled.bands(packed, 2, 2, 3) == [
        xxhash.xxh3_64_digest(packed[0:8], seed=3000),
        xxhash.xxh3_64_digest(packed[8:16], seed=3001),
    ]
    with pytest.raises(ValueError):
        compiled.bands(packed, -1, 2, 3)
    with pytest.raises(TypeError):
        compiled.bands("not bytes", 1, 2, 3)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(min_value=0, max_value=120).flatmap(
        lambda n: st.tuples(st.binary(min_size=n, max_size=n), st.binary(min_size=n, max_size=n))
    ),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=40),
    st.sampled_from([1, 2, 3, 4]),
    st.integers(min_value=0, max_value=70),
)
def test_compiled_sequence_is_the_python_assembly(
    parts: tuple[bytes, bytes], lead: int, rest: int, rate: int, first: int
) -> None:
    # short hashes (a text of few shingles), an empty first part, a rest the first part fills or not
    low, second = parts
    # what `_assembled` reads of a scheme, with `first` (`_first_part`'s) set apart from them
    scheme = SimpleNamespace(
        lead_shingles=lead, opening_values=lead + rest, opening_sample=rate, opening_sample_unspaced=rate
    )
    first_part = fp_module._first_part
    try:
        fp_module._first_part = lambda _scheme, _unspaced: first  # type: ignore[assignment]
        python = fp_module._assembled(lambda a, b: (low[a:b], second[a:b]), scheme, False)
    finally:
        fp_module._first_part = first_part  # type: ignore[assignment]
    in_c = compiled.sequence(low, second, lead, rest, 256 // rate, first, fp_module._OPENING_MASK, fp_module.KEPT)
    assert in_c == python


def test_fingerprint_uses_the_compiled_sequence() -> None:
    assert fp_module._compiled_sequence is compiled.sequence
    with pytest.raises(ValueError):
        compiled.sequence(b"ab", b"a", 0, 1, 128, 2, 63, 64)


# -- the distinct count: rensa's hash first, the keyed hash where input collides in it ------------


def _distinct(tokens: list[bytes] | bytes, k: int = 3) -> int:
    return compiled.shingle_hashes(tokens, k, 1, 0)[1]


def test_input_built_to_collide_in_rensas_hash_is_counted_on_the_keyed_hash() -> None:
    # tokens (k=1: each its own shingle) whose rensa hashes share their low 9 bits: 250 of them
    # fill a 512-slot table from one slot on, ~31,000 probes, where the limit is 8 a shingle
    candidates = [b"t%d" % i for i in range(200_000)]
    hashes = memoryview(compiled.shingle_hashes(candidates, 1, 1, 0)[0]).cast("Q")
    by_slot: dict[int, list[bytes]] = {}
    for token, h in zip(candidates, hashes, strict=True):
        by_slot.setdefault(h & 511, []).append(token)
    colliding = max(by_slot.values(), key=len)[:250]
    assert len(colliding) == 250
    for turn in range(8):  # in several orders: each fills the unkeyed table differently before it gives up
        tokens = colliding[turn * 31 :] + colliding[: turn * 31]
        before = compiled.keyed_counts()
        assert _distinct(tokens + tokens[:50], 1) == 250  # repeats counted once
        assert compiled.keyed_counts() == before + 1


def test_ordinary_text_is_counted_without_the_keyed_hash() -> None:
    # real articles' keys (the corpus, where the machine has it) and generated ones: rensa's hash
    # is deterministic, so whether a key falls back is too
    keys = [" ".join(f"w{(i * 7919 + j) % 5000}" for j in range(n)).encode() for i, n in enumerate(range(1, 900, 7))]
    before = compiled.keyed_counts()
    for key in keys:
        compiled.shingle_hashes(key, 3, 1, 0)
    assert compiled.keyed_counts() == before


@pytest.mark.parametrize("limit", [-1, 0])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=_keys())
def test_the_keyed_count_is_the_same_count(limit: int, key: str) -> None:
    # -1: straight to the keyed hash; 0: to it at the first probe past a first slot
    tokens = key.encode("utf-8")
    expected = compiled.shingle_hashes(tokens, 3, 1, 10)
    previous = compiled.set_probe_limit(limit)
    try:
        before = compiled.keyed_counts()
        assert compiled.shingle_hashes(tokens, 3, 1, 10) == expected
        assert compiled.keyed_counts() >= before + (limit < 0)
    finally:
        compiled.set_probe_limit(previous)
