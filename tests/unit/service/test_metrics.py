"""Metrics: names, labels, bounds and the stats line, against a fresh registry per test."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from worker.service.metrics import (
    KNOWN_DEAD_LETTER_REASONS,
    MAX_FREE_LABEL_VALUES,
    OTHER,
    PREPARE_RESTART_REASONS,
    STAGES,
    Metrics,
    format_stats,
    log_stats_periodically,
    observe_many,
)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def make_metrics(registry: CollectorRegistry):
    def make(**kwargs) -> Metrics:
        return Metrics(registry, **kwargs)

    return make


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_uses_only_the_injected_registry(make_metrics, registry) -> None:
    from prometheus_client import REGISTRY

    before = set(REGISTRY._names_to_collectors)
    make_metrics()
    assert set(REGISTRY._names_to_collectors) == before
    assert "newsworker_articles_consumed_total" in registry._names_to_collectors


def test_names_follow_conventions(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.set_build_info(version="1.2.3", fingerprint_scheme="v1")
    metrics.redis_call("dedup", 0.001, ok=True)
    names = {m.name for m in registry.collect()}
    own = {n for n in names if n != "python_info"}
    assert all(n.startswith("newsworker_") for n in own), own
    for family in registry.collect():
        if family.type == "counter":
            # prometheus_client strips `_total` from the family name and adds it to the sample.
            assert any(s.name.endswith("_total") for s in family.samples), family.name


def test_consumed_counts_articles_and_bytes(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.consumed(3, 1500)
    metrics.consumed(1, 10)
    assert value(registry, "newsworker_articles_consumed_total") == 4
    assert value(registry, "newsworker_consumed_bytes_total") == 1510


def test_outcomes_are_precreated_at_zero(make_metrics, registry) -> None:
    make_metrics()
    for outcome in ("clean", "duplicate", "dead_letter"):
        processed = "newsworker_articles_processed_total"
        assert value(registry, processed, outcome=outcome, source=OTHER) == 0
    for kind in ("exact", "near", "url"):
        assert value(registry, "newsworker_duplicates_total", kind=kind, source=OTHER) == 0
    for stage in STAGES:
        assert value(registry, "newsworker_stage_duration_seconds_count", stage=stage) == 0


def test_outcome_labels(make_metrics, registry) -> None:
    metrics = make_metrics(tracked_sources=frozenset({"reuters"}))
    metrics.outcome("clean", source="reuters")
    metrics.outcome("clean", source="some blog")
    metrics.outcome("clean")
    metrics.outcome("duplicate", kind="near", source="reuters")
    metrics.outcome("duplicate", kind="weird")
    metrics.outcome("dead_letter", reason="invalid_json")
    processed = "newsworker_articles_processed_total"
    assert value(registry, processed, outcome="clean", source="reuters") == 1
    assert value(registry, processed, outcome="clean", source=OTHER) == 2
    assert value(registry, "newsworker_duplicates_total", kind="near", source="reuters") == 1
    assert value(registry, "newsworker_duplicates_total", kind=OTHER, source=OTHER) == 1
    dead = "newsworker_dead_letters_total"
    assert value(registry, dead, reason="invalid_json", source=OTHER) == 1


def test_outcomes_counted_together_add_up_as_one_by_one(make_metrics, registry) -> None:
    metrics = make_metrics(tracked_sources=frozenset({"reuters"}))
    metrics.outcome("clean", source="reuters", count=5)
    metrics.outcome("clean", source="reuters")
    metrics.outcome("duplicate", kind="exact", source="reuters", count=3)
    metrics.outcome("dead_letter", reason="invalid_json", count=2)
    processed = "newsworker_articles_processed_total"
    assert value(registry, processed, outcome="clean", source="reuters") == 6
    assert value(registry, processed, outcome="duplicate", source="reuters") == 3
    assert value(registry, "newsworker_duplicates_total", kind="exact", source="reuters") == 3
    assert value(registry, processed, outcome="dead_letter", source=OTHER) == 2
    assert value(registry, "newsworker_dead_letters_total", reason="invalid_json", source=OTHER) == 2


def test_unknown_outcome_is_a_bug(make_metrics) -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        make_metrics().outcome("maybe")


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("not_utf8", "not_utf8"),
        ("schema_mismatch", "schema_mismatch"),  # a new class is admitted as is
        ("Expecting value: line 1 column 1 (char 0)", OTHER),  # free text never becomes a label
        (None, OTHER),
    ],
)
def test_dead_letter_reason_label(make_metrics, registry, reason, label) -> None:
    make_metrics().outcome("dead_letter", reason=reason)
    assert value(registry, "newsworker_dead_letters_total", reason=label, source=OTHER) == 1


def test_free_labels_stay_bounded(make_metrics, registry) -> None:
    metrics = make_metrics()
    for i in range(MAX_FREE_LABEL_VALUES * 3):
        metrics.outcome("dead_letter", reason=f"reason_{i}")
        metrics.redis_call(f"op_{i}", 0.001, ok=False)
    reasons = {
        s.labels["reason"]
        for f in registry.collect()
        if f.name == "newsworker_dead_letters"
        for s in f.samples
    }
    assert len(reasons) <= MAX_FREE_LABEL_VALUES + 1
    assert OTHER in reasons
    operations = {
        s.labels["operation"]
        for f in registry.collect()
        if f.name == "newsworker_redis_errors"
        for s in f.samples
    }
    assert len(operations) <= MAX_FREE_LABEL_VALUES + 1
    total = sum(
        s.value
        for f in registry.collect()
        if f.name == "newsworker_redis_errors"
        for s in f.samples
        if s.name.endswith("_total")
    )
    assert total == MAX_FREE_LABEL_VALUES * 3  # folded, never dropped


def test_stage_histogram(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.observe_stage("normalize", 0.00002)
    metrics.observe_stage("dedup", 0.01)
    metrics.observe_stage("publish", 0.02)
    name = "newsworker_stage_duration_seconds"
    assert value(registry, f"{name}_count", stage="normalize") == 1
    assert value(registry, f"{name}_bucket", stage="normalize", le="1e-05") == 0
    assert value(registry, f"{name}_bucket", stage="normalize", le="2.5e-05") == 1
    assert value(registry, f"{name}_bucket", stage="normalize", le="10.0") == 1
    assert value(registry, f"{name}_count", stage="dedup") == 1
    assert value(registry, f"{name}_count", stage="publish") == 1
    with pytest.raises(ValueError, match="unknown stage"):
        metrics.observe_stage("parse", 1.0)


def test_end_to_end_clamps_future_publication(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.observe_end_to_end(-30.0)
    metrics.observe_end_to_end(2 * 86_400.0)
    assert value(registry, "newsworker_end_to_end_delay_seconds_count") == 2
    assert value(registry, "newsworker_end_to_end_delay_seconds_sum") == 2 * 86_400.0
    assert value(registry, "newsworker_end_to_end_delay_seconds_bucket", le="0.05") == 1


_AMOUNTS = st.lists(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, 0.005, 0.01, 0.025, 1.0, 2.5, 10.0, -0.0, -1.0]),  # bounds and edges
    ),
    max_size=40,
)


def _exposition(registry: CollectorRegistry) -> list[str]:
    # the `_created` timestamps differ between two registries; every other line must not
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


@given(_AMOUNTS)
def test_observing_many_at_once_is_observing_each(amounts: list[float]) -> None:
    from prometheus_client import Histogram

    one, many = CollectorRegistry(), CollectorRegistry()
    each = Histogram("h", "doc", registry=one)
    labelled_each = Histogram("l", "doc", ["stage"], registry=one, buckets=(0.001, 0.1, 5.0))
    together = Histogram("h", "doc", registry=many)
    labelled_together = Histogram("l", "doc", ["stage"], registry=many, buckets=(0.001, 0.1, 5.0))
    for histogram in (labelled_each, labelled_together):  # children listed in creation order
        histogram.labels("x"), histogram.labels("y")
    for amount in amounts:
        each.observe(amount)
        labelled_each.labels("x").observe(amount)
    observe_many(together, amounts)
    observe_many(labelled_together.labels("x"), amounts)
    observe_many(labelled_together.labels("y"), [])
    assert _exposition(many) == _exposition(one)


def test_stage_observations_at_once_are_those_one_by_one() -> None:
    seen = [("decode", 0.00002), ("normalize", 0.0004), ("fingerprint", 0.0002)] * 50 + [("normalize", 3.0)]
    one, many = CollectorRegistry(), CollectorRegistry()
    each, together = Metrics(one), Metrics(many)
    for stage, seconds in seen:
        each.observe_stage(stage, seconds)
    together.observe_stages(seen)
    each.observe_end_to_end(-2.0)
    each.observe_end_to_end(0.3)
    together.observe_end_to_end_many([-2.0, 0.3])

    def observed(registry: CollectorRegistry) -> list[str]:
        return [line for line in _exposition(registry) if re.match(r"newsworker_(stage|end_to_end)", line)]

    assert observed(many) == observed(one)
    assert len(observed(one)) > 40
    with pytest.raises(ValueError, match="unknown stage"):
        together.observe_stages([("parse", 1.0)])


def test_batch_and_in_flight(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.batch(200)
    metrics.in_flight(200)
    metrics.in_flight(-150)
    assert value(registry, "newsworker_batch_size_articles_bucket", le="200.0") == 1
    assert value(registry, "newsworker_batch_size_articles_bucket", le="100.0") == 0
    assert value(registry, "newsworker_in_flight_articles") == 50


def test_redis_and_kafka(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.redis_call("dedup", 0.002, ok=True)
    metrics.redis_call("dedup", 0.5, ok=False)
    metrics.redis_retry()
    metrics.kafka_send_error("dlq")
    metrics.kafka_send_error("elsewhere")
    metrics.rebalance()
    metrics.set_partitions_assigned(3)
    assert value(registry, "newsworker_redis_call_duration_seconds_count", operation="dedup") == 2
    assert value(registry, "newsworker_redis_errors_total", operation="dedup") == 1
    assert value(registry, "newsworker_redis_retries_total") == 1
    assert value(registry, "newsworker_kafka_send_errors_total", topic_role="dlq") == 1
    assert value(registry, "newsworker_kafka_send_errors_total", topic_role="clean") == 0
    assert value(registry, "newsworker_kafka_send_errors_total", topic_role=OTHER) == 1
    assert value(registry, "newsworker_rebalances_total") == 1
    assert value(registry, "newsworker_partitions_assigned") == 3


def test_consumer_lag_per_partition(make_metrics, registry) -> None:
    metrics = make_metrics()
    metrics.set_consumer_lag(0, 10)
    metrics.set_consumer_lag(1, -2)  # offsets read at different moments
    metrics.set_consumer_lag(2, 5)
    lag = "newsworker_consumer_lag_messages"
    assert value(registry, lag, partition="0") == 10
    assert value(registry, lag, partition="1") == 0
    metrics.retain_lag_partitions([0])  # 1 and 2 moved to another worker
    assert value(registry, lag, partition="2") is None
    assert metrics.snapshot()["lag"] == 10


def test_build_info(make_metrics, registry) -> None:
    metrics = make_metrics(worker_id="w-1")
    metrics.set_build_info(version="0.1.0", fingerprint_scheme="v1")
    metrics.set_build_info(
        version="0.1.0", fingerprint_scheme="v2", fingerprint_hashing="python", text_passes="python"
    )
    info = "newsworker_build_info"
    labels = {"version": "0.1.0", "worker_id": "w-1"}
    built = {"fingerprint_hashing": "python", "text_passes": "python"}
    assert value(registry, info, fingerprint_scheme="v2", **built, **labels) == 1
    compiled = {"fingerprint_hashing": "compiled", "text_passes": "compiled"}
    assert value(registry, info, fingerprint_scheme="v1", **compiled, **labels) is None


def test_process_metrics_are_exported(make_metrics, registry) -> None:
    make_metrics()
    text = generate_latest(registry).decode()
    assert "python_info" in text
    if re.search(r"^newsworker_process_", text, re.M) is None:
        pytest.skip("process metrics need /proc (Linux)")
    assert value(registry, "newsworker_process_resident_memory_bytes") > 0


def test_snapshot_and_stats_line(make_metrics) -> None:
    metrics = make_metrics()
    metrics.outcome("clean")
    metrics.outcome("clean")
    metrics.outcome("duplicate", kind="exact")
    metrics.outcome("dead_letter", reason="not_utf8")
    metrics.set_consumer_lag(0, 7)
    snap = metrics.snapshot()
    assert snap["processed"] == 4
    assert (snap["clean"], snap["duplicates"], snap["dead_letters"], snap["lag"]) == (2, 1, 1, 7)
    assert format_stats(snap, 12.34) == (
        "stats processed=4 clean=2 duplicates=1 dead_letters=1 lag=7 rate=12.3/s"
    )


def test_log_stats_periodically(make_metrics, caplog) -> None:
    metrics = make_metrics()
    logger = logging.getLogger("test.stats")

    async def run() -> None:
        task = asyncio.create_task(log_stats_periodically(metrics, 0.02, logger))
        metrics.outcome("clean")
        await asyncio.sleep(0.07)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.INFO, logger="test.stats"):
        asyncio.run(run())
    lines = [r.getMessage() for r in caplog.records if r.name == "test.stats"]
    assert len(lines) >= 2
    assert lines[0].startswith("stats processed=1 clean=1 duplicates=0 dead_letters=0 lag=0 rate=")
    assert lines[-1].endswith("rate=0.0/s")


def test_prepare_process_collector_reads_cpu_and_memory_of_live_processes() -> None:
    """Read from /proc for the given pids; a pid that is gone is left out, not an error."""
    import os

    from worker.service.metrics import PrepareProcessCollector

    registry = CollectorRegistry()
    registry.register(PrepareProcessCollector(lambda: [os.getpid(), 2**22 + 12345]))
    sum(i * i for i in range(200_000))  # some CPU of our own
    assert registry.get_sample_value("newsworker_prepare_processes") == 1
    assert (registry.get_sample_value("newsworker_prepare_cpu_seconds_total") or 0) > 0
    assert (registry.get_sample_value("newsworker_prepare_resident_memory_bytes") or 0) > 10_000_000


def test_refusals_restarts_and_redis_health(make_metrics, registry) -> None:
    from worker.service.preparer import ISOLATION_REASONS, RESTART_REASONS

    metrics = make_metrics()
    assert value(registry, "newsworker_redis_refused_total", kind="oom") == 0  # precreated
    metrics.redis_refused("oom")
    metrics.redis_refused("something new")
    assert value(registry, "newsworker_redis_refused_total", kind="oom") == 1
    assert value(registry, "newsworker_redis_refused_total", kind=OTHER) == 1
    assert RESTART_REASONS == PREPARE_RESTART_REASONS
    assert set(ISOLATION_REASONS) <= set(KNOWN_DEAD_LETTER_REASONS)  # precreated at zero
    from worker.service.publisher import OUTPUT_TOO_LARGE

    assert OUTPUT_TOO_LARGE in KNOWN_DEAD_LETTER_REASONS
    metrics.prepare_restart("died")
    assert value(registry, "newsworker_prepare_restarts_total", reason="died") == 1
    assert value(registry, "newsworker_prepare_restarts_total", reason="timeout") == 0
    metrics.redis_data_lost()
    assert value(registry, "newsworker_redis_data_lost_total") == 1
    metrics.set_redis_memory(750, 1000)
    assert value(registry, "newsworker_redis_memory_used_ratio") == 0.75
    metrics.set_redis_memory(750, 0)  # no maxmemory: never "full"
    assert value(registry, "newsworker_redis_memory_used_ratio") == 0
    assert value(registry, "newsworker_redis_hash_max_listpack_value_bytes") == -1  # not read yet
    metrics.set_redis_listpack_value(64)
    assert value(registry, "newsworker_redis_hash_max_listpack_value_bytes") == 64
    assert value(registry, "newsworker_redis_evicting") == 0
    assert value(registry, "newsworker_redis_evicted_keys_total") == 0  # precreated
    metrics.set_redis_evicting(True)
    metrics.redis_evicted(40)
    assert value(registry, "newsworker_redis_evicting") == 1
    assert value(registry, "newsworker_redis_evicted_keys_total") == 40
    metrics.set_clock_offset(-3600.5)
    assert value(registry, "newsworker_clock_offset_seconds") == -3600.5


def test_pipeline_stalled_is_read_at_scrape_time(make_metrics, registry) -> None:
    metrics = make_metrics()
    stalled = [0.0]
    metrics.track_progress(lambda: stalled[0], stuck_after=60)
    assert value(registry, "newsworker_pipeline_stalled") == 0
    stalled[0] = 61.0
    assert value(registry, "newsworker_pipeline_stalled_seconds") == 61
    assert value(registry, "newsworker_pipeline_stalled") == 1


def test_clean_articles_warnings_are_counted_by_a_bounded_label() -> None:
    from worker.service.metrics import WARNING_LABELS

    registry = CollectorRegistry()
    m = Metrics(registry)

    def count(label: str) -> float | None:
        return registry.get_sample_value("newsworker_clean_warnings_total", {"warning": label})

    assert all(count(label) == 0.0 for label in WARNING_LABELS)  # precreated: panels read 0, not no data
    m.warned(["html_in_text", "html_extracted", "published_at 'yesterday' is not a recognized time format; ignored"])
    m.warned(["published_at '2024-01-01 10:00' has no time zone; assumed UTC", "something new"])
    assert (count("html_in_text"), count("html_extracted"), count("published_at"), count("other")) == (1, 1, 2, 1)


def test_every_warning_the_normalizer_writes_is_a_known_code() -> None:
    """A new `notes.warn(W_...)` must be in WARNING_CODES, or the metric would call it "other"."""
    import ast

    import worker.normalize.text as text

    tree = ast.parse(Path(text.__file__).read_text(encoding="utf-8"))
    written = {
        name.id
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "warn"
        for name in ast.walk(call)
        if isinstance(name, ast.Name) and name.id.startswith("W_")
    }
    assert written and {getattr(text, name) for name in written} <= set(text.WARNING_CODES)
