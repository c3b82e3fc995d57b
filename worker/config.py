"""Settings, parsed once at the edge from `NEWSWORKER_*` environment variables.

Faust itself reads some unprefixed variables (`WEB_PORT`, `BROKER`, ...); the worker never passes
those through, it builds faust's configuration explicitly from these settings (see `agents.py`).
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

# The worker uses no pydantic plugins, and looking for them reads the entry points of every
# installed distribution when the first model is built (~10-25 ms of every start: the CLI's and
# each prepare process'). An operator who does use one sets PYDANTIC_DISABLE_PLUGINS to "".
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY_SECONDS = 86_400


def redis_url_problem(url: str) -> str | None:
    """What is wrong with a Redis URL's shape, or None; names the scheme only (the URL may hold
    a password). Also `--redis-url` of the commands (worker/cli.py)."""
    scheme = url.split("://", 1)[0] if "://" in url else "no"
    if scheme not in ("redis", "rediss", "unix"):
        return f"the URL must start with redis://, rediss:// or unix:// (got {scheme} scheme)"
    return None


#: A bootstrap server's host: a name or IPv4 address, or an IPv6 address in brackets.
_HOST_RE: Final = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")


class Settings(BaseSettings):
    """Every tunable of the worker. Environment: `NEWSWORKER_<NAME>` (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSWORKER_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        # A refused value is not echoed in the error: it may be a URL with a password in it. The
        # command line names the value itself where it is not a secret (worker/cli.py).
        hide_input_in_errors=True,
    )

    # --- connections -----------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        pattern=r"^[^,\s]+:\d{1,5}(,[^,\s]+:\d{1,5})*$",
        description="Kafka bootstrap servers, host:port[,host:port]",
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        # The pattern lets through what the client then fails on at start, with a traceback or
        # an endless wait (an operator-fault review): a port past 65535, another separator than
        # ",", a scheme (PLAINTEXT://host:9092 is the Java client's listener syntax).
        for server in value.split(","):
            host, _, port = server.rpartition(":")
            if "://" in server or not 0 < int(port) < 65536 or not _HOST_RE.fullmatch(host):
                raise ValueError(
                    f"{server!r} is no host:port (servers are separated by commas, without a scheme; "
                    "ports 1-65535)"
                )
        return value
    redis_url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"),
        description="Redis URL (redis:// or rediss://); may hold a password",
    )
    redis_cluster: bool = Field(False, description="NEWSWORKER_REDIS_URL points at a Redis Cluster node")
    app_id: str = Field("newsworker", min_length=1, description="Faust app id = Kafka consumer group id")

    # --- security (see worker/service/security.py; every secret also from a file: <NAME>_FILE) --------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol; SASL_SSL for SCRAM over TLS"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    kafka_sasl_password_file: Path | None = Field(None, description="File holding the SASL password")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for the brokers (else system CAs)")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS)")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client private key (mutual TLS)")
    kafka_ssl_key_password: SecretStr | None = Field(None, description="Password of the client key (secret)")
    kafka_ssl_key_password_file: Path | None = Field(None, description="File holding the client key password")
    kafka_ssl_check_hostname: bool = Field(True, description="Verify the brokers' host names")
    redis_url_file: Path | None = Field(None, description="File holding the Redis URL (with a password)")
    redis_username: str | None = Field(None, description="Redis ACL user (Redis 6+); default user when unset")
    redis_password: SecretStr | None = Field(None, description="Redis AUTH password (secret)")
    redis_password_file: Path | None = Field(None, description="File holding the Redis password")
    redis_tls: bool = Field(False, description="Use TLS to Redis (same as a rediss:// URL)")
    redis_ssl_cafile: Path | None = Field(None, description="CA bundle for Redis (else system CAs)")
    redis_ssl_certfile: Path | None = Field(None, description="Client certificate for Redis (mutual TLS)")
    redis_ssl_keyfile: Path | None = Field(None, description="Client private key for Redis (mutual TLS)")
    redis_ssl_check_hostname: bool = Field(True, description="Verify Redis' host name")

    # --- topics ------------------------------------------------------------------------------
    input_topic: str = Field(min_length=1, default="news.raw", description="Raw articles in")
    clean_topic: str = Field(min_length=1, default="news.clean", description="Canonical cleaned articles out")
    duplicates_topic: str = Field(min_length=1, default="news.duplicates", description="Duplicate events out")
    dlq_topic: str = Field(min_length=1, default="news.dlq", description="Dead letters out")
    check_topics_at_start: bool = Field(
        True,
        description="Refuse to start when a topic is not on the broker (worker/service/topics.py); "
        "off only for brokers whose ACLs hide the topic list",
    )

    # --- HTTP ----------------------------------------------------------------------------------
    metrics_port: int = Field(9464, ge=1, le=65535, description="Port of /metrics, /healthz and /readyz")
    metrics_host: str = Field("0.0.0.0", description="Bind address of the metrics server")  # noqa: S104

    # --- processing ---------------------------------------------------------------------------
    # 1000: the per-batch costs (64 claim scripts, Faust's wake-ups, produce requests) are shared by
    # more articles; measured 2,681 vs 1,970 articles/s for 500 against 200, and -12 % CPU per
    # article for 1000 against 500 (docs/BENCHMARKS.md, session 21). Idle, batches stay small
    # (`batch_idle_seconds`); their bytes are bounded by `max_buffered_bytes`.
    batch_size: int = Field(
        1000, ge=1, description="Articles taken from the stream per batch (one Redis round trip each)"
    )
    # Batches adapt to the load (worker/service/batching.py): an idle pipeline takes what a short
    # wait brought (`batch_idle_seconds`), a busy one gathers up to `batch_size` or this timeout.
    batch_timeout_seconds: float = Field(
        0.2, gt=0, description="Longest wait to fill a batch while the pipeline is busy"
    )
    batch_idle_seconds: float = Field(
        0.05, gt=0, description="Wait to fill a batch while the pipeline is idle (at most the timeout)"
    )
    prepare_processes: int = Field(
        2,
        ge=0,
        description="Processes that decode, normalize and fingerprint batches beside the event loop "
        "(0: in the worker's own process)",
    )
    # A batch of 1,000 real articles takes ~0.2-1 s to prepare; 60 s (plus 5 s per MiB of input)
    # is only ever exceeded by a process that hangs or was stopped (docs/RELIABILITY.md).
    prepare_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest a prepare process may take for one batch (+5 s per MiB of input) "
        "before its pool is killed and replaced and the batch is prepared inline",
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Larger messages are dead-lettered unread"
    )
    # Counts bound faust's buffer and the batches; this bounds their bytes (worker/service/budget.py).
    # 64 MiB twice (the stream buffer, and what is taken but not delivered) kept a worker fed with
    # 3.5 MB articles at 778-869 MB for all its processes (128 MiB: 938), within the Kubernetes
    # manifest's 1 GiB; ordinary articles (1,000 of a few KB a batch) never reach it.
    max_buffered_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of input held at once in faust's stream buffer, and again in the taken, "
        "gathered and in-flight batches: large articles make smaller batches instead of exhausting "
        "memory (a message larger than this passes alone)",
    )
    max_text_chars: int = Field(1_000_000, ge=1000, description="Longer article text is dead-lettered")
    # A headline is a sentence or two; 2,000 characters is ten times the longest real ones, and a
    # title is copied into the clean and the duplicate event (a 4.3M-character "title" once made
    # a 7.9 MB clean event).
    max_title_chars: int = Field(2000, ge=100, description="Longer titles are dead-lettered")
    # An id is stored in the article's Redis record, which may also hold its canonical's id (a
    # duplicate) and its story's (a linked article). The record (~210 B without ids) must stay under
    # `hash-max-listpack-value 512` (deploy/redis/redis.conf), else its whole bucket hash becomes a
    # hashtable at ~3x the memory: three ids of 96 ASCII characters keep it at ~500 B (128 gave 593).
    # UUIDs (36) and URL hashes fit easily.
    max_id_chars: int = Field(96, ge=16, le=4096, description="Longer ids are dead-lettered")
    # 64 KiB shows a person what the message was, and keeps the dead letter of a huge message
    # well under Kafka's default 1 MiB record limit (a refused dead letter would stall the partition).
    dead_letter_preview_bytes: int = Field(
        64 * 1024, ge=0, description="How much of an oversized message the dead letter keeps"
    )

    # --- dedup --------------------------------------------------------------------------------
    dedup_window_seconds: int = Field(
        7 * DAY_SECONDS, ge=60, description="How long an article is remembered for dedup"
    )
    redis_key_prefix: str = Field(
        "nw",
        min_length=1,
        description="Prefix of every Redis key (scheme version follows it); no braces, no spaces",
    )
    redis_buckets: int = Field(
        4096, ge=1, description="Hash buckets per generation; see docs/DEDUP.md for sizing"
    )

    # --- Kafka behaviour ----------------------------------------------------------------------
    broker_session_timeout_seconds: float = Field(45.0, gt=0, description="Consumer group session timeout")
    # A Literal, so that a typo fails at start with the allowed values named, not 9 s later deep
    # inside aiokafka's consumer start-up ("middle" was once accepted that way).
    consumer_auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a new consumer group starts"
    )
    # faust hard-codes 1500 ms. A broker that holds a fetch for its whole wait instead of
    # answering as soon as data is there (Tansu does) adds ~0.4 s to every article's latency
    # with 1500 ms; with 100 ms, ~30 ms (docs/BENCHMARKS.md). On Kafka, which answers at once
    # (fetch.min.bytes 1), it only bounds the empty polls of an idle partition.
    consumer_fetch_max_wait_ms: int = Field(
        100, ge=1, le=60_000, description="Longest time the broker may hold a fetch that has no data yet"
    )
    shutdown_grace_seconds: float = Field(
        30.0, gt=0, allow_inf_nan=False, description="On SIGTERM, longest wait for the batch in flight"
    )
    # faust's default (1200 s) would hide a refused or missing output topic for 20 minutes; a
    # failed send is retried with back-off anyway, so a short timeout only makes it visible.
    publish_timeout_seconds: float = Field(
        30.0,
        gt=0,
        allow_inf_nan=False,
        description="Longest wait for one output send (metadata and delivery) before a retry",
    )
    data_dir: str = Field(
        default_factory=lambda: str(Path(tempfile.gettempdir()) / "newsworker"),
        description="Faust's scratch directory (no state is kept there)",
    )

    # --- observability ------------------------------------------------------------------------
    tracked_sources_csv: str = Field(
        "",
        alias="NEWSWORKER_TRACKED_SOURCES",
        description="Comma-separated sources broken out in metrics; all others count as `other`",
    )
    stats_interval_seconds: float = Field(30.0, gt=0, description="Period of the one-line stats log")
    # 60 s: far above a Redis or broker blip retried with back-off (5 s cap), well below what an
    # operator would call an outage. 300 s before not live: restarting costs a redelivery of the
    # batches in flight, and a worker stuck that long is more likely wedged than waiting.
    stuck_seconds: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="With lag or batches in flight and no batch finished for this long, "
        "/readyz fails (stuck) and newsworker_pipeline_stalled is 1",
    )
    stuck_liveness_seconds: float = Field(
        300.0,
        gt=0,
        allow_inf_nan=False,
        description="Stuck this long, /healthz fails too, so the orchestrator restarts the worker",
    )
    log_format: Literal["json", "console"] = Field(
        "console", description="`json`: one JSON object per line (the image's default); `console`: text"
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr) -> SecretStr:
        # Checked here so that a typo ("redis:/host", "http://...") fails at start, not at the
        # first batch; the message names the scheme only, since the URL may hold a password.
        problem = redis_url_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("redis_key_prefix")
    @classmethod
    def _plain_prefix(cls, value: str) -> str:
        # Braces are Redis Cluster hash tags: `{x}` in the prefix puts every key of the index on
        # one node (its 64 shards are tags of their own); spaces or control characters are typos.
        if "{" in value or "}" in value:
            raise ValueError(
                "braces are Redis Cluster hash tags (every key would land on one node); leave them out"
            )
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("spaces and control characters are not allowed")
        return value

    @property
    def tracked_sources(self) -> list[str]:
        return [s.strip() for s in self.tracked_sources_csv.split(",") if s.strip()]


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """A warning for each `NEWSWORKER_*` variable that names no setting (a typo is otherwise
    ignored without a word, the default silently in force), with the setting it may mean."""
    known = {f"NEWSWORKER_{name.upper()}" for name in Settings.model_fields}
    known |= {field.alias.upper() for field in Settings.model_fields.values() if field.alias}
    known |= {f"{name}_FILE" for name in known}  # secrets from files (worker/service/security.py)
    known |= {name for name in environ if name.startswith(_TOOL_VARIABLES)}
    warnings = []
    for name in sorted(n for n in environ if n.upper().startswith("NEWSWORKER_") and n.upper() not in known):
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{name} is no setting of the worker and is ignored{hint}")
    return warnings


#: Variables of the project's own tools and tests, not the worker's settings.
_TOOL_VARIABLES: Final = ("NEWSWORKER_FAULT_", "NEWSWORKER_BENCH_", "NEWSWORKER_TEST_")
