"""Measuring instruments: Redis memory, a process' resident memory, a worker's /metrics, and the
processes under test (the real `newsworker worker`, or the bare passthrough) started by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(argv: list[str], cwd: Path = ROOT) -> dict[str, Any]:
    """Run a measurement in a fresh interpreter and return the JSON object it printed last (so
    that one side's heap, caches and imports do not shape the other's)."""
    out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=cwd).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


def redis_used_memory(url: str) -> int:
    """`used_memory` of INFO memory: bytes Redis has allocated for data and its own structures."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def redis_flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


def redis_key_encodings(url: str, sample: int = 200) -> dict[str, int]:
    """How many of a sample of keys use each encoding (listpack vs hashtable explains memory)."""
    client = redis.Redis.from_url(url)
    out: dict[str, int] = {}
    try:
        for n, key in enumerate(client.scan_iter(count=1000)):
            if n >= sample:
                break
            enc = client.object("encoding", key)
            name = enc.decode() if isinstance(enc, bytes) else str(enc)
            out[name] = out.get(name, 0) + 1
    finally:
        client.close()
    return out


def _with_children(pid: int) -> Iterator[psutil.Process]:
    """The process and its live children (the worker's prepare processes)."""
    process = psutil.Process(pid)
    yield process
    yield from process.children(recursive=True)


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU seconds the process and (unless `children` is false) its live children
    have used so far."""
    total = 0.0
    for p in _with_children(pid) if children else iter((psutil.Process(pid),)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def rss_bytes(pid: int) -> int:
    """Resident memory of the process and its live children."""
    total = 0
    for p in _with_children(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def scrape(port: int, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        return str(response.read().decode())


def wait_ready(port: int, timeout: float = 60.0) -> bool:
    """True once the worker's /readyz answers 200 (broker, Redis and partitions ready)."""
    try:
        wait_status(port, "/readyz", timeout=timeout, interval=0.2)
    except TimeoutError:
        return False
    return True


def wait_status(port: int, path: str, *, timeout: float = 60.0, interval: float = 0.01) -> float:
    """`time.perf_counter()` when `path` of the worker's HTTP port first answers 200; polled every
    `interval` seconds, TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r,
        ):
            if r.status == 200:
                return time.perf_counter()
        time.sleep(interval)
    raise TimeoutError(f"{path} on port {port} did not answer 200 within {timeout} s")


@dataclass
class BenchProcess:
    """A process under test in its own session, logging to a file, stopped by its PID only."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def worker(cls, env: dict[str, str], log_path: Path) -> BenchProcess:
        return cls([sys.executable, "-m", "worker", "worker"], env, log_path)

    @classmethod
    def passthrough(cls, env: dict[str, str], log_path: Path) -> BenchProcess:
        return cls([sys.executable, str(ROOT / "bench" / "passthrough.py")], env, log_path)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> BenchProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
