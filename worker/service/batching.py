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

- the rest of a full batch already exists (`backlog()`: events in the partitions past those
  taken, as far as the last fetch told): keep gathering until `size` events, whatever the
  pipeline's state, up to `behind_timeout_seconds`. Those events are late whether they wait in
  the broker or here, so waiting for them costs no latency, and a draining worker keeps full
  batches: with the timeout alone, a worker whose prepare stage got faster had fewer batches in
  flight, counted as idle, and drained in batches of ~600 of 1,000 (docs/BENCHMARKS.md).

A worker that is behind therefore takes full batches, one that keeps up takes what a short wait
brought. Pure: the clock and the "busy" and backlog tests are injected; the agent
(worker/service/app.py) drives it with faust's `take_events` and holds every gathered event
(`incref`) as before. `Backlog` counts what is left in the partitions from the offsets taken and
the consumer's high watermarks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
P = TypeVar("P")

#: In flight from this many batches on, the pipeline counts as busy. The three stages (prepare,
#: decide, publish) overlap, so a pipeline that keeps up often holds a batch in two of them; at 2
#: it counted as busy at half its capacity and held new events to the timeout (latency p50 1.40x
#: the passthrough's at 1,300/s, 1.18x at 3: docs/BENCHMARKS.md, session 24). A drain's batches
#: are full by the backlog rule whatever this says.
BUSY_BATCHES = 3

#: How long events may wait for the rest of a batch the backlog says exists. Longer than the
#: timeout (a fetch of the rest takes a round trip or two), short enough that a fetch that stalls
#: (a broker gone mid-drain) holds what was taken only briefly.
BEHIND_TIMEOUT_SECONDS = 1.0


class Backlog(Generic[P]):
    """Events in the partitions past the last one taken, as the consumer last saw them: per
    partition, its high watermark (the offset the next produced event gets) minus the offset
    after the last event taken. Partitions the consumer cannot answer for (revoked, not fetched
    yet) count 0: an unknown backlog is no reason to wait."""

    def __init__(self, highwater: Callable[[P], int | None]) -> None:
        self._highwater = highwater
        self._next: dict[P, int] = {}

    def taken(self, partition: P, offset: int) -> None:
        self._next[partition] = offset + 1

    def __call__(self) -> int:
        total = 0
        for partition, after in self._next.items():
            highwater = self._known_highwater(partition)
            if highwater is not None and highwater > after:
                total += highwater - after
        return total

    def _known_highwater(self, partition: P) -> int | None:
        try:
            return self._highwater(partition)
        except Exception:  # the consumer's own errors (a partition revoked, a consumer stopped)
            return None


class BatchWindow(Generic[T]):
    def __init__(
        self,
        *,
        size: int,
        timeout_seconds: float,
        busy: Callable[[], bool],
        full: Callable[[], bool] = lambda: False,
        backlog: Callable[[], int] = lambda: 0,
        behind_timeout_seconds: float = BEHIND_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self.timeout_seconds = timeout_seconds
        self.behind_timeout_seconds = max(behind_timeout_seconds, timeout_seconds)
        self._busy = busy
        self._full = full
        self._backlog = backlog
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
        if len(self._pending) >= self.size or self._full():
            return True
        behind = self._behind()
        return (not behind and not self._busy()) or self._left(behind) == 0.0

    def wait_seconds(self) -> float | None:
        """How long the gathered events may still wait; None when there are none."""
        if not self._pending:
            return None
        return self._left(self._behind())

    def _behind(self) -> bool:
        """The rest of a full batch exists already (see the module)."""
        return self._backlog() >= self.size - len(self._pending)

    def _left(self, behind: bool) -> float:
        limit = self.behind_timeout_seconds if behind else self.timeout_seconds
        return max(0.0, self._first_at + limit - self._clock())

    def take(self) -> list[T]:
        """The next batch: at most `size` of the gathered events, oldest first."""
        batch, self._pending = self._pending[: self.size], self._pending[self.size :]
        if self._pending:
            self._first_at = self._clock()
        return batch
