"""Build a C extension of ours with AddressSanitizer and UndefinedBehaviorSanitizer and run a
workload on it in a child interpreter.

Memory errors in C do not always crash: under the sanitizers any out-of-bounds access, use after
free or undefined behaviour makes the child fail with the sanitizer's report. PyMem_Malloc's small
blocks come from malloc (PYTHONMALLOC=malloc), which ASan watches; pymalloc's pools would hide an
overflow of a few bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: What a workload starts with: the sanitized build of the module, loaded from argv[1] as `m`,
#: and `refused(call, *args, errors=...)`.
PRELUDE = r"""
import importlib.util, random, sys
spec = importlib.util.spec_from_file_location(sys.argv[2], sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)

def refused(call, *args, errors=(TypeError, ValueError)):
    # bad arguments must raise one of `errors`: not crash, not be accepted
    try:
        call(*args)
    except errors:
        return
    raise AssertionError((call, args))
"""


def _runtime(name: str) -> str | None:
    path = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def run_sanitized(source: Path, module: str, workload: str, tmp_path: Path) -> None:
    """Build `source` (module `module`) sanitized, run PRELUDE + `workload` on it: it must print
    "sanitized ok" and exit 0. Skips where gcc or its sanitizer runtimes are missing."""
    if shutil.which("gcc") is None:
        pytest.skip("no gcc (scripts/setup.sh test installs it)")
    asan, ubsan = _runtime("libasan.so"), _runtime("libubsan.so")
    if asan is None or ubsan is None:
        pytest.skip("gcc without the sanitizer runtimes")
    built = tmp_path / f"{module}_sanitized.so"
    subprocess.run(
        [
            "gcc", "-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            f"-I{sysconfig.get_path('include')}", str(source), "-o", str(built),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    env = {
        **os.environ,
        "LD_PRELOAD": f"{asan} {ubsan}",
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "PYTHONMALLOC": "malloc",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + workload, str(built), module],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "sanitized ok" in proc.stdout, proc.stderr[-4000:]
