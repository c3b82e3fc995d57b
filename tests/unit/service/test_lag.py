"""Where the input lag counts from (`worker/service/lag.py`): a partition this group never
committed counts from where the group began reading it, not from offset 0."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from worker.service.lag import LagOrigins


class FakeConsumer:
    """faust's consumer as `LagOrigins` sees it: committed offsets, the log's first offsets and
    the consumer's positions, with a count of the broker requests made."""

    def __init__(self, committed: dict[str, int | None], first: dict[str, int], position: dict[str, int]) -> None:
        self._committed_offset = committed
        self.first = first
        self.where = position
        self.requests = 0
        self.fail = False

    async def earliest_offsets(self, *partitions: Any) -> Mapping[Any, int]:
        self.requests += 1
        if self.fail:
            raise ConnectionError("broker gone")
        return {tp: self.first[tp] for tp in partitions if tp in self.first}

    async def position(self, tp: Any) -> int | None:
        self.requests += 1
        if self.fail:
            raise ConnectionError("broker gone")
        return self.where[tp]


def origins(lag: LagOrigins, consumer: FakeConsumer, partitions: list[str]) -> dict[Any, int]:
    return asyncio.run(lag.origins(consumer, partitions))


def test_a_committed_partition_counts_from_its_commit() -> None:
    consumer = FakeConsumer({"p0": 40, "p1": 7}, first={"p0": 0, "p1": 7}, position={})
    assert origins(LagOrigins("earliest", 5), consumer, ["p0", "p1"]) == {"p0": 40, "p1": 7}
    assert consumer.requests == 1  # the log's first offsets, every partition in one request


@pytest.mark.parametrize(("reset", "origin"), [("earliest", 9_000), ("latest", 9_100)])
def test_a_commit_below_the_log_s_first_offset_counts_as_none(reset: Any, origin: int) -> None:
    """Committed at 100, the log's segments expired up to 9,000 while no worker read it: the
    consumer reset by the policy, and counted from 100 an idle partition was "stuck" with 8,900
    messages it will never read, restarted for ever (a review of the first version)."""
    consumer = FakeConsumer({"p0": 100}, first={"p0": 9_000}, position={"p0": 9_100})
    assert origins(LagOrigins(reset, 5), consumer, ["p0"]) == {"p0": origin}


def test_earliest_over_a_log_whose_first_segments_expired_counts_from_its_first_offset() -> None:
    """An idle topic whose messages all expired (first offset == high watermark 5,000): nothing
    to read, so no commit ever comes. Counted from 0, its lag was 5,000 for ever."""
    consumer = FakeConsumer({"p0": None, "p1": 12}, first={"p0": 5_000}, position={})
    lag = LagOrigins("earliest", 5)
    assert origins(lag, consumer, ["p0", "p1"]) == {"p0": 5_000, "p1": 12}
    consumer.first["p0"] = 6_000  # more segments expired: asked again, not kept
    assert origins(lag, consumer, ["p0"]) == {"p0": 6_000}


def test_latest_counts_from_where_the_consumer_stood_at_the_first_look() -> None:
    """A new group on `latest` over a log of 20 starts at 20: the 20 are not its lag. Later
    positions are not taken (they would hide articles taken and not yet decided), until a
    rebalance or a seek makes the partition begin again."""
    consumer = FakeConsumer({"p0": None}, first={"p0": 0}, position={"p0": 20})
    lag = LagOrigins("latest", 5)
    assert origins(lag, consumer, ["p0"]) == {"p0": 20}
    consumer.where["p0"] = 35
    assert origins(lag, consumer, ["p0"]) == {"p0": 20}
    lag.forget(["p0"])
    assert origins(lag, consumer, ["p0"]) == {"p0": 35}
    consumer.where["p0"] = 50
    lag.forget()
    assert origins(lag, consumer, ["p0"]) == {"p0": 50}


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_a_broker_that_does_not_say_leaves_the_partition_counted_from_zero(reset: Any) -> None:
    """No answer: the partition is left out, and the caller counts it from 0 as before (an
    overstated lag keeps the stuck-pipeline detector on the safe side; the broker probe says
    the broker is unreachable). A committed one counts from its commit."""
    consumer = FakeConsumer({"p0": None, "p1": 3}, first={"p0": 9, "p1": 0}, position={"p0": 9})
    consumer.fail = True
    assert origins(LagOrigins(reset, 5), consumer, ["p0", "p1"]) == {"p1": 3}


def test_a_broker_that_hangs_is_given_up_on_after_the_timeout() -> None:
    class Hanging(FakeConsumer):
        async def earliest_offsets(self, *partitions: Any) -> Mapping[Any, int]:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    consumer = Hanging({"p0": None}, first={}, position={})
    assert origins(LagOrigins("earliest", 0.05), consumer, ["p0"]) == {}
