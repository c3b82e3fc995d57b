"""Logging set-up for the worker: one JSON object per line (`json`) or readable lines (`console`).

`NEWSWORKER_LOG_FORMAT=json` (the image's default) is what Loki, Elasticsearch and CloudWatch
ingest: every record is one line holding `time` (UTC ISO-8601), `level`, `logger`, `message`, the
record's context passed as `extra=` (`topic`, `partition`, `offset`, `article_id`, `reason`,
`stage`, ...) and, for an exception, `exc_info` (the traceback as one escaped string). No record
ever spans two lines, faust's multi-line tables included: JSON escapes their newlines.

Faust's own records go through the same handler: `run_worker` starts `faust.Worker` with
`override_logging=False`, so this module's root handler is the only one, set once before faust
starts (faust would otherwise replace it with its colour handler and a banner).

Secrets: every secret value the settings hold (the Redis URL's password, the Redis, SASL and TLS
key passwords) is replaced by `***` in every formatted record, whoever logged it. Nothing in the
worker logs a secret on purpose; this is the net under third-party messages.
"""

from __future__ import annotations

import json
import logging
import sys
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


def configure(
    log_format: LogFormat = "console",
    level: str | int = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Make one handler on `stream` (stderr) the root logger's only one; returns it.

    Python's warnings go through logging too, so that in json mode they are JSON lines as well.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    secrets = tuple(secrets)
    handler.setFormatter(JsonLineFormatter(secrets) if log_format == "json" else ConsoleFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)
    return handler
