"""Smoke test of the benchmark harness' pure parts (bench/): no broker, no Redis, no timing claims."""

from __future__ import annotations

import math
import random
from pathlib import Path

import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bench import corpus, peer, preload, stats
from bench.number_changes import numbers, replaced
from bench.run import Plan
from worker.dedup.decision import decode_record, encode_record
from worker.dedup.fingerprint import DEFAULT_SCHEME
from worker.service.metrics import Metrics

REAL = [
    {"id": "a1", "url": "https://x.example/1", "title": "t", "text": "الرئيس قال اليوم إن الحكومة " * 30},
    {
        "id": "a2",
        "url": "https://x.example/2",
        "title": "t",
        "text": "the minister said the talks went on " * 20,
    },
]


def test_synthetic_articles_are_deterministic_distinct_and_sized_like_the_corpus() -> None:
    vocab = corpus.Vocabulary(REAL)
    first = list(corpus.synthetic_articles(vocab, 20, seed=3))
    again = list(corpus.synthetic_articles(vocab, 20, seed=3))
    assert first == again
    assert len({a["text"] for a in first}) == 20
    assert all(len(a["text"].split()) >= 40 for a in first)
    assert {a["id"] for a in first} == {f"syn-{n}" for n in range(20)}


def test_articles_for_takes_real_ones_first_then_synthetic() -> None:
    vocab = corpus.Vocabulary(REAL)
    articles = list(corpus.articles_for(REAL, 5, vocab))
    assert [a["id"] for a in articles[:2]] == ["a1", "a2"]
    assert all(a["source"] == "synthetic" for a in articles[2:])


def test_vocabulary_falls_back_without_a_corpus() -> None:
    vocab = corpus.Vocabulary([])
    article = corpus.synthetic_article(vocab, random.Random(1), 0)
    assert article["text"].strip()


def test_messages_are_raw_article_json_keyed_by_prefixed_id() -> None:
    pairs = corpus.messages(REAL, id_prefix="r1-")
    assert [k for k, _ in pairs] == [b"r1-a1", b"r1-a2"]
    decoded = msgspec.json.decode(pairs[0][1])
    assert decoded["id"] == "r1-a1"
    assert decoded["text"] == REAL[0]["text"]


def test_throughput_and_latency_figures() -> None:
    ts = [1000 + 10 * n for n in range(101)]  # one output every 10 ms
    assert stats.steady_throughput(ts, warmup_share=0.0) == 100.0
    assert stats.steady_throughput(ts) == 100.0
    assert stats.steady_throughput([5]) == 0.0
    lat = stats.latencies({b"a": 0, b"b": 0, b"c": 0, b"x": 0}, {b"a": 10, b"b": 20, b"c": 300})
    assert (lat.count, lat.p50_ms, lat.max_ms) == (3, 20.0, 300.0)
    assert math.isnan(stats.latencies({}, {}).p50_ms)
    assert stats.percentile([1, 2, 3, 4], 50) == 2
    assert stats.paired_ratios([8, 9], [10, 10]) == [0.8, 0.9]
    assert stats.median([3, 1, 2]) == 2
    assert stats.growth_percent(100, 105) == 5.0


def test_stage_times_parse_the_workers_own_histograms() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for _ in range(4):
        metrics.observe_stage("normalize", 0.001)
    metrics.observe_stage("publish", 0.002)
    stages = stats.stage_seconds(generate_latest(registry).decode())
    assert set(stages) >= {"decode", "normalize", "fingerprint", "dedup", "publish"}
    assert stages["normalize"] == (0.004, 4.0)
    per_article = stats.per_article_us(stages, {}, articles=2)
    assert round(per_article["normalize"]) == 2000
    assert round(per_article["publish"]) == 1000


def test_mean_batch_reads_the_workers_batch_histogram() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    assert math.isnan(stats.histogram_mean(generate_latest(registry).decode()))
    for n in (100, 300):
        metrics.batch(n)
    assert stats.histogram_mean(generate_latest(registry).decode()) == 200.0


def test_each_side_goes_first_in_turn() -> None:
    assert [stats.turn(["a", "b"], run) for run in range(3)] == [["a", "b"], ["b", "a"], ["a", "b"]]
    firsts = [stats.turn(["a", "b", "c"], run)[0] for run in range(3)]
    assert firsts == ["a", "b", "c"]
    assert all(sorted(stats.turn(["a", "b", "c"], run)) == ["a", "b", "c"] for run in range(5))
    assert stats.turn([], 3) == []


def test_preload_items_have_the_real_sizes_and_round_trip() -> None:
    item = preload.synthetic_item(random.Random(1), 7)
    assert len(item.fp.bands) == DEFAULT_SCHEME.full_bands + DEFAULT_SCHEME.lead_bands
    assert len(item.fp.sketch) == DEFAULT_SCHEME.num_perm
    assert decode_record(encode_record(item.record)) == item.record
    assert item.article_id == "pre-7"


def test_peer_shingles_and_plans() -> None:
    assert peer._shingles("a b c d e f") == [b"a b c d e", b"b c d e f"]
    assert peer._shingles("a b") == [b"a b"]
    quick = Plan.quick()
    assert quick.articles < Plan().articles
    assert len(quick.memory_marks) == 3


def test_the_a_b_summary_pairs_each_round_s_sides() -> None:
    from bench.ab_stream import FIGURES, summary

    def side(cpu: float, batch: float) -> dict[str, float]:
        return {"cpu_us_per_article": cpu, "main_cpu_us_per_article": cpu / 2, "articles_per_s": 1e6 / cpu,
                "mean_batch_articles": batch}

    rounds = [{"a": side(500, 600), "b": side(450, 950)}, {"a": side(600, 550), "b": side(630, 1000)},
              {"a": side(520, 570), "b": side(494, 990)}]
    s = summary(rounds)
    assert set(s) == set(FIGURES)
    cpu = s["cpu_us_per_article"]
    assert cpu["b_over_a"] == [0.9, 1.05, 0.95] and cpu["b_over_a_median"] == 0.95 and cpu["b_lower_in"] == 2
    assert (cpu["a_median"], cpu["b_median"]) == (520, 494)
    assert s["mean_batch_articles"]["b_lower_in"] == 0


def test_the_a_b_run_refuses_a_directory_that_is_no_built_checkout(tmp_path: Path) -> None:
    from bench.ab_stream import checkout

    with pytest.raises(SystemExit, match="not a checkout"):
        checkout(str(tmp_path))
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "__init__.py").write_text("")
    with pytest.raises(SystemExit, match="no compiled extensions"):
        checkout(str(tmp_path))
    (tmp_path / "worker" / "_x.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert checkout(str(tmp_path)) == tmp_path.resolve()


def test_the_number_study_reads_numbers_from_keys_and_tells_replaced_from_added() -> None:
    from worker.normalize.text import match_key

    assert numbers(match_key("قتل ١٬٠٠٠ شخص و 05 جرحى في 2024")) == {"1000", "5", "2024"}
    assert numbers(match_key("1,000 people at the G7")) == {"1000"}
    teaser, article, update = {"10", "2024"}, {"10", "2024", "3"}, {"25", "2024"}
    assert not replaced(teaser, article) and not replaced(article, teaser)
    assert replaced(teaser, update)
