"""worker/service/lifecycle.py: the shutdown deadline fires once, after grace + margin, from a thread."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

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


def test_settling_after_start_freezes_the_start_up_once_and_collects_what_follows() -> None:
    # in a fresh interpreter: a frozen object is never freed, so not in the test process
    probe = (
        "import gc, json; import worker.pipeline; from worker.service.lifecycle import settle_after_start\n"
        "before = len(gc.get_objects()); settle_after_start(); after = len(gc.get_objects())\n"
        "a = []; a.append(a); del a; cyclic = gc.collect()\n"
        "print(json.dumps([before, gc.get_freeze_count(), after, cyclic]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    before, frozen, after, cyclic = json.loads(out.stdout)
    # the imports' objects (~20,000 tracked after `import worker.pipeline`), out of every later collection
    assert frozen >= before // 2 > 5_000
    assert after < 100
    assert cyclic >= 1  # garbage made after the freeze is still collected


def test_the_deadline_exits_when_the_log_cannot_be_written() -> None:
    """stdout and stderr to a pipe nobody drains: the deadline's own log line blocked, and the
    worker it was meant to end ran on until SIGKILL (an operator-fault review's finding)."""
    import logging

    from worker.service import lifecycle

    stuck = threading.Event()

    class Blocked(logging.Handler):  # a write to a full pipe
        def emit(self, record: logging.LogRecord) -> None:
            stuck.wait(30)

    handler = Blocked()
    logger = lifecycle.log
    logger.addHandler(handler)
    fired = threading.Event()
    try:
        deadline = ShutdownDeadline(0.05, margin=0.0, exit_=lambda status: fired.set())
        started = time.monotonic()
        deadline.arm()
        assert fired.wait(7)
        assert time.monotonic() - started < 5  # the log line waited for 2 s at most
    finally:
        stuck.set()
        logger.removeHandler(handler)


def test_a_stop_signal_arms_the_deadline_while_the_main_thread_is_blocked(tmp_path: Path) -> None:
    """The stop's deadline was armed by the event loop's signal handler only: with the loop
    blocked (here: a write to a pipe nobody reads, as a log line's was), SIGTERM did nothing and
    only SIGKILL ended the worker (an operator-fault review). Now the signal arms it outside the
    loop, and the process exits with 75 at grace + margin."""
    import signal

    script = tmp_path / "blocked.py"
    script.write_text(
        "import fcntl, os, signal, sys\n"
        "from worker.service.lifecycle import ShutdownDeadline\n"
        "deadline = ShutdownDeadline(0.2, margin=0.0)\n"
        "deadline.arm_on_signals((signal.SIGTERM,))\n"
        "r, w = os.pipe()\n"
        "fcntl.fcntl(w, 1031, 4096)\n"
        "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
        "while True:\n"
        "    os.write(w, b'x' * 65536)  # blocks once the pipe is full, for good\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(0.5)  # into the blocking write
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == EXIT_GRACE_EXCEEDED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
