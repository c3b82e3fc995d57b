"""The whole worker, as a real process, on the real broker and a real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from tests.integration.conftest import consume_all, produce
from tests.integration.test_faults import metric, scrape
from worker.tools.embedded import EmbeddedKafka


def seed_article(path: Path) -> bytes:
    return msgspec.json.encode({"id": path.stem, "source": "seed", "text": path.read_text(encoding="utf-8")})


def test_seeds_and_bad_messages_end_to_end(
    kafka: EmbeddedKafka,
    seeds_dir: Path,
    topic_names: Callable[..., list[str]],
    start_worker: Callable[..., object],
) -> None:
    raw, clean, dups, dlq = topics = topic_names()
    first = seeds_dir / "astana-talks.raw.txt"
    second = seeds_dir / "astana-talks.paragraphs.txt"
    envelope = {  # Kafka Connect's JsonConverter with schemas.enable=true
        "schema": {"type": "struct", "optional": False, "fields": []},
        "payload": {"id": "connect-1", "text": "Harbour workers ended a three-day strike on Friday after a pay deal."},
    }
    inputs = [
        seed_article(first),
        # Confluent's JSON Schema serializer: a Schema Registry header (magic 0, schema id 7) first
        b"\x00\x00\x00\x00\x07" + seed_article(second),
        b'{"id": "broken", "text": "no end',
        b"\xff\xfe\x00latin-1 \xe9t\xe9",
        json.dumps(envelope).encode(),
    ]
    worker = start_worker(topics)
    asyncio.run(produce(kafka.bootstrap, raw, inputs))
    records = asyncio.run(
        consume_all(kafka.bootstrap, [clean, dups, dlq], len(inputs), timeout=60, settle=1.0)
    )
    by_topic: dict[str, list[dict]] = {clean: [], dups: [], dlq: []}
    for r in records:
        by_topic[r.topic].append(json.loads(r.value))
    assert len(records) == len(inputs), (
        by_topic,
        worker.log_path.read_text()[-3000:],
    )  # count in == count out

    published = {a["id"]: a for a in by_topic[clean]}
    assert sorted(published) == ["astana-talks.raw", "connect-1"]
    article, connect = published["astana-talks.raw"], published["connect-1"]
    assert connect["text"].startswith("Harbour workers")
    assert article["id"] == "astana-talks.raw"
    assert article["schema_version"] == 3 and article["word_count"] > 300
    assert article["story_id"] == article["id"] and article["related_to"] is None
    assert len(article["text"].split("\n\n")) > 1 and "paragraphs" not in article
    [dup] = by_topic[dups]
    assert dup["id"] == "astana-talks.paragraphs" and dup["duplicate_of"] == "astana-talks.raw"
    assert dup["kind"] == "near" and dup["similarity"] > 0.8

    letters = {d["offset"]: d for d in by_topic[dlq]}
    assert letters[2]["error_type"] == "invalid_json" and letters[2]["original"] == inputs[2].decode()
    assert letters[3]["error_type"] == "not_utf8" and letters[3]["original_encoding"] == "base64"
    assert all(d["error"] and d["topic"] == raw for d in letters.values())


def test_input_compressed_by_the_producer_with_every_kafka_codec_is_read(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., object]
) -> None:
    """Producers compress record batches (`compression.type` gzip, snappy, lz4, zstd: the Java
    client's, librdkafka's, Kafka Connect's setting). aiokafka decodes the last three with
    cramjam; without it the first zstd batch crashed the consumer (UnsupportedCodecError), and
    the worker exited at every restart."""
    from aiokafka import AIOKafkaProducer

    raw, clean, dups, dlq = topics = topic_names()
    codecs = ("gzip", "snappy", "lz4", "zstd")

    async def send() -> None:
        for codec in codecs:
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, compression_type=codec, acks="all")
            await producer.start()
            try:
                for i in range(5):
                    words = " ".join(f"{codec}{i}w{k}" for k in range(40))
                    await producer.send(raw, msgspec.json.encode({"id": f"{codec}-{i}", "text": words}))
                await producer.flush()
            finally:
                await producer.stop()

    asyncio.run(send())
    worker = start_worker(topics)
    records = asyncio.run(consume_all(kafka.bootstrap, [clean, dups, dlq], 20, timeout=60, settle=1.0))
    ids = sorted(json.loads(r.value)["id"] for r in records if r.topic == clean)
    assert ids == sorted(f"{c}-{i}" for c in codecs for i in range(5)), worker.log_path.read_text()[-3000:]  # type: ignore[attr-defined]
    assert len(records) == 20


def test_a_backlog_already_in_the_partition_is_taken_in_full_batches(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., Any],
) -> None:
    """The events that fill a batch are in the partition already: the window gathers them even
    while the pipeline is idle (worker/service/batching.py). With takes of a millisecond, a window
    that only asked "is the pipeline busy?" handed on the first takes as they came, a few dozen
    articles each. The timeout is a minute, so only the backlog rule can make a batch here."""
    raw, clean, dups, dlq = topics = topic_names()
    inputs = [
        msgspec.json.encode({"id": f"b{i}", "text": f"Report {i}: the council met on day {i} and voted {i * 7} to {i}."})
        for i in range(1_200)
    ]
    asyncio.run(produce(kafka.bootstrap, raw, inputs))
    worker = start_worker(topics, batch_size=400, batch_timeout_seconds=60, batch_idle_seconds=0.001)
    records = asyncio.run(consume_all(kafka.bootstrap, [clean, dups, dlq], len(inputs), timeout=90, settle=1.0))
    assert len(records) == len(inputs), worker.log_path.read_text()[-3000:]
    _, text = scrape(worker.metrics_port)
    # three batches of 400: the only way to count 3 batches and 1,200 articles at 400 at most each
    assert metric(text, "newsworker_batch_size_articles_count") == 3, text
    assert metric(text, "newsworker_batch_size_articles_sum") == 1_200, text
