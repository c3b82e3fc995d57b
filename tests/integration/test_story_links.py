"""Story links through a real worker: a follow-up is published clean and linked to its story,
while a copy of the story's first article goes to the duplicates topic (issue 13)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import msgspec

from tests.integration.conftest import consume_all, produce
from tests.support.factories import synthetic_article
from worker.tools.embedded import EmbeddedKafka


def through_worker(
    kafka: EmbeddedKafka, topics: list[str], start_worker: Callable[..., object], inputs: list[dict[str, str]]
) -> dict[tuple[str, str], dict[str, object]]:
    """Start a worker on `topics`, send it `inputs` in order and return every event it wrote to
    the clean, duplicates and dead-letter topics, by (topic, article id): one for each input."""
    raw, clean, dups, dlq = topics
    start_worker(topics)
    asyncio.run(produce(kafka.bootstrap, raw, [msgspec.json.encode(a) for a in inputs]))
    records = asyncio.run(consume_all(kafka.bootstrap, [clean, dups, dlq], len(inputs), timeout=60, settle=1.0))
    out = {(r.topic, json.loads(r.value)["id"]): json.loads(r.value) for r in records}
    assert len(records) == len(inputs) == len(out), sorted(out)
    return out


def test_a_follow_up_is_published_with_its_story_and_a_copy_is_a_duplicate(
    kafka: EmbeddedKafka,
    seeds_dir: Path,
    topic_names: Callable[..., list[str]],
    start_worker: Callable[..., object],
) -> None:
    _, clean, dups, _ = topics = topic_names()
    body = (seeds_dir / "astana-talks.raw.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in body.split("\n") if p.strip()]
    kept = paragraphs[: max(1, round(len(paragraphs) * 0.85))] if len(paragraphs) > 1 else paragraphs
    new_lead = synthetic_article(7, paragraphs=1)["text"]  # the new facts, in a lead paragraph of its own
    inputs = [
        {"id": "original", "url": "https://news.example/original", "text": body},
        {"id": "follow-up", "url": "https://news.example/follow-up", "text": "\n".join([new_lead, *kept])},
        {
            "id": "copy",
            "url": "https://other.example/copy",
            "text": (seeds_dir / "astana-talks.paragraphs.txt").read_text(encoding="utf-8"),
        },
    ]
    out = through_worker(kafka, topics, start_worker, inputs)

    original, follow_up = out[(clean, "original")], out[(clean, "follow-up")]
    assert original["story_id"] == "original" and original["related_to"] is None
    assert original["similarity"] is None and original["schema_version"] == 3
    assert follow_up["story_id"] == "original" and follow_up["related_to"] == "original"
    assert 0 < follow_up["similarity"] < 1
    copy = out[(dups, "copy")]
    assert copy["duplicate_of"] == "original" and copy["kind"] == "near"


def test_the_full_article_after_its_feed_item_is_published_linked(
    kafka: EmbeddedKafka,
    seeds_dir: Path,
    topic_names: Callable[..., list[str]],
    start_worker: Callable[..., object],
) -> None:
    """A feed item (the first 30 words) first, then its article: the article holds the item and
    far more of its own, so it is published linked to the item's story, not dropped as its
    copy; the item posted again is the copy."""
    _, clean, dups, _ = topics = topic_names()
    body = (seeds_dir / "astana-talks.raw.txt").read_text(encoding="utf-8")
    item = " ".join(body.split()[:30]) + " ..."
    inputs = [
        {"id": "item", "url": "https://feed.example/item", "text": item},
        {"id": "article", "url": "https://news.example/article", "text": body},
        {"id": "item-again", "url": "https://other.example/item", "text": item},
    ]
    out = through_worker(kafka, topics, start_worker, inputs)
    assert out[(clean, "item")]["story_id"] == "item"
    article = out[(clean, "article")]
    assert article["story_id"] == "item" and article["related_to"] == "item"
    assert out[(dups, "item-again")]["duplicate_of"] == "item"
