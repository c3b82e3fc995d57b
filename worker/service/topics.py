"""The start-up check that the worker's four topics exist, before faust subscribes to any.

Why it exists: a broker that auto-creates topics (Tansu does on produce and on a metadata request
naming the topic; Kafka does with `auto.create.topics.enable=true`) turns a misspelled
`NEWSWORKER_INPUT_TOPIC` into a new, empty topic, and the worker becomes "ready" while it consumes
nothing, silently. So the worker asks for the broker's list of *all* topics, a metadata request
that names none and so cannot create one, and refuses to start when one of its topics is not in
it: the operator sees the typo at once, in the exit status and the last log line.

A broker that cannot be reached here is not a reason to stop: the broker may be starting or
restarting (a worker started before Kafka, as docker-compose and a cluster restart do). faust's
producer would give up at once and the process would exit, so before faust starts the worker
waits for the broker (`wait_for_broker`), retrying with back-off while it serves `/healthz` (alive)
and `/readyz` (503, `broker` missing) and reports how long in `newsworker_broker_unreachable_seconds`;
then it checks the topics. Only an answer that lists the topics as absent stops it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from worker.config import Settings
from worker.errors import ConfigurationError

log = logging.getLogger(__name__)

#: How long the check waits for the broker's answer. Short: it runs once, before the worker
#: serves /healthz; a broker that does not answer in this time is waited for by `wait_for_broker`.
CHECK_TIMEOUT_SECONDS = 10.0
#: Back-off between attempts to reach the broker at start: doubles from the first to the last.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
#: While the broker stays away, a warning this often (the first failure is logged at once).
REPORT_EVERY_SECONDS = 60.0


class MissingTopics(ConfigurationError):
    """Some of the worker's topics do not exist on the broker (a configuration error)."""

    def __init__(self, missing: Sequence[tuple[str, str]]) -> None:
        self.missing = list(missing)
        named = ", ".join(f"NEWSWORKER_{setting}={topic!r}" for setting, topic in self.missing)
        super().__init__(
            f"topic(s) not on the broker: {named}; check the spelling, or create the topic(s) "
            "(the worker never creates topics, and a broker that auto-creates them would hide a typo)"
        )


def worker_topics(settings: Settings) -> list[tuple[str, str]]:
    """(setting name, topic) of every topic the worker reads or writes."""
    return [
        ("INPUT_TOPIC", settings.input_topic),
        ("CLEAN_TOPIC", settings.clean_topic),
        ("DUPLICATES_TOPIC", settings.duplicates_topic),
        ("DLQ_TOPIC", settings.dlq_topic),
    ]


def _reason(exc: BaseException) -> str:
    """An error for a log line. A timeout has no message, and an exception is always true, so
    `exc or name` printed nothing ("(); waiting"): the class name says what happened."""
    name, text = type(exc).__name__, str(exc)
    return f"{name}: {text}" if text and text != name else name


async def missing_topics(
    bootstrap: str, wanted: Sequence[tuple[str, str]], client_kwargs: dict[str, Any] | None = None
) -> list[tuple[str, str]] | None:
    """The (setting, topic) pairs absent from the broker's topic list; None if it did not answer."""
    try:
        return await _missing_topics(bootstrap, wanted, client_kwargs)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("could not list the topics of the broker at %s (%s); waiting", bootstrap, _reason(exc))
        return None


async def _missing_topics(
    bootstrap: str, wanted: Sequence[tuple[str, str]], client_kwargs: dict[str, Any] | None
) -> list[tuple[str, str]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(CHECK_TIMEOUT_SECONDS * 1000),
        **(client_kwargs or {}),
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await admin.start()
            # No topic named: a metadata request for all topics, which never auto-creates one.
            present = set(await admin.list_topics())
    finally:
        await admin.close()
    return [(setting, topic) for setting, topic in wanted if topic not in present]


async def wait_for_broker(
    settings: Settings,
    *,
    on_waiting: Callable[[float], None] = lambda seconds: None,
    clock: Callable[[], float] = time.monotonic,
) -> list[tuple[str, str]]:
    """Return once the broker lists its topics: the worker's topics it does not have.

    Until then retries with back-off (`RETRY_FIRST_SECONDS` doubling to `RETRY_MAX_SECONDS`),
    calls `on_waiting(seconds since the first failure)` after each failure, logs the first one
    and then one line every `REPORT_EVERY_SECONDS`. Never gives up: a worker without a broker has
    nothing to do but wait and say so; SIGTERM cancels the wait.
    """
    from worker.service.security import aiokafka_security_kwargs

    wanted = worker_topics(settings)
    kwargs = aiokafka_security_kwargs(settings)
    delay = RETRY_FIRST_SECONDS
    first_failure: float | None = None
    reported = 0.0
    while True:
        try:
            missing = await _missing_topics(settings.kafka_bootstrap, wanted, kwargs)
        except (KafkaError, OSError, TimeoutError) as exc:
            now = clock()
            if first_failure is None:
                first_failure = reported = now
                log.warning(
                    "broker %s not reachable (%s); waiting for it, /readyz says 'broker' meanwhile",
                    settings.kafka_bootstrap, _reason(exc),
                )
            elif now - reported >= REPORT_EVERY_SECONDS:
                reported = now
                log.warning(
                    "broker %s still not reachable after %.0f s (%s)",
                    settings.kafka_bootstrap, now - first_failure, _reason(exc),
                )
            on_waiting(now - first_failure)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            continue
        if first_failure is not None:
            log.warning("broker %s reachable after %.0f s", settings.kafka_bootstrap, clock() - first_failure)
        return missing


def check_topics(settings: Settings) -> bool:
    """Raise `MissingTopics` when one of the worker's topics is not on the broker (see the module);
    True when the broker answered, False when it did not (nothing checked)."""
    from worker.service.security import aiokafka_security_kwargs

    missing = asyncio.run(
        missing_topics(settings.kafka_bootstrap, worker_topics(settings), aiokafka_security_kwargs(settings))
    )
    if missing:
        raise MissingTopics(missing)
    return missing is not None
