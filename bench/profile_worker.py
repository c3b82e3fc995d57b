"""Where the running worker's time goes, Faust agent loop included: py-spy on `newsworker worker`.

    python bench/profile_worker.py [--articles 20000] [--seconds 15] [--passthrough]

Starts the embedded broker and Redis, pre-fills the input topic with real articles, starts the
real worker process (or the bare passthrough) and samples it with `py-spy record --format raw`
while it drains the backlog. Prints the share of samples per area (pipeline stages, Redis
client, Kafka client, Faust, asyncio, metrics...) by the innermost frame of ours or of a
library, and the top functions by self time. Needs `pip install py-spy` (root or ptrace rights).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus, kafka_io, probes
from bench.run import DEFAULTS, REDIS_ARGS
from worker.tools.demo import worker_env
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis, create_topics, find_free_port

#: Areas by file path, first match wins: what a sample's innermost known frame belongs to.
AREAS = (
    ("normalize (urls, html, arabic, language)", r"worker/normalize/|fasttext|selectolax|ftfy"),
    ("fingerprint", r"worker/dedup/fingerprint\.py|rensa"),
    ("decode", r"worker/validate\.py"),
    ("dedup decision", r"worker/dedup/decision\.py"),
    ("store (ours)", r"worker/dedup/store\.py"),
    ("pipeline glue / build outputs", r"worker/pipeline\.py|msgspec"),
    ("publish (ours)", r"worker/service/publisher\.py"),
    ("prepare hand-off (pool, pipes, pickling)", r"worker/service/preparer\.py|multiprocessing/|futures/"),
    ("batching and agent (ours)", r"worker/service/(batches|batching|app)\.py"),
    ("metrics", r"worker/service/metrics\.py|prometheus_client"),
    ("redis client", r"site-packages/redis/|hiredis"),
    ("kafka client (aiokafka)", r"site-packages/aiokafka/"),
    ("faust / mode", r"site-packages/(faust|mode)/"),
    ("asyncio / selectors (idle or I/O)", r"asyncio/|selectors\.py"),
)


def summarize(raw: str, top: int) -> str:
    area_counts: collections.Counter[str] = collections.Counter()
    self_counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        self_counts[frames[-1]] += count
        area = "other"
        for frame in reversed(frames):
            hit = next((name for name, pattern in AREAS if re.search(pattern, frame)), None)
            if hit:
                area = hit
                break
        area_counts[area] += count
    lines = [f"{total} samples"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in area_counts.most_common()]
    lines.append("top functions by self time:")
    lines += [f"  {100 * n / total:5.1f} %  {frame[:150]}" for frame, n in self_counts.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--passthrough", action="store_true", help="profile the bare passthrough instead")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw (collapsed) stacks here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="newsworker-profile-"))
    raw_path = args.raw or workdir / "worker.raw"
    real = corpus.load_articles()
    records = corpus.messages(corpus.articles_for(real, args.articles, corpus.Vocabulary(real)))
    with EmbeddedKafka() as kafka, EmbeddedRedis(extra_args=REDIS_ARGS) as redis_server:
        tag = f"profile.{uuid.uuid4().hex[:6]}"
        topics = {
            "input": f"{tag}.raw",
            "clean": f"{tag}.clean",
            "duplicates": f"{tag}.dup",
            "dlq": f"{tag}.dlq",
        }
        asyncio.run(create_topics(kafka.bootstrap, topics.values(), partitions=1))
        asyncio.run(kafka_io.produce_fast(kafka.bootstrap, topics["input"], records))
        env = worker_env(
            kafka.bootstrap,
            redis_server.url,
            topics=topics,
            metrics_port=find_free_port(),
            app_id=f"profile-{uuid.uuid4().hex[:6]}",
            extra={"NEWSWORKER_BATCH_TIMEOUT_SECONDS": str(DEFAULTS.batch_timeout_seconds)},
        )
        log = workdir / "process.log"
        proc = (probes.BenchProcess.passthrough if args.passthrough else probes.BenchProcess.worker)(env, log)
        proc.start()
        try:
            # wait for the first outputs (startup and group join are not the hot path)
            reader = asyncio.run(kafka_io.read_all(kafka.bootstrap, [topics["clean"]], 200, timeout=60))
            print(f"first outputs after start ({reader.total}); sampling {args.seconds} s", flush=True)
            subprocess.run(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--duration",
                    str(args.seconds),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(raw_path),
                    "--nonblocking",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.1)
        finally:
            proc.stop()
    print(summarize(raw_path.read_text(), args.top))
    print(f"raw stacks: {raw_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
