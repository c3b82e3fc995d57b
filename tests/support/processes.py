"""Process helpers shared by the test tiers: the command line as a user runs it, and the
processes a test left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "160"},
    )


def processes_with(marker: str) -> dict[int, bytes]:
    """Live processes (not zombies) whose environment carries `marker`: the demo's children."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline:  # a zombie has an empty command line: it is gone, only not yet reaped
            found[int(entry.name)] = cmdline
    return found
