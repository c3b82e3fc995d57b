"""`newsworker produce`: feed article files into a Kafka topic, with a progress bar.

A record the worker would reject for its shape (invalid JSON, not UTF-8) is reported with its
file and line number and, by default, not sent; the rest still goes through. `send_invalid=True`
sends such records as they are (to exercise the dead-letter topic on purpose).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from worker.files.inputs import InputRecord, input_files, read_records
from worker.service.lifecycle import EXIT_UNAVAILABLE

#: Messages in flight before the producer awaits deliveries: large enough to batch well,
#: small enough to bound memory on multi-gigabyte inputs.
WINDOW = 1000


@dataclass
class ProduceReport:
    sent: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (origin, problem)


async def produce_records(
    bootstrap: str,
    topic: str,
    records: Iterable[InputRecord],
    *,
    send_invalid: bool = False,
    max_request_size: int = 64 * 1024 * 1024,
    on_progress: Callable[[int], None] | None = None,
    client_kwargs: dict[str, Any] | None = None,
) -> ProduceReport:
    """Send every record to `topic`. `client_kwargs`: SASL/TLS (`security.aiokafka_security_kwargs`)."""
    report = ProduceReport()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,  # Tansu does not support the idempotent producer
        max_request_size=max_request_size,
        linger_ms=5,
        **(client_kwargs or {}),
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()  # else "Unclosed AIOKafkaProducer" follows the error
        raise
    try:
        pending: list[asyncio.Future[object]] = []
        for record in records:
            if record.problem and (record.unreadable or not send_invalid):
                report.skipped.append((record.origin, record.problem))
                continue
            pending.append(await producer.send(topic, record.value))
            report.sent += 1
            if len(pending) >= WINDOW:
                await asyncio.gather(*pending)
                if on_progress:
                    on_progress(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        if on_progress:
            on_progress(len(pending))
    finally:
        await producer.stop()
    return report


def run_produce(
    bootstrap: str,
    topic: str,
    paths: list[Path],
    *,
    send_invalid: bool,
    console: Console,
    client_kwargs: dict[str, Any] | None = None,
) -> int:
    """CLI body: returns the exit status (0, or 1 when nothing could be read).

    The input is streamed: records are read as the producer's window frees up, never all held at
    once (inputs run to gigabytes). So the bar has no total count of articles, which would need a
    first pass over the whole input; it counts what was sent.
    """
    listed = input_files(paths)  # every path checked before the broker is contacted
    read = 0

    def counted(records: Iterable[InputRecord]) -> Iterator[InputRecord]:
        nonlocal read
        for record in records:
            read += 1
            yield record

    with Progress(
        TextColumn(f"[bold]producing to {topic}"),
        BarColumn(),
        TextColumn("{task.completed:,} sent"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("produce", total=None)
        try:
            report = asyncio.run(
                produce_records(
                    bootstrap,
                    topic,
                    counted(read_records(listed)),
                    send_invalid=send_invalid,
                    on_progress=lambda n: progress.advance(task, n),
                    client_kwargs=client_kwargs,
                )
            )
        except KafkaConnectionError as exc:  # a traceback and "Unclosed AIOKafkaProducer" before
            progress.stop()
            console.print(f"newsworker produce: the Kafka broker at {bootstrap} is unreachable ({exc})")
            return EXIT_UNAVAILABLE
    for path in listed.skipped:
        console.print(f"[yellow]skipped[/] {path}: no reader for this file's name")
    for origin, problem in report.skipped:
        console.print(f"[yellow]skipped[/] {origin}: {problem}")
    console.print(f"sent {report.sent} article(s) to {topic}; skipped {len(report.skipped)}")
    return 0 if report.sent or not read else 1
