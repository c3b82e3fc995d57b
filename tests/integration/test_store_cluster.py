"""The dedup store on a real 3-node Redis Cluster: every script stays in one slot."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.dedup.decision import Decision, DuplicateOf, StoreItem, Thresholds, Unique, make_record
from worker.dedup.fingerprint import fingerprint
from worker.dedup.store import RedisDedupStore, connect
from worker.pipeline import decide_items
from worker.tools.embedded import EmbeddedRedis, find_free_port


def _cluster_port() -> int:
    """A free port low enough for its cluster bus port (port + 10000) to exist."""
    while (port := find_free_port()) > 55000:
        pass
    return port


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli (Debian's redis-tools) is needed to form a cluster")
    nodes = []
    ports = [_cluster_port() for _ in range(3)]
    try:
        for port in ports:
            workdir: Path = tmp_path_factory.mktemp(f"node{port}")
            node = EmbeddedRedis(
                port=port,
                extra_args=["--cluster-enabled", "yes", "--cluster-config-file", str(workdir / "nodes.conf"),
                            "--dir", str(workdir)],
            )
            nodes.append(node.start())
        subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )
        for _ in range(100):  # wait until every node agrees the cluster is up
            states = [subprocess.run(["redis-cli", "-p", str(p), "cluster", "info"], capture_output=True, text=True).stdout
                      for p in ports]
            if all("cluster_state:ok" in s for s in states):
                break
            subprocess.run(["sleep", "0.1"])
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for node in nodes:
            node.stop()


def test_store_decides_on_a_cluster(redis_cluster: str) -> None:
    words = [f"w{i}" for i in range(300)]
    texts = [words, words, words[:-4] + ["x"] * 4, [f"z{i}" for i in range(300)]]

    async def run() -> list[Decision]:
        client = connect(redis_cluster, cluster=True)
        try:
            store = RedisDedupStore(client, prefix="cluster-test")
            items = []
            for i, ws in enumerate(texts):
                fp = fingerprint(" ".join(ws), None)
                items.append(StoreItem(f"a{i}", fp, make_record(f"a{i}", fp)))
            first = await decide_items(items, store, Thresholds())  # records, claims, decisions
            assert await decide_items(items, store, Thresholds()) == first  # replayed: recorded
            return first
        finally:
            await client.aclose()

    first, copy, edit, other = asyncio.run(run())
    assert first == Unique() and other == Unique()
    assert copy == DuplicateOf("a0", "exact", 1.0)
    assert isinstance(edit, DuplicateOf) and edit.canonical_id == "a0"


def test_a_cluster_node_taken_for_a_single_server_is_a_refusal_not_a_bug(redis_cluster: str) -> None:
    """NEWSWORKER_REDIS_CLUSTER left false for a cluster's URL: the node redirects (MOVED) every
    key it does not serve. Before: a `MovedError` out of the store, which the worker took for a
    bug (exit 70 at every restart); now a refusal the worker waits on, saying what to set."""
    from worker.errors import REFUSAL_HINTS, DedupStoreRefused

    async def run() -> DedupStoreRefused:
        client = connect(redis_cluster, cluster=False)
        try:
            store = RedisDedupStore(client, prefix="cluster-moved")
            items = []
            for i in range(40):  # 40 articles' keys: some live on the other two nodes
                fp = fingerprint(" ".join(f"w{i}x{k}" for k in range(60)), None)
                items.append(StoreItem(f"m{i}", fp, make_record(f"m{i}", fp)))
            with pytest.raises(DedupStoreRefused) as refused:
                await decide_items(items, store, Thresholds())
            return refused.value
        finally:
            await client.aclose()

    refused = asyncio.run(run())
    assert refused.kind == "cluster" and "NEWSWORKER_REDIS_CLUSTER" in REFUSAL_HINTS[refused.kind]
