"""The dedup store in Redis: atomic check-and-record of claim keys, bounded by a time window.

Layout (all keys start with `<prefix>:<scheme version>:`, so a new fingerprint scheme never
reads an old one's entries):

    <p>:<v>:c<layout>:{<shard>}:<bucket>:<generation>   hash  claim field -> value

- A *claim* is (8-byte field, value). The exact claim's value is the owner's whole record
  (msgpack `StoredRecord`); url and band claims hold the owner's ref (`dedup.REF_BYTES`, the
  start of its exact hash, which is also its exact claim's field). Fields are REF_BYTES long.
- *Buckets* keep each hash small enough for Redis' compact listpack encoding (tens of fields),
  which is what keeps memory near 30 bytes per claim instead of ~90 for a key per claim.
- *Generations* bound memory: a claim is written into the hash of the current generation
  (`window / 2` long) and read from the live ones; each generation's hashes expire
  `window + 2 generations` after the generation began, so an entry is remembered for at least the
  window and at most 1.5 windows. One generation ahead is read too, which tolerates clock skew
  of up to a generation between workers.
- *Shards* make one Lua call per shard per batch possible on Redis Cluster: every key of a shard
  carries the hash tag `{<shard>}`, so one script touches one slot only, and the `shards`
  (default 64) hash tags spread over the cluster's slots.

Atomicity: each script runs atomically on its slot and processes its claims in batch order, so
for every claim key exactly one article in the whole system becomes its owner ("set if absent,
else return the owner"). That is all `dedup.decide` needs for a consistent verdict.

Round trips per batch: one pipeline of per-shard scripts for every claim (check and record in
one step), then, only when some article has candidates, one pipeline to fetch their records, and
one write-only pipeline marking records of duplicates with their canonical id (for chains).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from worker.config import Settings
from worker.dedup.decision import (
    REF_BYTES,
    ClaimView,
    StoreAnswer,
    StoredRecord,
    StoreItem,
    decode_record,
    encode_record,
    is_self,
)
from worker.dedup.fingerprint import DEFAULT_SCHEME, Scheme
from worker.errors import DedupStoreRefused, DedupStoreUnavailable

#: Version of the key and value layout below; part of every key, like the fingerprint scheme,
#: so that a layout change never reads entries written by another.
LAYOUT = "2"

#: Generations a claim is looked up in (see `_bucket_keys`).
_GENERATIONS_READ = 4

#: Hash tags across which claims are spread. 64 slots are enough to spread load over any
#: realistic cluster while keeping a batch at <= 64 script calls.
DEFAULT_SHARDS = 64

# KEYS: the distinct hashes this call touches.
# ARGV: expire-at of write keys, generations per claim (G), then per claim:
#   base index of its G keys in KEYS (write key first), field, value, mode
# mode c: return the value stored under field in any of its G keys, else store value in the
#         write key and return false.  g: only return.  u: overwrite where the field is stored
#         (the write key when it is nowhere).
# A field lives in one generation only (c writes only when it is in none, u where it is), so the
# order of reads does not matter: the other generations are read first, then the write key is
# claimed with one HSETNX. (Redis still searches a listpack hash twice for a new field, as for
# HGET + HSET: measured, no difference in Redis CPU. What costs CPU with a long history is the
# length of those searches, i.e. too few buckets: docs/BENCHMARKS.md, 1M remembered.)
# EXPIREAT once per key per call.
_CLAIM_LUA = """
local G = tonumber(ARGV[2])
local out = {}
local expiring = {}
local n = (#ARGV - 2) / 4
for i = 0, n - 1 do
  local base = tonumber(ARGV[3 + i * 4])
  local field = ARGV[4 + i * 4]
  local value = ARGV[5 + i * 4]
  local mode = ARGV[6 + i * 4]
  local found = false
  local wrote = false
  if mode == 'u' then
    local target = base
    for j = 1, G - 1 do
      if redis.call('HEXISTS', KEYS[base + j], field) == 1 then target = base + j; break end
    end
    redis.call('HSET', KEYS[target], field, value)
    wrote = target == base
  else
    for j = 1, G - 1 do
      local v = redis.call('HGET', KEYS[base + j], field)
      if v then found = v; break end
    end
    if not found then
      if mode == 'c' and redis.call('HSETNX', KEYS[base], field, value) == 1 then
        wrote = true
      else
        found = redis.call('HGET', KEYS[base], field)
      end
    end
  end
  if wrote and not expiring[base] then
    redis.call('EXPIREAT', KEYS[base], ARGV[1])
    expiring[base] = true
  end
  out[i + 1] = found
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
)
_REFUSAL_CODES = {
    "OOM": "oom", "READONLY": "readonly", "MASTERDOWN": "readonly", "NOREPLICAS": "readonly",
    "LOADING": "loading", "BUSY": "busy", "MISCONF": "misconf", "TRYAGAIN": "cluster",
    "CLUSTERDOWN": "cluster",
}  # fmt: skip


def refusal_kind(exc: redis.exceptions.ResponseError) -> str | None:
    """The `DedupStoreRefused.kind` of an error reply, or None for a genuine error (a bug).

    In a pipeline, redis-py wraps the reply's text ("Command # 2 (EVALSHA ...) of pipeline
    caused error: ...") but keeps its class; an error raised inside a script keeps its code.
    """
    for cls, kind in _REFUSAL_CLASSES:
        if isinstance(exc, cls):
            return kind
    text = str(exc).rpartition("caused error: ")[2].lstrip("('\" ")
    return _REFUSAL_CODES.get(text.split(" ", 1)[0])


def connect(url: str, *, cluster: bool = False, **kwargs: Any) -> aioredis.Redis | RedisCluster:
    """A Redis client for the store: standalone (or Sentinel-fronted) Redis, or Redis Cluster."""
    if cluster:
        return RedisCluster.from_url(url, **kwargs)
    client = aioredis.Redis.from_url(url, **kwargs)
    _pack_with_hiredis(client.connection_pool)
    return client


class _HiredisPacking:
    """Packs commands with hiredis' C packer, as redis-py's *sync* client already does.

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
        self._generation = max(1, window_seconds // 2)
        self._buckets = buckets
        self._shards = min(shards, buckets)
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
        (clock skew between workers), then the two behind it."""
        return [f"{self._prefix}:{{{shard}}}:{bucket}:{g}" for g in (gen, gen + 1, gen - 1, gen - 2)]

    async def _run(self, ops: Sequence[_Op], operation: str) -> list[Any]:
        """Run ops (any order of fields) as one pipeline of per-shard scripts; results in order."""
        now = self._clock()
        gen = int(now // self._generation)
        expire_at = (gen + 1) * self._generation + self._window + self._generation
        # per shard: (bucket -> index of its first key, KEYS, ARGV, positions of its ops)
        per_shard: dict[int, tuple[dict[int, int], list[str], list[bytes | int | str], list[int]]] = {}
        buckets, shards = self._buckets, self._shards
        if gen != self._keys_gen:
            self._keys_gen, self._keys = gen, {}
        keys = self._keys
        from_bytes = int.from_bytes
        for index, (field, value, mode) in enumerate(ops):
            bucket = from_bytes(field[:4], "little") % buckets
            shard = bucket % shards
            entry = per_shard.get(shard)
            if entry is None:
                entry = per_shard[shard] = ({}, [], [expire_at, _GENERATIONS_READ], [])
            bucket_base, key_list, args, positions = entry
            base = bucket_base.get(bucket)
            if base is None:
                base = bucket_base[bucket] = len(key_list) + 1  # Lua is 1-based
                bucket_keys = keys.get(bucket)
                if bucket_keys is None:
                    bucket_keys = keys[bucket] = self._bucket_keys(shard, bucket, gen)
                key_list.extend(bucket_keys)
            args.extend((base, field, value, mode))
            positions.append(index)
        results: list[Any] = [None] * len(ops)
        if not ops:
            return results
        started = time.perf_counter()
        if isinstance(self._client, RedisCluster) and not self._cluster_ready:
            await self._client.initialize()  # concurrent first calls on a fresh cluster client race
            self._cluster_ready = True
        calls = list(per_shard.values())
        order = [positions for _, _, _, positions in calls]
        try:
            if isinstance(self._client, RedisCluster):
                # Cluster pipelines refuse EVALSHA; the per-shard calls go out concurrently instead,
                # each to the node owning its slot: still one round trip of wall-clock time.
                replies = await asyncio.gather(
                    *(self._script(keys=key_list, args=args) for _, key_list, args, _ in calls)
                )
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for _, key_list, args, _ in calls:
                        await self._script(keys=key_list, args=args, client=pipe)
                    replies = await pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            self._observed(operation, started, ok=False)
            raise DedupStoreUnavailable(f"Redis {operation} failed: {exc}") from exc
        except redis.exceptions.ResponseError as exc:
            self._observed(operation, started, ok=False)
            kind = refusal_kind(exc)
            if kind is not None:  # Redis is there but refuses for now: an outage, not a bug
                raise DedupStoreRefused(kind, f"Redis refused {operation} ({kind}): {exc}") from exc
            raise
        self._observed(operation, started, ok=True)
        for positions, reply in zip(order, replies, strict=True):
            for position, value in zip(positions, reply, strict=True):
                results[position] = value
        return results

    def _observed(self, operation: str, started: float, *, ok: bool) -> None:
        if self._observe is not None:
            self._observe(operation, time.perf_counter() - started, ok)

    # -- the two operations the pipeline needs ------------------------------------------------

    async def check_and_record(self, items: Sequence[StoreItem]) -> list[StoreAnswer]:
        """Claim every key of every item (batch order) and fetch the records of prior owners."""
        ops: list[_Op] = []
        layout: list[tuple[int, int, int]] = []  # (first op, has url, band count) per item
        for item in items:
            start = len(ops)
            ref, fp = item.ref, item.fp
            ops.append((ref, encode_record(item.record), b"c"))
            if fp.url is not None:
                ops.append((fp.url[:REF_BYTES], ref, b"c"))
            ops += [(band[:REF_BYTES], ref, b"c") for band in fp.bands]
            layout.append((start, int(fp.url is not None), len(fp.bands)))
        replies = await self._run(ops, "claim")

        views: list[ClaimView] = []
        wanted: set[bytes] = set()
        for item, (start, has_url, n_bands) in zip(items, layout, strict=True):
            exact_raw = replies[start]
            exact_owner = None
            if exact_raw is not None:
                record = decode_record(exact_raw)
                if not is_self(record, item.article_id, item.origin):
                    exact_owner = record
            ref = item.ref
            url_raw = replies[start + 1] if has_url else None
            url_owner = None if url_raw is None or url_raw == ref else bytes(url_raw)
            first_band = start + 1 + has_url
            bands = tuple(
                None if raw is None or raw == ref else bytes(raw)
                for raw in replies[first_band : first_band + n_bands]
            )
            view = ClaimView(exact_owner, url_owner, bands)
            views.append(view)
            if exact_owner is None:
                wanted.update(ref for ref in (url_owner, *bands) if ref is not None)

        records: dict[bytes, StoredRecord] = {}
        if wanted:
            refs = sorted(wanted)
            fetched = await self._run([(ref, b"", b"g") for ref in refs], "fetch")
            for ref, raw in zip(refs, fetched, strict=True):
                if raw is not None:
                    records[ref] = decode_record(raw)
        return [
            StoreAnswer(view, {r: records[r] for r in (view.url_owner, *view.band_owners) if r in records})
            for view in views
        ]

    async def mark_duplicates(self, marks: Sequence[tuple[StoreItem, str]]) -> None:
        """Record the canonical id in duplicates' own records, so chains resolve to the first."""
        ops = [
            (item.ref, encode_record(_with_canonical(item.record, canonical)), b"u")
            for item, canonical in marks
        ]
        await self._run(ops, "mark")


def _with_canonical(record: StoredRecord, canonical: str) -> StoredRecord:
    return StoredRecord(
        id=record.id,
        origin=record.origin,
        url=record.url,
        bands=record.bands,
        sketch=record.sketch,
        lead_sketch=record.lead_sketch,
        shingles=record.shingles,
        canonical_id=canonical,
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
