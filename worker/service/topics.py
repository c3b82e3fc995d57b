"""The start-up check that the worker's four topics exist, before faust subscribes to any.

Why it exists: a broker that auto-creates topics (Tansu does on produce and on a metadata request
naming the topic; Kafka does with `auto.create.topics.enable=true`) turns a misspelled
`NEWSWORKER_INPUT_TOPIC` into a new, empty topic, and the worker becomes "ready" while it consumes
nothing, silently. So the worker asks for the broker's list of *all* topics, a metadata request
that names none and so cannot create one, and refuses to start when one of its topics is not in
it: the operator sees the typo at once, in the exit status and the last log line.

A broker that cannot be reached here is not a reason to stop: the worker starts as before and
faust reconnects (the broker may be restarting); only an answer that lists the topics as absent is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from worker.config import Settings
from worker.errors import ConfigurationError

log = logging.getLogger(__name__)

#: How long the check waits for the broker's answer. Short: it runs once, before the worker
#: serves /healthz, and a broker that does not answer in this time is left to faust's reconnects.
CHECK_TIMEOUT_SECONDS = 10.0


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


async def missing_topics(
    bootstrap: str, wanted: Sequence[tuple[str, str]], client_kwargs: dict[str, Any] | None = None
) -> list[tuple[str, str]] | None:
    """The (setting, topic) pairs absent from the broker's topic list; None if it did not answer."""
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
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("could not list the broker's topics (%s); starting without the topic check", exc)
        return None
    finally:
        await admin.close()
    return [(setting, topic) for setting, topic in wanted if topic not in present]


def check_topics(settings: Settings) -> None:
    """Raise `MissingTopics` when one of the worker's topics is not on the broker (see the module)."""
    from worker.service.security import aiokafka_security_kwargs

    missing = asyncio.run(
        missing_topics(settings.kafka_bootstrap, worker_topics(settings), aiokafka_security_kwargs(settings))
    )
    if missing:
        raise MissingTopics(missing)
