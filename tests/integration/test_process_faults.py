"""Faults of the worker's own processes, found by an operator with a real worker (issue #14).

Each test runs `newsworker worker` as a real process tree (main process + prepare processes, in
their own process group) against the real broker and redis-server, feeds it real articles
(`../shared/data/ant-dev.jsonl.gz`, so that it is busy and its prepare results are megabytes
large), breaks something, and then checks the same invariants as tests/integration/test_faults.py:
every input id has exactly one outcome, no id has two different outcomes, the worker exits within
its grace (or recovers), and it is never "ready" while it makes no progress.

- Ctrl-C in a terminal: SIGINT to the whole process group mid-stream (item 1).
- A prepare process SIGKILLed mid-stream, again and again (item 2).
- A full Redis (`maxmemory` under `noeviction`) refusing the claim script's writes (item 3).
- A Redis ACL that denies the worker's keys (NOPERM), then the documented one (issue #14's
  operator faults).
- SIGTERM while Redis is frozen (SIGSTOP): the grace is enforced (item 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from tests.conftest import SHARED_DIR, skip_or_fail
from tests.integration.conftest import produce
from tests.integration.test_faults import (
    assert_every_input_decided_once,
    count_outputs,
    encode_all,
    metric,
    processed,
    read_outputs,
    scrape,
    synthetic_articles,
    wait_until,
    wait_until_fast,
)
from tests.integration.test_store_cluster import redis_cluster  # noqa: F401 (a fixture)
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis

CORPUS = SHARED_DIR / "data" / "ant-dev.jsonl.gz"

#: Past the tests' own deadlines (240 s to read the outputs, and the waits before it): a worker
#: that stops or wedges then fails the test's assertion, which prints its log, rather than
#: pytest-timeout's default, which printed only where the test was waiting (seen in CI).
pytestmark = pytest.mark.timeout(480)


def real_articles(n: int, *, offset: int = 0) -> tuple[list[bytes], list[str]]:
    """`n` real Arabic articles as raw messages, and their ids (unique in the corpus' first 22k)."""
    if not CORPUS.exists():
        skip_or_fail(f"{CORPUS} is missing (expected beside the repository as ../shared)")
    values: list[bytes] = []
    with gzip.open(CORPUS, "rb") as f:
        for i, line in enumerate(f):
            if i >= offset + n:
                break
            if i >= offset:
                values.append(line.rstrip(b"\n"))
    return values, [json.loads(v)["id"] for v in values]


def process_tree(pid: int) -> list[psutil.Process]:
    """The worker's main process and every descendant (the prepare processes)."""
    main = psutil.Process(pid)
    return [main, *main.children(recursive=True)]


def prepare_processes(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return [p for p in psutil.Process(pid).children(recursive=True) if p.is_running()]
    return []


def assert_all_gone(processes: list[psutil.Process], log: str) -> None:
    _, alive = psutil.wait_procs(processes, timeout=5)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {[(p.pid, p.cmdline()[:3]) for p in alive]}\n{log[-3000:]}"


def log_of(worker: Any) -> str:
    return Path(worker.log_path).read_text(errors="replace")


def assert_paused_by_refusal(worker: Any, kind: str, waiting_for: str) -> None:
    """Redis refuses the worker's claims (`kind`): it counts them, stays up, is not ready, and
    says so in its log (what an operator sees before fixing the cause)."""
    port = worker.metrics_port
    wait_until(lambda: metric(scrape(port)[1], f'newsworker_redis_refused_total{{kind="{kind}"}}') >= 2, 120,
               waiting_for, lambda: log_of(worker))
    assert worker.proc.poll() is None, f"exited {worker.proc.returncode}\n{log_of(worker)[-3000:]}"
    status, body = scrape(port, "/readyz")
    assert status == 503 and "redis" in body
    assert f"Redis refused the dedup ({kind})" in log_of(worker)


# --- item 1: Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_to_the_process_group_mid_stream_exits_and_hands_the_partitions_over(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., Any],
    unique_group: str,
) -> None:
    """Before the fix: the prepare processes died of the SIGINT too, their KeyboardInterrupt came
    back as a batch's result and escaped the event loop, and the main thread then blocked forever
    on faust's consumer thread, which kept heartbeating: the group's next worker got nothing."""
    topics = topic_names(partitions=4)
    values, ids = real_articles(6000)
    grace = 10.0
    # Batches of 100 (a stream buffer of 200): what the worker holds when the Ctrl-C comes, and
    # drains, stays far below the 5,000 articles not yet decided, however fast the machine. With
    # the default 1,000 (a buffer of 2,000, two batches in flight) a fast worker held and drained
    # all of them, and the test found nothing left to hand over.
    worker = start_worker(topics, app_id=unique_group, shutdown_grace_seconds=str(grace), batch_size="100")
    asyncio.run(produce(kafka.bootstrap, topics[0], values, max_request_size=8 * 1024 * 1024))
    # Well into the stream, so that the prepare processes are busy with batches (the first ones
    # are prepared inline while the processes start): a Ctrl-C then lands mid-batch.
    wait_until_fast(lambda: processed(worker.metrics_port) >= 1000, 120, "1,000 articles decided",
                    lambda: log_of(worker))
    tree = process_tree(worker.proc.pid)
    assert len(tree) >= 2, "no prepare process: nothing tested"
    started = time.monotonic()
    os.killpg(worker.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    try:
        code = worker.proc.wait(grace + 10)
    except Exception:
        pytest.fail(f"still running {grace + 10}s after Ctrl-C\n{log_of(worker)[-3000:]}")
    took = time.monotonic() - started
    # 0: drained and committed within the grace; 75: the deadline ended a drain that took longer
    # (a busy machine), nothing committed past the last commit. Both hand the partitions over.
    assert code in (0, 75), f"exit status {code}\n{log_of(worker)[-3000:]}"
    assert took < grace + 8, f"exited after {took:.1f}s\n{log_of(worker)[-3000:]}"
    assert_all_gone(tree, log_of(worker))
    seen = count_outputs(kafka.bootstrap, topics)
    assert seen < len(ids), "the worker finished before Ctrl-C; nothing tested"

    again = start_worker(topics, app_id=unique_group)
    records = read_outputs(kafka.bootstrap, topics, len(ids), timeout=240)
    assert_every_input_decided_once(records, topics, ids, log_of(again))
    print(f"Ctrl-C: exit {code} after {took:.1f}s, {seen} outputs before; the next worker finished the stream")


# --- item 2: a prepare process killed --------------------------------------------------------------


def test_prepare_processes_killed_mid_stream_again_and_again_lose_nothing(
    kafka: EmbeddedKafka, topic_names: Callable[..., list[str]], start_worker: Callable[..., Any],
) -> None:
    """Before the fix, 2 of 14 such kills hit a process writing its ~2 MB result: the executor
    never noticed, and the worker stalled for good while /readyz said "ready"."""
    topics = topic_names(partitions=4)
    values, ids = real_articles(6000)
    worker = start_worker(topics, stuck_seconds="20")
    asyncio.run(produce(kafka.bootstrap, topics[0], values, max_request_size=8 * 1024 * 1024))
    wait_until_fast(lambda: processed(worker.metrics_port) > 0, 120, "first batch", lambda: log_of(worker))
    kills = 0
    deadline = time.monotonic() + 120
    while kills < 6 and time.monotonic() < deadline and processed(worker.metrics_port) < len(ids):
        for process in prepare_processes(worker.proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
                kills += 1
        time.sleep(0.7)
    assert kills, "no prepare process to kill: nothing tested"
    records = read_outputs(kafka.bootstrap, topics, len(ids), timeout=240)
    assert_every_input_decided_once(records, topics, ids, log_of(worker))
    assert worker.proc.poll() is None, log_of(worker)[-3000:]
    body = scrape(worker.metrics_port)[1]
    restarts = metric(body, "newsworker_prepare_restarts_total")
    wait_until(lambda: scrape(worker.metrics_port, "/readyz")[0] == 200, 30, "ready after the stream",
               lambda: log_of(worker))
    print(f"prepare kills: {kills} processes killed, {restarts:.0f} pool restarts, every input decided once")


# --- item 3: a full Redis ----------------------------------------------------------------------------


def test_a_full_redis_pauses_the_worker_instead_of_crash_looping_it(
    make_redis: Callable[..., EmbeddedRedis], kafka: EmbeddedKafka,
    topic_names: Callable[..., list[str]], start_worker: Callable[..., Any],
) -> None:
    """Before the fix: OOM inside the claim script was called a bug, the worker exited 70 within
    seconds (after every restart), and its prepare processes were left running as orphans."""
    server = make_redis(extra_args=["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"])
    topics = topic_names(partitions=4)
    values, ids = real_articles(6000)
    worker = start_worker(topics, redis_url=server.url)
    asyncio.run(produce(kafka.bootstrap, topics[0], values, max_request_size=8 * 1024 * 1024))
    port = worker.metrics_port
    assert_paused_by_refusal(worker, "oom", "the worker to see Redis refuse writes")
    assert metric(scrape(port)[1], "newsworker_redis_errors_total") > 0
    tree = process_tree(worker.proc.pid)

    redis.Redis.from_url(server.url).config_set("maxmemory", "0")  # the operator makes room
    records = read_outputs(kafka.bootstrap, topics, len(ids), timeout=240)
    assert_every_input_decided_once(records, topics, ids, log_of(worker))
    wait_until(lambda: scrape(port, "/readyz")[0] == 200, 30, "ready after Redis has room", lambda: log_of(worker))
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(30) == 0
    assert_all_gone(tree, log_of(worker))


def _documented_acl(password: str, prefix: str) -> list[str]:
    """The worker's ACL as deploy/README.md gives it ("A Redis user for the worker"), as arguments
    of ACL SETUSER: the test applies the documented line, so the line is what is tested."""
    readme = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A Redis user for the worker", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in section.splitlines() if ln.startswith("ACL SETUSER "))
    rules = [word.replace("<password>", password) for word in line.split()[3:]]  # after the user
    assert "~nw:*" in rules, line
    return [f"~{prefix}:*" if rule == "~nw:*" else rule for rule in rules]


def test_a_redis_acl_that_denies_the_keys_pauses_the_worker_until_fixed(
    make_redis: Callable[..., EmbeddedRedis], kafka: EmbeddedKafka,
    topic_names: Callable[..., list[str]], start_worker: Callable[..., Any],
) -> None:
    """An operator's ACL mistake: the worker's user may run every command but only on keys of
    another prefix. Before the fix the claim script's NOPERM reply (a `ResponseError`) was called
    a bug: exit 70, and the same again after every restart."""
    server = make_redis()
    password, prefix = "acl-test-Pa55", "aclnw"
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", "newsworker", "on", f">{password}", "~other:*", "&*", "+@all")
    topics = topic_names(partitions=2)
    values, ids = real_articles(300)
    worker = start_worker(topics, redis_url=server.url, redis_username="newsworker",
                          redis_password=password, redis_key_prefix=prefix)
    asyncio.run(produce(kafka.bootstrap, topics[0], values, max_request_size=8 * 1024 * 1024))
    port = worker.metrics_port
    assert_paused_by_refusal(worker, "noperm", "the worker to see Redis deny the keys")
    assert count_outputs(kafka.bootstrap, topics) == 0

    # the operator applies the documented ACL; from now on nothing may be denied
    admin.execute_command("ACL", "SETUSER", "newsworker", "reset")
    admin.execute_command("ACL", "SETUSER", "newsworker", *_documented_acl(password, prefix))
    admin.execute_command("ACL", "LOG", "RESET")
    records = read_outputs(kafka.bootstrap, topics, len(ids), timeout=240)
    assert_every_input_decided_once(records, topics, ids, log_of(worker))
    wait_until(lambda: scrape(port, "/readyz")[0] == 200, 30, "ready after the ACL fix", lambda: log_of(worker))
    time.sleep(6)  # one more round of the 5 s timer: ping, sentinel, INFO, CONFIG GET
    denied = admin.execute_command("ACL", "LOG")
    assert not denied, f"the documented ACL denies the worker: {denied}"
    assert password not in log_of(worker)
    admin.close()


def test_a_redis_url_naming_a_database_the_server_lacks_pauses_the_worker_not_crash_loops(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_names: Callable[..., list[str]],
    start_worker: Callable[..., Any], unique_group: str,
) -> None:
    """An operator's typo: NEWSWORKER_REDIS_URL ends in /99 on a server of 16 databases. Every
    connection's SELECT is refused ("DB index is out of range", a `ResponseError`): before the
    fix the first batch called it a bug, exit 70, and the same after every restart. Now the worker
    waits, not ready, counting the refusal; fixed and restarted, it decides every article once."""
    topics = topic_names(partitions=2)
    values, ids = real_articles(200)
    wrong = redis_server.url.rstrip("/").rsplit("/", 1)[0] + "/99" if redis_server.url.count("/") > 2 \
        else redis_server.url + "/99"
    worker = start_worker(topics, app_id=unique_group, redis_url=wrong, shutdown_grace_seconds="2")
    asyncio.run(produce(kafka.bootstrap, topics[0], values, max_request_size=8 * 1024 * 1024))
    assert_paused_by_refusal(worker, "db", "the worker to see Redis refuse its database")
    assert "NEWSWORKER_REDIS_URL names a database number" in log_of(worker)
    assert count_outputs(kafka.bootstrap, topics) == 0
    assert worker.stop() is not None  # the operator fixes the URL and restarts it
    again = start_worker(topics, app_id=unique_group)
    records = read_outputs(kafka.bootstrap, topics, len(ids), timeout=240)
    assert_every_input_decided_once(records, topics, ids, log_of(again))


# --- item 4: the grace is enforced ---------------------------------------------------------------------


def test_sigterm_while_redis_is_frozen_exits_within_the_grace(
    make_redis: Callable[..., EmbeddedRedis], kafka: EmbeddedKafka,
    topic_names: Callable[..., list[str]], start_worker: Callable[..., Any], unique_group: str,
) -> None:
    """Before the fix: faust waited for the held messages with no time limit before the agent's
    own grace handling ran, so a worker with a frozen Redis ignored SIGTERM for good. Also the
    stuck detector: frozen, it is not ready, and says it is stuck."""
    server = make_redis()
    topics = topic_names(partitions=4)
    values, ids = real_articles(3000)
    grace = 5.0
    worker = start_worker(topics, app_id=unique_group, redis_url=server.url,
                          shutdown_grace_seconds=str(grace), stuck_seconds="3")
    asyncio.run(produce(kafka.bootstrap, topics[0], values[:1000], max_request_size=8 * 1024 * 1024))
    wait_until_fast(lambda: processed(worker.metrics_port) > 0, 120, "first batch", lambda: log_of(worker))
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        asyncio.run(produce(kafka.bootstrap, topics[0], values[1000:], max_request_size=8 * 1024 * 1024))
        wait_until(lambda: "stuck" in scrape(worker.metrics_port, "/readyz")[1], 60,
                   "/readyz to say stuck", lambda: log_of(worker))
        assert metric(scrape(worker.metrics_port)[1], "newsworker_pipeline_stalled") == 1
        tree = process_tree(worker.proc.pid)
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            code = worker.proc.wait(grace + 20)
        except Exception:
            pytest.fail(f"still running {grace + 20}s after SIGTERM\n{log_of(worker)[-3000:]}")
        took = time.monotonic() - started
    finally:
        os.kill(server.pid, signal.SIGCONT)
    # grace + the deadline's 3 s margin + the interpreter's exit, on a busy machine
    assert took < grace + 8, f"exited after {took:.1f}s\n{log_of(worker)[-3000:]}"
    assert code in (0, 75), f"exit status {code}\n{log_of(worker)[-3000:]}"
    assert_all_gone(tree, log_of(worker))

    again = start_worker(topics, app_id=unique_group, redis_url=server.url)
    records = read_outputs(kafka.bootstrap, topics, len(ids), timeout=240)
    assert_every_input_decided_once(records, topics, ids, log_of(again))
    print(f"SIGTERM with Redis frozen: exit {code} after {took:.1f}s (grace {grace}s)")


# --- item 7: silent forgetting (the Redis watch itself: test_redis_watch.py) -----------------------


def test_flushall_under_a_running_worker_is_reported_not_silent(
    make_redis: Callable[..., EmbeddedRedis], kafka: EmbeddedKafka,
    topic_names: Callable[..., list[str]], start_worker: Callable[..., Any],
) -> None:
    """Before: after FLUSHALL, 1,851 of 3,000 copies of seen articles came out clean and nothing
    said so. They still come out clean (nothing can bring the verdicts back), but it is said."""
    server = make_redis()
    topics = topic_names()
    values, ids = real_articles(300)
    worker = start_worker(topics, redis_url=server.url)
    asyncio.run(produce(kafka.bootstrap, topics[0], values, max_request_size=8 * 1024 * 1024))
    read_outputs(kafka.bootstrap, topics, len(ids), timeout=120, settle=0)
    port = worker.metrics_port
    assert metric(scrape(port)[1], "newsworker_redis_data_lost_total") == 0
    redis.Redis.from_url(server.url).flushall()
    wait_until(lambda: metric(scrape(port)[1], "newsworker_redis_data_lost_total") == 1, 30,
               "the worker to notice the FLUSHALL", lambda: log_of(worker))
    assert "Redis lost the dedup index" in log_of(worker)
    assert worker.proc.poll() is None


# --- signals an operator sends out of habit ------------------------------------------------------


def test_sigusr2_is_ignored_and_sighup_stops_the_worker_like_sigterm(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_names: Callable[..., list[str]],
    tmp_path: Path, unique_group: str,
) -> None:
    """SIGUSR2 opened a debugger on the event loop: with stdin a pipe (`docker run -i`), the
    worker froze, endpoints and all, while its consumer thread kept heartbeating. SIGHUP had no
    handler and killed it at once, without a drain or a word (a review's findings)."""
    import subprocess
    import sys

    from worker.tools.demo import worker_env
    from worker.tools.embedded import find_free_port

    topics = topic_names(partitions=1)
    port = find_free_port()
    env = worker_env(
        kafka.bootstrap, redis_server.url, topics=dict(zip(("input", "clean", "duplicates", "dlq"), topics, strict=True)),
        metrics_port=port, app_id=unique_group, session_timeout=6.0, extra={"NEWSWORKER_REDIS_KEY_PREFIX": unique_group},
    )
    log_path = tmp_path / "worker.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker", "worker"], env=env, stdin=subprocess.PIPE,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: scrape(port, "/readyz")[0] == 200, 60, "ready", log_path.read_text)
        asyncio.run(produce(kafka.bootstrap, topics[0], encode_all(synthetic_articles(5, "signals"))))
        wait_until(lambda: processed(port) >= 5, 60, "the articles decided", log_path.read_text)
        proc.send_signal(signal.SIGUSR2)
        wait_until(lambda: "SIGUSR2 ignored" in log_path.read_text(), 10, "SIGUSR2 logged", log_path.read_text)
        asyncio.run(produce(kafka.bootstrap, topics[0], encode_all(synthetic_articles(5, "after-usr2"))))
        wait_until(lambda: processed(port) >= 10, 60, "articles decided after SIGUSR2", log_path.read_text)
        assert scrape(port, "/healthz")[0] == 200
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(30)
        assert code == 0, f"exit status {code}\n{log_path.read_text()[-3000:]}"
        assert "SIGHUP: stopping" in log_path.read_text()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if proc.stdin is not None:
            proc.stdin.close()


def test_a_log_pipe_nobody_reads_neither_freezes_the_worker_nor_its_stop(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_names: Callable[..., list[str]], unique_group: str,
) -> None:
    """stdout and stderr to a pipe nobody reads (a stalled log shipper; Docker's blocking mode with
    its log driver's endpoint down): the worker froze within seconds, /healthz, /readyz and
    /metrics unanswered, and SIGTERM did nothing, since the loop that handles it was blocked in a
    log write (an operator-fault review). Now the log is written from a thread of its own (lines
    dropped and counted while the pipe is full) and the stop's deadline is armed outside the loop."""
    import fcntl
    import subprocess
    import sys

    from worker.tools.demo import worker_env
    from worker.tools.embedded import find_free_port

    topics = topic_names(partitions=1)
    port = find_free_port()
    env = worker_env(
        kafka.bootstrap, redis_server.url, topics=dict(zip(("input", "clean", "duplicates", "dlq"), topics, strict=True)),
        metrics_port=port, app_id=unique_group, session_timeout=6.0,
        extra={"NEWSWORKER_REDIS_KEY_PREFIX": unique_group},
    )
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: full after a few lines, and never read
    proc = subprocess.Popen([sys.executable, "-m", "worker", "worker", "--log-level", "debug"], env=env,
                            stdout=write_end, stderr=write_end, start_new_session=True)
    os.close(write_end)
    try:
        wait_until(lambda: scrape(port, "/readyz")[0] == 200, 60, "ready")
        # dead letters log a warning each: more than the pipe holds
        bad = [b"{not json %d" % i for i in range(300)]
        asyncio.run(produce(kafka.bootstrap, topics[0], bad + encode_all(synthetic_articles(20, "pipe"))))
        wait_until(lambda: processed(port) >= 320, 90, "every input decided with the log pipe full")
        assert scrape(port, "/healthz")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, 75)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        os.close(read_end)


def test_a_metrics_port_already_taken_is_one_line_and_the_settings_exit_status(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_names: Callable[..., list[str]], unique_group: str,
) -> None:
    """Another process on NEWSWORKER_METRICS_PORT (a second worker on the host, a sidecar): exit 1
    with a traceback, a crash loop under a supervisor, where every other bad setting exits 2 with
    one line (an operator-fault review)."""
    import socket
    import subprocess
    import sys

    from worker.tools.demo import worker_env

    topics = topic_names(partitions=1)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = worker_env(
            kafka.bootstrap, redis_server.url, topics=dict(zip(("input", "clean", "duplicates", "dlq"), topics, strict=True)),
            metrics_port=port, app_id=unique_group, session_timeout=6.0, extra={"NEWSWORKER_REDIS_KEY_PREFIX": unique_group},
        )
        result = subprocess.run([sys.executable, "-m", "worker", "worker"], env=env, capture_output=True, text=True,
                                timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "cannot serve /metrics, /healthz and /readyz on " in result.stderr and f":{port} (" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("service", ["sentinel", "http"])
def test_a_redis_url_naming_no_redis_primary_pauses_the_worker_not_crash_loops(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_names: Callable[..., list[str]],
    start_worker: Callable[..., Any], unique_group: str, tmp_path: Path, service: str,
) -> None:
    """NEWSWORKER_REDIS_URL at a Sentinel's port (a common copy-paste: `unknown command 'SET'`)
    or at another service (not Redis's protocol): a bug, exit 70, at every restart (a review's
    finding). Now a refusal of kind `server`: the worker waits, not ready, saying what to fix."""
    import http.server
    import subprocess
    import threading

    from worker.tools.embedded import find_free_port, redis_server_binary

    topics = topic_names(partitions=1)
    stop: Callable[[], None]
    if service == "sentinel":
        port = find_free_port()
        conf = tmp_path / "sentinel.conf"
        conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                        f"sentinel monitor main 127.0.0.1 {redis_server.port} 1\n")
        with open(tmp_path / "sentinel.log", "wb") as out:
            sentinel = subprocess.Popen([str(redis_server_binary()), str(conf), "--sentinel"], stdout=out, stderr=out)

        def answers() -> bool:
            with contextlib.suppress(redis.exceptions.RedisError):
                return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
            return False

        wait_until(answers, 10, "the sentinel up")

        def stop() -> None:
            sentinel.kill()
            sentinel.wait(5)
    else:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]

        def stop() -> None:
            server.shutdown()
            server.server_close()

    try:
        worker = start_worker(topics, app_id=unique_group, redis_url=f"redis://127.0.0.1:{port}/0",
                              shutdown_grace_seconds="2")
        asyncio.run(produce(kafka.bootstrap, topics[0], encode_all(synthetic_articles(5, service))))
        assert_paused_by_refusal(worker, "server", f"the worker to see the {service} refuse its claims")
        assert "names no Redis primary the worker can write to" in log_of(worker)
        assert count_outputs(kafka.bootstrap, topics) == 0
    finally:
        stop()
