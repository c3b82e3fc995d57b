"""The store's hiredis command packing puts the same bytes on the wire as redis-py's own packer."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from worker.dedup.store import connect, refusal_kind


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


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        # what redis-py raises for a full Redis (maxmemory under noeviction) inside the claim script
        (redis.exceptions.OutOfMemoryError(
            "Command # 2 (EVALSHA cf8e 1 k38 f1...) of pipeline caused error: (\"command not allowed "
            "when used memory > 'maxmemory'. script: cf8e, on @user_script:1.\",)"), "oom"),
        (redis.exceptions.ReadOnlyError("You can't write against a read only replica."), "readonly"),
        (redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"), "loading"),
        (redis.exceptions.ResponseError("BUSY Redis is busy running a script."), "busy"),
        (redis.exceptions.ResponseError(
            "Command # 1 (EVALSHA ab 1 k) of pipeline caused error: MISCONF Redis is configured to save "
            "RDB snapshots, but it's currently unable to persist to disk."), "misconf"),
        (redis.exceptions.ResponseError("NOREPLICAS Not enough good replicas to write."), "replicas"),
        (redis.exceptions.ResponseError("CLUSTERDOWN The cluster is down"), "cluster"),
        # an ACL that denies the worker's user the script or its keys (what redis-py raises, and
        # the bare code as a cluster node's reply would carry it)
        (redis.exceptions.NoPermissionError(
            "Command # 1 (EVALSHA 349b 4 nw:v8:c3:{62}:2366:5940...) of pipeline caused error: "
            "('this user has no permissions to access one of the keys used as arguments',)"), "noperm"),
        (redis.exceptions.ResponseError("NOPERM User newsworker has no permissions to run the 'evalsha' command"),
         "noperm"),
        # ... and a command the script calls, denied inside the script (Redis 7.0's wording, no code)
        (redis.exceptions.ResponseError(
            "Command # 1 (EVALSHA 349b 4 aclnw:v8:c3:{5}:965:5940...) of pipeline caused error: (\"The "
            "user executing the script can't run this command or subcommand script: 349b, on "
            "@user_script:15.\",)"), "noperm"),
        # NEWSWORKER_REDIS_URL's /N beyond the server's `databases` (what every connection's SELECT gets)
        (redis.exceptions.ResponseError("DB index is out of range"), "db"),
        # a cluster node's redirection, seen by a client not in cluster mode
        (redis.exceptions.MovedError("5556 127.0.0.1:7102"), "cluster"),
        (redis.exceptions.AskError("5556 127.0.0.1:7102"), "cluster"),
        (redis.exceptions.ResponseError("MOVED 5556 127.0.0.1:7102"), "cluster"),
        # ... or a script call whose keys span slots (one server's calls mix shards)
        (redis.exceptions.ClusterCrossSlotError("Keys in request don't hash to the same slot"), "cluster"),
        (redis.exceptions.ResponseError(
            "Command # 1 (EVALSHA ab 6 k) of pipeline caused error: CROSSSLOT Keys in request don't "
            "hash to the same slot"), "cluster"),
        (redis.exceptions.ResponseError("invalid DB index"), "db"),
        # a cluster none of whose nodes takes the credentials (a rotated password)
        (redis.exceptions.RedisClusterException(
            "Redis Cluster cannot be connected. Please provide at least one reachable node: invalid "
            "username-password pair or user is disabled."), "auth"),
        (redis.exceptions.RedisClusterException("Redis Cluster cannot be connected: Connection refused"), None),
        # a URL naming no Redis primary: a Sentinel's port, a server in protected mode
        (redis.exceptions.ResponseError("unknown command 'SET', with args beginning with: 'k' "), "server"),
        (redis.exceptions.ResponseError(
            "Command # 1 (EVALSHA ab 6 k) of pipeline caused error: unknown command 'EVALSHA'"), "server"),
        (redis.exceptions.ResponseError("DENIED Redis is running in protected mode because protected mode is enabled"), "server"),
        (redis.exceptions.ResponseError("ERR Error running script: attempt to compare nil"), None),
        (redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"), None),
        # a refusal code appearing among the command's arguments is not the reply's code
        (redis.exceptions.ResponseError("Command # 1 (EVALSHA ab 1 OOM) of pipeline caused error: ERR x"), None),
    ],
)
def test_refusals_are_told_from_bugs(exc: redis.exceptions.ResponseError, kind: str | None) -> None:
    assert refusal_kind(exc) == kind


@pytest.mark.parametrize(
    ("exc", "raised", "kind"),
    [
        # the script cache flushed between redis-py's check and the call: retried (it reloads them)
        (redis.exceptions.NoScriptError("No matching script."), "DedupStoreUnavailable", None),
        # not Redis's protocol (the URL names another service): a refusal, not a bug (exit 70)
        (redis.exceptions.InvalidResponse("Protocol Error: b'HTTP/1.0 400 Bad request'"), "DedupStoreRefused", "server"),
        (redis.exceptions.ResponseError("unknown command 'EVALSHA'"), "DedupStoreRefused", "server"),
    ],
)
def test_a_flushed_script_cache_is_an_outage_and_another_service_a_refusal(
    exc: Exception, raised: str, kind: str | None
) -> None:
    from worker.dedup.store import RedisDedupStore
    from worker.errors import DedupStoreRefused, DedupStoreUnavailable

    store = RedisDedupStore(connect("redis://127.0.0.1:1/0"))  # never connects: no command is sent
    with pytest.raises((DedupStoreRefused, DedupStoreUnavailable)) as caught, store._errors_mapped("check", 0.0):
        raise exc
    assert type(caught.value).__name__ == raised
    assert getattr(caught.value, "kind", None) == kind
