"""The command line as a user runs it: what a command says when it cannot run.

`newsworker dedup`, `produce` and `demo` have their own modules (test_offline.py, test_produce.py,
test_demo.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT

#: Runs the command line with only the copy on PYTHONPATH importable as `worker`: the editable
#: install's finder (which maps `worker.*` to the checkout) is taken out first.
WITHOUT_CHECKOUT = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
    "from worker.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_a_tool_command_without_the_tools_says_what_to_install(tmp_path: Path) -> None:
    """The image has no worker/tools (and no [embedded] extra): demo and eval are not offered, and
    dedup without --redis-url says what to do instead of crashing."""
    package = tmp_path / "worker"  # the runtime package as the image holds it
    shutil.copytree(ROOT / "worker", package, ignore=shutil.ignore_patterns("tools", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    probe = [sys.executable, "-c", WITHOUT_CHECKOUT.replace("main(sys.argv[1:])", "print(__import__('worker').__file__)")]
    assert subprocess.run(probe, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.startswith(str(tmp_path))
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", WITHOUT_CHECKOUT, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
        )

    usage = run("--help")
    assert usage.returncode == 0 and "produce" in usage.stdout
    assert "demo" not in usage.stdout and "eval" not in usage.stdout  # not offered where they cannot run
    result = run("dedup", "--input", str(tmp_path), "--output", "-")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs the development tools" in result.stderr and "Traceback" not in result.stderr
    assert "--redis-url" in result.stderr  # dedup can run without them, on a Redis of one's own


def test_eval_finds_the_corpus_beside_the_checkout() -> None:
    from tests.conftest import SHARED_DIR
    from worker.cli import CHECKOUT_CORPUS

    # ../shared beside the repository, as the README and docs/EVALUATION.md say (the default
    # pointed one directory too high and `newsworker eval` refused to start from a checkout)
    assert CHECKOUT_CORPUS == SHARED_DIR / "data" / "ant-dev.jsonl.gz"


def test_an_install_without_the_c_extensions_says_so_and_prepares_the_same_articles(tmp_path: Path) -> None:
    """Where gcc or the headers were missing, pip installs newsworker without its C extensions (a
    warning only): `--version` says so, and the same articles come out of the pure stages."""
    package = tmp_path / "worker"
    shutil.copytree(ROOT / "worker", package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", WITHOUT_CHECKOUT.replace("from worker.cli import main; sys.exit(main(sys.argv[1:]))", code)],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
        )  # fmt: skip

    version = run("from worker.cli import main; sys.exit(main(['--version']))")
    shown = " ".join(version.stdout.split())  # argparse wraps it to the terminal's width
    assert (
        "fingerprints: Python, not compiled; text passes: Python, not compiled; "
        "store packing: Python, not compiled; install gcc"
    ) in shown, version
    prepare = (
        "import json, worker; from worker.pipeline import Message, Limits, prepare; "
        "from worker.dedup import fingerprint; from worker.normalize import text; "
        "print(worker.__file__, fingerprint.COMPILED, text.COMPILED); "
        "lines = open(sys.argv[1], 'rb').read().splitlines(); "
        "out = [prepare(Message(value=v, origin='x'), limits=Limits(), now=1.8e9) for v in lines]; "
        "print(json.dumps([[p.article_id, p.fp.exact.hex(), p.fp.sketch.hex(), p.clean.head.decode()] "
        "if hasattr(p, 'fp') else p.reason for p in out]))"
    )
    samples = str(ROOT / "worker" / "samples" / "articles.jsonl")
    without = subprocess.run(
        [sys.executable, "-c", WITHOUT_CHECKOUT.split("from worker.cli")[0] + prepare, samples],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    first, _, rest = without.stdout.partition("\n")
    assert first == f"{package / '__init__.py'} False False", without.stderr[-2000:]
    with_c = subprocess.run(
        [sys.executable, "-c", "import sys; " + prepare, samples], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    first_c, _, rest_c = with_c.stdout.partition("\n")
    assert first_c.endswith("True True"), with_c.stderr[-2000:]
    assert rest and rest == rest_c, without.stderr[-2000:]
    assert '"sample-' in rest and "missing_text" in rest  # articles, and a dead letter too
