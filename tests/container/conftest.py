"""The real image, built from the Dockerfile with buildah (scripts/build-image.sh) and run as uid 10001.

Every test here is marked `container`. Without a Docker engine, buildah's chroot isolation runs
the image's processes in their own mount namespace on the host's network, so the worker inside
reaches the session's broker and Redis on loopback like any other client. Under chroot isolation
there is no PID namespace: tini is the container's first process, not PID 1, and the test signals
it directly (`TINI_SUBREAPER` makes it reap as PID 1 would).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SUMMARY_SECTION, skip_or_fail
from tests.integration.conftest import kafka, redis_server, topic_names  # noqa: F401 - the shared fixtures

HERE = Path(__file__).resolve().parent
STORAGE = Path(os.environ.get("NEWSWORKER_IMAGE_ROOT", "/var/lib/newsworker-image"))
BUILDAH = ["buildah", "--root", str(STORAGE / "storage"), "--runroot", str(STORAGE / "run"), "--storage-driver", "vfs"]
TAG = "localhost/newsworker:test"
#: Lines a test or the build adds for the end of the run: size, what takes it, build time. They
#: travel in the test's report as `user_properties` named `SUMMARY_SECTION`, which tests/conftest.py
#: prints at the end, so that they reach the terminal from a pytest-xdist worker too.
REPORT: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.container)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    if REPORT and item.get_closest_marker("container") is not None:
        outcome.get_result().user_properties.extend((SUMMARY_SECTION, line) for line in REPORT)
        REPORT.clear()


def buildah(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUILDAH_ISOLATION": "chroot"}
    return subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=timeout, check=check, env=env)


@pytest.fixture(scope="session")
def image() -> str:
    """Build the image (cached: a second run with the same context only re-tags it); its tag."""
    for tool, package in (("buildah", "buildah"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            skip_or_fail(f"`{tool}` is not installed (apt-get install {package}; scripts/setup.sh test does)")
    if os.geteuid() != 0:
        skip_or_fail("building the image with buildah (chroot isolation, vfs) needs root")
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "build-image.sh"), TAG],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "BUILDAH_ISOLATION": "chroot"},
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        pytest.fail(f"image build failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    cached = "is up to date" in proc.stdout
    REPORT.append(f"build: {seconds:.0f}s ({'cached: same build context' if cached else 'built'}) -> {TAG}")
    return TAG


@dataclass
class Container:
    """A working container of the image whose root filesystem is mounted read-only."""

    name: str
    rootfs: Path
    config: dict[str, object] = field(default_factory=dict)

    def command(self, *args: str, user: str = "10001:10001", env: dict[str, str] | None = None,
                tmpfs: bool = True) -> list[str]:
        """`buildah run` argv for `args` inside, as `user`, with a tmpfs on /tmp (as compose and k8s)."""
        argv = [*BUILDAH, "run", "--isolation", "chroot", "--user", user]
        if tmpfs:
            argv += ["--mount", "type=tmpfs,destination=/tmp"]
        for key, value in (env or {}).items():
            argv += ["--env", f"{key}={value}"]
        return [*argv, self.name, "--", *args]

    def run(self, *args: str, timeout: float = 120, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args, **kwargs),  # type: ignore[arg-type]
            capture_output=True, text=True, timeout=timeout, env={**os.environ, "BUILDAH_ISOLATION": "chroot"},
        )


@pytest.fixture(scope="session")
def container(image: str) -> Iterator[Container]:
    """The image as a container with a read-only root: what `read_only: true` (compose) and
    `readOnlyRootFilesystem` (Kubernetes) give. buildah has no `--read-only`, so the container's
    mounted root is bind-mounted read-only onto itself; /run gets a root-owned tmpfs, where buildah
    itself creates (and removes) its `.containerenv` mount point."""
    name = f"newsworker-test-{uuid.uuid4().hex[:8]}"
    buildah("from", "--name", name, image)
    rootfs = Path(buildah("mount", name).stdout.strip())
    mounted: list[Path] = []
    try:
        subprocess.run(["mount", "--bind", str(rootfs), str(rootfs)], check=True)
        mounted.append(rootfs)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(rootfs)], check=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(rootfs / "run")], check=True)
        mounted.append(rootfs / "run")
        info = json.loads(buildah("inspect", "--type", "container", name).stdout)
        yield Container(name, rootfs, info["Docker"]["config"])
    finally:
        for path in reversed(mounted):
            subprocess.run(["umount", str(path)], check=False)
        buildah("umount", name, check=False)
        buildah("rm", name, check=False)
