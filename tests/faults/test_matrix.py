"""The fault matrix: signals x moments x faults, every trial checked by one invariant checker.

Each case is data (`Case`): what is done (`fault`), when (`moment`), to how many workers. The
trial (`run_trial`) is the same for all: start the workers, bring the stream in, inject the fault
at the moment, clear it (restart what stopped), read every output and hand everything to
`harness.check_invariants`. No case is marked xfail: each one holds, or the matrix fails.

Each trial appends its figures (inputs, outputs, redeliveries, invariants checked, exit and
recovery times) as a JSON line to `$NEWSWORKER_FAULT_RESULTS` when that is set (`make
fault-matrix` sets it; docs/RELIABILITY.md quotes the totals).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.faults.harness import (
    GRACE_SECONDS,
    ORPHAN_GRACE_SECONDS,
    STUCK_LIVE_SECONDS,
    WORKER_LIVENESS_SECONDS,
    WORKER_STUCK_SECONDS,
    Feeder,
    InvariantViolation,
    Prober,
    Timings,
    check_invariants,
    feed_all,
    metric,
    prepare_processes,
    processed,
    scrape,
    send,
    wait_until,
)
from tests.faults.stream import Item, Stream, build_stream, randomly_keyed
from tests.integration.conftest import consume_all
from worker.service.lifecycle import EXIT_GRACE_EXCEEDED
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis, create_topics

SEED = int(os.environ.get("NEWSWORKER_FAULT_SEED", "14"))
#: Articles per second while a fault lands mid-stream: the stream keeps flowing through it.
FEED_RATE = 60.0
#: How long a server stays stopped, frozen, full or slow, and a worker SIGSTOPped (> the 6 s
#: session timeout, so its group rebalances without it).
FAULT_SECONDS = 8.0
#: How long the faults that leave a worker stuck (Redis full or frozen, publishes refused) last:
#: past STUCK_LIVE_SECONDS, so that "never ready while stuck" and "past a limit, not live" are
#: put to the test (a few seconds of each fault pass before the worker's count stands still).
STUCK_SECONDS = STUCK_LIVE_SECONDS + 9.0


@dataclass(frozen=True)
class Case:
    fault: str
    moment: str
    workers: int = 1
    partitions: int = 2
    fast: bool = False
    #: Invariants the case cannot promise by its nature.
    relaxed: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.fault}@{self.moment}" + (f"x{self.workers}" if self.workers > 1 else "")


CASES = [
    # signals x moments. `fast`: the subset `make test` runs, to keep the harness itself exercised
    # there; sigterm and sigkill mid-batch are also tests of their own in `make test`
    # (tests/integration/test_faults.py: drain-commit-exit, kill-restart-replay), so only the
    # whole matrix (`make fault-matrix`) runs them here.
    Case("sigterm", "mid-batch"),
    Case("sigterm", "start-up"),
    Case("sigterm", "idle"),
    Case("sigint", "mid-batch"),
    Case("sigterm-group", "mid-batch"),
    Case("sigint-group", "mid-batch"),
    Case("sigkill", "mid-batch"),
    Case("sigkill", "start-up"),
    Case("sigkill-prepare", "mid-batch"),
    Case("sigstop", "mid-batch"),
    Case("sigterm", "rebalance", workers=2),
    Case("sigkill", "rebalance", workers=2),
    Case("sigterm", "redis-frozen"),
    # faults
    Case("redis-restart", "mid-batch", fast=True),
    # A flushed Redis has forgotten the stories seen before: a later copy is clean again.
    Case("redis-flush", "mid-batch", relaxed=frozenset({"one_clean_per_story"})),
    Case("redis-slow", "mid-batch"),
    Case("redis-full", "mid-batch"),
    Case("redis-frozen", "mid-batch"),
    Case("broker-restart", "idle"),
    Case("publish-refused", "start-up"),
    Case("race", "start-up", workers=2, partitions=4),
    Case("race", "start-up", workers=3, partitions=4),
]


def _params() -> list[Any]:
    out = []
    for case in CASES:
        marks: list[Any] = [pytest.mark.fast] if case.fast else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


class Trial:
    """The moving parts of one trial: broker, Redis, workers, prober, and what was measured."""

    def __init__(self, case: Case, stream: Stream, kafka: EmbeddedKafka, redis_server: EmbeddedRedis,
                 topics: list[str], start_worker: Callable[..., Any], group: str) -> None:
        self.case, self.stream, self.kafka, self.redis = case, stream, kafka, redis_server
        self.topics, self._start, self.group = topics, start_worker, group
        self.items: list[Item] = randomly_keyed(stream) if case.fault == "race" else list(stream.items)
        self.workers: list[Any] = []
        self.prober = Prober()
        self.timings = Timings()
        self.extra_records: list[Any] = []  # outputs read before a broker restart wiped them

    def start_worker(self, **overrides: str) -> Any:
        env = {"batch_size": "20", "shutdown_grace_seconds": str(GRACE_SECONDS), "prepare_processes": "1",
               "stuck_seconds": str(WORKER_STUCK_SECONDS), "stuck_liveness_seconds": str(WORKER_LIVENESS_SECONDS)}
        env.update(overrides)
        worker = self._start(self.topics, app_id=self.group, bootstrap=self.kafka.bootstrap,
                             redis_url=self.redis.url, **env)
        self.workers.append(worker)
        self.prober.ports[len(self.workers) - 1] = worker.metrics_port
        return worker

    def forget(self, worker: Any) -> None:
        self.prober.ports.pop(self.workers.index(worker), None)

    def wait_ready(self, worker: Any, timeout: float = 60) -> None:
        wait_until(lambda: scrape(worker.metrics_port, "/readyz")[0] == 200, timeout, "worker ready", poll=0.1)

    def log(self) -> str:
        return "\n".join(w.log_path.read_text(errors="replace")[-2500:] for w in self.workers)

    def stop_signalled(self, worker: Any, sig: signal.Signals, *, group: bool = False) -> None:
        """Signal a worker to stop and measure how long it takes to exit (invariant 5)."""
        started = time.monotonic()
        send(worker.proc, sig, group=group)
        try:
            code = worker.proc.wait(GRACE_SECONDS + 30)
            self.timings.exits.append((f"{sig.name}{' group' if group else ''}", time.monotonic() - started, code))
        except Exception:
            self.timings.exits.append((f"{sig.name}{' group' if group else ''}", None, None))
            worker.kill()
        self.forget(worker)

    def outputs(self, timeout: float) -> list[Any]:
        return asyncio.run(consume_all(self.kafka.bootstrap, self.topics[1:], 10**9, timeout=timeout))

    def wait_all_outcomes(self, ids: set[str], timeout: float) -> float:
        """Seconds until every id has an output (reads the topics again each time)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            seen = {json.loads(r.value).get("id") for r in self.outputs(1.0)} | {
                json.loads(r.value).get("id") for r in self.extra_records}
            if ids <= seen:
                return time.monotonic() - started
            time.sleep(0.5)
        raise InvariantViolation(f"not every input had an outcome {timeout:.0f}s after the fault")


def _redis_client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=5)


def run_trial(trial: Trial) -> None:
    case, items = trial.case, trial.items
    first, rest = items[: len(items) * 2 // 3], items[len(items) * 2 // 3 :]
    feeder: Feeder | None = None
    fault_over: float | None = None

    # --- bring the stream to the moment --------------------------------------------------------
    if case.fault == "publish-refused":
        feed_all(trial.kafka.bootstrap, trial.topics[0], first, trial.prober)
        broken = trial.topics.copy()
        trial.topics = [broken[0], "news.clean refused!", *broken[2:]]
        worker = trial.start_worker(publish_timeout_seconds="2", check_topics_at_start="false")
        trial.topics = broken
        wait_until(lambda: metric(scrape(worker.metrics_port)[1], "newsworker_kafka_send_errors_total") >= 2,
                   60, "refused publishes")
        time.sleep(STUCK_SECONDS)  # stuck: the prober watches /readyz meanwhile
        worker.kill()
        trial.forget(worker)
        fault_over = time.monotonic()
        trial.start_worker()
        feed_all(trial.kafka.bootstrap, trial.topics[0], rest, trial.prober)
    elif case.moment == "start-up":
        trial.timings.clean_codes = frozenset({0, -signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGINT, 1})
        feed_all(trial.kafka.bootstrap, trial.topics[0], first, trial.prober)
        workers = [trial.start_worker() for _ in range(case.workers)]
        time.sleep(0.5)  # the process is starting: imports, prepare processes, group join
        inject(trial, workers[0])
        fault_over = time.monotonic()
        feed_all(trial.kafka.bootstrap, trial.topics[0], rest, trial.prober)
    elif case.moment == "idle":
        worker = trial.start_worker()
        feed_all(trial.kafka.bootstrap, trial.topics[0], first, trial.prober)
        trial.wait_all_outcomes({i.id for i in first}, 90)
        if case.fault == "broker-restart":
            trial.extra_records = trial.outputs(2.0)
        inject(trial, worker)
        fault_over = time.monotonic()
        feed_all(trial.kafka.bootstrap, trial.topics[0], rest, trial.prober)
    elif case.moment == "rebalance":
        first_worker = trial.start_worker()
        trial.wait_ready(first_worker)
        feeder = Feeder(trial.kafka.bootstrap, trial.topics[0], items, FEED_RATE, trial.prober).start()
        wait_until(lambda: processed(first_worker.metrics_port) > 0, 60, "first articles decided")
        trial.start_worker()
        time.sleep(2.0)  # the second member is joining: the group is rebalancing
        inject(trial, first_worker)
        fault_over = time.monotonic()
    elif case.moment == "redis-frozen":
        # The batch in flight cannot finish while Redis is frozen: the grace runs out and the
        # worker leaves with EX_TEMPFAIL, committing nothing past its last commit (lifecycle.py).
        trial.timings.clean_codes = frozenset({0, EXIT_GRACE_EXCEEDED})
        worker = trial.start_worker()
        trial.wait_ready(worker)
        feeder = Feeder(trial.kafka.bootstrap, trial.topics[0], items, FEED_RATE, trial.prober).start()
        wait_until(lambda: processed(worker.metrics_port) > 0, 60, "first articles decided")
        assert trial.redis.pid is not None
        os.kill(trial.redis.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            time.sleep(1.0)
            inject(trial, worker)
        finally:
            os.kill(trial.redis.pid, signal.SIGCONT)
        fault_over = time.monotonic()
        trial.timings.redis_faults.append((frozen, fault_over))
    else:  # mid-batch: the stream flows through the fault
        workers = [trial.start_worker() for _ in range(case.workers)]
        for w in workers:
            trial.wait_ready(w)
        feeder = Feeder(trial.kafka.bootstrap, trial.topics[0], items, FEED_RATE, trial.prober).start()
        wait_until(lambda: processed(workers[0].metrics_port) >= 20, 60, "first batch decided", poll=0.02)
        inject(trial, workers[0])
        fault_over = time.monotonic()

    # --- recover: every stopped worker replaced, the stream complete -------------------------------
    if feeder is not None:
        feeder.wait()
    if not any(w.proc.poll() is None for w in trial.workers):
        trial.start_worker()
    trial.timings.recovery_seconds = (time.monotonic() - fault_over) + trial.wait_all_outcomes(
        {i.id for i in items}, 120)


def reap_orphans(pids: list[int]) -> list[int]:
    """Those of `pids` still alive after ORPHAN_GRACE_SECONDS, killed then (they are this test's)."""
    import psutil

    deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return alive


def inject(trial: Trial, worker: Any) -> None:
    """The case's fault, applied now to `worker` (signals) or to a server; returns once cleared."""
    fault = trial.case.fault
    if fault in ("sigterm", "sigint", "sigterm-group", "sigint-group"):
        sig = signal.SIGINT if "sigint" in fault else signal.SIGTERM
        trial.stop_signalled(worker, sig, group=fault.endswith("-group"))
        trial.start_worker()
    elif fault == "sigkill":
        children = prepare_processes(worker.proc.pid)
        send(worker.proc, signal.SIGKILL)
        worker.proc.wait(10)
        trial.forget(worker)
        trial.start_worker()
        trial.timings.orphans = reap_orphans(children)
    elif fault == "sigkill-prepare":
        children = prepare_processes(worker.proc.pid)
        assert children, "no prepare process found"
        os.kill(children[0], signal.SIGKILL)
        # The worker must carry on (or exit so that it is restarted): given FAULT_SECONDS to say.
        time.sleep(FAULT_SECONDS)
        if worker.proc.poll() is not None:
            trial.timings.exits.append(("prepare killed", None, worker.proc.returncode))
            trial.forget(worker)
            trial.start_worker()
    elif fault == "sigstop":
        send(worker.proc, signal.SIGSTOP)
        time.sleep(FAULT_SECONDS)
        send(worker.proc, signal.SIGCONT)
    elif fault == "redis-restart":
        began = time.monotonic()
        trial.redis.stop()
        time.sleep(FAULT_SECONDS)
        trial.redis.start()
        trial.timings.redis_faults.append((began, time.monotonic()))
    elif fault == "redis-flush":
        _redis_client(trial.redis).flushall()
    elif fault == "redis-slow":
        client = _redis_client(trial.redis)
        until = time.monotonic() + FAULT_SECONDS
        while time.monotonic() < until:  # Redis answers, 200 ms late, over and over
            client.execute_command("DEBUG", "SLEEP", "0.2")
            time.sleep(0.05)
    elif fault == "redis-full":
        client = _redis_client(trial.redis)
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        began = time.monotonic()
        client.config_set("maxmemory", str(used + 64 * 1024))  # a few more articles, then refusals
        time.sleep(STUCK_SECONDS)
        client.config_set("maxmemory", "0")
        trial.timings.redis_faults.append((began, time.monotonic()))
    elif fault == "redis-frozen":
        assert trial.redis.pid is not None
        began = time.monotonic()
        os.kill(trial.redis.pid, signal.SIGSTOP)
        try:
            time.sleep(STUCK_SECONDS)
        finally:
            os.kill(trial.redis.pid, signal.SIGCONT)
            trial.timings.redis_faults.append((began, time.monotonic()))
    elif fault == "broker-restart":
        # Tansu keeps everything in memory: topics, data and offsets go with it. The operator
        # recreates the topics; the worker must reconnect and decide what comes next, against the
        # Redis that still remembers the stories seen before.
        trial.kafka.stop()
        time.sleep(2.0)
        trial.kafka.start()
        asyncio.run(create_topics(trial.kafka.bootstrap, trial.topics, trial.case.partitions))
    elif fault == "race":
        pass  # the fault is the workers themselves, started together on randomly keyed copies
    else:
        raise ValueError(f"unknown fault {fault!r}")


@pytest.mark.parametrize("case", _params())
def test_fault_matrix(
    case: Case, ant_dev: Path, kafka: EmbeddedKafka, make_kafka: Callable[..., EmbeddedKafka],
    make_redis: Callable[..., EmbeddedRedis], start_worker: Callable[..., Any], unique_group: str,
) -> None:
    stream = build_stream(ant_dev, SEED)
    broker = make_kafka() if case.fault == "broker-restart" else kafka
    topics = [f"news.{kind}.m.{unique_group[-8:]}" for kind in ("raw", "clean", "duplicates", "dlq")]
    asyncio.run(create_topics(broker.bootstrap, topics, case.partitions))
    # A restarted Redis keeps its data (append-only file, as deploy/redis/redis.conf has it); a
    # Redis that lost its data is the redis-flush case.
    extra = {
        "redis-restart": ["--appendonly", "yes", "--appendfsync", "always"],
        "redis-slow": ["--enable-debug-command", "local"],  # DEBUG SLEEP (Redis 7 refuses it by default)
    }.get(case.fault, [])
    trial = Trial(case, stream, broker, make_redis(extra_args=extra), topics, start_worker, unique_group)
    with trial.prober:
        try:
            run_trial(trial)
        except InvariantViolation as exc:
            pytest.fail(f"{case.id}: {exc}\n{trial.log()[-5000:]}")
    records = trial.extra_records + trial.outputs(2.0)
    result = check_invariants(case.id, SEED, trial.items, records, topics, timings=trial.timings,
                              samples=trial.prober.samples, relaxed=case.relaxed)
    if path := os.environ.get("NEWSWORKER_FAULT_RESULTS"):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dataclasses.asdict(result)) + "\n")
    print(json.dumps(dataclasses.asdict(result)))
    assert not result.violations, f"{case.id}: " + "; ".join(result.violations) + "\n" + trial.log()[-5000:]
