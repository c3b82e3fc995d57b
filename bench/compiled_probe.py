"""What compiling the pure stages with mypyc would buy: normalize and fingerprint per article,
the package as it is against the same source compiled, alternating, outputs compared.

    python bench/compiled_probe.py [--articles 3000] [--rounds 3] [--keep DIR]

Copies `worker/` to a scratch directory, compiles `MODULES` there with mypyc (needs a C
compiler and the Python headers; mypy ships mypyc), then times `normalize_text` and
`fingerprint` over real Arabic articles and the multilingual texts (`../shared/data/`) in a
fresh interpreter per side and round (each side first in turn), the best of three passes
each. The digests of every output (text, title, match key, warnings, fingerprints) must be
equal, or the probe fails. A measurement for docs/BENCHMARKS.md's *Recommendations*, not a
build step: the project ships pure Python (figures and why: docs/BENCHMARKS.md, "Results
(sessions 10 and 11: the garbage collector)").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import corpus, probes, stats  # noqa: E402

#: The pure stages' modules that do per-article work in Python.
MODULES = (
    "worker/normalize/text.py",
    "worker/normalize/arabic.py",
    "worker/normalize/boilerplate.py",
    "worker/dedup/fingerprint.py",
)
_SETUP = """
from setuptools import setup
from mypyc.build import mypycify
setup(name="probe", ext_modules=mypycify({modules!r}, opt_level="3"))
"""


def _texts(articles: int) -> list[tuple[str | None, str]]:
    """Arabic articles (title, text), then a third as many multilingual texts."""
    arabic = [(a.get("title"), a.get("text") or "") for a in corpus.load_articles(limit=articles)]
    pairs = corpus.load_articles(corpus.DEV_CORPUS.with_name("semeval-train.jsonl.gz"), limit=articles // 3)
    return arabic + [(None, str(p["text1"])) for p in pairs]


def _time_side(root: str, articles: int) -> dict[str, Any]:
    texts = _texts(articles)  # before the side's `worker` is imported
    sys.path.insert(0, root)
    from worker.dedup import fingerprint as fp_module
    from worker.normalize import text as text_module

    for title, body in texts[:200]:  # warm-up: lazy tables, caches
        n = text_module.normalize_text(title=title, text=body, html=None)
        fp_module.fingerprint(n.match_key or n.text, None)
    best_norm = best_fp = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        normalized = [text_module.normalize_text(title=t, text=b, html=None) for t, b in texts]
        t1 = time.perf_counter()
        fps = [fp_module.fingerprint(n.match_key or n.text, None) for n in normalized]
        t2 = time.perf_counter()
        best_norm = min(best_norm, (t1 - t0) / len(texts) * 1e6)
        best_fp = min(best_fp, (t2 - t1) / len(texts) * 1e6)
    digest = hashlib.sha256()
    for n, f in zip(normalized, fps, strict=True):
        digest.update(repr((n.text, n.title, n.match_key, n.warnings, f)).encode("utf-8", "surrogatepass"))
    return {
        "compiled": not str(text_module.__file__).endswith(".py"),
        "normalize_us": best_norm,
        "fingerprint_us": best_fp,
        "texts": len(texts),
        "digest": digest.hexdigest(),
    }


def _build(scratch: Path) -> None:
    shutil.copytree(ROOT / "worker", scratch / "worker", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (scratch / "setup.py").write_text(_SETUP.format(modules=list(MODULES)))
    (scratch / "mypy.ini").write_text("[mypy]\nignore_missing_imports = True\n")
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"], cwd=scratch, capture_output=True, text=True
    )
    if build.returncode != 0:
        raise SystemExit(f"mypyc build failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temporary directory)")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(_time_side(args.side, args.articles)))
        return 0
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="newsworker-mypyc-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        _build(scratch)
        print(f"compiled {len(MODULES)} modules in {time.perf_counter() - started:.0f} s", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {"pure": [], "compiled": []}
        roots = {"pure": ROOT, "compiled": scratch}
        for round_ in range(args.rounds):
            for side in stats.turn(list(runs), round_):
                argv = [sys.executable, __file__, "--side", str(roots[side])]
                figures = probes.run_fresh([*argv, "--articles", str(args.articles)], cwd=roots[side])
                if figures["compiled"] != (side == "compiled"):
                    raise SystemExit(f"the {side} side imported the wrong build: {figures}")
                runs[side].append(figures)
                print(f"{side:8s}: normalize {figures['normalize_us']:.0f} us, "
                      f"fingerprint {figures['fingerprint_us']:.0f} us per text", flush=True)
        digests = {f["digest"] for side_runs in runs.values() for f in side_runs}
        for side, side_runs in runs.items():
            norm = stats.median([f["normalize_us"] for f in side_runs])
            fp = stats.median([f["fingerprint_us"] for f in side_runs])
            print(f"{side:8s} medians: normalize {norm:.0f} us, fingerprint {fp:.0f} us")
        print("outputs identical" if len(digests) == 1 else f"OUTPUTS DIFFER: {sorted(digests)}")
        if args.json:
            args.json.write_text(json.dumps(runs, indent=1) + "\n")
        return 0 if len(digests) == 1 else 1
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
