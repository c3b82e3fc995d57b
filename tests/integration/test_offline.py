"""Offline dedup (`newsworker dedup`) as a user runs it: files in, one result line per record."""

from __future__ import annotations

import gzip
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


def test_dedup_dead_letters_lines_only_the_worker_decodes(tmp_path: Path, redis_server: object) -> None:
    # `newsworker dedup` leaves JSON to the prepare stage (read_records(check=False)): a line
    # nested too deeply or not UTF-8 is still a dead letter with its reason, and the rest flows
    src = tmp_path / "in.jsonl"
    good = json.dumps({"id": "ok", "text": "The harbour reopened after a week of storms, the council said."})
    src.write_bytes(b"\n".join([b"[" * 100_000 + b"]" * 100_000, b'{"text": "\xff"}', b"[1, 2]", good.encode()]) + b"\n")
    out = tmp_path / "out.jsonl"
    assert main(["dedup", "--input", str(src), "--output", str(out), "--redis-url", redis_server.url]) == 0  # type: ignore[attr-defined]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["dead_letter", "dead_letter", "dead_letter", "clean"], rows
    assert [r["reason"].split(":")[0] for r in rows[:3]] == ["not_an_object", "not_utf8", "not_an_object"], rows


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


def test_a_truncated_gzip_input_is_read_to_where_it_breaks_and_the_rest_is_a_dead_letter(
    tmp_path: Path, redis_server: object
) -> None:
    lines = [json.dumps({"id": f"t{i}", "text": f"Story {i}: " + " ".join(f"w{i}x{k}" for k in range(30))}) for i in range(3000)]
    data = gzip.compress("\n".join(lines).encode() + b"\n")
    src = tmp_path / "in.jsonl.gz"
    src.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "out.jsonl"
    assert main(["dedup", "--input", str(src), "--output", str(out), "--redis-url", redis_server.url]) == 0  # type: ignore[attr-defined]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[-1]["status"] == "dead_letter" and rows[-1]["reason"].startswith(f"unreadable_file: {src}:")
    assert 0 < len(rows) - 1 < len(lines)
    assert [r["id"] for r in rows[:-2]] == [f"t{i}" for i in range(len(rows) - 2)]  # every line before it
    assert all(r["status"] == "clean" for r in rows[:-2])


def test_unknown_input_path_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("dedup", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_one_batch_is_prepared_without_spawning_processes_and_more_use_them(redis_server: object) -> None:
    """A small input (one batch) costs no process start-up; a longer one is prepared by the
    configured processes; both give every record its answer, the same either way."""
    import asyncio
    import multiprocessing
    import uuid

    import msgspec

    from tests.support.factories import synthetic_article
    from worker.config import Settings
    from worker.files.inputs import InputRecord
    from worker.files.offline import OfflineResult, dedup_records

    articles = [synthetic_article(i % 40) | {"id": f"a{i}"} for i in range(120)]
    records = [InputRecord(msgspec.json.encode(a), f"t:{i}") for i, a in enumerate(articles)]

    def run(batch_size: int) -> tuple[list[str], int]:
        children = 0
        answers: list[str] = []

        def seen(_: InputRecord, result: OfflineResult) -> None:
            nonlocal children
            children = max(children, len(multiprocessing.active_children()))
            answers.append(f"{result.id} {result.status} {result.duplicate_of}")

        settings = Settings(redis_key_prefix=f"t{uuid.uuid4().hex[:8]}", prepare_processes=1)
        url = redis_server.url  # type: ignore[attr-defined]
        asyncio.run(dedup_records(records, url, settings, on_result=seen, batch_size=batch_size, secure=False))
        return answers, children

    one_batch, spawned = run(batch_size=200)
    assert spawned == 0 and len(one_batch) == 120
    batches, spawned = run(batch_size=10)
    assert spawned == 1 and batches == one_batch
    assert sum(" duplicate a" in a for a in one_batch) == 80  # copies 40..119 of articles 0..39


def test_an_article_that_lost_its_long_first_sentence_is_dropped_and_the_other_way_linked(
    tmp_path: Path, redis_server: object
) -> None:
    """Through the real store and decision: an article that begins inside an earlier one (its
    first sentence of 36 words cut, nothing new in front: past the moved search's reach) is
    its duplicate. The same two arriving the other way round (a sentence put in front of the
    whole earlier text) is the follow-up shape: published, linked to its story."""

    def pair(p: str) -> tuple[str, str]:
        lead = " ".join(f"{p}lead{i}" for i in range(36)) + "."
        body = " ".join(f"{p}body{i}" for i in range(260)) + "."
        return f"{lead} {body}", body

    full, cut = pair("x")
    later_full, earlier_cut = pair("y")
    src = tmp_path / "in.jsonl"
    rows_in = [
        {"id": "full", "text": full},
        {"id": "cut", "text": cut},
        {"id": "short-first", "text": earlier_cut},
        {"id": "long-later", "text": later_full},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows_in), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["dedup", "--input", str(src), "--output", str(out), "--redis-url", redis_server.url]) == 0  # type: ignore[attr-defined]
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["full"]["status"] == "clean"
    assert rows["cut"]["status"] == "duplicate" and rows["cut"]["duplicate_of"] == "full"
    assert rows["short-first"]["status"] == "clean"
    assert rows["long-later"]["status"] == "clean" and rows["long-later"]["related_to"] == "short-first"


def test_a_redis_that_evicts_is_named_and_what_it_evicted_during_the_run_is_told(
    tmp_path: Path, make_redis: object, redis_server: object, capsys: object
) -> None:
    """An evicting Redis (a shared cache's allkeys-lru, too small) forgets earlier articles
    without an error: every record still gets its answer, and the run says what happened."""
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    lines = [
        json.dumps({"id": f"e{i}", "text": f"Story {i}: " + " ".join(f"w{i}x{k}" for k in range(60))})
        for i in range(6000)
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    small = make_redis(extra_args=["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"])  # type: ignore[operator]
    assert main(["dedup", "--input", str(src), "--output", str(out), "--redis-url", small.url]) == 0
    err = capsys.readouterr().err
    assert len(out.read_text().splitlines()) == len(lines)
    assert "maxmemory-policy allkeys-lru" in err and "noeviction" in err
    assert "Redis evicted" in err and "key(s) during the run" in err
    # the deployed setting (noeviction) and room enough: nothing to say
    assert main(["dedup", "--input", str(src), "--output", str(out), "--redis-url", redis_server.url]) == 0  # type: ignore[attr-defined]
    assert "warning" not in capsys.readouterr().err


def _articles(n: int, tag: str) -> str:
    return "".join(
        json.dumps({"id": f"{tag}-{i}", "text": f"Story {i} of {tag}: the council met on day {i} and voted {i * 7} to {i}."})
        + "\n"
        for i in range(n)
    )


def test_an_output_inside_an_input_directory_is_refused_before_anything_is_read(
    tmp_path: Path, redis_server: object
) -> None:
    """`--output in/results.jsonl` with `--input in/`: the output was listed as an input, and
    the run read its own results back as articles for ever (4.7 GB in 10 minutes, a review's
    finding). Refused, naming why; nothing decided or written."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(_articles(3, "loop"), encoding="utf-8")
    out = tmp_path / "in" / "results.jsonl"
    result = run_cli("dedup", "--input", str(tmp_path / "in"), "--output", str(out), "--redis-url", redis_server.url)  # type: ignore[attr-defined]
    assert result.returncode == 2 and "inside the input directory" in result.stderr
    assert not out.exists()
    # a name the walk does not read is no loop: allowed (a review of the first version)
    log = tmp_path / "in" / "run.log"
    result = run_cli("dedup", "--input", str(tmp_path / "in"), "--output", str(log), "--redis-url", redis_server.url)  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr
    assert len(log.read_text().splitlines()) == 3


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path: Path, redis_server: object) -> None:
    """`--output in.jsonl --input in.jsonl` emptied the input before reading it and said
    "0 record(s)", exit 0 (a review's finding)."""
    src = tmp_path / "in.jsonl"
    src.write_text(_articles(5, "same"), encoding="utf-8")
    before = src.read_bytes()
    result = run_cli("dedup", "--input", str(src), "--output", str(src), "--redis-url", redis_server.url)  # type: ignore[attr-defined]
    assert result.returncode == 2 and "writing it would empty it" in result.stderr
    assert src.read_bytes() == before
    result = run_cli("dedup", "--input", str(src), "--output", str(tmp_path), "--redis-url", redis_server.url)  # type: ignore[attr-defined]
    assert result.returncode == 2 and "is a directory" in result.stderr and "Traceback" not in result.stderr


def test_every_input_is_checked_before_anything_is_decided(tmp_path: Path, redis_server: object) -> None:
    """A missing second input, or one named with a suffix no reader reads, stopped the run after
    the first file was decided and recorded in Redis (or was read as one garbage article)."""
    good = tmp_path / "good.jsonl"
    good.write_text(_articles(3, "checked"), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    for second, said in ((tmp_path / "missing.jsonl", "no such file"), (tmp_path / "feed.csv", "not an article")):
        if second.suffix == ".csv":
            second.write_text("id,text\n1,x\n", encoding="utf-8")
        result = run_cli("dedup", "--input", str(good), str(second), "--output", str(out), "--redis-url", redis_server.url)  # type: ignore[attr-defined]
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert not out.exists()


def test_ndjson_files_are_read_and_a_directory_s_unread_files_are_named(tmp_path: Path, redis_server: object) -> None:
    """A directory of `.ndjson` files was read as empty, without a word (a review's finding)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ndjson").write_text(_articles(4, "nd"), encoding="utf-8")
    (tmp_path / "in" / "b.json.gz").write_bytes(gzip.compress(_articles(2, "gz").encode()))
    out = tmp_path / "out.jsonl"
    result = run_cli("dedup", "--input", str(tmp_path / "in"), "--output", str(out), "--redis-url", redis_server.url)  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [f"nd-{i}" for i in range(4)]
    assert "skipped 1 file(s)" in result.stderr and "b.json.gz" in result.stderr


def test_a_closed_output_pipe_stops_the_run_without_a_traceback(tmp_path: Path, redis_server: object) -> None:
    """`newsworker dedup --output - | head -1` ended in a BrokenPipeError traceback."""
    import subprocess
    import sys

    src = tmp_path / "in.jsonl"
    src.write_text(_articles(3000, "pipe"), encoding="utf-8")
    command = f"{sys.executable} -m worker dedup --input {src} --output - --redis-url {redis_server.url} | head -1"  # type: ignore[attr-defined]
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert json.loads(result.stdout)["id"] == "pipe-0"
    assert "Traceback" not in result.stderr and "output was closed" in result.stderr, result.stderr


def test_ctrl_c_stops_the_run_after_the_batch_being_decided(tmp_path: Path, redis_server: object) -> None:
    """One Ctrl-C (SIGINT) was sometimes swallowed (the run went on to its end, exit 0), else a
    traceback without a summary (a review's finding). It stops after the batch being decided:
    every result line written is counted in the summary, exit 130."""
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in.jsonl"
    src.write_text(_articles(60_000, "sigint"), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "dedup", "--input", str(src), "--output", str(out), "--redis-url", redis_server.url],  # type: ignore[attr-defined]
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while (not out.exists() or out.stat().st_size == 0) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # the first results are out: the run is under way
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    written = len(out.read_text().splitlines())
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert f"{written} record(s)" in stderr and 0 < written < 60_000
