"""The fault matrix's harness: run one trial (workers + a fault at a moment), check one invariant set.

A trial: real `newsworker worker` processes (the integration tier's `start_worker`) on a real
Tansu broker and a private redis-server, the seeded copy-dense stream of `stream.py`, one fault
injected at one moment, then recovery (a stopped worker is restarted into its group, a stopped
server started again), and every output read back. `check_invariants` is the one checker every
case goes through; it returns the figures of the trial and raises listing *every* broken
invariant, not only the first:

1. every input has an outcome, and no output names an id never sent;
2. no id has two different outcomes (at-least-once may repeat the *same* outcome);
3. every `duplicate_of` names an id that was published clean;
4. exactly one clean per story, across all workers (stories: see `stream.py`);
5. a signalled worker exits within its grace (+ `EXIT_MARGIN_SECONDS`), and after the fault is
   cleared every input has its outcome within `RECOVERY_SECONDS`;
6. never ready while stuck: no `/readyz` 200 from a worker whose processed count has not moved
   for `STUCK_READY_SECONDS` while input was waiting for it, and past a limit not live: no
   `/healthz` 200 from one that has not moved for `STUCK_LIVE_SECONDS` (the matrix's workers
   run with `WORKER_STUCK_SECONDS` and `WORKER_LIVENESS_SECONDS`, a margin below each), unless
   it says it waits for Redis (a restart would not bring Redis back), and then only while its
   `/readyz` names Redis missing and the trial had made Redis unavailable or refusing.

Seeded: the stream, its keys and the trial's choices derive from `seed`; the moments are defined
by the worker's own progress (its metrics), never by sleeps alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord

from tests.faults.stream import Item

#: A worker signalled to stop may take its grace plus this to exit: faust's own shutdown
#: (consumer leave, producer flush, web server) runs after the batch in flight is done.
EXIT_MARGIN_SECONDS = 10.0
#: Longest time from the end of a fault (server back, worker restarted) until every input has its
#: outcome. A restart into the same group waits for the dead member's session (6 s) and a join
#: (~4 s on Tansu); the rest is the stream's backlog.
RECOVERY_SECONDS = 90.0
#: A worker whose processed count has not moved for this long while input waits for it must not
#: answer /readyz with 200.
STUCK_READY_SECONDS = 15.0
#: ... and, stuck for this long, must not answer /healthz with 200 (an orchestrator would restart it).
STUCK_LIVE_SECONDS = 21.0
#: What the matrix's workers are told (NEWSWORKER_STUCK_SECONDS, NEWSWORKER_STUCK_LIVENESS_SECONDS):
#: 7 s below the checker's limits. The worker counts a stall from its last *released* batch, the
#: prober from the last change of the processed count (a batch's decide, before its publish), so
#: the prober's stall may start up to one publish later; the margin covers that and the polling.
WORKER_STUCK_SECONDS = STUCK_READY_SECONDS - 7.0
WORKER_LIVENESS_SECONDS = STUCK_LIVE_SECONDS - 7.0
#: The grace the matrix gives its workers (NEWSWORKER_SHUTDOWN_GRACE_SECONDS).
GRACE_SECONDS = 5.0
#: A prepare process must notice its worker is gone (its pipe closes) and exit within this.
ORPHAN_GRACE_SECONDS = 5.0

Outcome = tuple[str, str | None]


class InvariantViolation(AssertionError):
    pass


# --- HTTP probes ---------------------------------------------------------------------------------


def scrape(port: int, path: str = "/metrics", timeout: float = 1.0) -> tuple[int, str]:
    """(status, body); (0, "") when the worker does not answer (not listening, or stopped)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (OSError, TimeoutError):
        return 0, ""


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def processed(port: int) -> float:
    return metric(scrape(port)[1], "newsworker_articles_processed_total")


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> float:
    """Seconds it took; raises naming `what` at the timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(poll)
    raise InvariantViolation(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Sample:
    at: float
    worker: int
    ready: int  # HTTP status of /readyz, 0 when it did not answer
    processed: float
    lag: float
    live: int = 200  # HTTP status of /healthz, 0 when it did not answer
    scraped: bool = True  # /metrics answered (else `processed` and `lag` are not known)
    #: /healthz said it waits for Redis (live through a Redis outage: a restart would not cure
    #: it), and whether /readyz named Redis missing then
    waiting: bool = False
    redis_missing: bool = False


class Prober:
    """Polls every live worker's /readyz, /healthz and /metrics in a thread while the trial runs."""

    def __init__(self, interval: float = 0.3) -> None:
        self.interval = interval
        self.samples: list[Sample] = []
        self.ports: dict[int, int] = {}  # worker index -> metrics port (only live ones)
        self.produced = 0  # inputs on the broker so far (the feeder updates it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for index, port in list(self.ports.items()):
                status, readiness = scrape(port, "/readyz", timeout=0.5)
                live, health = scrape(port, "/healthz", timeout=0.5)
                code, text = scrape(port, timeout=0.5)
                self.samples.append(
                    Sample(time.monotonic(), index, status, metric(text, "newsworker_articles_processed_total"),
                           metric(text, "newsworker_consumer_lag_messages"), live, code == 200,
                           waiting="waiting for redis" in health, redis_missing='"redis"' in readiness)
                )
            self._stop.wait(self.interval)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# --- feeding -------------------------------------------------------------------------------------


class Feeder:
    """Sends items at a steady rate from a thread (so the stream flows through the fault)."""

    def __init__(self, bootstrap: str, topic: str, items: list[Item], per_second: float, prober: Prober) -> None:
        self.args = (bootstrap, topic, items, per_second)
        self.prober = prober
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._feed())
        except BaseException as exc:  # surfaced by wait()
            self.error = exc

    async def _feed(self) -> None:
        bootstrap, topic, items, per_second = self.args
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                    max_request_size=16 * 1024 * 1024)
        await producer.start()
        try:
            chunk = max(1, int(per_second / 10))
            for start in range(0, len(items), chunk):
                batch = items[start : start + chunk]
                futures = [await producer.send(topic, i.value, key=i.key) for i in batch]
                await asyncio.gather(*futures)
                self.sent += len(batch)
                self.prober.produced += len(batch)
                await asyncio.sleep(chunk / per_second)
        finally:
            await producer.stop()

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def wait(self, timeout: float = 120) -> int:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "feeder did not finish"
        if self.error is not None:
            raise self.error
        return self.sent


def feed_all(bootstrap: str, topic: str, items: list[Item], prober: Prober) -> None:
    Feeder(bootstrap, topic, items, per_second=10_000, prober=prober).start().wait()


# --- signals -------------------------------------------------------------------------------------


def prepare_processes(pid: int) -> list[int]:
    """PIDs of the worker's prepare processes (its children running Python)."""
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        return [c.pid for c in psutil.Process(pid).children(recursive=True) if "python" in c.name().lower()]
    return []


def send(proc: Any, sig: signal.Signals, *, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)


# --- outcomes and the checker --------------------------------------------------------------------


def outcome_of(record: ConsumerRecord[bytes, bytes], topics: list[str]) -> tuple[str | None, Outcome]:
    _, clean, dups, dlq = topics
    event = json.loads(record.value)
    if record.topic == clean:
        return event["id"], ("clean", None)
    if record.topic == dups:
        return event["id"], ("duplicate", event["duplicate_of"])
    assert record.topic == dlq, record.topic
    return event.get("id"), ("dead_letter", event["error_type"])


@dataclass
class Timings:
    """What the trial measured of its workers, for invariant 5."""

    exits: list[tuple[str, float | None, int | None]] = field(default_factory=list)  # (what, seconds, code)
    recovery_seconds: float | None = None
    exit_limit: float = GRACE_SECONDS + EXIT_MARGIN_SECONDS
    #: Exit statuses that count as a clean stop. 0 always; at start-up also death by the signal
    #: itself (-15, or 130 for SIGINT): a process signalled before it installed its handlers
    #: (while importing) ends by the default action, and has taken no input yet.
    clean_codes: frozenset[int] = frozenset({0})
    #: PIDs of a SIGKILLed worker's prepare processes still alive `ORPHAN_GRACE_SECONDS` later.
    orphans: list[int] = field(default_factory=list)
    #: (start, end) of each spell the trial made Redis unavailable or refusing (monotonic): a
    #: worker may wait for Redis, live, only then (and `REDIS_EXCUSE_GRACE_SECONDS` after).
    redis_faults: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class TrialResult:
    case: str
    seed: int
    inputs: int
    outputs: int
    redelivered: int
    stories: int
    invariants_checked: int
    samples: int
    exits: list[tuple[str, float | None, int | None]]
    recovery_seconds: float | None
    #: Longest time a worker's processed count stood still while it reported lag: how hard the
    #: "never ready while stuck" invariant was tested (not at all below STUCK_READY_SECONDS).
    longest_stuck_seconds: float
    violations: list[str]


def check_invariants(
    case: str,
    seed: int,
    items: Iterable[Item],
    records: list[ConsumerRecord[bytes, bytes]],
    topics: list[str],
    *,
    timings: Timings,
    samples: list[Sample],
    relaxed: frozenset[str] = frozenset(),
) -> TrialResult:
    """The one checker of every trial (see the module docstring). `relaxed` names invariants a
    case cannot promise by its nature (a flushed Redis forgets stories: "one_clean_per_story")."""
    items = list(items)
    wanted = {i.id for i in items}
    by_id: dict[str | None, set[Outcome]] = defaultdict(set)
    for record in records:
        article_id, outcome = outcome_of(record, topics)
        by_id[article_id].add(outcome)
    violations: list[str] = []
    checked = 0

    def check(name: str, ok: bool, detail: str) -> None:
        nonlocal checked
        if name in relaxed:
            return
        checked += 1
        if not ok:
            violations.append(f"{name}: {detail}")

    missing = sorted(wanted - by_id.keys())
    unknown = sorted(map(str, set(by_id) - wanted))
    check("every_input_has_an_outcome", not missing, f"{len(missing)} without an outcome, e.g. {missing[:5]}")
    check("no_unknown_outputs", not unknown, f"outputs for ids never sent: {unknown[:5]}")
    conflicting = {k: sorted(map(str, v)) for k, v in by_id.items() if len(v) > 1}
    check("one_outcome_per_id", not conflicting, f"{len(conflicting)} ids, e.g. {dict(list(conflicting.items())[:3])}")
    clean = {k for k, v in by_id.items() if ("clean", None) in v}
    dangling = sorted(
        (str(k), str(o[1])) for k, v in by_id.items() for o in v if o[0] == "duplicate" and o[1] not in clean
    )
    check("duplicate_of_names_a_clean_article", not dangling, f"{len(dangling)}, e.g. {dangling[:5]}")
    stories: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if item.story is not None:
            stories[item.story].append(item.id)
    wrong = {s: [m for m in members if m in clean] for s, members in stories.items()}
    wrong = {s: c for s, c in wrong.items() if len(c) != 1 and all(m in by_id for m in stories[s])}
    check("one_clean_per_story", not wrong, f"{len(wrong)} stories, e.g. {dict(list(wrong.items())[:3])}")
    late = [(what, secs, code) for what, secs, code in timings.exits if secs is None or secs > timings.exit_limit]
    check("exits_within_grace", not late, f"limit {timings.exit_limit:.0f}s: {late}")
    bad_codes = [(what, secs, code) for what, secs, code in timings.exits if code not in timings.clean_codes]
    check("clean_exit_status", not bad_codes, f"{bad_codes}")
    check("recovers_in_time", timings.recovery_seconds is not None and timings.recovery_seconds <= RECOVERY_SECONDS,
          f"recovery took {timings.recovery_seconds} s (limit {RECOVERY_SECONDS:.0f})")
    check("no_orphaned_processes", not timings.orphans,
          f"prepare processes {timings.orphans} outlived their SIGKILLed worker by {ORPHAN_GRACE_SECONDS:.0f}s")
    stuck = ready_while_stuck(samples)
    check("never_ready_while_stuck", not stuck, f"{len(stuck)} samples, first: {stuck[:2]}")
    wedged = live_while_stuck(samples, timings.redis_faults)
    check("never_live_while_stuck_past_limit", not wedged, f"{len(wedged)} samples, first: {wedged[:2]}")
    excuses = [s for s in samples if s.waiting and not excused(s, timings.redis_faults)]
    check("waits_for_redis_only_while_redis_is_down", not excuses, f"{len(excuses)} samples, first: {excuses[:2]}")
    redelivered = len(records) - len({outcome_of(r, topics)[0] for r in records})
    return TrialResult(case, seed, len(wanted), len(records), redelivered, len(stories), checked, len(samples),
                       timings.exits, timings.recovery_seconds, longest_stuck(samples), violations)


def _stuck_runs(samples: list[Sample]) -> list[tuple[Sample, Sample]]:
    """(first, current) for every answered sample inside a run without progress, with lag."""
    out = []
    by_worker: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_worker[s.worker].append(s)
    for series in by_worker.values():
        # A sample whose /metrics did not answer says nothing of progress; one whose /readyz and
        # /healthz both did not answer claims nothing. Both are left out.
        answered = [s for s in series if s.scraped and (s.ready or s.live)]
        since: Sample | None = None  # first sample of the current run without progress, with lag
        for prev, cur in itertools.pairwise(answered):
            if cur.processed != prev.processed or cur.lag <= 0:
                since = None
                continue
            since = since or prev
            out.append((since, cur))
    return out


def longest_stuck(samples: list[Sample]) -> float:
    return max((cur.at - since.at for since, cur in _stuck_runs(samples)), default=0.0)


def ready_while_stuck(samples: list[Sample]) -> list[Sample]:
    """Samples where a worker answered 200 on /readyz although its processed count had not moved
    for `STUCK_READY_SECONDS` while it reported lag (input waiting for it)."""
    return [cur for since, cur in _stuck_runs(samples)
            if cur.ready == 200 and cur.at - since.at >= STUCK_READY_SECONDS]


#: How long after a Redis fault ends a worker may still say it waits for Redis: its retry's
#: longest back-off (5 s) and one readiness check (5 s), with a margin.
REDIS_EXCUSE_GRACE_SECONDS = 15.0


def excused(sample: Sample, redis_faults: list[tuple[float, float]]) -> bool:
    """A worker that says it waits for Redis, names Redis missing on /readyz, and does so while
    the trial had made Redis unavailable or refusing (or just after): live through an outage a
    restart would not cure. Anything else saying so would hide a wedge (a Redis client stuck
    on a demoted server, say) behind the excuse."""
    return sample.waiting and sample.redis_missing and any(
        start <= sample.at <= end + REDIS_EXCUSE_GRACE_SECONDS for start, end in redis_faults
    )


def live_while_stuck(samples: list[Sample], redis_faults: list[tuple[float, float]] | None = None) -> list[Sample]:
    """Samples where a worker answered 200 on /healthz although its processed count had not moved
    for `STUCK_LIVE_SECONDS` while it reported lag: wedged, and telling its orchestrator it is fine
    (unless `excused`: waiting for a Redis the trial made unavailable)."""
    return [cur for since, cur in _stuck_runs(samples)
            if cur.live == 200 and not excused(cur, redis_faults or [])
            and cur.at - since.at >= STUCK_LIVE_SECONDS]
