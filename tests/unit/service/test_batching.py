"""`BatchWindow`: idle hands on at once, busy gathers to a full batch or the timeout."""

from __future__ import annotations

import pytest

from worker.service.batching import BatchWindow


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def window(busy: list[bool], clock: Clock, size: int = 5, timeout: float = 0.2) -> BatchWindow[int]:
    return BatchWindow(size=size, timeout_seconds=timeout, busy=lambda: busy[0], clock=clock)


def test_an_idle_pipeline_gets_whatever_was_taken_at_once() -> None:
    clock, busy = Clock(), [False]
    w = window(busy, clock)
    assert not w.due() and w.wait_seconds() is None
    w.add([1, 2])
    assert w.due() and w.take() == [1, 2] and len(w) == 0


def test_a_busy_pipeline_gathers_until_the_batch_is_full() -> None:
    clock, busy = Clock(), [True]
    w = window(busy, clock)
    w.add([1, 2])
    assert not w.due()
    clock.now += 0.05
    w.add([3, 4, 5, 6, 7])
    assert w.due() and w.take() == [1, 2, 3, 4, 5]
    # the rest waits for more, from now on
    assert not w.due() and w.wait_seconds() == pytest.approx(0.2)


def test_a_busy_pipeline_does_not_hold_events_past_the_timeout() -> None:
    clock, busy = Clock(), [True]
    w = window(busy, clock)
    w.add([1])
    clock.now += 0.15
    w.add([2])
    assert not w.due() and w.wait_seconds() == pytest.approx(0.05)  # counted from the first event
    clock.now += 0.05
    assert w.wait_seconds() == 0.0 and w.due() and w.take() == [1, 2]


def test_the_pipeline_becoming_idle_releases_the_gathered_events() -> None:
    clock, busy = Clock(), [True]
    w = window(busy, clock)
    w.add([1, 2, 3])
    assert not w.due()
    busy[0] = False
    assert w.due() and w.take() == [1, 2, 3]


def test_order_is_kept_and_nothing_is_lost_over_many_takes() -> None:
    clock, busy = Clock(), [True]
    w = window(busy, clock, size=7)
    out: list[int] = []
    n = 0
    for step in range(200):
        w.add(list(range(n, n + step % 4)))
        n += step % 4
        busy[0] = step % 3 != 0
        clock.now += 0.03
        while w.due():
            batch = w.take()
            assert 0 < len(batch) <= 7
            out.extend(batch)
    out.extend(w.take())
    assert out == list(range(n))


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BatchWindow(size=0, timeout_seconds=1, busy=lambda: False)


def test_a_busy_pipeline_hands_on_at_once_when_no_more_may_come() -> None:
    # the byte budget is spent (worker/service/budget.py): waiting for more would only wait out
    # the timeout, since nothing more is admitted until a batch is delivered
    clock, busy, full = Clock(), [True], [False]
    w = BatchWindow(size=5, timeout_seconds=0.2, busy=lambda: busy[0], full=lambda: full[0], clock=clock)
    w.add([1, 2])
    assert not w.due()
    full[0] = True
    assert w.due() and w.take() == [1, 2]
    assert not w.due()  # nothing gathered: nothing due, full or not
