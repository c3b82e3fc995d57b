"""The worker's batch stages (worker/service/app.py `BatchHandler`) with an in-memory store and publisher.

What must hold while batches overlap: outcomes are published in input order, a batch is released
(its input offsets become committable) only after every one of its outcomes is delivered, at most
`depth` batches are in flight, and a transient failure holds the batches behind it instead of
letting them overtake. The real worker over Kafka and Redis is tested in tests/integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from tests.support.fakes import InMemoryStore
from worker.config import Settings
from worker.errors import DedupStoreRefused, TransientError
from worker.pipeline import Clean, Message, Outcome, limits_of
from worker.service.batches import BatchHandler
from worker.service.health import Readiness
from worker.service.metrics import Metrics
from worker.service.preparer import Preparer

LIMITS = limits_of(Settings())

#: Stages that raised (a bug): the real worker exits; here the test fails (`no_bugs`).
BUGS: list[int] = []


@pytest.fixture(autouse=True)
def no_bugs() -> Any:
    BUGS.clear()
    yield
    assert not BUGS, "a stage raised: see the captured log"


class RecordingPublisher:
    """Delivers outcomes to a list; a test may hold deliveries (`gate`) or fail the first ones."""

    def __init__(self, fail_first: int = 0) -> None:
        self.delivered: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_first = fail_first
        self.calls = 0

    async def publish(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        self.calls += 1
        await self.gate.wait()
        if self.fail_first:
            self.fail_first -= 1
            raise TransientError("broker down (test)")
        self.delivered += [outcome.message.origin for outcome in outcomes]
        return list(outcomes)


class CountingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.decided: list[str] = []

    async def check_and_record(self, items: Sequence[Any]) -> list[Any]:
        answers = await super().check_and_record(items)
        self.decided += [item.article_id for item in items]
        return answers


def article(n: int) -> bytes:
    words = " ".join(f"word{n}x{i}" for i in range(40))
    return msgspec.json.encode({"id": f"a{n}", "title": f"story {n}", "text": f"story {n}. {words}."})


def batch(start: int, size: int) -> list[Message]:
    return [
        Message(value=article(n), origin=f"raw:0:{n}", topic="raw", partition=0, offset=n)
        for n in range(start, start + size)
    ]


def make_handler(
    publisher: RecordingPublisher, store: InMemoryStore, **kwargs: Any
) -> tuple[BatchHandler, Readiness]:
    readiness = Readiness()
    kwargs.setdefault("on_bug", lambda: BUGS.append(1))
    kwargs.setdefault("metrics", Metrics(CollectorRegistry()))
    handler = BatchHandler(
        store=store,
        publisher=publisher,  # type: ignore[arg-type]
        settings=Settings(),
        readiness=readiness,
        **kwargs,
    )
    return handler, readiness


def test_batches_overlap_but_are_released_in_order_after_delivery() -> None:
    async def main() -> None:
        publisher, store = RecordingPublisher(), CountingStore()
        handler, _ = make_handler(publisher, store, depth=3)
        released: list[int] = []
        publisher.gate.clear()  # the broker holds every delivery
        for k in range(3):
            await handler.submit(batch(k * 10, 10), lambda k=k: released.append(k))
        # all three batches are decided while the first one's delivery is still pending
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(store.decided) == 30
        assert released == [] and publisher.delivered == []
        assert handler.in_flight == 3
        publisher.gate.set()
        await asyncio.wait_for(handler.drained(), 5)
        assert released == [0, 1, 2]
        assert publisher.delivered == [f"raw:0:{n}" for n in range(30)]
        await handler.stop()

    asyncio.run(main())


def test_submit_waits_while_depth_batches_are_in_flight() -> None:
    async def main() -> None:
        publisher = RecordingPublisher()
        handler, _ = make_handler(publisher, InMemoryStore(), depth=2)
        publisher.gate.clear()
        await handler.submit(batch(0, 5), lambda: None)
        await handler.submit(batch(5, 5), lambda: None)
        third = asyncio.ensure_future(handler.submit(batch(10, 5), lambda: None))
        await asyncio.sleep(0.05)
        assert not third.done()  # no room until the first batch is released
        publisher.gate.set()
        await asyncio.wait_for(third, 5)
        await asyncio.wait_for(handler.drained(), 5)
        assert len(publisher.delivered) == 15
        await handler.stop()

    asyncio.run(main())


def test_a_failed_delivery_is_retried_and_holds_later_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("worker.service.batches.RETRY_FIRST_SECONDS", 0.01)

    async def main() -> None:
        publisher = RecordingPublisher(fail_first=2)
        handler, readiness = make_handler(publisher, InMemoryStore())
        released: list[int] = []
        await handler.submit(batch(0, 4), lambda: released.append(0))
        await handler.submit(batch(4, 4), lambda: released.append(1))
        await asyncio.wait_for(handler.drained(), 5)
        assert released == [0, 1]
        assert publisher.calls == 4  # two failures of the first batch, then one call per batch
        assert publisher.delivered == [f"raw:0:{n}" for n in range(8)]
        assert readiness.broker
        await handler.stop()

    asyncio.run(main())


def test_handle_returns_the_delivered_outcomes_and_replays_decide_the_same() -> None:
    async def main() -> None:
        publisher, store = RecordingPublisher(), InMemoryStore()
        handler, _ = make_handler(publisher, store)
        first = await handler.handle(batch(0, 6))
        again = await handler.handle(batch(0, 6))  # a redelivery of the same offsets
        assert [type(o) for o in first] == [Clean] * 6
        assert [type(o) for o in again] == [Clean] * 6
        await handler.stop()

    asyncio.run(main())


def test_a_process_pool_gives_the_same_outcomes_as_inline() -> None:
    async def run(processes: int) -> list[Any]:
        handler, _ = make_handler(
            RecordingPublisher(),
            InMemoryStore(),
            preparer=Preparer(processes=processes, limits=limits_of(Settings())),
        )
        messages = [*batch(0, 8), Message(value=b"{not json", origin="raw:0:99")]
        outcomes = await handler.handle(messages)
        await handler.stop()
        return [
            (o.article.id, o.article.text, o.article.fingerprints) if isinstance(o, Clean) else o.reason  # type: ignore[union-attr]
            for o in outcomes
        ]

    inline = asyncio.run(run(0))
    pooled = asyncio.run(run(1))
    assert pooled == inline
    assert inline[-1] == "invalid_json" and len(inline) == 9


class RefusingStore(InMemoryStore):
    """A full Redis: refuses the first `n` claims the way RedisDedupStore reports it."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.refusals = n
        self.refused = asyncio.Event()

    async def check_and_record(self, items: Sequence[Any]) -> list[Any]:
        if self.refusals:
            self.refusals -= 1
            self.refused.set()
            raise DedupStoreRefused("oom", "Redis refused claim (oom): command not allowed (test)")
        return await super().check_and_record(items)


def test_a_full_redis_is_an_outage_retried_not_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("worker.service.batches.RETRY_FIRST_SECONDS", 0.01)
    registry = CollectorRegistry()

    async def main() -> None:
        publisher = RecordingPublisher()
        store = RefusingStore(3)
        handler, readiness = make_handler(publisher, store, metrics=Metrics(registry))
        handling = asyncio.ensure_future(handler.handle(batch(0, 5)))
        await asyncio.wait_for(store.refused.wait(), 10)
        readiness.redis = True  # what the periodic PING says: a full Redis still answers it
        assert "redis" in readiness.missing()
        await asyncio.wait_for(handling, 10)
        assert publisher.delivered == [f"raw:0:{n}" for n in range(5)]
        assert readiness.redis
        await handler.stop()

    asyncio.run(main())
    assert registry.get_sample_value("newsworker_redis_refused_total", {"kind": "oom"}) == 3
    assert registry.get_sample_value("newsworker_redis_retries_total") == 3


def test_a_released_batch_is_progress() -> None:
    async def main() -> None:
        handler, readiness = make_handler(RecordingPublisher(), InMemoryStore())
        progress = readiness.progress
        progress.lag = 10
        before = progress._since
        await asyncio.sleep(0.01)
        await handler.handle(batch(0, 3))
        assert progress._since > before
        await handler.stop()

    asyncio.run(main())


class BuggyStore(InMemoryStore):
    async def check_and_record(self, items: Sequence[Any]) -> list[Any]:
        raise KeyError("a bug (test)")


def test_exit_on_a_bug_kills_the_prepare_processes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each exit 70 used to leave the prepare processes running as orphans (~150 MB)."""
    import psutil

    exits: list[int] = []
    preparer = Preparer(processes=1, limits=limits_of(Settings()))

    async def main() -> list[int]:
        # on_bug=None: the real default, with `hard_exit` recorded below
        handler, _ = make_handler(RecordingPublisher(), BuggyStore(), preparer=preparer, on_bug=None)
        preparer.start()
        for future in list(preparer._warming):
            await asyncio.wrap_future(future)
        pids = preparer.pids()
        await handler.submit(batch(0, 5), lambda: None)
        for _ in range(500):
            if exits:
                break
            await asyncio.sleep(0.01)
        await handler.stop()
        return pids

    monkeypatch.setattr("worker.service.batches.hard_exit", exits.append)
    try:
        pids = asyncio.run(main())
    finally:
        preparer.close()
    assert exits == [70]
    assert pids and not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_outcomes_are_counted_as_the_publisher_delivered_them() -> None:
    """An article whose event the broker refused as too large is delivered as its dead letter
    (worker/service/publisher.py): it is counted as one, so in = clean + duplicates + dead letters."""
    from worker.pipeline import dead_letter

    class SettingAside(RecordingPublisher):
        async def publish(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
            delivered = await super().publish(outcomes)
            first = delivered[0]
            delivered[0] = dead_letter(first.message, "output_too_large", "too large (test)", 0.0, LIMITS)
            return delivered

    async def main() -> CollectorRegistry:
        registry = CollectorRegistry()
        handler, _ = make_handler(SettingAside(), InMemoryStore(), metrics=Metrics(registry))
        await handler.submit(batch(0, 6), lambda: None)
        await asyncio.wait_for(handler.drained(), 5)
        await handler.stop()
        return registry

    registry = asyncio.run(main())

    def processed(outcome: str) -> float:
        return registry.get_sample_value("newsworker_articles_processed_total", {"outcome": outcome, "source": "other"}) or 0.0

    assert (processed("clean"), processed("dead_letter")) == (5.0, 1.0)
    assert registry.get_sample_value(
        "newsworker_dead_letters_total", {"reason": "output_too_large", "source": "other"}
    ) == 1.0


def test_warnings_of_published_clean_articles_are_counted() -> None:
    async def main() -> CollectorRegistry:
        registry = CollectorRegistry()
        handler, _ = make_handler(RecordingPublisher(), InMemoryStore(), metrics=Metrics(registry))
        markup = msgspec.json.encode({"id": "m1", "text": "<p>" + " ".join(f"m{i}" for i in range(40)) + "</p><p>end.</p>"})
        messages = [*batch(0, 3), Message(value=markup, origin="raw:0:3", topic="raw", partition=0, offset=3)]
        await handler.submit(messages, lambda: None)
        await asyncio.wait_for(handler.drained(), 5)
        await handler.stop()
        return registry

    registry = asyncio.run(main())
    assert registry.get_sample_value("newsworker_clean_warnings_total", {"warning": "html_in_text"}) == 1.0
    assert registry.get_sample_value("newsworker_clean_warnings_total", {"warning": "mojibake_repaired"}) == 0.0
