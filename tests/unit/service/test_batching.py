"""`BatchWindow`: idle hands on at once, busy gathers to a full batch or the timeout, and a batch
whose rest is already in the partitions (`Backlog`) is gathered whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.service.batching import Backlog, BatchWindow


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


def test_the_backlog_is_what_the_partitions_hold_past_the_last_event_taken() -> None:
    highwaters: dict[str, int | None] = {"a": 100, "b": None, "c": 7}
    backlog: Backlog[str] = Backlog(lambda tp: highwaters[tp])
    assert backlog() == 0  # nothing taken yet: nothing known
    backlog.taken("a", 9)
    assert backlog() == 90  # offsets 10..99
    backlog.taken("a", 10)
    backlog.taken("b", 5)  # not fetched yet: unknown
    assert backlog() == 89
    backlog.taken("c", 6)  # the last one there
    assert backlog() == 89
    highwaters["c"] = 3  # a stale high watermark never counts below zero
    assert backlog() == 89
    highwaters["b"] = 56
    assert backlog() == 89 + 50


def test_a_partition_the_consumer_cannot_answer_for_counts_nothing() -> None:
    def highwater(tp: str) -> int:
        if tp == "revoked":
            raise AssertionError("Partition is not assigned")  # aiokafka's answer
        return 50

    backlog: Backlog[str] = Backlog(highwater)
    backlog.taken("revoked", 0)
    backlog.taken("kept", 9)
    assert backlog() == 40


def behind_window(backlog: list[int], busy: list[bool], clock: Clock, size: int = 5) -> BatchWindow[int]:
    return BatchWindow(
        size=size, timeout_seconds=0.2, busy=lambda: busy[0], backlog=lambda: backlog[0],
        behind_timeout_seconds=1.0, clock=clock,
    )


def test_events_whose_batch_is_still_in_the_partitions_wait_for_it_even_when_idle() -> None:
    clock, busy, backlog = Clock(), [False], [3]
    w = behind_window(backlog, busy, clock)
    w.add([1, 2])
    assert not w.due()  # idle, but the 3 events that make the batch full are there to take
    assert w.wait_seconds() == pytest.approx(1.0)
    clock.now += 0.5  # past the ordinary timeout: still waiting, the rest is on its way
    assert not w.due() and w.wait_seconds() == pytest.approx(0.5)
    w.add([3, 4, 5])
    backlog[0] = 0
    assert w.due() and w.take() == [1, 2, 3, 4, 5]


def test_less_than_the_rest_of_a_batch_behind_is_no_reason_to_wait() -> None:
    clock, busy, backlog = Clock(), [False], [2]
    w = behind_window(backlog, busy, clock)
    w.add([1, 2])
    assert w.due()  # 2 + 2 < 5: idle hands on what it has
    busy[0] = True
    assert not w.due() and w.wait_seconds() == pytest.approx(0.2)


def test_waiting_for_a_backlog_ends_at_its_own_timeout() -> None:
    # a fetch that stalls (the broker gone mid-drain) holds what was taken only so long
    clock, busy, backlog = Clock(), [False], [1_000]
    w = behind_window(backlog, busy, clock)
    w.add([1])
    clock.now += 0.999
    assert not w.due()
    clock.now += 0.001
    assert w.wait_seconds() == 0.0 and w.due() and w.take() == [1]


def test_a_spent_byte_budget_hands_on_even_when_behind() -> None:
    clock, full = Clock(), [False]
    w = BatchWindow(size=5, timeout_seconds=0.2, busy=lambda: True, full=lambda: full[0],
                    backlog=lambda: 1_000, clock=clock)
    w.add([1, 2])
    assert not w.due()
    full[0] = True
    assert w.due() and w.take() == [1, 2]


def test_the_backlog_timeout_is_never_shorter_than_the_ordinary_one() -> None:
    w = BatchWindow(size=5, timeout_seconds=2.0, busy=lambda: True, backlog=lambda: 99,
                    behind_timeout_seconds=1.0, clock=Clock())
    w.add([1])
    assert w.wait_seconds() == pytest.approx(2.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.integers(0, 12), st.floats(0, 0.5)), max_size=80))
def test_whatever_the_backlog_says_order_is_kept_nothing_is_lost_and_nothing_waits_past_its_limit(
    steps: list[tuple[int, bool, int, float]],
) -> None:
    clock, busy, backlog = Clock(), [False], [0]
    w = behind_window(backlog, busy, clock, size=7)
    out: list[int] = []
    n = 0
    for count, is_busy, behind, elapsed in steps:
        w.add(list(range(n, n + count)))
        n += count
        busy[0], backlog[0] = is_busy, behind
        clock.now += elapsed
        while w.due():
            batch = w.take()
            assert 0 < len(batch) <= 7
            out.extend(batch)
        wait = w.wait_seconds()
        assert wait is None or 0.0 < wait <= 1.0  # never due-and-waiting: the agent cannot spin
    out.extend(w.take())
    assert out == list(range(n))
