"""The matrix's input: a seeded, copy-dense stream of real Arabic news with known stories.

Originals are real articles of `../shared/data/ant-dev.jsonl.gz`; each gets 0-3 copies (an exact
copy under a new id, or a near copy made by `worker.tools.variants`: edited, syndicated with
outlet chrome, diacritized), and a few bad messages are mixed in, so every kind of outcome occurs.

Which messages form one *story* is settled once, here, by running the pure pipeline in stream
order against an in-memory store (the reference run): a story is kept only when the reference
calls its original clean and every copy a duplicate *of that original*, and the original is no
duplicate of another story. So stories are far apart from each other and tight inside, and the
invariant "exactly one clean per story" does not depend on which copy a worker happens to see
first. The data set's text stays in memory only; nothing of it is written into the project.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from tests.support.fakes import InMemoryStore
from worker.dedup.decision import Thresholds
from worker.pipeline import Clean, Duplicate, Limits, Message, process_batch
from worker.tools.variants import Context, make_variant

#: Articles read from the head of the data set to draw originals from.
POOL = 2000
#: Near-copy kinds whose copies stay near each other too (a teaser is near its original but not
#: always near another teaser of it, which would make "one story" depend on arrival order).
NEAR_KINDS = ("edit", "syndicated", "diacritics")


@dataclass(frozen=True, slots=True)
class Item:
    key: bytes  # Kafka key: the story (copies follow their original in one partition) or random
    value: bytes
    id: str
    story: str | None  # the original's id; None for a bad message


@dataclass(frozen=True, slots=True)
class Stream:
    seed: int
    items: tuple[Item, ...]

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def stories(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for item in self.items:
            if item.story is not None:
                out.setdefault(item.story, []).append(item.id)
        return out

    @property
    def bad(self) -> set[str]:
        return {item.id for item in self.items if item.story is None}

    def copies(self) -> int:
        return sum(len(members) - 1 for members in self.stories.values())


def _read_pool(path: Path) -> list[dict[str, object]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            if isinstance(article.get("text"), str) and 800 <= len(article["text"]) <= 6000:
                out.append(article)
            if len(out) >= POOL:
                break
    return out


def _reference(values: list[tuple[str, bytes]]) -> dict[str, tuple[str, str | None]]:
    """id -> ("clean", None) | ("duplicate", canonical id) | ("dead_letter", reason), in order."""

    async def run() -> dict[str, tuple[str, str | None]]:
        store = InMemoryStore()
        verdicts: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(values), 50):
            chunk = values[start : start + 50]
            messages = [Message(value, f"ref:0:{start + i}") for i, (_, value) in enumerate(chunk)]
            outcomes = await process_batch(
                messages, store, limits=Limits(), thresholds=Thresholds(), clock=lambda: 1.7e9
            )
            for (article_id, _), outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, Clean):
                    verdicts[article_id] = ("clean", None)
                elif isinstance(outcome, Duplicate):
                    verdicts[article_id] = ("duplicate", outcome.event.duplicate_of)
                else:
                    verdicts[article_id] = ("dead_letter", outcome.reason)
        return verdicts

    return asyncio.run(run())


@functools.lru_cache(maxsize=4)
def build_stream(data: Path, seed: int, stories: int = 120, bad: int = 6) -> Stream:
    """`stories` originals with their copies, shuffled so that copies follow their original, plus
    `bad` dead letters; deterministic in `seed`. Stories the reference run disagrees on are left
    out (see the module docstring), so the stream may hold a few fewer."""
    rng = random.Random(seed)
    pool = _read_pool(data)
    chosen = rng.sample(pool, min(len(pool), stories * 2))  # spare ones replace dropped stories
    donors = [s for a in rng.sample(pool, 50) for s in str(a["text"]).split(".")[:3] if len(s) > 30]
    ctx = Context(donor_sentences=donors, related_titles=[str(a.get("title") or "") for a in pool[:40]])
    groups: list[list[dict[str, object]]] = []
    for n, original in enumerate(chosen):
        original = {**original, "id": f"s{seed}-{n}"}
        group = [original]
        for c in range(rng.choice((0, 1, 1, 2, 2, 3))):
            if rng.random() < 0.4:
                group.append({**original, "id": f"{original['id']}~exact{c}", "url": f"{original['url']}?c={c}"})
            else:
                group.append(make_variant(original, rng.choice(NEAR_KINDS), rng, ctx, c))
        groups.append(group)
    flat = [(str(a["id"]), msgspec.json.encode(a)) for g in groups for a in g]
    verdicts = _reference(flat)
    kept = []
    for group in groups:
        head = str(group[0]["id"])
        if verdicts[head] != ("clean", None):
            continue  # a natural duplicate of an earlier story in the data set
        if all(verdicts[str(a["id"])] == ("duplicate", head) for a in group[1:]):
            kept.append(group)
        if len(kept) == stories:
            break
    # Interleave stories: each copy is placed some way after its original.
    order: list[tuple[dict[str, object], str]] = []
    for group in kept:
        order.append((group[0], str(group[0]["id"])))
    for group in kept:
        for copy in group[1:]:
            at = next(i for i, (a, _) in enumerate(order) if a["id"] == group[0]["id"])
            order.insert(rng.randint(at + 1, len(order)), (copy, str(group[0]["id"])))
    items = [Item(story.encode(), msgspec.json.encode(a), str(a["id"]), story) for a, story in order]
    for i in range(bad):
        bad_id = f"s{seed}-bad-{i}"
        at = rng.randint(0, len(items))
        items.insert(at, Item(bad_id.encode(), msgspec.json.encode({"id": bad_id, "title": "no body"}), bad_id, None))
    return Stream(seed, tuple(items))


def randomly_keyed(stream: Stream) -> list[Item]:
    """The stream with random keys: copies land in other partitions than their original, so two
    workers may decide one story at the same moment (the cross-shard race)."""
    rng = random.Random(stream.seed + 1)
    return [Item(rng.randbytes(8), i.value, i.id, i.story) for i in stream.items]


def chunks(items: list[Item], n: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), n):
        yield items[start : start + n]
