"""The offline peers: datasketch `MinHashLSH` on Redis, and `newsworker dedup` itself.

The peer does the same job as `newsworker dedup` on the same records and the same Redis server:
decode each JSON record, shingle its text, build a MinHash, ask the LSH index for a candidate
and insert the article when there is none; one verdict per record, in input order. Its
parameters are the baseline's of docs/EVALUATION.md (threshold 0.8, 128 permutations, word
5-grams), with datasketch's Redis storage (`storage_config={'type': 'redis', ...}`) and
`MinHash.update_batch` (its fastest documented way to hash a document).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import msgspec
from datasketch import MinHash, MinHashLSH

from worker.config import Settings
from worker.inputs import InputRecord
from worker.offline import OfflineResult, dedup_records

PEER_THRESHOLD = 0.8
PEER_PERMUTATIONS = 128
PEER_SHINGLE = 5


@dataclass(frozen=True, slots=True)
class OfflineRun:
    system: str
    articles: int
    seconds: float
    duplicates: int

    @property
    def rate(self) -> float:
        return self.articles / self.seconds if self.seconds else 0.0


def _shingles(text: str, k: int = PEER_SHINGLE) -> list[bytes]:
    tokens = text.split()
    if len(tokens) <= k:
        return [" ".join(tokens).encode()]
    return [" ".join(tokens[i : i + k]).encode() for i in range(len(tokens) - k + 1)]


def run_datasketch(values: Sequence[bytes], redis_url: str, *, basename: bytes = b"peer") -> OfflineRun:
    """The datasketch+Redis peer over `values` (JSON raw articles)."""
    url = urlparse(redis_url)
    lsh = MinHashLSH(
        threshold=PEER_THRESHOLD,
        num_perm=PEER_PERMUTATIONS,
        storage_config={
            "type": "redis",
            "basename": basename,
            "redis": {"host": url.hostname or "127.0.0.1", "port": url.port or 6379},
        },
    )
    duplicates = 0
    started = time.perf_counter()
    for number, value in enumerate(values):
        article = msgspec.json.decode(value)
        m = MinHash(num_perm=PEER_PERMUTATIONS)
        m.update_batch(_shingles(article.get("text") or article.get("html") or ""))
        if lsh.query(m):
            duplicates += 1
        else:
            lsh.insert(f"{number}:{article.get('id')}", m)
    return OfflineRun("datasketch MinHashLSH + Redis", len(values), time.perf_counter() - started, duplicates)


def run_newsworker(
    values: Sequence[bytes], redis_url: str, *, tag: str = "bench", settings: Settings | None = None
) -> OfflineRun:
    """`newsworker dedup`'s engine (`worker.offline.dedup_records`) over the same records."""
    records = [InputRecord(v, f"{tag}:{n + 1}") for n, v in enumerate(values)]
    duplicates = 0

    def on_result(_record: InputRecord, result: OfflineResult) -> None:
        nonlocal duplicates
        duplicates += result.status == "duplicate"

    summary = asyncio.run(dedup_records(records, redis_url, settings or Settings(), on_result=on_result))
    return OfflineRun("newsworker dedup", len(values), summary.seconds, duplicates)
