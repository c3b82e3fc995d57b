"""The Faust wiring: options from our settings only, the agent and topics, input events as messages."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from worker.config import Settings
from worker.service.app import build_app, faust_options, message_of


def test_faust_reads_none_of_its_own_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """faust reads unprefixed variables (WEB_PORT, BROKER_URL, ...) unless given an empty env."""
    monkeypatch.setenv("BROKER_URL", "kafka://wrong:1")
    monkeypatch.setenv("WEB_PORT", "1")
    options = faust_options(Settings(kafka_bootstrap="a:1,b:2"))
    assert options["env"] == {}
    assert options["broker"] == ["kafka://a:1", "kafka://b:2"]
    assert options["web_enabled"] is False


def test_producer_requests_fit_the_largest_outcome() -> None:
    settings = Settings(max_message_bytes=4 * 1024 * 1024)
    options = faust_options(settings)
    # a clean event holds the cleaned body (at most ~2x the input after JSON escaping)
    assert options["producer_max_request_size"] > 2 * settings.max_message_bytes
    assert options["consumer_max_fetch_size"] >= 2 * settings.max_message_bytes
    assert options["topic_allow_declare"] is False  # topics are the operator's


def test_app_has_one_agent_on_the_input_topic() -> None:
    settings = Settings(input_topic="in.topic", app_id="test.app", prepare_processes=0)
    app = build_app(settings, registry=CollectorRegistry())
    agents = list(app.agents.values())
    assert len(agents) == 1
    assert list(agents[0].channel.topics) == ["in.topic"]
    assert app.conf.id == "test.app"


def test_an_install_without_the_compiled_passes_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from worker.normalize import text as text_module
    from worker.service import app as app_module

    registry = CollectorRegistry()
    build_app(Settings(prepare_processes=0), registry=registry)
    compiled = {"fingerprint_hashing": "compiled", "text_passes": "compiled"}
    labels = {"version": app_module.__version__, "fingerprint_scheme": app_module.DEFAULT_SCHEME.version}
    assert registry.get_sample_value("newsworker_build_info", {**labels, **compiled, "worker_id": _worker_id(registry)}) == 1
    assert "in Python" not in caplog.text

    monkeypatch.setattr(app_module, "COMPILED", False)
    monkeypatch.setattr(text_module, "COMPILED", False)
    registry = CollectorRegistry()
    build_app(Settings(prepare_processes=0), registry=registry)
    python = {"fingerprint_hashing": "python", "text_passes": "python"}
    assert registry.get_sample_value("newsworker_build_info", {**labels, **python, "worker_id": _worker_id(registry)}) == 1
    assert "shingles hashed in Python" in caplog.text
    assert "match-key passes run in Python" in caplog.text
    # the host's name (a pod's on Kubernetes): it was always "" (a review's finding)
    import socket

    assert _worker_id(registry) == socket.gethostname() != ""


def _worker_id(registry: CollectorRegistry) -> str:
    for metric in registry.collect():
        if metric.name == "newsworker_build_info":
            return str(metric.samples[0].labels["worker_id"])
    raise AssertionError("no build info")


@pytest.mark.parametrize("value", [b'{"id": "x"}', "{\"id\": \"\ud800\"}", None])
def test_message_of_keeps_bytes_and_origin(value: object) -> None:
    event = SimpleNamespace(
        value=value, message=SimpleNamespace(topic="news.raw", partition=3, offset=41, timestamp=1.5)
    )
    m = message_of(event)
    assert isinstance(m.value, bytes)
    assert m.origin == "news.raw:3:41" and (m.topic, m.partition, m.offset, m.timestamp) == ("news.raw", 3, 41, 1.5)
    if value is None:
        assert m.value == b""
    elif isinstance(value, str):
        assert m.value == value.encode("utf-8", "surrogatepass")  # a lone surrogate survives to the DLQ


# faust's consumer objects are built and never started here: they leave loops and clients unclosed
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_consumer_fetch_wait_is_ours_not_fausts_hard_coded_1500_ms() -> None:
    """faust passes fetch_max_wait_ms=1500 to aiokafka itself; the worker's value must replace it
    on the consumer faust builds, and aiokafka must still hand that attribute to its fetcher (an
    upgrade that renames it would silently bring back ~0.4 s of latency per article on Tansu)."""
    import asyncio
    import inspect

    import faust
    from aiokafka import AIOKafkaConsumer

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        app = build_app(Settings(consumer_fetch_max_wait_ms=123, prepare_processes=0), registry=CollectorRegistry())
        plain = faust.App("plain.app", broker="kafka://127.0.0.1:1")  # without the worker's value

        threads = []

        async def build(of: faust.App) -> AIOKafkaConsumer:
            thread = of.consumer._thread  # type: ignore[attr-defined]
            threads.append(thread)
            consumer = thread._create_worker_consumer(of.transport)
            assert isinstance(consumer, AIOKafkaConsumer)
            return consumer

        assert loop.run_until_complete(build(app))._fetch_max_wait_ms == 123
        assert loop.run_until_complete(build(plain))._fetch_max_wait_ms == 1500
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        for thread in threads:  # each consumer thread made a loop of its own
            thread.thread_loop.close()
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


def test_faust_keeps_a_stream_s_processors_where_the_agent_removes_its_own() -> None:
    # The agent adds its byte-budget processor and removes it from `stream._processors` when it
    # ends (as faust's take_events does with its own): an upgrade of faust that moves the list
    # fails here, not as a second processor on a restarted stream.
    app = build_app(Settings(app_id="processors-test"), registry=CollectorRegistry())
    [agent] = app.agents.values()
    stream = agent.stream()

    def processor(value: object) -> object:
        return value

    stream.add_processor(processor)
    assert processor in stream._processors
    stream._processors.remove(processor)
    assert processor not in stream._processors


def test_events_are_faust_s_own_built_without_a_settings_lookup_each() -> None:
    from faust.types import Message

    app = build_app(Settings(app_id="events-test", prepare_processes=0), registry=CollectorRegistry())
    message = Message("in", 2, 41, 0.0, 0, None, None, b"k", b"v", None)
    event = app.create_event(b"k", b"v", None, message)
    assert type(event) is app.conf.Event
    assert (event.key, event.value, event.message, event.app) == (b"k", b"v", message, app)
    assert app.create_event(b"k2", b"v2", None, message).value == b"v2"  # the cached class, again


def test_partitions_added_to_the_input_are_seen_within_a_minute() -> None:
    """aiokafka refreshes the topics' metadata every 5 minutes by default: partitions added to the
    input topic went unread, and out of the lag, for that long (an operator-fault review)."""
    app = build_app(Settings(prepare_processes=0), registry=CollectorRegistry())
    assert app.conf.consumer_metadata_max_age_ms == 60_000
