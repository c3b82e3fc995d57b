"""When the events taken so far become a batch: a short wait when idle, a full batch when behind.

One fixed trade-off serves no load well: a long batch window adds its length to every article's
latency when the feed is slow, a short one makes small batches when the worker is behind, and
small batches cost throughput (each pays a Redis round trip, a prepare hand-off and produce
requests: with a fixed 50 ms window the worker forwarded 2,490 articles/s against 3,125 with
200 ms, docs/BENCHMARKS.md). So the agent takes events in short windows (`idle_seconds`) and
`BatchWindow` decides what to do with them:

- the pipeline is idle (fewer than `busy_batches` batches in flight): hand them on at once;
- it is busy: keep gathering until `size` events or `timeout_seconds` after the first one,
  or until `full()` says no more may come (the byte budget is spent: worker/service/budget.py).

A worker that is behind therefore takes full batches, one that keeps up takes what a short wait
brought. Pure: the clock and the "busy" test are injected; the agent (worker/service/app.py)
drives it with faust's `take_events` and holds every gathered event (`incref`) as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

#: In flight from this many batches on, the pipeline counts as busy (the stages overlap: one
#: batch in flight is a pipeline keeping up, two or more one that is filling).
BUSY_BATCHES = 2


class BatchWindow(Generic[T]):
    def __init__(
        self,
        *,
        size: int,
        timeout_seconds: float,
        busy: Callable[[], bool],
        full: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self.timeout_seconds = timeout_seconds
        self._busy = busy
        self._full = full
        self._clock = clock
        self._pending: list[T] = []
        self._first_at = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, items: Sequence[T]) -> None:
        if items and not self._pending:
            self._first_at = self._clock()
        self._pending.extend(items)

    def due(self) -> bool:
        """True when the gathered events should go now (see the module)."""
        if not self._pending:
            return False
        return (
            len(self._pending) >= self.size
            or not self._busy()
            or self._full()
            or self.wait_seconds() == 0.0
        )

    def wait_seconds(self) -> float | None:
        """How long the gathered events may still wait; None when there are none."""
        if not self._pending:
            return None
        return max(0.0, self._first_at + self.timeout_seconds - self._clock())

    def take(self) -> list[T]:
        """The next batch: at most `size` of the gathered events, oldest first."""
        batch, self._pending = self._pending[: self.size], self._pending[self.size :]
        if self._pending:
            self._first_at = self._clock()
        return batch
