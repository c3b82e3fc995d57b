"""The command line as a user runs it: dedup offline, produce, and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from worker.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_dedup_marks_one_seed_clean_and_the_other_its_duplicate(seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run_cli("dedup", "--input", str(seeds_dir), "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["clean", "duplicate"]
    assert rows[1]["duplicate_of"] == rows[0]["id"] and rows[1]["kind"] == "near"


def test_dedup_output_dash_is_stdout(seeds_dir: Path) -> None:
    result = run_cli("dedup", "--input", str(seeds_dir), "--output", "-")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["clean", "duplicate"]
    assert not (ROOT / "-").exists()


def test_dedup_reports_every_record_in_order_including_bad_ones(tmp_path: Path, redis_server: object) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "one", "text": "A first article about the port strike and the wages deal."})
        + "\n"
        + "{not json\n\n"
        + json.dumps({"id": "two", "text": "A first article about the port strike and the wages deal."})
        + "\n"
        + json.dumps({"id": "three", "title": "no body"})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert main(["dedup", "--input", str(src), "--output", str(out), "--redis-url", redis_server.url]) == 0  # type: ignore[attr-defined]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["clean", "dead_letter", "duplicate", "dead_letter"]
    assert rows[1]["reason"].startswith("invalid_json") and rows[3]["reason"].startswith("missing_text")
    assert rows[2] == {
        "id": "two",
        "status": "duplicate",
        "kind": "exact",
        "duplicate_of": "one",
        "story_id": "one",
        "related_to": None,
        "similarity": 1.0,
        "reason": None,
    }
    assert rows[0]["story_id"] == "one" and rows[0]["related_to"] is None
    # a re-run against the same Redis gives the same answers (replay-safe)
    out2 = tmp_path / "out2.jsonl"
    assert main(["dedup", "--input", str(src), "--output", str(out2), "--redis-url", redis_server.url]) == 0  # type: ignore[attr-defined]
    assert out2.read_text() == out.read_text()


def test_produce_reports_bad_lines_and_sends_the_rest(kafka: object, topic_names, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from tests.integration.conftest import consume_all

    [raw] = topic_names("raw")
    src = tmp_path / "feed.jsonl"
    src.write_text('{"id": "a", "text": "x"}\n{broken\n{"id": "b", "text": "y"}\n', encoding="utf-8")
    (tmp_path / "page.html").write_text("<p>hello</p>", encoding="utf-8")
    result = run_cli("produce", "--bootstrap", kafka.bootstrap, "--topic", raw, str(tmp_path))  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr
    assert "feed.jsonl:2" in result.stderr and "invalid JSON" in result.stderr
    records = asyncio.run(consume_all(kafka.bootstrap, [raw], 3, timeout=10))  # type: ignore[attr-defined]
    values = sorted(json.loads(r.value).get("id") for r in records)
    assert values == ["a", "b", "page"]


def test_unknown_input_path_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("dedup", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o"))
    assert result.returncode == 2 and "no such file" in result.stderr


@pytest.mark.timeout(240)
def test_demo_once_shows_the_table_and_leaves_no_process() -> None:
    marker = f"NW_DEMO_TEST={uuid.uuid4().hex}"
    result = subprocess.run(
        [sys.executable, "-m", "worker", "demo", "--once"], capture_output=True, text=True, timeout=200,
        cwd=ROOT, env={**os.environ, "COLUMNS": "160", marker.split("=")[0]: marker.split("=")[1]},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "news.clean" in out and "news.duplicates" in out and "news.dlq" in out
    assert "balanced" in out and "NOT balanced" not in out
    deadline = time.monotonic() + 5  # a stopped child may take a moment to be reaped
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, left


def _processes_with(marker: str) -> dict[int, bytes]:
    """Live processes (not zombies) whose environment carries `marker`: the demo's children."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline:  # a zombie has an empty command line: it is gone, only not yet reaped
            found[int(entry.name)] = cmdline
    return found


def test_explain_two_articles_remembered_in_a_redis_window(seeds_dir: Path, redis_server: object) -> None:
    url = redis_server.url  # type: ignore[attr-defined]
    assert main(["dedup", "--input", str(seeds_dir), "--output", "-", "--redis-url", url]) == 0
    ids = ["--id", "astana-talks.raw", "--id", "astana-talks.paragraphs"]
    result = run_cli("explain", "--redis-url", url, *ids)
    assert result.returncode == 0, result.stderr
    assert "duplicate" in result.stdout and "sketches" in result.stdout
    missing = run_cli("explain", "--redis-url", url, "--id", "astana-talks.raw", "--id", "never-seen")
    assert missing.returncode == 1 and "never-seen" in missing.stdout
