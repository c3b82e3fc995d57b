"""The dedup store in Redis: atomic check-and-record of claim keys, bounded by a time window.

Layout (all keys start with `<prefix>:<scheme version>:`, so a new fingerprint scheme never
reads an old one's entries):

    <p>:<v>:c<layout>:{<shard>}:<bucket>:<generation>   hash  claim field -> value

- A *claim* is (8-byte field, value). The exact claim's value is the owner's whole record
  (msgpack `StoredRecord`); url and band claims hold the owner's ref (`dedup.REF_BYTES`, the
  start of its exact hash, which is also its exact claim's field). Fields are REF_BYTES long.
- *Buckets* keep each hash small enough for Redis' compact listpack encoding (tens of fields),
  which is what keeps memory near 30 bytes per claim instead of ~90 for a key per claim. Their
  count is the index's, like the generation length below (`<p>:<v>:c<layout>:buckets`).
- *Generations* bound memory: a claim is written into the hash of the current generation and
  read from the live ones; each generation's hashes expire `window + 2 generations` after the
  generation began, so an entry is remembered for at least the window and at most 1.5 windows.
  One generation ahead is read too, which tolerates clock skew of up to a generation between
  workers. A generation is half the window *the index began with*: its length is kept in
  `<p>:<v>:c<layout>:generation` (set once, no expiry), because key names count generations, and
  a worker that counted them in another length would read other hashes. A later window only
  changes how many generations back are read (as many as reach `window` into the past) and when
  new hashes expire: changing NEWSWORKER_DEDUP_WINDOW_SECONDS forgets nothing.
- *Shards* make one Lua call per shard per batch possible on Redis Cluster: every key of a shard
  carries the hash tag `{<shard>}`, so one script touches one slot only, and the `shards`
  (default 64) hash tags spread over the cluster's slots.

Atomicity: each script runs atomically on its slot and processes its claims in batch order, so
for every claim key exactly one article in the whole system becomes its owner ("set if absent,
else return the owner"). That is all `dedup.decide` needs for a consistent verdict; records are
written a round trip *before* claims, so a claim's owner always has a record to verify against.

A record is written *pending* (its state byte 0) and its decision is recorded over it afterwards
by a compare-and-set in Lua (`d`): a later article resolves `duplicate_of` / `story_id` through
decided records only, waiting briefly for another worker's pending one and taking it over
(decided clean, atomically) if that worker died or stalls (`await_decided`).

Round trips per batch: records (exact claims), then the url and band claims, then, only when
some article has candidates, their records, then one write of the decisions (a clean one flips
the state byte in place; others carry their record). Only when an article depends on another
worker's pending record: polls for it, and after `PENDING_WAIT_SECONDS` one takeover call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import hiredis
import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from worker.config import Settings
from worker.dedup.decision import (
    CLEAN,
    PENDING,
    REF_BYTES,
    ClaimView,
    StoreAnswer,
    StoredRecord,
    StoreItem,
    decode_record,
    encode_record,
)
from worker.dedup.fingerprint import DEFAULT_SCHEME, Scheme
from worker.errors import DedupStoreRefused, DedupStoreUnavailable

#: Version of the key and value layout below; part of every key, like the fingerprint scheme,
#: so that a layout change never reads entries written by another.
#: 3: records are written before claims, carry their decision state (and story), no origin.
LAYOUT = "3"

log = logging.getLogger(__name__)

#: At most one warning this often about records that cannot be read.
_UNREADABLE_LOG_SECONDS = 60.0
_unreadable = {"count": 0, "logged_at": float("-inf")}


def _record_of(raw: bytes) -> StoredRecord | None:
    """A stored record, or None (as if it had expired) where the bytes are not one: written by
    something else under the worker's prefix, or damaged. Taking it for a bug would stop the
    worker on every restart (the same batch comes back); an unreadable record can only cost a
    duplicate found, never an article."""
    try:
        return decode_record(raw)
    except msgspec.DecodeError as exc:
        _unreadable["count"] += 1
        now = time.monotonic()
        if now - _unreadable["logged_at"] >= _UNREADABLE_LOG_SECONDS:
            _unreadable["logged_at"] = now
            log.warning(
                "%d dedup record(s) in Redis could not be read and were taken as expired (last: %s); "
                "is something else writing under NEWSWORKER_REDIS_KEY_PREFIX?",
                _unreadable["count"], exc,
            )
        return None


def _readable(refs: Sequence[bytes], raws: Sequence[bytes | None]) -> dict[bytes, StoredRecord]:
    """The records among `raws` (None or empty: no record under that ref), by ref; unreadable
    ones left out."""
    records = {ref: _record_of(raw) for ref, raw in zip(refs, raws, strict=True) if raw}
    return {ref: record for ref, record in records.items() if record is not None}


#: How long an article waits for a pending record it depends on (another worker's article in
#: flight between its record and its decision, normally milliseconds) before taking it over.
#: Long enough for a batch on a loaded machine, short enough that a dead worker costs others
#: little (a stalled worker is noticed by the broker only after its session timeout).
_PENDING_POLL_SECONDS = (0.01, 0.03, 0.06, 0.1, 0.2, 0.4, 0.6, 0.6)
PENDING_WAIT_SECONDS = sum(_PENDING_POLL_SECONDS)

#: The keys (under the store's prefix) holding the index's own layout parameters: its
#: generation length in seconds, and its bucket count (`RedisDedupStore._load_index`).
GENERATION_KEY = "generation"
BUCKETS_KEY = "buckets"
#: A window this many generations of the index long (or more) is read at a cost: each claim
#: looks in every generation it reaches (4 for twice the window the index began with).
_WARN_GENERATIONS_BACK = 4

#: Hash tags across which claims are spread. 64 slots are enough to spread load over any
#: realistic cluster while keeping a batch at <= 64 script calls.
DEFAULT_SHARDS = 64
#: On one server (not a cluster), the ops of a round trip go in script calls of about this many,
#: not one per shard: a batch's 500 records in one call instead of 64 calls of ~8, its ~7,000
#: claims in ~14. Each call costs the client a command (~15 µs of redis-py) and Redis a script
#: run; ~500 ops keep a run near a millisecond (other clients interleave between calls) and its
#: Lua tables small (one call for all ~7,000 cost Redis more per op: docs/BENCHMARKS.md, session 27).
_OPS_PER_CALL = 500

# KEYS: the distinct hashes this call touches, G per bucket (write generation first).
# ARGV: expire-at of write keys, generations per claim (G), then the claims packed in one string,
#   each ">I4 c1 B field I4 value": the index of its G keys in KEYS, mode, the field's length and
#   the field, the value's length and the value. (Packed, a batch's ~7,000 claims are one argument
#   per call, not ~28,000 for the client to pack and Redis to parse: docs/BENCHMARKS.md, session
#   20. The hash names stay arguments: Redis wants every key a script touches declared.)
# mode c: return the value stored under field in any of its G keys, else store value in the
#         write key and return false.  g: only return.
#         d (record a decision): where the field's record is still pending (its state byte,
#         the value's second byte, is 0), store value there (an empty value: flip the state
#         byte to clean) and return false; where it is decided already (a takeover, or this
#         decision recorded before), change nothing and return it; store value in the write key
#         when the field is nowhere.  t (take over a pending record): flip a pending record to
#         clean and return the record as it now is (false when it is nowhere).
# A field lives in one generation only (c writes only when it is in none, d and t where it is),
# so the order of reads does not matter: the other generations are read first, then the write
# key is claimed with one HSETNX. (Redis still searches a listpack hash twice for a new field,
# as for HGET + HSET: measured, no difference in Redis CPU. What costs CPU with a long history
# is the length of those searches, i.e. too few buckets: docs/BENCHMARKS.md, 1M remembered.)
# EXPIREAT once per key per call.
_CLAIM_LUA = """
local G = tonumber(ARGV[2])
local blob = ARGV[3]
local out = {}
local expiring = {}
local pos = 1
local i = 0
local size = #blob
while pos <= size do
  local base, mode, field, value
  base, mode, field, value, pos = struct.unpack('>I4c1Bc0I4c0', blob, pos)
  i = i + 1
  local found = false
  local where = base
  local wrote = false
  for j = 1, G - 1 do
    local v = redis.call('HGET', KEYS[base + j], field)
    if v then found = v; where = base + j; break end
  end
  if not found and mode ~= 'c' then
    found = redis.call('HGET', KEYS[base], field)
  end
  if mode == 'c' then
    if not found then
      if redis.call('HSETNX', KEYS[base], field, value) == 1 then
        wrote = true
      else
        found = redis.call('HGET', KEYS[base], field)
      end
    end
  elseif mode == 'd' then
    if not found then
      if value ~= '' then redis.call('HSET', KEYS[base], field, value); wrote = true end
    elseif string.byte(found, 2) == 0 then
      if value == '' then value = string.sub(found, 1, 1) .. '\\1' .. string.sub(found, 3) end
      redis.call('HSET', KEYS[where], field, value)
      found = false
    end
  elseif mode == 't' then
    if found and string.byte(found, 2) == 0 then
      found = string.sub(found, 1, 1) .. '\\1' .. string.sub(found, 3)
      redis.call('HSET', KEYS[where], field, found)
    end
  end
  if wrote and not expiring[base] then
    redis.call('EXPIREAT', KEYS[base], ARGV[1])
    expiring[base] = true
  end
  out[i] = found
end
return out
"""


#: redis-py's classes for error replies that mean "not now" (see `DedupStoreRefused`), and the
#: error codes it leaves as a plain ResponseError, matched on the reply's first word.
_REFUSAL_CLASSES: tuple[tuple[type[redis.exceptions.RedisError], str], ...] = (
    (redis.exceptions.OutOfMemoryError, "oom"),
    (redis.exceptions.ReadOnlyError, "readonly"),
    (redis.exceptions.BusyLoadingError, "loading"),
    (redis.exceptions.MasterDownError, "readonly"),
    (redis.exceptions.TryAgainError, "cluster"),
    (redis.exceptions.ClusterDownError, "cluster"),
    (redis.exceptions.NoPermissionError, "noperm"),
    # a cluster node's redirection, which only a client not in cluster mode sees (MovedError
    # is an AskError), or its refusal of a script call whose keys span slots (one server's calls
    # mix shards): NEWSWORKER_REDIS_CLUSTER is not set for a cluster
    (redis.exceptions.AskError, "cluster"),
    (redis.exceptions.ClusterCrossSlotError, "cluster"),
)
_REFUSAL_CODES = {
    "OOM": "oom", "READONLY": "readonly", "MASTERDOWN": "readonly", "NOREPLICAS": "replicas",
    "LOADING": "loading", "BUSY": "busy", "MISCONF": "misconf", "TRYAGAIN": "cluster",
    "CLUSTERDOWN": "cluster", "MOVED": "cluster", "ASK": "cluster", "CROSSSLOT": "cluster",
    "NOPERM": "noperm", "DENIED": "server",
}  # fmt: skip
#: How a server that is no Redis primary answers the store's commands: a Sentinel knows neither
#: data nor scripts (`unknown command 'SET'`); a protected-mode server says DENIED (a code above).
_NOT_A_PRIMARY = ("unknown command",)


#: How Redis refuses credentials (the cluster client wraps the reply in its own error).
_AUTH_REFUSALS = ("invalid username-password pair", "wrongpass", "noauth", "authentication required")

#: How Redis refuses the URL's database number on every new connection (`SELECT`): no such database
#: (its `databases` setting; a cluster has only 0), or not a number.
_DB_REFUSALS = ("DB index is out of range", "invalid DB index", "SELECT is not allowed in cluster mode")

#: How Redis words an ACL denial raised inside a script (`scriptCall`, Redis 7.0-7.2; 6.2 says
#: "The user executing the script can't run this command or subcommand" too).
_SCRIPT_ACL_DENIAL = "The user executing the script can't run this command or subcommand"


def refusal_kind(exc: redis.exceptions.ResponseError | redis.exceptions.RedisClusterException) -> str | None:
    """The `DedupStoreRefused.kind` of an error reply, or None for a genuine error (a bug).

    The cluster client's own `RedisClusterException` is a refusal (`cluster`) when the server is
    not a cluster (NEWSWORKER_REDIS_CLUSTER set for a single server); None otherwise (no node
    reachable: an outage, which the caller tells apart).

    In a pipeline, redis-py wraps the reply's text ("Command # 2 (EVALSHA ...) of pipeline
    caused error: ...") but keeps its class; an error raised inside a script keeps its code,
    except an ACL denial of a command the script calls, which Redis 7.0 and 7.2 report as a
    plain ERR ("The user executing the script can't run this command or subcommand").
    """
    if isinstance(exc, redis.exceptions.RedisClusterException):
        text = str(exc).lower()
        if any(words in text for words in _AUTH_REFUSALS):
            return "auth"  # no node could be reached with these credentials (a review of the fix)
        return "cluster" if "cluster mode is not enabled" in text else None
    for cls, kind in _REFUSAL_CLASSES:
        if isinstance(exc, cls):
            return kind
    text = str(exc).rpartition("caused error: ")[2].lstrip("('\" ")
    if text.startswith(_SCRIPT_ACL_DENIAL):
        return "noperm"
    if text.startswith(_DB_REFUSALS):
        return "db"
    if text.startswith(_NOT_A_PRIMARY):
        return "server"
    return _REFUSAL_CODES.get(text.split(" ", 1)[0])


def connect(url: str, *, cluster: bool = False, **kwargs: Any) -> aioredis.Redis | RedisCluster:
    """A Redis client for the store: standalone (or Sentinel-fronted) Redis, or Redis Cluster."""
    if cluster:
        return RedisCluster.from_url(url, **kwargs)
    client = aioredis.Redis.from_url(url, **kwargs)
    _pack_with_hiredis(client.connection_pool)
    return client


try:  # compiled (worker/dedup/_store_ops.c), where it was built: the ops' packing (~1.4 -> ~0.1 µs
    # an op) and the commands' (-14 % of the event loop's side's instructions, session 27)
    from worker.dedup._store_ops import pack_command as _pack_command_compiled
    from worker.dedup._store_ops import pack_ops as _pack_ops_compiled
except ImportError:  # pragma: no cover - an install without a C compiler
    _pack_command_compiled = None  # type: ignore[assignment]
    _pack_ops_compiled = None  # type: ignore[assignment]


class _HiredisPacking:
    """Packs commands in C: the compiled module's packer (`_store_ops.pack_command`, the same
    bytes without hiredis' sprintf per argument), else hiredis' C packer, as redis-py's *sync*
    client already does.

    redis-py's asyncio connections pack every argument in Python. A batch's claim scripts carry
    tens of thousands of arguments (4 per claim plus the keys), and that packing was the largest
    single cost of the dedup stage (bench/profile_pipeline.py: ~40 % of it). The bytes on the
    wire are the same: hiredis encodes str as UTF-8 and numbers as their decimal text, exactly
    like redis-py's default `Encoder`, which is why this is only used when the client keeps
    that encoder's defaults (UTF-8, strict).
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        if _pack_command_compiled is not None:
            # the same bytes as hiredis' (tests/unit/dedup/test_store_ops_compiled.py) without its
            # sprintf per argument; None for an argument it leaves to hiredis
            packed = _pack_command_compiled(args)
            if packed is not None:
                return [packed]
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:  # what redis-py raises for an argument it cannot encode
            raise redis.exceptions.DataError(str(exc)) from exc


def _pack_with_hiredis(pool: aioredis.ConnectionPool) -> None:
    kwargs = pool.connection_kwargs
    if kwargs.get("encoding", "utf-8") != "utf-8" or kwargs.get("encoding_errors", "strict") != "strict":
        return
    base = pool.connection_class
    pool.connection_class = type(f"Hiredis{base.__name__}", (_HiredisPacking, base), {})


#: One field operation: (field, value, mode). A plain tuple: a batch makes ~3,000 of them.
_Op = tuple[bytes, bytes, bytes]
#: An op as the claim script reads it (`_CLAIM_LUA`): the index of its keys in KEYS, mode and the
#: field's length, then the field, the value's length and the value.
_OP_HEAD = struct.Struct(">IcB")
_OP_LENGTH = struct.Struct(">I")
#: Per shard, in the order the shards first appear: its buckets in the order they first appear,
#: its ops packed, the positions of its ops.
_Packed = list[tuple[list[int], bytes, list[int]]]


def _pack_ops_in_python(ops: Sequence[_Op], buckets: int, shards: int, per_bucket: int) -> _Packed:
    """The ops grouped by shard and packed as the claim script reads them. An op's bucket is its
    field's first four bytes, little-endian, modulo `buckets`; its shard the bucket modulo
    `shards`; its keys' index in KEYS 1 + `per_bucket` x its bucket's place among its shard's."""
    per_shard: dict[int, tuple[dict[int, int], list[int], list[bytes], list[int]]] = {}
    from_bytes = int.from_bytes
    head, length = _OP_HEAD.pack, _OP_LENGTH.pack
    for index, (field, value, mode) in enumerate(ops):
        bucket = from_bytes(field[:4], "little") % buckets
        shard = bucket % shards
        entry = per_shard.get(shard)
        if entry is None:
            entry = per_shard[shard] = ({}, [], [], [])
        bucket_base, order, parts, positions = entry
        base = bucket_base.get(bucket)
        if base is None:
            base = bucket_base[bucket] = len(order) * per_bucket + 1  # Lua is 1-based
            order.append(bucket)
        parts.extend((head(base, mode, len(field)), field, length(len(value)), value))
        positions.append(index)
    return [(order, b"".join(parts), positions) for _, order, parts, positions in per_shard.values()]


def _pack_ops(ops: Sequence[_Op], buckets: int, shards: int, per_bucket: int) -> _Packed:
    if _pack_ops_compiled is not None and isinstance(ops, list):
        return _pack_ops_compiled(ops, buckets, shards, per_bucket)  # type: ignore[no-any-return]
    return _pack_ops_in_python(ops, buckets, shards, per_bucket)


CallObserver = Callable[[str, float, bool], None]


class RedisDedupStore:
    """Check-and-record of claim keys in Redis (standalone or cluster client)."""

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        prefix: str = "nw",
        scheme_version: str = DEFAULT_SCHEME.version,
        window_seconds: int = 7 * 86_400,
        buckets: int = 4096,
        shards: int = DEFAULT_SHARDS,
        clock: Callable[[], float] = time.time,
        observe: CallObserver | None = None,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}:{scheme_version}:c{LAYOUT}"
        self._window = window_seconds
        #: Generation length and bucket count: this worker's (half its window; its setting)
        #: until the index's own are read from Redis (`_load_index`): the first worker of an
        #: index sets them, and they stay.
        self._generation = max(1, window_seconds // 2)
        self._back = 2  # generations read behind the current one (`_load_index`)
        self._buckets = buckets
        self._max_shards = shards
        self._shards = min(shards, buckets)
        self._index_loaded = False
        #: A server refused a write as a replica: its connections are closed before the next call
        #: (`_reconnect_if_demoted`).
        self._demoted = False
        self._clock = clock
        self._observe = observe
        self._script = client.register_script(_CLAIM_LUA)
        self._cluster_ready = False
        # key names per bucket for the current generation: built once, not ~3,000 times a batch
        self._keys_gen = -1
        self._keys: dict[int, list[str]] = {}

    # -- key layout -------------------------------------------------------------------------

    def _bucket_keys(self, shard: int, bucket: int, gen: int) -> list[str]:
        """The hashes a claim of this bucket reads: the write generation first, then one ahead
        (clock skew between workers), then those behind it that the window reaches into (two
        when the window is the index's two generations)."""
        gens = (gen, gen + 1, *range(gen - 1, gen - self._back - 1, -1))
        return [self._key(shard, bucket, g) for g in gens]

    def _key(self, shard: int, bucket: int, gen: int) -> str:
        """The hash of a bucket in a generation."""
        return f"{self._prefix}:{{{shard}}}:{bucket}:{gen}"

    def _index_key(self, name: str) -> str:
        """Where a layout parameter of the index lives (beside its hashes, no hash tag)."""
        return f"{self._prefix}:{name}"

    async def _index_parameter(self, name: str, own: int) -> int:
        """The index's value of a layout parameter, set to `own` if it has none (`SET NX`, no
        expiry: it must outlive every generation)."""
        key = self._index_key(name)
        await self._client.set(key, own, nx=True)
        stored = await self._client.get(key)
        try:
            value = int(stored) if stored is not None else own
        except ValueError:
            value = own
        return value if value > 0 else own

    async def _load_index(self) -> None:
        """Read the index's generation length and bucket count (or set them to this worker's).

        Key names carry the generation *number* and the bucket, so a worker that counted
        generations of another length, or spread fields over another number of buckets, would
        read and write other hashes: a changed NEWSWORKER_DEDUP_WINDOW_SECONDS or
        NEWSWORKER_REDIS_BUCKETS would forget the whole index, silently, and during a rolling
        update two workers would each own the same claim. So both are the index's, set once by
        its first worker. The window only says how many generations back are read (enough to
        reach `window` into the past) and when written hashes expire; a bucket count applies to
        a new index (another key prefix).
        """
        own_generation, own_buckets = self._generation, self._buckets
        length = await self._index_parameter(GENERATION_KEY, own_generation)
        buckets = await self._index_parameter(BUCKETS_KEY, own_buckets)
        if length != own_generation:
            log.warning(
                "the dedup index counts generations of %d s (set when it began, with a window of "
                "%d s); this worker's window (NEWSWORKER_DEDUP_WINDOW_SECONDS=%d) reads it as it is",
                length, 2 * length, self._window,
            )
        if buckets != own_buckets:
            log.warning(
                "the dedup index under %s was built with %d buckets, not the %d of "
                "NEWSWORKER_REDIS_BUCKETS: using %d (a bucket count applies to a new index, under "
                "another NEWSWORKER_REDIS_KEY_PREFIX: deploy/README.md, Sizing)",
                self._prefix, buckets, own_buckets, buckets,
            )
        self._generation, self._back = length, max(1, -(-self._window // length))
        if self._back > _WARN_GENERATIONS_BACK:
            log.warning(
                "NEWSWORKER_DEDUP_WINDOW_SECONDS=%d reads %d generations of the dedup index (of %d s) "
                "per claim, not 2: Redis' CPU per article grows with them. A new index (another "
                "NEWSWORKER_REDIS_KEY_PREFIX) would count generations of half this window",
                self._window, self._back, length,
            )
        self._buckets, self._shards = buckets, min(self._max_shards, buckets)
        self._keys_gen, self._keys = -1, {}
        self._index_loaded = True

    async def replant_index(self) -> None:
        """Write the index's parameters back where they are gone (after Redis lost its data),
        with the values this store uses: a worker that starts next joins this index."""
        if self._index_loaded:
            await self._client.set(self._index_key(GENERATION_KEY), self._generation, nx=True)
            await self._client.set(self._index_key(BUCKETS_KEY), self._buckets, nx=True)

    async def _run(self, ops: Sequence[_Op], operation: str) -> list[Any]:
        """Run ops (any order of fields) as one pipeline of script calls (per shard on a cluster,
        per `_OPS_PER_CALL` ops on one server); results in order."""
        if not ops:
            return []
        if self._demoted:
            await self._reconnect_if_demoted()
        if not self._index_loaded:
            with self._errors_mapped(operation, time.perf_counter()):
                await self._load_index()
        now = self._clock()
        gen = int(now // self._generation)
        expire_at = (gen + 1) * self._generation + self._window + self._generation
        buckets, shards = self._buckets, self._shards
        if gen != self._keys_gen:
            self._keys_gen, self._keys = gen, {}
        keys = self._keys
        reads = self._back + 2  # the keys a bucket's claims read (`_bucket_keys`)
        calls: list[tuple[list[str], list[bytes | int], list[int]]] = []
        # A cluster takes one script call per shard (a script's keys share one slot); one server
        # takes them in calls of about `_OPS_PER_CALL` ops, whatever their shards.
        cluster = isinstance(self._client, RedisCluster)
        groups = shards if cluster else min(shards, -(-len(ops) // _OPS_PER_CALL))
        for bucket_order, packed, positions in _pack_ops(ops, buckets, groups, reads):
            key_list: list[str] = []
            for bucket in bucket_order:
                bucket_keys = keys.get(bucket)
                if bucket_keys is None:
                    bucket_keys = keys[bucket] = self._bucket_keys(bucket % shards, bucket, gen)
                key_list.extend(bucket_keys)
            calls.append((key_list, [expire_at, reads, packed], positions))
        results: list[Any] = [None] * len(ops)
        started = time.perf_counter()
        if cluster and not self._cluster_ready:
            await self._client.initialize()  # concurrent first calls on a fresh cluster client race
            self._cluster_ready = True
        order = [positions for _, _, positions in calls]
        with self._errors_mapped(operation, started):
            if isinstance(self._client, RedisCluster):  # (`cluster`, narrowed for the type checker)
                # Cluster pipelines refuse EVALSHA; the per-shard calls go out concurrently instead,
                # each to the node owning its slot: still one round trip of wall-clock time.
                replies = await asyncio.gather(
                    *(self._script(keys=key_list, args=args) for key_list, args, _ in calls)
                )
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for key_list, args, _ in calls:
                        await self._script(keys=key_list, args=args, client=pipe)
                    replies = await pipe.execute()
        self._observed(operation, started, ok=True)
        for positions, reply in zip(order, replies, strict=True):
            for position, value in zip(positions, reply, strict=True):
                results[position] = value
        return results

    async def _reconnect_if_demoted(self) -> None:
        """After a failover behind one name (a DNS record, a Kubernetes Service), the old primary,
        now a replica, still answers the pooled connections, PING included: every write was
        refused READONLY for as long as the worker ran, and it waited, live and not ready, for
        ever (a review's finding; redis-py keeps such connections). The pool's connections are
        closed, so the next call resolves the name again and reaches the new primary. A
        cluster's client follows its nodes' failovers itself."""
        self._demoted = False
        if not isinstance(self._client, RedisCluster):
            # idle ones only: a call of another task on the shared client (the watch's INFO, the
            # ping) keeps its connection, which goes back to the pool and is closed next time
            await self._client.connection_pool.disconnect(inuse_connections=False)

    @contextlib.contextmanager
    def _errors_mapped(self, operation: str, started: float) -> Iterator[None]:
        """redis-py's errors as the store's: an outage (`DedupStoreUnavailable`), a refusal
        (`DedupStoreRefused`: Redis is there but refuses for now), or, raised as it is, a bug."""
        try:
            yield
        except redis.exceptions.AuthenticationError as exc:
            # a ConnectionError to redis-py, but no outage: the credentials are refused (a
            # rotated password), which waiting alone does not mend (an operator-fault review)
            self._observed(operation, started, ok=False)
            raise DedupStoreRefused("auth", f"Redis refused {operation} (auth): {exc}") from exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            self._observed(operation, started, ok=False)
            raise DedupStoreUnavailable(f"Redis {operation} failed: {exc}") from exc
        except redis.exceptions.RedisClusterException as exc:
            # The cluster client's own error: no node reachable to learn the slots from (an
            # outage, as for one server), or the server is not a cluster (a refusal: the
            # settings say NEWSWORKER_REDIS_CLUSTER for a single server).
            self._observed(operation, started, ok=False)
            kind = refusal_kind(exc)
            if kind is not None:
                raise DedupStoreRefused(kind, f"Redis refused {operation} ({kind}): {exc}") from exc
            raise DedupStoreUnavailable(f"Redis {operation} failed: {exc}") from exc
        except redis.exceptions.NoScriptError as exc:
            # The script cache flushed (SCRIPT FLUSH, a restart) between redis-py's check that
            # the scripts are there and the call: the next attempt loads them again.
            self._observed(operation, started, ok=False)
            raise DedupStoreUnavailable(f"Redis {operation} failed: {exc} (its scripts flushed)") from exc
        except redis.exceptions.InvalidResponse as exc:
            # Not Redis's protocol: the URL names another service
            self._observed(operation, started, ok=False)
            raise DedupStoreRefused("server", f"Redis refused {operation} (server): {exc}") from exc
        except redis.exceptions.ResponseError as exc:
            self._observed(operation, started, ok=False)
            kind = refusal_kind(exc)
            if kind is not None:
                self._demoted = self._demoted or kind == "readonly"
                raise DedupStoreRefused(kind, f"Redis refused {operation} ({kind}): {exc}") from exc
            raise

    def _observed(self, operation: str, started: float, *, ok: bool) -> None:
        if self._observe is not None:
            self._observe(operation, time.perf_counter() - started, ok)

    # -- the operations the pipeline needs ----------------------------------------------------

    async def check_and_record(self, items: Sequence[StoreItem]) -> list[StoreAnswer]:
        """Record every item, claim its keys (batch order) and fetch the records of prior owners.

        Records first, claims second, in two round trips: a claim key is visible to another
        worker only once its owner's record is, so a claim whose record is missing has expired.
        (One pipeline for both let an article see another's band claims before that other's
        record existed; both took the other for expired and both were published: issue 14 #5.)
        """
        replies = await self._run([(item.ref, encode_record(item.record), b"c") for item in items], "record")
        owners: list[StoredRecord | None] = []
        owns: list[StoredRecord | None] = []
        ops: list[_Op] = []
        layout: list[tuple[int, int, int]] = []  # (first op, has url, band count) per item
        for item, raw in zip(items, replies, strict=True):
            record = None if raw is None else _record_of(raw)
            mine = record is not None and record.id == item.article_id  # this article again
            owners.append(None if record is None or mine else record)
            owns.append(record if mine else None)
            start = len(ops)
            fp = item.fp
            if record is None or mine:  # an exact duplicate claims nothing: its keys are its owner's
                ref = item.ref
                if fp.url is not None:
                    ops.append((fp.url[:REF_BYTES], ref, b"c"))
                ops += [(band[:REF_BYTES], ref, b"c") for band in fp.bands]
            layout.append((start, int(fp.url is not None), len(ops) - start - int(fp.url is not None)))
        replies = await self._run(ops, "claim")

        views: list[ClaimView] = []
        wanted: set[bytes] = set()
        for item, owner, own, (start, has_url, n_bands) in zip(items, owners, owns, layout, strict=True):
            ref = item.ref
            if owner is not None:
                views.append(ClaimView(owner, None, tuple(None for _ in item.fp.bands), own))
                continue
            url_raw = replies[start] if has_url else None
            url_owner = None if url_raw is None or url_raw == ref else bytes(url_raw)
            first_band = start + has_url
            claimed = replies[first_band : first_band + n_bands]
            if url_owner is None and claimed.count(None) == n_bands:  # every key was free (most)
                views.append(ClaimView(None, None, tuple(claimed), own))
                continue
            bands = tuple(None if raw is None or raw == ref else bytes(raw) for raw in claimed)
            views.append(ClaimView(None, url_owner, bands, own))
            wanted.update(r for r in (url_owner, *bands) if r is not None)

        if not wanted:
            return [StoreAnswer(view, {}) for view in views]
        records = await self.fetch(sorted(wanted))
        return [
            StoreAnswer(view, {r: records[r] for r in (view.url_owner, *view.band_owners) if r in records})
            for view in views
        ]

    async def fetch(self, refs: Sequence[bytes]) -> dict[bytes, StoredRecord]:
        """The records stored under these refs (those that still exist)."""
        fetched = await self._run([(ref, b"", b"g") for ref in refs], "fetch")
        return _readable(refs, fetched)

    async def await_decided(self, refs: Sequence[bytes]) -> dict[bytes, StoredRecord]:
        """The decided records of these pending articles (another worker's batch in flight).

        Polls for up to `PENDING_WAIT_SECONDS`; a record still pending then (its worker died or
        stalls mid-batch) is taken over: atomically decided *clean*, which its own worker adopts
        when it comes to record its decision (`record_decisions`). So every reference resolves
        to an article that is published clean, and a stalled worker cannot stall others.
        """
        result: dict[bytes, StoredRecord] = {}
        waiting = list(refs)
        for delay in (*_PENDING_POLL_SECONDS, None):
            found = await self.fetch(waiting)
            for ref, record in found.items():
                if record.state != PENDING:
                    result[ref] = record
            waiting = [ref for ref in waiting if ref in found and ref not in result]
            if not waiting or delay is None:
                break
            await asyncio.sleep(delay)
        if waiting:
            log.warning(
                "taking over %d records still pending after %.1f s", len(waiting), PENDING_WAIT_SECONDS
            )
            taken = await self._run([(ref, b"", b"t") for ref in waiting], "takeover")
            result.update(_readable(waiting, taken))
        return result

    async def record_decisions(
        self, decided: Sequence[tuple[StoreItem, StoredRecord]]
    ) -> list[StoredRecord | None]:
        """Write each article's decided record over its pending one, atomically per record.

        Returns, per item, None where this decision now stands, or the record already decided
        (this article's decision recorded before, or a takeover): that decision stands instead.
        """
        ops = [
            (item.ref, b"" if _only_state_changes(item.record, record) else encode_record(record), b"d")
            for item, record in decided
        ]
        replies = await self._run(ops, "decide")
        return [None if raw is None else _record_of(raw) for raw in replies]


def _only_state_changes(pending: StoredRecord, decided: StoredRecord) -> bool:
    """A plain clean decision: the store flips the state byte in place instead of a rewrite."""
    return decided.state == CLEAN and decided.story_id is None and decided.canonical_id is None and (
        pending.canonical_id is None and pending.story_id is None
    )


def make_store(
    client: aioredis.Redis | RedisCluster,
    settings: Settings,
    scheme: Scheme,
    *,
    observe: CallObserver | None = None,
) -> RedisDedupStore:
    """The dedup store as the settings describe it; `observe` gets every round trip's timing."""
    return RedisDedupStore(
        client,
        prefix=settings.redis_key_prefix,
        scheme_version=scheme.version,
        window_seconds=settings.dedup_window_seconds,
        buckets=settings.redis_buckets,
        observe=observe,
    )
