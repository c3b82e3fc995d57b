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
from worker.files.inputs import InputRecord
from worker.files.offline import BATCH, OfflineResult, dedup_records

PEER_THRESHOLD = 0.8
PEER_PERMUTATIONS = 128
PEER_SHINGLE = 5


@dataclass(frozen=True, slots=True)
class OfflineRun:
    system: str
    articles: int
    seconds: float
    duplicates: int
    #: Articles and seconds after the warm-up (newsworker: from its first decided batch on, which
    #: leaves out starting the prepare processes and loading the language model, ~1-2 s).
    steady_articles: int = 0
    steady_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Articles per second in the steady state (the whole run when there is no warm-up)."""
        if self.steady_seconds > 0:
            return self.steady_articles / self.steady_seconds
        return self.total_rate

    @property
    def total_rate(self) -> float:
        """Articles per second, start-up included."""
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
    """`newsworker dedup`'s engine (`worker.files.offline.dedup_records`) over the same records."""
    records = [InputRecord(v, f"{tag}:{n + 1}") for n, v in enumerate(values)]
    duplicates = 0
    first_batch: list[float] = []  # when the first result arrived, and how many came with it

    def on_result(_record: InputRecord, result: OfflineResult) -> None:
        nonlocal duplicates
        duplicates += result.status == "duplicate"
        if not first_batch:
            first_batch.append(time.perf_counter())

    summary = asyncio.run(dedup_records(records, redis_url, settings or Settings(), on_result=on_result))
    ended = time.perf_counter()
    warm = min(BATCH, len(values))  # results come a batch at a time; the first one is the warm-up
    return OfflineRun(
        "newsworker dedup",
        len(values),
        summary.seconds,
        duplicates,
        steady_articles=len(values) - warm,
        steady_seconds=ended - first_batch[0] if first_batch and len(values) > warm else 0.0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.peer --input FILE --redis-url URL [--limit N]`: the datasketch peer as a
    process of its own (imports and start-up counted by whoever times the process); prints one
    JSON line of what it did."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="the datasketch MinHashLSH + Redis peer over JSON lines")
    parser.add_argument("--input", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--basename", default="peer")
    args = parser.parse_args(argv)
    with open(args.input, "rb") as lines:
        values = [line for line in lines if line.strip()][: args.limit]
    run = run_datasketch(values, args.redis_url, basename=args.basename.encode())
    print(json.dumps({"articles": run.articles, "seconds": run.seconds, "duplicates": run.duplicates}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
