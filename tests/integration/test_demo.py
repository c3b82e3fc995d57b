"""`newsworker demo --once` as a newcomer runs it: real broker and Redis, the table, no process left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.support.processes import ROOT, processes_with


@pytest.mark.timeout(240)
def test_demo_once_shows_the_table_and_leaves_no_process() -> None:
    marker = f"NW_DEMO_TEST={uuid.uuid4().hex}"
    result = subprocess.run(
        [sys.executable, "-m", "worker", "demo", "--once"], capture_output=True, text=True, timeout=200,
        cwd=ROOT, env={**os.environ, "COLUMNS": "160", marker.split("=")[0]: marker.split("=")[1]},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "news.clean" in out and "news.duplicates" in out and "news.dlq" in out
    assert "balanced" in out and "NOT balanced" not in out
    deadline = time.monotonic() + 5  # a stopped child may take a moment to be reaped
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, left

