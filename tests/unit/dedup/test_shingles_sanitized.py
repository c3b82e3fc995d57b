"""The C shingle hashing under AddressSanitizer and UndefinedBehaviorSanitizer.

Memory errors in C do not always crash: this builds worker/dedup/_shingles.c with the sanitizers
and runs it in a child interpreter on random keys, token lists, shingle sizes and counts (empty,
one token, long tokens, every whitespace byte, bad arguments). Any out-of-bounds access, use after
free or undefined behaviour makes the child fail with the sanitizer's report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[3] / "worker" / "dedup" / "_shingles.c"

WORKLOAD = r"""
import importlib.util, random, sys
spec = importlib.util.spec_from_file_location("_shingles", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
rng = random.Random(20261206)
alphabet = b"ab \t\n\r\x0b\x0cxyz\xd8\xa7\xe3\x81\x82"
for i in range(6000):
    if rng.random() < 0.5:
        arg = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
    else:
        arg = [bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))) for _ in range(rng.randrange(0, 60))]
    hashes, distinct, low, second, count = m.shingle_hashes(arg, rng.randrange(1, 6), rng.getrandbits(64), rng.randrange(-3, 300))
    assert len(low) == len(second) <= len(hashes) // 8 and distinct <= len(hashes) // 8
m.shingle_hashes(b"a " * 200_000, 3, 1, 200)
m.shingle_hashes([b"x" * 100_000] * 5, 3, 1, 5)
for bad in (None, 3, "text", [b"a", "b"], (b"a",)):
    try:
        m.shingle_hashes(bad, 3, 1, 1)
    except TypeError:
        pass
    else:
        raise AssertionError(bad)
print("sanitized ok")
"""


def _runtime(name: str) -> str | None:
    path = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def test_the_shingle_hashing_is_clean_under_address_and_ub_sanitizers(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc (scripts/setup.sh test installs it)")
    asan, ubsan = _runtime("libasan.so"), _runtime("libubsan.so")
    if asan is None or ubsan is None:
        pytest.skip("gcc without the sanitizer runtimes")
    built = tmp_path / "_shingles_sanitized.so"
    subprocess.run(
        [
            "gcc", "-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            f"-I{sysconfig.get_path('include')}", str(SOURCE), "-o", str(built),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "LD_PRELOAD": f"{asan} {ubsan}",
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "PYTHONMALLOC": "malloc",  # PyMem_Malloc's small blocks come from malloc, which ASan watches
    }
    proc = subprocess.run(
        [sys.executable, "-c", WORKLOAD, str(built)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "sanitized ok" in proc.stdout, proc.stderr[-4000:]
