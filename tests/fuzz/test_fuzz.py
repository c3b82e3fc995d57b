"""The CI fuzzing run: `fuzz_pipeline.check` under atheris (libFuzzer) with a fixed budget.

Budget: at most `FUZZ_SECONDS` of fuzzing (or `FUZZ_RUNS` inputs, whichever comes first), seed 1,
inputs up to 4 KiB, 5 s per input (a slower input is a finding: it would stall a partition).
The seed corpus in `tests/fuzz/corpus/` is copied to a temporary directory, so CI never writes
into the repository; a finding fails the test with the input in base64 (reproduce it with
`python tests/fuzz/fuzz_pipeline.py <file>`).

Without atheris (no wheel for the platform) the same `check` runs under hypothesis with a fixed
number of examples instead, so the CI tier never silently disappears.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FUZZ_SECONDS = int(os.environ.get("NEWSWORKER_FUZZ_SECONDS", "15"))
FUZZ_RUNS = 100_000


@pytest.mark.timeout(FUZZ_SECONDS + 60)
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_fuzz_pipeline_with_atheris(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(HERE / "corpus", corpus)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_pipeline.py"), str(corpus),
         f"-max_total_time={FUZZ_SECONDS}", f"-runs={FUZZ_RUNS}", "-seed=1", "-max_len=4096",
         "-timeout=5", "-rss_limit_mb=2048", f"-artifact_prefix={artifacts}/", "-print_final_stats=1"],
        capture_output=True, text=True, timeout=FUZZ_SECONDS + 45, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(HERE.parents[1])},
    )
    findings = {p.name: base64.b64encode(p.read_bytes()).decode() for p in artifacts.iterdir()}
    assert result.returncode == 0 and not findings, (
        f"fuzzing found {findings}\n{result.stderr[-4000:]}"
    )
    assert "Done" in result.stderr and "stat::number_of_executed_units" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("atheris") is not None, reason="atheris runs instead")
def test_fuzz_pipeline_with_hypothesis_fallback() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.fuzz.fuzz_pipeline import check

    @settings(max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=4096))
    def run(data: bytes) -> None:
        check(data)

    run()
