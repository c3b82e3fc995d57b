"""`newsworker produce` streams its input: it never holds the whole file in memory."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.console import Console

from worker.files import produce
from worker.files.inputs import InputRecord


def quiet() -> Console:
    return Console(file=io.StringIO())


class RecordingProducer:
    """Stands in for AIOKafkaProducer: keeps what was sent, delivers at once."""

    sent: ClassVar[list[bytes]] = []

    def __init__(self, **kwargs: Any) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, topic: str, value: bytes) -> asyncio.Future[object]:
        RecordingProducer.sent.append(value)
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def test_run_produce_reads_the_input_as_it_sends_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """When the reader hands out record n, everything up to the last full window was sent: the
    input is pulled as the producer goes, not read up front (as `list(read_records(...))` did)."""
    total = 3 * produce.WINDOW + 7
    sent_when_read: list[int] = []

    def reader(paths: list[Path]) -> Iterator[InputRecord]:
        for n in range(total):
            sent_when_read.append(len(RecordingProducer.sent))
            yield InputRecord(b'{"text": "x"}', f"in.jsonl:{n + 1}")

    monkeypatch.setattr(RecordingProducer, "sent", [])
    monkeypatch.setattr(produce, "AIOKafkaProducer", RecordingProducer)
    monkeypatch.setattr(produce, "read_records", reader)
    status = produce.run_produce("127.0.0.1:1", "t", [tmp_path], send_invalid=False, console=quiet())
    assert status == 0 and len(RecordingProducer.sent) == total
    # Record n is read after the n records before it were sent (one at a time into the window).
    assert sent_when_read == list(range(total))


def test_run_produce_with_only_bad_records_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def reader(paths: list[Path]) -> Iterator[InputRecord]:
        yield InputRecord(b"{", "in.jsonl:1", "invalid JSON")

    monkeypatch.setattr(RecordingProducer, "sent", [])
    monkeypatch.setattr(produce, "AIOKafkaProducer", RecordingProducer)
    monkeypatch.setattr(produce, "read_records", reader)
    status = produce.run_produce("127.0.0.1:1", "t", [tmp_path], send_invalid=False, console=quiet())
    assert status == 1 and RecordingProducer.sent == []


def test_run_produce_with_an_empty_input_exits_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(RecordingProducer, "sent", [])
    monkeypatch.setattr(produce, "AIOKafkaProducer", RecordingProducer)
    monkeypatch.setattr(produce, "read_records", lambda paths: iter(()))
    status = produce.run_produce("127.0.0.1:1", "t", [tmp_path], send_invalid=False, console=quiet())
    assert status == 0


def test_run_produce_never_sends_an_unreadable_files_rest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def reader(paths: list[Path]) -> Iterator[InputRecord]:
        yield InputRecord(b'{"text": "x"}', "in.jsonl.gz:1")
        yield InputRecord(b"", "in.jsonl.gz:2", "the file cannot be read after line 1", unreadable=True)

    monkeypatch.setattr(RecordingProducer, "sent", [])
    monkeypatch.setattr(produce, "AIOKafkaProducer", RecordingProducer)
    monkeypatch.setattr(produce, "read_records", reader)
    out = io.StringIO()
    status = produce.run_produce("127.0.0.1:1", "t", [tmp_path], send_invalid=True, console=Console(file=out))
    assert status == 0 and RecordingProducer.sent == [b'{"text": "x"}']  # not even with --send-invalid
    assert "skipped" in out.getvalue() and "in.jsonl.gz:2" in out.getvalue()
