"""Redis as the worker sees it: lost data, memory pressure, eviction, clock skew, and settings
that bloat the index.

Dedup that has forgotten is silent by nature: an article already seen comes out clean, and
nothing else looks wrong (issue #14, item 7: 1,851 of 3,000 copies after a FLUSHALL). So:

- **Lost data.** At start the worker writes a *sentinel* key in the store's namespace
  (`<prefix>:<scheme>:c<layout>:sentinel`, no TTL: it must outlive any window) with a random
  token, `SET NX`, so that every worker of the group shares the first one's token. Every `check`
  reads it back. Missing, or holding another token, means Redis lost what it knew (FLUSHALL, a
  restart without persistence, a failover to an empty replica): an ERROR log line, one count of
  `newsworker_redis_data_lost_total` (alert `NewsworkerRedisDataLost`), and the sentinel is
  written again so that the next loss is seen too. Copies of articles seen before the loss come
  out clean until the window refills; nothing can bring those verdicts back.
  Missing at *start* cannot be told from a first start; it is logged as a warning only.
  Beside each sentinel a counter (`<sentinel>:seq`) is incremented at every check: Redis that
  comes back with *some* of its data (a failover to a replica that was behind, a restart from an
  older snapshot or with the last second of AOF lost) keeps the sentinel but forgets the newest
  writes, and the counter goes back below what this worker last got from it. Counted and logged
  the same way ("lost its most recent writes"). Every worker of the group increments the same
  counter; the one that wrote the lost increments sees the step back.
- **Memory.** `INFO memory`: `used_memory` / `maxmemory` as `newsworker_redis_memory_used_ratio`
  (alert `NewsworkerRedisMemoryHigh` before Redis refuses writes at 1.0 under `noeviction`).
- **Eviction.** `INFO memory`'s `maxmemory_policy`: with a `maxmemory` set and any policy but
  `noeviction` (managed Redis services default to `volatile-lru`, which takes the dedup keys:
  they all expire), a full Redis makes room by deleting keys, dedup entries among them, and says
  nothing: copies of the forgotten articles come out clean. A warning when seen (again after it
  was fixed and came back), `newsworker_redis_evicting` 1; and `INFO stats`' `evicted_keys`,
  whose growth while the worker watches is counted (`newsworker_redis_evicted_keys_total`) and
  logged as an ERROR at most once a minute; alerts `NewsworkerRedisMayEvict` (the policy) and
  `NewsworkerRedisEvictedKeys` (the evictions).
- **Clock.** Generations (and so what is remembered, and when it expires) come from each
  worker's own clock, and so do the events' `ingested_at`: Redis' `TIME` is the one clock every
  worker shares, so this host's offset from it is exported (`newsworker_clock_offset_seconds`,
  alert `NewsworkerClockSkew`) and a warning logged past `CLOCK_WARNING_SECONDS` (a host whose
  NTP is broken). The index tolerates workers half a generation apart; a clock behind by more
  than the window writes hashes whose expiry has passed already.
- **Index size.** `CONFIG GET hash-max-listpack-value` (Redis 7; `hash-max-ziplist-value`
  before) at start: below `REQUIRED_LISTPACK_VALUE` a bucket hash holding an article record
  (msgpack, ~100-400 B) is stored as a real hash table, and a remembered article costs ~1,500 B
  instead of ~500 B (docs/DEDUP.md). Logged as a warning and exported as
  `newsworker_redis_hash_max_listpack_value_bytes` (alert `NewsworkerRedisIndexOversized`);
  where CONFIG is disabled or renamed (managed Redis), the gauge reads -1 and a debug line says so.

On Redis Cluster every primary is watched: one sentinel per primary (a hash tag chosen to land
on it), INFO and CONFIG per primary; the fullest and the smallest value are exported. Every
call here is best effort: a check that fails is logged once at warning level (an ACL that
denies INFO, INCR or TIME, the dedup calls report outages), and the eviction and memory-ratio
gauges read -1 while theirs does.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from worker.dedup.store import LAYOUT

if TYPE_CHECKING:
    from worker.service.metrics import Metrics

log = logging.getLogger("newsworker")

#: What deploy/redis/redis.conf sets and docs/DEDUP.md sizes the index with.
REQUIRED_LISTPACK_VALUE = 512

#: Above this share of maxmemory the worker logs a warning (once per crossing).
MEMORY_WARNING_RATIO = 0.9

#: A clock this far (seconds) from Redis' is logged as a warning (once per crossing).
CLOCK_WARNING_SECONDS = 60.0

#: At most one ERROR line about evictions in this many seconds (they come in floods).
EVICTION_LOG_SECONDS = 60.0

#: Hash tags tried to find one that lands on each cluster primary (16384 slots over a handful of
#: primaries: a few tries each).
_MAX_TAG_TRIES = 4096


@dataclass(frozen=True, slots=True)
class Eviction:
    """What Redis does when full, and what it evicted so far (summed over cluster primaries)."""

    #: The maxmemory-policy of every primary that has a maxmemory and evicts (not noeviction).
    policies: tuple[str, ...]
    evicted_keys: int

    @property
    def evicting(self) -> bool:
        return bool(self.policies)

    @property
    def policy(self) -> str:
        return ", ".join(sorted(set(self.policies)))


def _evicting_policy(memory: dict[str, Any]) -> str | None:
    """The primary's eviction policy from its `INFO memory`, when it evicts (None under
    noeviction, or with no maxmemory: then Redis never evicts)."""
    policy = _text(memory.get("maxmemory_policy", "noeviction"))
    return policy if int(memory.get("maxmemory", 0)) > 0 and policy != "noeviction" else None


async def per_primary(client: Any, *args: Any) -> list[Any]:
    """A command's reply from the Redis, or from every primary of a cluster."""
    if not isinstance(client, RedisCluster):
        return [await client.execute_command(*args)]
    await client.initialize()  # no-op once the client knows the cluster's nodes
    replies = []
    for node in client.get_primaries():
        reply = await client.execute_command(*args, target_nodes=node)
        # redis-py keys a multi-node reply by node name even when one node was asked
        if isinstance(reply, dict) and node.name in reply and len(reply) == 1:
            reply = reply[node.name]
        replies.append(reply)
    return replies


async def read_eviction(client: Any, memory: list[dict[str, Any]] | None = None) -> Eviction:
    """Whether the Redis (any cluster primary) evicts when full, and how many keys it has evicted
    since it started (INFO memory and INFO stats, allowed where CONFIG is not). `memory`: the
    primaries' INFO memory replies, when the caller has read them already."""
    if memory is None:
        memory = await per_primary(client, "INFO", "memory")
    policies = [p for info in memory if (p := _evicting_policy(info))]
    evicted = sum(int(info.get("evicted_keys", 0)) for info in await per_primary(client, "INFO", "stats"))
    return Eviction(tuple(policies), evicted)


def evicting_warning(policy: str) -> str:
    """What to tell an operator whose Redis evicts under `policy`."""
    return (
        f"Redis evicts keys when full (maxmemory-policy {policy}): the dedup entries it "
        "evicts are forgotten without an error, and copies of those articles come out clean; set "
        "maxmemory-policy noeviction (deploy/redis/redis.conf): a full Redis then refuses writes, "
        "which is reported, instead of forgetting"
    )


#: Every how many checks (5 s apart) Redis' config is read again (~1 minute).
_CONFIG_EVERY = 12
#: How recent another deployment's mark on the index must be to count, and how long the gauge
#: stays up after the last one seen; how often its warning is repeated.
_WRITER_FRESH_SECONDS = 120.0
_SHARED_FOR_SECONDS = 600.0
_SHARED_WARNING_EVERY = 3600.0


class RedisWatch:
    """Sentinel, memory, eviction, clock and config checks against the store's Redis
    (standalone or cluster)."""

    def __init__(
        self, client: Any, metrics: Metrics, *, namespace: str,
        on_lost: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        writer: str | None = None,
    ) -> None:
        self._client = client
        #: Who writes the index (the consumer group and its input topic): another deployment's
        #: mark beside this one's is a shared index (`_check_writers`).
        self._writer = writer
        self._writer_key = f"{namespace}:writer"
        self._other_writer_seen: float | None = None
        self._shared_warned: float | None = None
        self._metrics = metrics
        self._clock = clock  # the store's clock (generations, expiry)
        self._clock_warned = False
        self._failing: set[str] = set()  # checks that failed last time (warned once)
        self._base = f"{namespace}:sentinel"
        #: Called once per loss seen: the store writes back what the index needs beside its
        #: hashes (its generation length and bucket count), so that a worker starting after the
        #: loss with other settings still joins this index instead of starting its own.
        self._on_lost = on_lost
        self._tokens: dict[str, bytes] = {}  # sentinel key -> token this worker expects
        self._counts: dict[str, int] = {}  # sentinel key -> what its counter last gave this worker
        self._memory_warned = False
        self._eviction_warned = False
        self._evicted: int | None = None  # evicted_keys at the last check
        self._evictions_logged: float | None = None  # when the last ERROR line about them was
        self._checks = 0
        self._listpack_value: int | None = None  # hash-max-listpack-value last read (warned once each)

    @classmethod
    def for_store(
        cls, client: Any, metrics: Metrics, *, prefix: str, scheme_version: str,
        on_lost: Callable[[], Awaitable[None]] | None = None, clock: Callable[[], float] = time.time,
        writer: str | None = None,
    ) -> RedisWatch:
        return cls(
            client, metrics, namespace=f"{prefix}:{scheme_version}:c{LAYOUT}", on_lost=on_lost, clock=clock,
            writer=writer,
        )

    @property
    def _cluster(self) -> bool:
        return isinstance(self._client, RedisCluster)

    # -- keys and nodes -----------------------------------------------------------------------

    async def _sentinel_keys(self) -> list[str]:
        """One sentinel key per primary (one key in all on a standalone Redis)."""
        if not self._cluster:
            return [self._base]
        client: RedisCluster = self._client
        await client.initialize()
        wanted = {node.name for node in client.get_primaries()}
        keys: dict[str, str] = {}
        for i in range(_MAX_TAG_TRIES):
            if len(keys) == len(wanted):
                break
            key = f"{self._base}:{{s{i}}}"
            node = client.get_node_from_key(key)
            if node is not None and node.name in wanted and node.name not in keys:
                keys[node.name] = key
        return sorted(keys.values())

    async def _per_primary(self, *args: Any) -> list[Any]:
        return await per_primary(self._client, *args)

    # -- start ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Plant (or adopt) the sentinels and read the config; call once Redis answers."""
        try:
            await self._check_config()
        except Exception as exc:
            log.debug("could not read Redis' config: %s", exc)
        await self._plant()
        await self.check()

    async def _plant(self) -> None:
        """Write the sentinels that do not exist yet, adopt those that do. A Redis that refuses
        the write (full) is asked again at the next `check`."""
        try:
            for key in await self._sentinel_keys():
                if key in self._tokens:
                    continue
                token = secrets.token_hex(8).encode()
                if await self._client.set(key, token, nx=True):
                    log.warning(
                        "dedup index sentinel %s was missing: a new index, or Redis lost its data "
                        "while no worker ran (copies of older articles will come out clean)", key,
                    )
                    self._tokens[key] = token
                else:
                    self._tokens[key] = await self._client.get(key) or token
        except Exception as exc:
            log.debug("could not plant the dedup index sentinel: %s", exc)

    async def _check_config(self) -> None:
        """hash-max-listpack-value, the metric set and a warning when it is below what the index
        needs (once per value: read again every `_CONFIG_EVERY` checks, a change at runtime or a
        failover to a server configured otherwise went unseen: an operator-fault review)."""
        values: list[int] = []
        for reply in await self._per_primary("CONFIG", "GET", "hash-max-*-value"):
            config = _pairs(reply)
            raw = config.get("hash-max-listpack-value", config.get("hash-max-ziplist-value"))
            if raw is not None:
                values.append(int(raw))
        if not values:
            log.debug("Redis did not report hash-max-listpack-value; index size not checked")
            self._metrics.set_redis_listpack_value(None)
            return
        smallest = min(values)
        self._metrics.set_redis_listpack_value(smallest)
        if smallest == self._listpack_value:
            return
        self._listpack_value = smallest
        if smallest < REQUIRED_LISTPACK_VALUE:
            log.warning(
                "Redis hash-max-listpack-value is %d (< %d): the dedup index will take ~3x the memory "
                "docs/DEDUP.md sizes (~1,500 B instead of ~500 B per remembered article); set "
                "hash-max-listpack-value %d as deploy/redis/redis.conf does",
                smallest, REQUIRED_LISTPACK_VALUE, REQUIRED_LISTPACK_VALUE,
            )

    # -- periodic ---------------------------------------------------------------------------------

    async def check(self) -> None:
        """Sentinels, memory, eviction and clock; call every few seconds. Never raises."""
        if not self._tokens:
            await self._plant()
        self._checks += 1
        if self._checks % _CONFIG_EVERY == 0:
            try:
                await self._check_config()
            except Exception as exc:
                log.debug("could not read Redis' config: %s", exc)
        for step, what in (
            (self._check_sentinels, "dedup index sentinel check"),
            (self._check_memory, "Redis memory and eviction check"),
            (self._check_clock, "clock check against Redis' TIME"),
            (self._check_writers, "check for other deployments writing the dedup index"),
        ):
            try:
                await step()
            except Exception as exc:  # best effort, each apart: one refused command skips only its own
                if what not in self._failing:
                    # Once, at warning level: an ACL without +info, +incr or +time left the eviction
                    # and lost-writes checks blind without a word (an operator-fault review).
                    self._failing.add(what)
                    denied = isinstance(exc, redis.exceptions.NoPermissionError) or "NOPERM" in str(exc)
                    log.warning(
                        "%s failed (%s): what it watches is unknown until it works%s", what, exc,
                        # the ACL only where Redis said so: a timeout or NOREPLICAS sent operators
                        # to the ACL for nothing (an operator-fault review)
                        "; the worker's Redis user needs the commands deploy/README.md lists (\"A Redis "
                        "user for the worker\")" if denied else "",
                    )
                if step == self._check_memory:
                    self._metrics.set_redis_evicting(None)
                    self._metrics.set_redis_memory_unknown()
                continue
            if what in self._failing:
                self._failing.discard(what)
                log.info("%s works again", what)

    async def _check_writers(self) -> None:
        """Whether another deployment (another consumer group, or another input topic) writes this
        index: each worker leaves its mark on one key at every check and reads the one before it.
        Two deployments on one Redis with the default prefix deduplicate against each other, and
        one feed came out as duplicates of the other's articles without a word (an operator-fault
        review). It may be meant (two feeds deduplicated together): a warning an hour and a gauge,
        `newsworker_redis_index_shared`, not an error."""
        if self._writer is None:
            return
        now = self._clock()
        mark = await self._client.get(self._writer_key)
        if mark:
            other, _, at = bytes(mark).decode("utf-8", "replace").rpartition("\n")
            try:
                fresh = now - float(at) < _WRITER_FRESH_SECONDS
            except ValueError:
                fresh = False
            if other and other != self._writer and fresh:
                self._other_writer_seen = now
                if self._shared_warned is None or now - self._shared_warned >= _SHARED_WARNING_EVERY:
                    self._shared_warned = now
                    log.warning(
                        "another deployment writes this dedup index (%s; this one: %s): the articles "
                        "of both are deduplicated against each other, and one's copies of the other's "
                        "articles are duplicates. If that is not meant, give each deployment its own "
                        "NEWSWORKER_REDIS_KEY_PREFIX (or Redis database)", other, self._writer,
                    )
        seen = self._other_writer_seen
        self._metrics.set_redis_index_shared(seen is not None and now - seen < _SHARED_FOR_SECONDS)
        await self._client.set(self._writer_key, f"{self._writer}\n{now:.0f}", ex=int(_SHARED_FOR_SECONDS))

    async def _check_sentinels(self) -> None:
        for key, token in list(self._tokens.items()):
            found = await self._client.get(key)
            if found == token:
                await self._check_count(key)
                continue
            self._counts.pop(key, None)  # a new index: its counter starts again
            self._metrics.redis_data_lost()
            log.error(
                "Redis lost the dedup index (sentinel %s %s): FLUSHALL, a restart without "
                "persistence or a failover to an empty replica? Articles seen before come out "
                "clean until the window refills; check Redis' persistence (docs/RELIABILITY.md)",
                key, "is gone" if found is None else "was replaced",
            )
            if self._on_lost is not None:
                try:
                    await self._on_lost()
                except Exception as exc:  # best effort, like every call here
                    log.debug("could not write the index's parameters back: %s", exc)
            if found is None and await self._client.set(key, token, nx=True):
                continue
            self._tokens[key] = await self._client.get(key) or token  # another worker re-planted it

    async def _check_count(self, key: str) -> None:
        """Increment the sentinel's counter (same hash tag: same cluster slot); lower than what it
        gave this worker last time means Redis lost writes newer than its sentinel."""
        # INCR itself (redis-py's `incr` sends INCRBY, which the documented ACL does not grant)
        count = int(await self._client.execute_command("INCR", f"{key}:seq"))
        last = self._counts.get(key)
        self._counts[key] = count
        if last is None or count > last:
            return
        self._metrics.redis_data_lost()
        log.error(
            "Redis lost its most recent writes (the dedup index's counter %s went back from %d to "
            "%d): a failover to a replica that was behind, or a restart from an older snapshot or "
            "without the last of its AOF? Articles decided in that time may come out clean again; "
            "check Redis' persistence and replication (docs/RELIABILITY.md)",
            f"{key}:seq", last, count,
        )

    async def _check_memory(self) -> None:
        memory = await self._per_primary("INFO", "memory")
        self._check_fill(memory)
        await self._check_evictions(memory)

    def _check_fill(self, memory: list[dict[str, Any]]) -> None:
        worst: tuple[float, int, int] | None = None
        for info in memory:
            used, maximum = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
            ratio = used / maximum if maximum > 0 else 0.0
            if worst is None or ratio > worst[0] or (ratio == worst[0] and used > worst[1]):
                worst = (ratio, used, maximum)
        if worst is None:
            return
        ratio, used, maximum = worst
        self._metrics.set_redis_memory(used, maximum)
        if ratio >= MEMORY_WARNING_RATIO and not self._memory_warned:
            log.warning(
                "Redis memory at %.0f%% of maxmemory (%d of %d bytes): writes will be refused when full",
                ratio * 100, used, maximum,
            )
        self._memory_warned = ratio >= MEMORY_WARNING_RATIO


    async def _check_clock(self) -> None:
        before = self._clock()
        seconds, micros = await self._client.time()
        after = self._clock()
        # the middle of the round trip stands for the moment Redis read its clock
        offset = (before + after) / 2 - (int(seconds) + int(micros) / 1e6)
        self._metrics.set_clock_offset(offset)
        off = abs(offset) > CLOCK_WARNING_SECONDS
        if off and not self._clock_warned:
            log.warning(
                "this host's clock is %.0f s %s Redis' (TIME): fix its time sync (NTP). Workers "
                "apart by more than half a dedup generation miss each other's articles, and a "
                "clock behind by more than the window writes index hashes that expire at once",
                abs(offset), "ahead of" if offset > 0 else "behind",
            )
        self._clock_warned = off

    async def _check_evictions(self, memory: list[dict[str, Any]]) -> None:
        eviction = await read_eviction(self._client, memory)
        self._metrics.set_redis_evicting(eviction.evicting)
        if eviction.evicting and not self._eviction_warned:
            log.warning(evicting_warning(eviction.policy))
        self._eviction_warned = eviction.evicting
        last, self._evicted = self._evicted, eviction.evicted_keys
        # the first look is the baseline; a smaller count is a restarted Redis (or CONFIG RESETSTAT)
        if last is None or eviction.evicted_keys <= last:
            return
        grown = eviction.evicted_keys - last
        self._metrics.redis_evicted(grown)
        now = time.monotonic()
        if self._evictions_logged is None or now - self._evictions_logged >= EVICTION_LOG_SECONDS:
            self._evictions_logged = now
            log.error(
                "Redis evicted %d key(s) since the last check (maxmemory-policy %s): dedup entries "
                "among them are forgotten, and copies of those articles come out clean; set "
                "maxmemory-policy noeviction and size maxmemory for the window (deploy/README.md)",
                grown, eviction.policy or "noeviction now",
            )


def _pairs(reply: Any) -> dict[str, str]:
    """CONFIG GET's reply as a dict of str (redis-py gives a dict, raw RESP a flat list)."""
    if isinstance(reply, dict):
        items = list(reply.items())
    else:
        items = list(zip(reply[::2], reply[1::2], strict=True))
    return {_text(k): _text(v) for k, v in items}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
