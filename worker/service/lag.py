"""Where the input lag counts from, partition by partition.

The lag the worker reports (`newsworker_consumer_lag_messages`) and its stuck-pipeline detector
(`health.Progress`) both read "messages this group has yet to decide": a partition's high
watermark less the offset the group committed. A partition the group never committed (a new
group, or a log read again from its start) has no such offset, and it was counted from offset 0.
That is right only for a group reading from the start of a log that still begins at 0. A new
group on `latest`, or on `earliest` over a log whose first segments expired, counted messages it
will never read as lag; on an idle topic no commit ever came, so the worker was "stuck": not
ready after `stuck_seconds`, restarted by its liveness probe after `stuck_liveness_seconds`, and
stuck again after every restart (a review's finding). Now such a partition counts from where
the group began reading it: the log's first offset (`earliest`), or the position the consumer
took at the first look (`latest`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Literal


class LagOrigins:
    """The offset each assigned input partition's lag counts from (see the module docstring)."""

    def __init__(self, reset: Literal["earliest", "latest"], timeout: float) -> None:
        self._reset = reset
        self._timeout = timeout
        self._began: dict[Any, int] = {}
        """`latest`: where the consumer stood at the first look at a partition it never committed."""

    def forget(self, partitions: Iterable[Any] | None = None) -> None:
        """After a rebalance (or a seek): where a partition begins is looked up again."""
        if partitions is None:
            self._began.clear()
        else:
            for tp in partitions:
                self._began.pop(tp, None)

    async def origins(self, consumer: Any, partitions: Iterable[Any]) -> dict[Any, int]:
        """Each partition's committed offset, or where the group began reading it. `consumer`:
        faust's (its `_committed_offset`, `earliest_offsets` and `position`). A committed offset
        below the log's first (its segments expired while no worker read it) counts as none:
        the consumer reset by the policy, and counted from there an idle partition was "stuck"
        with the expired messages as lag, restarted for ever (a review of the first version).
        A partition whose beginning the broker does not tell in time is left out, and the
        caller counts it from 0 as before: an overstated lag is the safe side of the
        stuck-pipeline detector, and the broker probe says when the broker does not answer."""
        partitions = list(partitions)
        committed = consumer._committed_offset
        first: dict[Any, int] = {}
        with contextlib.suppress(Exception):  # one request for every partition
            answer = await asyncio.wait_for(consumer.earliest_offsets(*partitions), self._timeout)
            first = {tp: offset for tp, offset in answer.items() if offset is not None}
        origins: dict[Any, int] = {}
        reset: list[Any] = []
        for tp in partitions:
            offset, start = committed.get(tp), first.get(tp)
            if offset is not None and (start is None or offset >= start):
                origins[tp] = offset
            elif self._reset == "earliest":
                if start is not None:
                    origins[tp] = start
            else:
                reset.append(tp)
        if reset:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._began_at(consumer, reset), self._timeout)
            origins.update((tp, self._began[tp]) for tp in reset if tp in self._began)
        return origins

    async def _began_at(self, consumer: Any, partitions: list[Any]) -> None:
        """`latest`: where the consumer stands now, for each partition not looked at before."""
        for tp in partitions:
            if tp not in self._began:
                position = await consumer.position(tp)
                if position is not None:
                    self._began[tp] = position
