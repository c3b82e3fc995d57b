"""Logging set-up for the worker: one JSON object per line (`json`) or readable lines (`console`).

`NEWSWORKER_LOG_FORMAT=json` (the image's default) is what Loki, Elasticsearch and CloudWatch
ingest: every record is one line holding `time` (UTC ISO-8601), `level`, `logger`, `message`, the
record's context passed as `extra=` (`topic`, `partition`, `offset`, `article_id`, `reason`,
`stage`, ...) and, for an exception, `exc_info` (the traceback as one escaped string). No record
ever spans two lines, faust's multi-line tables included: JSON escapes their newlines.

Faust's own records go through the same handler: `run_worker` starts `faust.Worker` with
`override_logging=False`, so this module's root handler is the only one, set once before faust
starts (faust would otherwise replace it with its colour handler and a banner).

Never blocking (the worker and its prepare processes): a log stream nobody reads (a stalled log
shipper, Docker's blocking mode with a log driver whose endpoint is down) fills its pipe, and a
write to it blocks. Written from the event loop, it froze the worker, its endpoints and the
signals it handles (an operator-fault review). `NonBlockingHandler` formats each record where it
is logged and writes it from a thread of its own; lines that find its buffer full are dropped
and counted, and the count is written once the stream moves again. The cost: lines still queued
when the process is killed (SIGKILL, a crash in native code) are lost; an exit writes them (2 s
at most: the stream may be what is stuck).

Secrets: every secret value the settings hold (the Redis URL's password, the Redis, SASL and TLS
key passwords) is replaced by `***` in every formatted record, whoever logged it. Nothing in the
worker logs a secret on purpose; this is the net under third-party messages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sys
import threading
from collections.abc import Iterable
from typing import IO, Any, Literal
from urllib.parse import unquote, urlsplit

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["json", "console"]

#: What a redacted secret is replaced by.
MASK = "***"

#: Attributes every LogRecord has (plus those faust/mode add), so not context worth a field.
_STANDARD = frozenset(RESERVED_ATTRS) | {"message", "asctime", "color_message", "taskName"}


def secrets_of(settings: Any) -> list[str]:
    """The secret strings in `settings` (a `worker.config.Settings`), longest first.

    The Redis URL counts only for its password part: the rest (host, port) is what an operator
    needs to read in a connection error.
    """
    found: list[str] = []
    for name in ("kafka_sasl_password", "kafka_ssl_key_password", "redis_password", "redis_ssl_key_password"):
        value = getattr(settings, name, None)
        if value is not None:
            found.append(value.get_secret_value())
    url = getattr(settings, "redis_url", None)
    if url is not None:
        password = urlsplit(url.get_secret_value()).password
        if password:
            found += [password, unquote(password)]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


class _Redacting:
    """Mixin: replaces each secret (and its JSON-escaped form) by `MASK` in the formatted text."""

    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
            escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
            if escaped != secret:
                text = text.replace(escaped, MASK)
        return text


class JsonLineFormatter(_Redacting, JsonFormatter):
    """One JSON object per record: time, level, logger, message, then the record's context."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
            json_default=str,  # an exotic value in `extra=` must not lose the record
        )
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class ConsoleFormatter(_Redacting, logging.Formatter):
    """`time LEVEL logger message key=value...`: the context fields follow the message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        if context:
            text += " " + " ".join(f"{k}={v}" for k, v in context.items())
        return self.redact(text)


class NonBlockingHandler(logging.Handler):
    """Writes formatted lines to `stream` from a thread of its own, so that a caller never blocks
    on the stream; at most `capacity` lines wait, more are dropped and counted (see the module
    docstring)."""

    def __init__(self, stream: IO[str], capacity: int = 10_000) -> None:
        super().__init__()
        self.stream = stream
        self.dropped = 0
        self._lines: queue.Queue[str | None] = queue.Queue(capacity)
        self._idle = threading.Event()
        self._idle.set()
        self._writer = threading.Thread(target=self._write_lines, name="newsworker-log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        try:
            self._idle.clear()
            self._lines.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _write_lines(self) -> None:
        written_drops = 0
        while True:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                self._idle.set()
                continue
            if line is None:
                self._idle.set()
                return
            dropped = self.dropped
            with contextlib.suppress(Exception):  # a closed stream: nothing to tell it
                if dropped > written_drops:
                    # formatted as every other line (one JSON object in json mode)
                    notice = logging.LogRecord(
                        "newsworker", logging.WARNING, __file__, 0,
                        "%d log line(s) dropped: the log stream was not read",
                        (dropped - written_drops,), None,
                    )
                    self.stream.write(self.format(notice) + "\n")
                    written_drops = dropped
                self.stream.write(line + "\n")
                self.stream.flush()
            if self._lines.empty():
                self._idle.set()

    def flush(self, timeout: float = 2.0) -> None:
        """Wait (at most `timeout`) for the lines logged so far to be written."""
        self._idle.wait(timeout)

    def close(self) -> None:
        """Write what is waiting (at most ~2 s: the stream may be the reason it waits), then stop."""
        with contextlib.suppress(queue.Full):
            self._lines.put_nowait(None)
        self._writer.join(2.0)
        super().close()


def configure(
    log_format: LogFormat = "console",
    level: str | int = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
    nonblocking: bool = False,
) -> logging.Handler:
    """Make one handler on `stream` (stderr) the root logger's only one; returns it.
    `nonblocking`: a `NonBlockingHandler` (the worker), else a plain `StreamHandler`.

    Python's warnings go through logging too, so that in json mode they are JSON lines as well.
    """
    target = stream if stream is not None else sys.stderr
    handler: logging.Handler = NonBlockingHandler(target) if nonblocking else logging.StreamHandler(target)
    secrets = tuple(secrets)
    handler.setFormatter(JsonLineFormatter(secrets) if log_format == "json" else ConsoleFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)
    return handler
