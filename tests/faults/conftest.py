"""The fault matrix reuses the integration tier's servers and worker factory as they are.

A fast subset (cases marked `fast` in `test_matrix.CASES`) runs in `make test`; the whole matrix
only with `NEWSWORKER_FAULT_MATRIX=1` (`make fault-matrix`), since it takes 8-12 minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED_DIR, skip_or_fail
from tests.integration.conftest import (  # noqa: F401 - fixtures, re-exported for this tier
    kafka,
    make_kafka,
    make_redis,
    pytest_runtest_makereport,
    redis_server,
    start_worker,
    topic_names,
    unique_group,
)

HERE = Path(__file__).resolve().parent
FULL = os.environ.get("NEWSWORKER_FAULT_MATRIX", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.integration)
        if not FULL and item.get_closest_marker("fast") is None:
            item.add_marker(pytest.mark.skip(reason="whole fault matrix: NEWSWORKER_FAULT_MATRIX=1 (make fault-matrix)"))


@pytest.fixture(scope="session")
def ant_dev() -> Path:
    path = SHARED_DIR / "data" / "ant-dev.jsonl.gz"
    if not path.is_file():
        skip_or_fail(f"{path} is missing (expected beside the repository as ../shared)")
    return path
