"""Fixtures shared by every test tier: where the shared corpus (`../shared`) lives.

`../shared/` sits beside the repository on every developer machine and in CI. Without it a test
that needs it is skipped locally, but fails under CI (`CI=true`), so that a broken CI checkout
cannot turn the seed tests into silent skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def _missing(what: Path) -> None:
    message = f"{what} is missing (expected beside the repository as ../shared)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


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
