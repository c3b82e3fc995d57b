"""`newsworker produce` as a user runs it: files into the input topic, bad lines reported."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.processes import run_cli


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


def test_an_unreachable_broker_is_one_line_and_exit_69_and_inputs_are_checked_first(tmp_path: Path) -> None:
    """A broker nobody listens at gave a traceback and "Unclosed AIOKafkaProducer"; a missing
    input was found only after the broker was tried (a review's finding)."""
    from worker.tools.embedded import find_free_port

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "A short article."}) + "\n", encoding="utf-8")
    nobody = f"127.0.0.1:{find_free_port()}"
    result = run_cli("produce", "--bootstrap", nobody, "--topic", "t", str(src))
    assert result.returncode == 69, result.stderr
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr and "Unclosed" not in result.stderr
    result = run_cli("produce", "--bootstrap", nobody, "--topic", "t", str(src), str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2 and "no such file" in result.stderr
