"""The store's hiredis command packing puts the same bytes on the wire as redis-py's own packer."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from worker.dedup.store import connect


def _packers() -> tuple[aioredis.Connection, aioredis.Connection]:
    fast = connect("redis://127.0.0.1:1/0").connection_pool.make_connection()
    plain = aioredis.Redis.from_url("redis://127.0.0.1:1/0").connection_pool.make_connection()
    return fast, plain


@pytest.mark.parametrize(
    "args",
    [
        ("EVALSHA", "abc123", 2, "nw:v1:c:{3}:67:10", "nw:v1:c:{3}:67:11", 1700000000, 4, 1, b"\x00\xff" * 4, b"c"),
        ("CONFIG GET", "maxmemory"),
        (b"HSET", "k", "ü-ت", 1.5, -7, b"x" * 10_000),
    ],
)
def test_same_bytes_as_redis_py(args: tuple[object, ...]) -> None:
    fast, plain = _packers()
    assert type(fast).__name__.startswith("Hiredis")
    assert b"".join(fast.pack_command(*args)) == b"".join(plain.pack_command(*args))
    assert b"".join(fast.pack_commands([args, args])) == b"".join(plain.pack_commands([args, args]))


def test_unencodable_argument_is_a_data_error() -> None:
    fast, _ = _packers()
    with pytest.raises(redis.exceptions.DataError):
        fast.pack_command("SET", "k", object())


def test_custom_encoding_keeps_redis_py_packer() -> None:
    client = connect("redis://127.0.0.1:1/0", encoding="latin-1")
    assert not type(client.connection_pool.make_connection()).__name__.startswith("Hiredis")
