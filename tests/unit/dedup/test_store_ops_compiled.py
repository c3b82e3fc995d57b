"""The dedup store's op packing in C (worker/dedup/_store_ops.c) gives what the Python does
(`_pack_ops_in_python`) for every input, and is clean under the sanitizers."""

from __future__ import annotations

import struct
from pathlib import Path

import hiredis
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.sanitized import ROOT, run_sanitized
from worker.dedup import store
from worker.dedup._store_ops import pack_command, pack_ops

ops_strategy = st.lists(
    st.tuples(
        st.binary(max_size=40),  # fields shorter than 4 bytes too (fewer bytes read)
        st.binary(max_size=300),
        st.sampled_from([b"c", b"g", b"t", b"d", b"\x00", b"\xff"]),
    ),
    max_size=300,
)


@settings(max_examples=500, deadline=None)
@given(
    ops=ops_strategy,
    buckets=st.integers(min_value=1, max_value=70_000),
    shards=st.integers(min_value=1, max_value=200),
    per_bucket=st.integers(min_value=0, max_value=8),
)
def test_the_compiled_packing_is_the_python_one(
    ops: list[tuple[bytes, bytes, bytes]], buckets: int, shards: int, per_bucket: int
) -> None:
    assert pack_ops(ops, buckets, shards, per_bucket) == store._pack_ops_in_python(ops, buckets, shards, per_bucket)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.lists(st.binary(min_size=6, max_size=6), min_size=1, max_size=3000),
    shards=st.sampled_from([1, 16, 64]),
)
def test_a_batch_s_worth_of_refs_over_few_buckets(fields: list[bytes], shards: int) -> None:
    # many ops per bucket and shard, as a real batch's claims: 6-byte refs over 4096 buckets
    ops = [(f, f[::-1], b"c") for f in fields]
    assert pack_ops(ops, 4096, shards, 4) == store._pack_ops_in_python(ops, 4096, shards, 4)


def test_what_the_python_refuses_the_c_refuses() -> None:
    for bad in ([(b"x" * 256, b"", b"c")], [(b"abcd", b"", b"cc")], [(b"abcd", b"", b"")]):
        with pytest.raises(struct.error):
            store._pack_ops_in_python(bad, 10, 2, 4)
        with pytest.raises(ValueError):
            pack_ops(bad, 10, 2, 4)
    with pytest.raises(TypeError):
        pack_ops([("abcd", b"", b"c")], 10, 2, 4)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        pack_ops([(b"abcd", b"")], 10, 2, 4)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        pack_ops([], 0, 1, 4)


def test_the_store_uses_the_compiled_packing() -> None:
    assert store.__dict__["_pack_ops_compiled"] is pack_ops
    ops = [(b"\x01\x00\x00\x00ab", b"v", b"c"), (b"\x02\x00\x00\x00", b"", b"g")]
    assert store._pack_ops(ops, 4096, 64, 4) == store._pack_ops_in_python(ops, 4096, 64, 4)
    assert store._pack_ops(tuple(ops), 4096, 64, 4) == store._pack_ops_in_python(ops, 4096, 64, 4)


_ARGUMENT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=60),  # surrogates included: not UTF-8 encodable, left to hiredis
    st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits: left to hiredis
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, True, False, 1.5, None]),
)


def _hiredis(args: tuple[object, ...]) -> bytes | type[Exception]:
    try:
        return hiredis.pack_command(args)  # type: ignore[arg-type]
    except (TypeError, UnicodeEncodeError) as exc:
        return type(exc)


@settings(max_examples=600, deadline=None)
@given(st.lists(_ARGUMENT, min_size=1, max_size=40))
def test_the_compiled_command_is_hiredis_command(args: list[object]) -> None:
    command = tuple(args)
    packed = pack_command(command)
    if packed is None:  # something only hiredis packs (or refuses): it still gets it
        assert not all(
            type(a) is bytes or (type(a) is int and -(2**63) <= a < 2**63)  # type: ignore[operator]
            or (type(a) is str and not any(0xD800 <= ord(c) < 0xE000 for c in a))  # type: ignore[arg-type]
            for a in command
        )
    else:
        assert packed == _hiredis(command)


def test_the_store_packs_commands_compiled_and_as_hiredis_does() -> None:
    assert store.__dict__["_pack_command_compiled"] is pack_command
    packer = store._HiredisPacking()
    for args in (("EVALSHA", "f" * 40, 2, "k:{1}:2:3", "k:{1}:2:4", 1700000000, 3, b"\x00\xff"), ("SET", "k", 1.5)):
        assert packer.pack_command(*args) == [hiredis.pack_command(args)]
    with pytest.raises(redis.exceptions.DataError):
        packer.pack_command("SET", "k", True)
    assert pack_command(()) is None


WORKLOAD = r"""
def op(rng):
    field = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 3, 4, 6, 40, 255])))
    value = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 20, 300])))
    return (field, value, rng.choice([b"c", b"g", b"t"]))

rng = random.Random(7)
for _ in range(400):
    ops = [op(rng) for _ in range(rng.choice([0, 1, 2, 50, 400]))]
    out = m.pack_ops(ops, rng.choice([1, 2, 4096, 70000]), rng.choice([1, 3, 64, 500]), rng.choice([0, 1, 4]))
    assert sum(len(p) for _, _, p in out) == len(ops)
for bad in ([(b"x" * 256, b"", b"c")], [(b"ab", b"", b"")], [("s", b"", b"c")], [(b"a",)]):
    refused(m.pack_ops, bad, 10, 2, 4)
# commands: every argument kind, lengths and numbers at their edges, what is left to hiredis
kinds = [b"", b"x" * 300, "k:{1}:2:3", "سوريا", "\udc80", 0, -1, 9, 10, 2**63 - 1, -(2**63), 2**64, 1.5, None, True]
for _ in range(3000):
    command = tuple(rng.choice(kinds) for _ in range(rng.randrange(0, 60)))
    packed = m.pack_command(command)
    assert packed is None or packed.startswith(b"*")
m.pack_command(tuple([b"y" * 100_000] * 3))
refused(m.pack_command, [b"a"], errors=TypeError)
print("sanitized ok")
"""


def test_the_op_packing_is_clean_under_address_and_ub_sanitizers(tmp_path: Path) -> None:
    run_sanitized(ROOT / "worker" / "dedup" / "_store_ops.c", "_store_ops", WORKLOAD, tmp_path)
