"""`newsworker explain`: the verdict, each signal against its threshold, the shared passages."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tests.support.factories import synthetic_article
from worker.cli import main
from worker.dedup.decision import Thresholds
from worker.explain import (
    MAX_PASSAGES,
    article_from_record,
    article_from_value,
    articles_from_files,
    explain,
    find_records,
)


def _value(article: dict[str, object]) -> bytes:
    return msgspec.json.encode(article)


def test_the_two_seeds_are_one_article(seeds_dir: Path) -> None:
    seeds = [seeds_dir / "astana-talks.raw.txt", seeds_dir / "astana-talks.paragraphs.txt"]
    a, b = articles_from_files(seeds)
    e = explain(a, b)
    assert e.verdict == "duplicate" and e.candidate
    t = Thresholds()
    by_name = {s.name: s for s in e.signals}
    assert by_name["containment"].threshold == t.dup_containment and by_name["containment"].passed
    assert by_name["opening in place"].passed and by_name["opening moved"].passed
    assert e.passages and len(e.passages) <= MAX_PASSAGES
    # the sides of a shared passage are the same sentence up to reflow and punctuation
    assert all(p.overlap >= 0.5 for p in e.passages)
    assert e.shared_total >= len(e.passages)


def test_two_unrelated_articles_are_unrelated() -> None:
    a = article_from_value(_value(synthetic_article(1)))
    b = article_from_value(_value(synthetic_article(2)))
    e = explain(a, b)
    assert e.verdict == "unrelated" and not e.passages
    assert not any(s.passed for s in e.signals if s.name.startswith("containment"))


def test_a_follow_up_is_the_same_story_with_the_reused_body_side_by_side() -> None:
    original = synthetic_article(3, paragraphs=6)
    lead = synthetic_article(4, paragraphs=1)["text"]
    text = f"{lead}\n\n{original['text']}"
    follow_up = {**original, "id": "follow-up", "url": "https://example.org/follow-up", "text": text}
    e = explain(article_from_value(_value(original)), article_from_value(_value(follow_up)))
    assert e.verdict == "same story", e
    by_name = {s.name: s for s in e.signals}
    assert by_name["containment"].passed  # the whole original is in it ...
    assert (
        not by_name["opening in place"].passed and not by_name["opening moved"].passed
    )  # ... under a new lead
    assert e.passages  # the reused body, beside the original's
    # the other way round, the original after its follow-up begins inside it and adds nothing:
    # a front cut (scheme v10's opening reaches past the follow-up's new lead paragraph)
    late = explain(article_from_value(_value(follow_up)), article_from_value(_value(original)))
    assert late.verdict == "duplicate" and {s.name: s for s in late.signals}["opening cut"].passed


def test_a_sentence_removed_after_the_first_words_is_shown_as_a_split_opening() -> None:
    """The later one kept its first words and lost the long sentence after them: neither the
    opening in place nor moved agrees, the split one does, and the reason says so."""
    words = " ".join(synthetic_article(5, paragraphs=8)["text"].split())
    tokens = words.split()
    earlier = {"id": "earlier", "url": "https://example.org/a", "text": words}
    later = {"id": "later", "url": "https://example.org/b", "text": " ".join(tokens[:10] + tokens[45:])}
    e = explain(article_from_value(_value(earlier)), article_from_value(_value(later)))
    by_name = {s.name: s for s in e.signals}
    assert e.verdict == "duplicate" and "after its first words" in e.reason, e
    assert by_name["opening split"].passed and by_name["opening split"].threshold == Thresholds().dup_split
    assert not by_name["opening in place"].passed and not by_name["opening moved"].passed


def test_a_fuller_article_after_a_short_one_is_the_same_story_with_its_own_text() -> None:
    """The earlier one is the first sentences of the later: contained and opening alike, but the
    later one has as much text again of its own, which the explanation says."""
    full = synthetic_article(6, paragraphs=10)
    words = full["text"].split()
    item = {"id": "item", "url": "https://example.org/item", "text": " ".join(words[:30])}
    e = explain(article_from_value(_value(item)), article_from_value(_value(full)))
    by_name = {s.name: s for s in e.signals}
    assert e.verdict == "same story" and "fuller article" in e.reason, e
    assert by_name["containment"].passed and by_name["opening in place"].passed
    own = by_name["text of its own"]
    assert not own.passed and own.below and own.value >= Thresholds().dup_added
    e = explain(article_from_value(_value(full)), article_from_value(_value(item)))  # the item second
    assert e.verdict == "duplicate" and {s.name: s for s in e.signals}["text of its own"].passed


def test_from_remembered_records_the_explanation_says_it_has_no_text() -> None:
    original = article_from_value(_value(synthetic_article(5)))
    copy = article_from_value(_value({**synthetic_article(5), "id": "copy"}))
    entries = [(b"x" * 6, msgspec.msgpack.encode(original.record)), (b"y" * 6, b"z" * 6)]
    found = find_records(entries, [original.id])
    e = explain(article_from_record(found[original.id]), copy)
    assert e.verdict == "duplicate" and not e.passages and e.note and "sketches" in e.note
    # both remembered: the later one's opening is what its record keeps, compared all the same
    both = explain(article_from_record(original.record), article_from_record(copy.record))
    by_name = {s.name: s for s in both.signals}
    assert both.verdict == "duplicate" and by_name["opening in place"].value == 1.0
    assert "front cut" in (both.note or "")


def test_the_command_prints_the_verdict_and_the_thresholds(
    seeds_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = [str(seeds_dir / "astana-talks.raw.txt"), str(seeds_dir / "astana-talks.paragraphs.txt")]
    assert main(["explain", *seeds]) == 0
    out = capsys.readouterr().out
    assert "duplicate" in out and ">= 0.8" in out and "✓" in out and "shared passages" in out


def test_the_command_needs_two_articles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.txt"
    one.write_text("only one article here", encoding="utf-8")
    assert main(["explain", str(one)]) == 2
