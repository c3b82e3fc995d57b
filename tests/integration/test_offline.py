"""Offline dedup (`newsworker dedup`) as a user runs it: files in, one result line per record."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.processes import ROOT, run_cli
from worker.cli import main


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


def test_unknown_input_path_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("dedup", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o"))
    assert result.returncode == 2 and "no such file" in result.stderr
