"""Fixtures shared by every test tier: where the shared corpus (`../shared`) lives.

`../shared/` sits beside the repository on every developer machine and in CI. Without it a test
that needs it is skipped locally, but fails under CI (`CI=true`), so that a broken CI checkout
cannot turn the seed tests into silent skips.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
#: A test's `user_properties` under this name are lines printed in a section of that name at the end
#: of the run (the image's size and build time). Reports carry them back from pytest-xdist workers,
#: and this conftest is one the controller loads too.
SUMMARY_SECTION = "newsworker image"
_SUMMARY: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _SUMMARY.extend(str(value) for name, value in report.user_properties if name == SUMMARY_SECTION)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _SUMMARY:
        terminalreporter.section(SUMMARY_SECTION)
        for line in _SUMMARY:
            terminalreporter.write_line(line)


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A test that failed may have left clients open (an assertion skipped its `aclose`), kept
    alive by its traceback, which pytest holds in `sys.last_traceback` until the next test runs;
    the garbage collector then finds them in whichever later test it happens to run, and their
    "unclosed" warnings fail that test too. Collected here, they are reported on this one."""
    if item.stash.get(_FAILED, False):
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            sys.__dict__.pop(name, None)  # pytest deletes them itself when the next test starts
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)  # as the suite's filters make it
            gc.collect()


def skip_or_fail(message: str) -> NoReturn:
    """Something a test needs is not on this machine: skip locally, fail under CI (`CI=true`),
    where `make test` must have installed it. The one place that policy lives."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message + " (CI must provide it)")
    pytest.skip(message)


def require_tool(name: str, hint: str = "") -> str:
    """Path of the executable `name` on PATH, or `skip_or_fail` naming how to install it."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"`{name}` is not installed{': ' + hint if hint else ''}")
    return path


def _missing(what: Path) -> NoReturn:
    skip_or_fail(f"{what} is missing (expected beside the repository as ../shared)")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` relative to the repository root; skip (fail under CI=true) when absent."""
    if not SHARED_DIR.is_dir():
        _missing(SHARED_DIR)
    return SHARED_DIR


@pytest.fixture(scope="session")
def seeds_dir(shared_dir: Path) -> Path:
    """`../shared/seeds`: the canonical near-duplicate pair of raw articles."""
    seeds = shared_dir / "seeds"
    if not seeds.is_dir() or not any(seeds.iterdir()):
        _missing(seeds)
    return seeds
