"""Redis bytes per remembered article, measured on the store directly (no Kafka), in ~1.5 minutes.

    python bench/store_memory.py [--articles 100000] [--buckets 4096] [--listpack-value 512]

Runs `newsworker dedup`'s code path (`worker.files.offline.dedup_records`) over N distinct articles
against a fresh embedded redis-server configured like deploy/redis/redis.conf, and reports
(used_memory after - before) / N. Articles are the real corpus (../shared/data/ant-dev.jsonl.gz);
past its 22k, each further pass replaces every third word with a random corpus word, which makes
new stories of realistic length and vocabulary (the small share that still match is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.config import Settings  # noqa: E402
from worker.files.inputs import InputRecord  # noqa: E402
from worker.files.offline import dedup_records  # noqa: E402
from worker.tools.embedded import EmbeddedRedis  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "ant-dev.jsonl.gz"


def records(n: int) -> Iterator[InputRecord]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        articles = [json.loads(line) for line in fh]
    vocab = sorted({w for a in articles[:2000] for w in a["text"].split()})
    rnd = random.Random(1)
    for i in range(n):
        a = articles[i % len(articles)]
        rewrite = i // len(articles)
        text = a["text"]
        if rewrite:
            words = text.split()
            for j in range(0, len(words), 3):
                words[j] = rnd.choice(vocab)
            text = " ".join(words)
        url = (a.get("url") or "") + (f"?v={rewrite}" if rewrite else "")
        value = json.dumps({"id": f"{a['id']}-{rewrite}", "url": url, "text": text}).encode()
        yield InputRecord(value, f"mem:{i}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=100_000)
    p.add_argument("--buckets", type=int, default=4096)
    p.add_argument("--listpack-value", default="512")
    args = p.parse_args()
    extra = ["--hash-max-listpack-entries", "512", "--hash-max-listpack-value", args.listpack_value]
    with EmbeddedRedis(extra_args=extra) as server:
        client = redis.Redis.from_url(server.url)
        before = client.info("memory")["used_memory"]
        counts: dict[str, int] = {}
        started = time.perf_counter()
        asyncio.run(dedup_records(
            records(args.articles), server.url, Settings(redis_buckets=args.buckets),
            on_result=lambda _r, res: counts.__setitem__(res.status, counts.get(res.status, 0) + 1),
        ))
        used = client.info("memory")["used_memory"] - before
        print(json.dumps({
            "articles": args.articles, "buckets": args.buckets, "listpack_value": args.listpack_value,
            "outcomes": counts, "redis_bytes_per_article": round(used / args.articles),
            "keys": client.dbsize(), "seconds": round(time.perf_counter() - started, 1),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
