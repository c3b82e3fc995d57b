"""worker/service/lifecycle.py: the shutdown deadline fires once, after grace + margin, from a thread."""

from __future__ import annotations

import threading
import time

from worker.service.lifecycle import EXIT_GRACE_EXCEEDED, ShutdownDeadline


def test_the_deadline_exits_after_grace_plus_margin_and_only_once() -> None:
    exits: list[tuple[int, float]] = []
    fired = threading.Event()

    def fake_exit(status: int) -> None:
        exits.append((status, time.monotonic()))
        fired.set()

    deadline = ShutdownDeadline(0.2, margin=0.1, exit_=fake_exit)
    assert not deadline.armed
    started = time.monotonic()
    deadline.arm()
    deadline.arm()  # a second signal does not restart (or double) the countdown
    assert fired.wait(5)
    time.sleep(0.4)
    assert len(exits) == 1
    status, at = exits[0]
    assert status == EXIT_GRACE_EXCEEDED
    assert at - started >= 0.3


def test_an_unarmed_deadline_never_fires() -> None:
    exits: list[int] = []
    ShutdownDeadline(0.01, margin=0.0, exit_=exits.append)
    time.sleep(0.1)
    assert exits == []
