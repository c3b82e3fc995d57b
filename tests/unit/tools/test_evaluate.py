"""Scoring of the three answers: drops, story links, new stories (no Redis, no corpus)."""

from __future__ import annotations

from worker.tools import evaluate as ev
from worker.tools.variants import Labelled

BODY = " ".join(f"w{i}" for i in range(60))
OTHER = " ".join(f"z{i}" for i in range(60))


def test_verdict_of_carries_the_story_fields_of_an_offline_result() -> None:
    from worker.files.offline import OfflineResult

    linked = OfflineResult(id="b", status="clean", similarity=0.4, story_id="a", related_to="a")
    assert ev.verdict_of(linked) == ev.Verdict("clean", None, None, 0.4, "a", "a")
    copy = OfflineResult(id="c", status="duplicate", kind="near", duplicate_of="a", similarity=0.9)
    assert ev.verdict_of(copy) == ev.Verdict("duplicate", "a", "near", 0.9, None, None)


def test_link_scores_count_drops_links_and_text_sharing() -> None:
    stream = [
        Labelled({"id": "a"}, False, "original", 1),
        Labelled({"id": "f1"}, False, "followup", 1, related=True),  # linked right
        Labelled({"id": "f2"}, False, "followup", 1, related=True),  # dropped: a wrong drop
        Labelled({"id": "f3"}, False, "followup", 1, related=True),  # shares no text
        Labelled({"id": "b"}, False, "original", 2),
        Labelled({"id": "f4"}, False, "followup", 1, related=True),  # linked to another story
    ]
    verdicts = [
        ev.Verdict("clean", None, None, None),
        ev.Verdict("clean", None, None, 0.6, "a", "a"),
        ev.Verdict("duplicate", "a", "near", 0.7),
        ev.Verdict("clean", None, None, None),
        ev.Verdict("clean", None, None, None, "a", "a"),  # a new story linked: wrong
        ev.Verdict("clean", None, None, 0.5, "b", "b"),
    ]
    keys = [BODY, BODY, BODY, OTHER, OTHER, BODY]
    links = ev.link_scores(stream, verdicts, keys)["followup"]
    assert (links.records, links.dropped, links.linked, links.sharing, links.sharing_linked) == (4, 1, 1, 3, 1)
    assert links.link_rate == 1 / 3
    assert ev.wrong_links(stream, verdicts) == 1
    s = ev.score("x", stream, [v.status == "duplicate" for v in verdicts])
    assert s.fp == 1 and s.precision == 0.0  # the dropped follow-up is a wrong drop


def test_a_link_into_the_story_its_first_record_joined_counts_as_linked() -> None:
    """The story's first record (a2) was itself linked to the same article under another id
    (a1, another group): a rewrite of a2 linked to a1 is in a2's story (`story_id` a1), which
    is what a consumer grouping by story sees. Linked to an unrelated story, it is not."""
    stream = [
        Labelled({"id": "a1"}, False, "original", 1),
        Labelled({"id": "a2"}, None, "related", 2),
        Labelled({"id": "r"}, False, "rewrite", 2, related=True),
        Labelled({"id": "x"}, False, "original", 3),
        Labelled({"id": "r2"}, False, "rewrite", 2, related=True),
    ]
    verdicts = [
        ev.Verdict("clean", None, None, None, "a1"),
        ev.Verdict("clean", None, None, 0.9, "a1", "a1"),
        ev.Verdict("clean", None, None, 0.4, "a1", "a1"),
        ev.Verdict("clean", None, None, None, "x"),
        ev.Verdict("clean", None, None, 0.4, "x", "x"),
    ]
    links = ev.link_scores(stream, verdicts, [BODY] * 5)["rewrite"]
    assert (links.records, links.linked, links.sharing_linked) == (2, 1, 1)
    rows = ev.report_rows(stream, verdicts, [], [BODY] * 5)
    assert [row["id"] for row in rows if row.get("unlinked")] == ["r2"]


def test_exact_overlap_uses_the_fingerprint_tokens_for_text_without_spaces() -> None:
    text = "特使周一表示会谈将于下周在日内瓦恢复他告诉记者各方同意了一项四点议程"
    overlap = ev.exact_overlap(text, text[:20])
    assert overlap["containment"] == 1.0 and 0.3 < overlap["jaccard"] < 0.7


def test_targets_name_what_is_missed() -> None:
    s = ev.Scores("newsworker", tp=990, fp=3, fn=10, kinds={"teaser": [90, 100]})
    links = {"followup": ev.LinkScores(records=10, sharing=10, sharing_linked=8)}
    missed = ev.check_targets(s, [], links)
    assert any("drop precision" in m for m in missed)
    assert any("teaser recall" in m for m in missed)
    assert any("followup and rewrite linked 0.800 < 0.9 (8 of the 10 sharing text)" in m for m in missed)
    assert not any("copy recall" in m for m in missed)


def test_the_link_target_counts_follow_ups_and_rewrites_together() -> None:
    s = ev.Scores("newsworker", tp=1000, fp=0, fn=0)
    links = {
        "followup": ev.LinkScores(records=20, sharing=20, sharing_linked=19),
        "rewrite": ev.LinkScores(records=2, sharing=1, sharing_linked=0),
        "sibling": ev.LinkScores(records=10, sharing=10, sharing_linked=5),  # shown, not a target
    }
    assert ev.pooled_link_rate(links) == (19, 21)
    assert ev.check_targets(s, [], links) == []
    links["rewrite"] = ev.LinkScores(records=4, sharing=4, sharing_linked=1)  # 20 of 24
    assert ev.check_targets(s, [], links) == ["followup and rewrite linked 0.833 < 0.9 (20 of the 24 sharing text)"]
