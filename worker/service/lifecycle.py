"""How the worker process ends: exit statuses, the shutdown deadline, and children that die with it.

- `EXIT_BUG` (70, EX_SOFTWARE): a bug; the process leaves at once without acking or committing.
- `EXIT_CONFIGURATION` (2, as the command line's usage errors): the settings cannot work, e.g. a
  topic the broker does not have; restarting does not help.
- `EXIT_GRACE_EXCEEDED` (75, EX_TEMPFAIL): SIGTERM/SIGINT arrived and the worker had not stopped
  `shutdown_grace_seconds` (+ `WATCHDOG_MARGIN_SECONDS`) later, for whatever reason (Redis
  frozen, faust waiting for held messages, a wedged thread), or the agent's own wait for its
  batches in flight ran out of grace. Nothing past the last commit is committed; those batches
  are redelivered to whoever takes the partitions.
- Every exit that skips the interpreter's shutdown (`os._exit`) first runs the `before_exit`
  callbacks registered with `on_hard_exit` (the prepare processes are killed there), and each
  prepare process also asks the kernel for SIGKILL when its parent dies (`die_with_parent`), so
  no exit path leaves orphans behind.

The deadline is a plain thread, not an event-loop task: the loop is exactly what may be stuck.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("newsworker")

EXIT_CONFIGURATION = 2
#: A command whose Redis or broker cannot be reached (sysexits' EX_UNAVAILABLE).
EXIT_UNAVAILABLE = 69
EXIT_BUG = 70
EXIT_GRACE_EXCEEDED = 75

#: Time the deadline allows beyond `shutdown_grace_seconds`: the agent's own wait for in-flight
#: batches is bounded by the grace once the agent is cancelled, and faust then commits, leaves
#: the group and closes its clients (~1 s on a healthy broker). 3 s covers that on a busy machine
#: while keeping the whole stop inside a Kubernetes `terminationGracePeriodSeconds` of grace + 5.
WATCHDOG_MARGIN_SECONDS = 3.0

_PR_SET_PDEATHSIG = 1

_before_exit: list[Callable[[], None]] = []


def on_hard_exit(callback: Callable[[], None]) -> None:
    """Run `callback` before any `hard_exit` (it must be quick and must not raise)."""
    _before_exit.append(callback)


#: How long an exit waits for its last log lines to be written.
EXIT_LOG_SECONDS = 2.0


def at_most(seconds: float, fn: Callable[[], object]) -> None:
    """Run `fn` in a daemon thread and wait for it `seconds` at most. For the log lines of an
    exit: logging writes to stderr, and a pipe nobody drains (a stuck log shipper, a blocking
    log driver) blocks the write, and every write after it, for good: the deadline's own line and
    `logging.shutdown` hung the exit meant to end a stuck worker (an operator-fault review)."""
    thread = threading.Thread(target=fn, name="newsworker-exit-log", daemon=True)
    thread.start()
    thread.join(seconds)


def hard_exit(status: int) -> None:
    """Leave now, skipping faust's shutdown and the interpreter's (non-daemon threads included)."""
    for callback in list(_before_exit):
        with contextlib.suppress(Exception):
            callback()
    at_most(EXIT_LOG_SECONDS, logging.shutdown)
    os._exit(status)


def settle_after_start() -> None:
    """Once a process has started (modules imported, tables built, the language model loaded):
    collect once, then move every object alive into the permanent generation (`gc.freeze`).

    Those few hundred thousand long-lived objects were walked again by every full collection
    the per-article garbage triggers: ~15 µs per article of a prepare-and-dedup run went to the
    collector, ~3 µs after the freeze (docs/BENCHMARKS.md, session 10). Frozen objects are
    never freed: only call this once, after start-up.
    """
    gc.collect()
    gc.freeze()


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies (Linux; elsewhere nothing happens).

    Called in a child process. The kernel sends the signal when the parent *thread* that
    started the child exits; the prepare pool is started from the event loop's (main) thread,
    which lives as long as the process. If the parent already died before this call, leave.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)


class ShutdownDeadline:
    """After `arm()`, the process exits with `EXIT_GRACE_EXCEEDED` unless it is gone by then."""

    def __init__(self, grace_seconds: float, *, margin: float = WATCHDOG_MARGIN_SECONDS,
                 exit_: Callable[[int], None] = hard_exit) -> None:
        self.seconds = grace_seconds + margin
        self._exit = exit_
        self._armed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def armed(self) -> bool:
        return self._armed.is_set()

    def arm(self) -> None:
        """Start the countdown (idempotent: a second signal does not extend it)."""
        if self._armed.is_set():
            return
        self._armed.set()
        # daemon: the countdown must never be what keeps a finished process alive
        self._thread = threading.Thread(target=self._run, name="newsworker-shutdown-deadline", daemon=True)
        self._thread.start()

    def arm_on_signals(self, signals: Iterable[int]) -> None:
        """Arm at any of `signals`, even while the event loop is blocked (a write to a log pipe
        nobody reads, a stuck C call). The loop's own handlers arm it too, but only once the loop
        runs them: a worker whose loop was blocked ignored SIGTERM for good (an operator-fault
        review). The Python-level handler runs in the main thread at the next bytecode (a
        blocking write is interrupted for it); it only writes a byte to a pipe, so that it takes
        no lock the interrupted code may hold, and a thread of its own arms the deadline. The
        loop still gets the signal (asyncio reads it from its wake-up fd, not this handler)."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)

        def wait_for_a_signal() -> None:
            with contextlib.suppress(OSError):
                if os.read(read_end, 1):
                    self.arm()

        def on_signal(signum: int, frame: object) -> None:
            with contextlib.suppress(OSError):
                os.write(write_end, b"s")

        threading.Thread(target=wait_for_a_signal, name="newsworker-signal-watch", daemon=True).start()
        for sig in signals:
            signal.signal(sig, on_signal)

    def _run(self) -> None:
        started = time.monotonic()
        time.sleep(self.seconds)
        at_most(EXIT_LOG_SECONDS, lambda: log.error(
            "still running %.1fs after the stop signal (grace %.1fs exceeded); "
            "exiting without committing the batches in flight", time.monotonic() - started, self.seconds,
        ))
        self._exit(EXIT_GRACE_EXCEEDED)
