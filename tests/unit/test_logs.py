"""worker.logs: one JSON object per line with context, readable console lines, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from worker.config import Settings
from worker.logs import MASK, configure, secrets_of


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_one_object_per_line_with_context(root_restored: None) -> None:
    out = io.StringIO()
    configure("json", "INFO", stream=out)
    log = logging.getLogger("worker.service.app")
    log.warning(
        "dead letter: %s", "not JSON",
        extra={"topic": "news.raw", "partition": 2, "offset": 41, "article_id": None, "reason": "invalid_json"},
    )
    log.info("a table\n| a | b |\n| 1 | 2 |")  # faust's multi-line tables
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = lines_of(out)
    assert len(lines) == 3
    first, table, failed = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "worker.service.app"
    assert first["message"] == "dead letter: not JSON"
    assert (first["topic"], first["partition"], first["offset"], first["reason"]) == ("news.raw", 2, 41, "invalid_json")
    assert first["time"].endswith("+00:00")  # UTC ISO-8601
    assert table["message"].count("\n") == 2
    assert "ValueError: boom" in failed["exc_info"]


def test_json_keeps_non_ascii_and_survives_unserializable_extra(root_restored: None) -> None:
    out = io.StringIO()
    configure("json", "INFO", stream=out)
    logging.getLogger("x").warning("خبر", extra={"thing": object()})
    record = json.loads(out.getvalue())
    assert record["message"] == "خبر"
    assert "object" in record["thing"]


def test_console_appends_context(root_restored: None) -> None:
    out = io.StringIO()
    configure("console", "INFO", stream=out)
    logging.getLogger("worker.service.app").warning("dead letter", extra={"topic": "news.raw", "offset": 7})
    [line] = lines_of(out)
    assert " WARNING worker.service.app dead letter topic=news.raw offset=7" in line


def test_level_filters(root_restored: None) -> None:
    out = io.StringIO()
    configure("json", "warning", stream=out)
    logging.getLogger("x").info("hidden")
    assert out.getvalue() == ""


def test_secrets_of_settings() -> None:
    settings = Settings(
        redis_url=SecretStr("redis://user:p%40ss-word@redis:6379/0"),
        redis_password=SecretStr("redis-secret-1"),
        kafka_sasl_password=SecretStr("sasl-secret-2"),
    )
    found = secrets_of(settings)
    assert {"p%40ss-word", "p@ss-word", "redis-secret-1", "sasl-secret-2"} <= set(found)
    assert "redis" not in found  # the host stays readable


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secrets_are_masked_whoever_logs_them(root_restored: None, fmt: str) -> None:
    out = io.StringIO()
    secret = 'pa"ss\\word'  # JSON escapes both characters
    configure(fmt, "INFO", secrets=[secret, "sasl-secret-2"], stream=out)
    logging.getLogger("aiokafka").error("connect failed with %s and sasl-secret-2", secret, extra={"url": f"redis://:{secret}@h"})
    text = out.getvalue()
    assert "sasl-secret-2" not in text and "pa\"ss" not in text and 'pa\\"ss' not in text
    assert MASK in text
    if fmt == "json":
        json.loads(text)


def test_the_worker_s_log_handler_never_blocks_on_a_stream_nobody_reads() -> None:
    """A log pipe nobody reads (a stalled log shipper, Docker's blocking mode with its driver's
    endpoint down) froze the worker: its event loop blocked in a write, endpoints and signals
    with it (an operator-fault review). Lines that find the buffer full are dropped and counted,
    and the count is written once the stream moves again; every line is written or counted."""
    import fcntl
    import os
    import threading

    from worker.logs import NonBlockingHandler

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe
    stream = os.fdopen(write_end, "w", encoding="utf-8")
    handler = NonBlockingHandler(stream, capacity=100)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.nonblocking")
    logger.propagate = False
    logger.addHandler(handler)
    reader = os.fdopen(read_end, "rb")
    try:
        done = threading.Event()

        def log_a_lot() -> None:
            for i in range(5_000):
                logger.warning("line %d %s", i, "x" * 200)
            done.set()

        threading.Thread(target=log_a_lot, daemon=True).start()
        assert done.wait(30), "logging blocked on a full pipe"
        assert handler.dropped > 0
        os.set_blocking(read_end, False)
        received = b""
        pause = threading.Event()
        for _ in range(600):  # drain what the writer thread writes once the pipe moves
            received += reader.read() or b""
            if received.count(b"\nline ") + received.startswith(b"line ") + handler.dropped >= 5_000:
                break
            pause.wait(0.05)
        lines = [line for line in received.split(b"\n") if line.startswith(b"line ")]
        assert len(lines) + handler.dropped == 5_000
        assert lines[0].startswith(b"line 0 ")
        assert b"log line(s) dropped: the log stream was not read" in received
    finally:
        logger.removeHandler(handler)
        handler.close()
        stream.close()
        reader.close()


def test_the_dropped_lines_notice_is_a_json_line_in_json_mode() -> None:
    """The notice of dropped lines was written raw, not as the JSON object every other line is
    (a review of the non-blocking handler): a JSON-lines reader broke on it."""
    import fcntl
    import os
    import threading

    from worker.logs import JsonLineFormatter, NonBlockingHandler

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ
    stream = os.fdopen(write_end, "w", encoding="utf-8")
    handler = NonBlockingHandler(stream, capacity=2)
    handler.setFormatter(JsonLineFormatter(()))
    logger = logging.getLogger("test.nonblocking.json")
    logger.propagate = False
    logger.addHandler(handler)
    reader = os.fdopen(read_end, "rb")
    try:
        for i in range(200):
            logger.warning("line %d %s", i, "x" * 100)
        assert handler.dropped > 0
        os.set_blocking(read_end, False)
        received, pause = b"", threading.Event()
        for _ in range(200):
            received += reader.read() or b""
            if b"dropped" in received and received.endswith(b"\n"):
                break
            pause.wait(0.05)
        records = [json.loads(line) for line in received.splitlines()]
        assert any("log line(s) dropped" in r["message"] for r in records)
    finally:
        logger.removeHandler(handler)
        handler.close()
        stream.close()
        reader.close()
