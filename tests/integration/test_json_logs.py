"""NEWSWORKER_LOG_FORMAT=json on a real run: every line the worker prints is one JSON object.

The Redis needs a password (AUTH for real), which must appear nowhere in the output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import redis as redis_client

from tests.integration.conftest import consume_all, produce
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis

REDIS_SECRET = "s3cret-redis-Pa55"


def test_every_line_is_json_with_context_and_no_secret(
    kafka: EmbeddedKafka,
    seeds_dir: Path,
    topic_names: Callable[..., list[str]],
    start_worker: Callable[..., object],
    make_redis: Callable[..., EmbeddedRedis],
) -> None:
    redis = make_redis()
    admin = redis_client.Redis(host="127.0.0.1", port=redis.port)
    admin.config_set("requirepass", REDIS_SECRET)
    admin.close()
    raw, clean, dups, dlq = topics = topic_names()
    seeds = sorted(seeds_dir.glob("*.txt"))[:2]
    inputs = [msgspec.json.encode({"id": p.stem, "source": "seed", "text": p.read_text("utf-8")}) for p in seeds]
    inputs.append(b'{"id": "broken", "text": "no end')
    worker = start_worker(
        topics,
        redis_url=f"redis://127.0.0.1:{redis.port}/0",
        redis_password=REDIS_SECRET,
        log_format="json",
        prepare_processes="1",  # a spawned prepare process logs too: its lines must be JSON as well
        stats_interval_seconds="1",
    )
    asyncio.run(produce(kafka.bootstrap, raw, inputs))
    records = asyncio.run(consume_all(kafka.bootstrap, [clean, dups, dlq], len(inputs), timeout=60, settle=1.0))
    assert len(records) == len(inputs), worker.log_path.read_text()[-3000:]
    assert worker.stop() == 0

    text = worker.log_path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) > 5
    events = [json.loads(line) for line in lines]  # fails on any non-JSON line: banners, tables, tracebacks
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in events)
    assert any(e["logger"].startswith(("faust", "mode", "aiokafka")) for e in events)  # faust's own, same format
    [dead] = [e for e in events if e["message"].startswith("dead letter")]
    assert dead["level"] == "WARNING"
    assert (dead["topic"], dead["partition"], dead["offset"], dead["reason"]) == (raw, 0, 2, "invalid_json")
    assert any(e["message"].startswith("stats ") for e in events)
    assert REDIS_SECRET not in text
