"""The variant generator and the labelled stream of `newsworker eval` (synthetic text only)."""

from __future__ import annotations

import random
import re

import pytest

from tests.support.factories import synthetic_article, synthetic_corpus
from worker.tools import variants as v
from worker.tools.evaluate import exact_overlap, score, simhash, simhash_dedup

CTX = v.Context(
    donor_sentences=["جملة مضافة من خبر آخر تماما عن موضوع مختلف."],
    related_titles=["عنوان آخر", "عنوان ثالث"],
)


def words(text: str) -> list[str]:
    return text.split()


def test_doc_round_trips_paragraphs_and_sentences() -> None:
    article = synthetic_article(1)
    doc = v.Doc.parse(article)
    assert doc.text() == article["text"]
    assert len(doc.paragraphs) == 4
    assert [len(p) for p in doc.paragraphs] == [4, 3, 3, 3]  # the real sentence starts the first


def test_edit_changes_a_few_sentences_only() -> None:
    doc = v.Doc.parse(synthetic_article(2))
    edited = v.edit(doc, random.Random(3), CTX.donor_sentences)
    before, after = set(s for p in doc.paragraphs for s in p), set(s for p in edited.paragraphs for s in p)
    assert before != after
    assert len(before & after) >= len(before) - 3


def test_syndicate_adds_dateline_read_also_and_footer() -> None:
    outlet = v.OUTLETS[0]
    doc = v.syndicate(v.Doc.parse(synthetic_article(3)), random.Random(1), outlet, CTX.related_titles)
    text = doc.text()
    assert any(agency in doc.paragraphs[0][0] for agency in v.AGENCIES)
    assert outlet.footer[-1] in text
    assert any(label in text for label in v.READ_ALSO)


def test_diacritize_only_adds_marks() -> None:
    doc = v.Doc.parse(synthetic_article(4))
    marked = v.diacritize(doc, random.Random(5)).text()
    assert marked != doc.text()
    stripped = re.sub(f"[{v.HARAKAT}{v.TATWEEL}]", "", marked)
    assert stripped == doc.text()


@pytest.mark.parametrize("seed", range(5))
def test_teaser_keeps_30_to_60_percent_of_the_lead(seed: int) -> None:
    doc = v.Doc.parse(synthetic_article(5))
    cut = v.teaser(doc, random.Random(seed)).text()
    tail = next(t for t in sorted(v.TEASER_TAILS, key=len, reverse=True) if cut.endswith(t))
    kept = words(cut[: -len(tail)])
    total = words(doc.text())
    assert 0.3 * len(total) - 1 <= len(kept) <= 0.6 * len(total) + 1
    assert kept[:-1] == total[: len(kept) - 1]  # the lead, in order (last word may be cut)


def test_reflow_glues_sentences_or_joins_paragraphs() -> None:
    doc = v.Doc.parse(synthetic_article(6))
    shapes = set()
    for seed in range(30):
        out, title_moved = v.reflow(doc, random.Random(seed))
        text = out.text()
        if re.search(r"\.\S", text):
            shapes.add("glued")
        if "., " in text:
            shapes.add("commas")
        if title_moved:
            assert text.split("\n")[0] == doc.title
            shapes.add("title")
    assert shapes == {"glued", "commas", "title"}


def test_html_page_escapes_and_wraps_the_article() -> None:
    doc = v.Doc.parse(synthetic_article(7, title='عنوان "مقتبس" <b>'))
    page = v.html_page(doc, random.Random(1), v.OUTLETS[1], CTX.related_titles)
    assert page.startswith("<!DOCTYPE html>") and "<nav>" in page and "<footer>" in page
    assert "&quot;مقتبس&quot; &lt;b&gt;" in page
    assert all(f"<p>{' '.join(p)}</p>" in page for p in doc.paragraphs)


@pytest.mark.parametrize("kind", v.VARIANT_KINDS)
def test_make_variant_gives_a_new_id_and_url(kind: str) -> None:
    article = synthetic_article(8)
    out = v.make_variant(article, kind, random.Random(2), CTX, 1)
    assert out["id"] != article["id"] and out["url"] != article["url"]
    assert ("html" in out) != ("text" in out)
    assert out.get("text") != article["text"]


def test_make_variant_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown variant kind"):
        v.make_variant(synthetic_article(1), "rot13", random.Random(1), CTX, 1)


def test_quote_negative_quotes_a_minor_block_after_the_lead() -> None:
    host, quoted = synthetic_article(10), synthetic_article(11, paragraphs=6)
    out = v.quote_negative(host, quoted, random.Random(4))
    assert out is not None
    first_line = out["text"].split("\n")[0]
    assert first_line == host["text"].split("\n")[0]
    block = out["text"].split("«", 1)[1].split("»", 1)[0]
    assert block in quoted["text"].replace("\n", " ")
    assert not quoted["text"].startswith(block[:20])  # never the quoted article's lead
    assert len(words(block)) <= 0.5 * len(words(quoted["text"]))


def test_intro_negatives_share_only_an_opening_paragraph() -> None:
    hosts, background = [synthetic_article(20), synthetic_article(21)], synthetic_article(22)
    out = v.intro_negatives(hosts, background, random.Random(1))
    intros = [a["text"].split("\n")[0] for a in out]
    assert intros[0] == intros[1] and 20 <= len(words(intros[0])) <= 50
    assert intros[0].rstrip(".") in background["text"].replace("\n", " ")
    for host, negative in zip(hosts, out, strict=True):
        assert negative["text"].split("\n", 1)[1] == host["text"] and negative["id"] != host["id"]


def test_followup_has_a_new_lead_over_most_of_the_body() -> None:
    original, news = synthetic_article(30, paragraphs=5), synthetic_article(31)
    made = v.followup(original, news, random.Random(2), 0)
    assert made is not None and made["id"] != original["id"] and made["url"] != original["url"]
    paragraphs = made["text"].split("\n")
    assert paragraphs[0] == news["text"].split("\n")[0]  # the new lead: another text's news
    assert paragraphs[0] not in original["text"]
    body = [s for p in v.Doc.parse(original).paragraphs[1:] for s in p]
    kept = [s for s in body if s in made["text"]]
    assert 0.6 * len(body) - 1 <= len(kept) <= 0.9 * len(body) + 1
    assert v.Doc.parse(original).paragraphs[0][0] not in made["text"]  # the old lead is gone


def test_sibling_pair_shares_background_paragraphs_only() -> None:
    hosts, background = [synthetic_article(40), synthetic_article(41)], synthetic_article(42, paragraphs=6)
    first, second = v.sibling_pair(hosts, background, random.Random(3))
    for host, made in zip(hosts, (first, second), strict=True):
        assert made["text"].startswith(host["text"] + "\n")
    tail_1 = first["text"][len(hosts[0]["text"]) + 1 :]
    tail_2 = second["text"][len(hosts[1]["text"]) + 1 :]
    assert tail_1 == tail_2 and tail_1 in background["text"]
    assert 0.3 * len(words(hosts[0]["text"])) <= len(words(tail_1))


def test_exact_overlap() -> None:
    a = "one two three four five six"
    assert exact_overlap(a, a) == {"jaccard": 1.0, "containment": 1.0}
    assert exact_overlap(a, "one two three four") == {"jaccard": 0.5, "containment": 1.0}


def test_natural_groups_label_exact_repeats_and_same_url_revisions() -> None:
    a, b = synthetic_article(1), synthetic_article(2)
    repeat = dict(a, id="a1-again", url="https://other.example/x")
    revision = dict(b, id="b-rev", text=b["text"] + "\nسطر جديد.")
    groups, kinds, _ = v._natural_groups([a, b, repeat, revision])
    assert kinds == ["original", "original", "exact", "revision"]
    assert groups[2] == groups[0] and groups[3] == groups[1] and groups[0] != groups[1]


def test_build_stream_is_deterministic_and_labelled() -> None:
    articles = synthetic_corpus(300)
    articles.insert(50, dict(articles[10], id="repeat"))
    one = v.build_stream(articles, seed=3)
    two = v.build_stream(articles, seed=3)
    assert [r.article for r in one] == [r.article for r in two]
    assert [r.article for r in one] != [r.article for r in v.build_stream(articles, seed=4)]
    counts = v.kinds_of(one)
    assert counts["exact"] == 1
    assert all(counts[k] > 0 for k in v.VARIANT_KINDS)
    assert counts["quote"] > 0 and counts["boilerplate"] > 0
    assert counts["followup"] > 0 and counts["sibling"] > 0
    seen_groups: set[int] = set()
    for r in one:
        assert r.duplicate == (r.kind in v.VARIANT_KINDS or r.kind in v.NATURAL_KINDS)
        assert r.kind not in v.UNSCORED_KINDS  # synthetic articles share no phrases
        # a story link comes after an article of its story, and is never a duplicate
        assert r.related == (r.group in seen_groups and r.kind in v.RELATED_KINDS)
        if r.related:
            assert r.duplicate is False
        seen_groups.add(r.group)
    assert len({r.article["id"] for r in one}) == len(one)


def test_build_stream_places_variants_shortly_after_their_original() -> None:
    stream = v.build_stream(synthetic_corpus(400), seed=5)
    position = {r.article["id"]: i for i, r in enumerate(stream)}
    for i, r in enumerate(stream):
        if r.kind in v.VARIANT_KINDS:
            original = position[r.article["id"].split("~")[0]]
            assert 0 < i - original <= v.MAX_DISTANCE + 100  # + records generated in between
            assert stream[original].group == r.group


def test_score_counts_and_rates() -> None:
    stream = [
        v.Labelled({"id": "1"}, False, "original", 1),
        v.Labelled({"id": "2"}, True, "teaser", 1),
        v.Labelled({"id": "3"}, True, "edit", 1),
        v.Labelled({"id": "4"}, False, "quote", 4),
    ]
    s = score("x", stream, [False, True, False, True])
    assert (s.tp, s.fp, s.fn, s.tn) == (1, 1, 1, 1)
    assert s.precision == 0.5 and s.recall == 0.5 and s.f1 == 0.5
    assert s.kind_rate("teaser") == 1.0 and s.kind_rate("edit") == 0.0 and s.kind_rate("combo") is None
    with pytest.raises(ValueError):
        score("x", stream, [True])


def test_simhash_finds_near_copies_and_not_other_texts() -> None:
    base = " ".join(f"w{i % 97} x{i}" for i in range(300)).split()
    near = [*base[:-2], "changed", "words"]
    assert (simhash(base) ^ simhash(near)).bit_count() <= 3
    other = [f"z{i}" for i in range(300)]
    assert simhash_dedup([" ".join(base), " ".join(other), " ".join(near)]) == [False, False, True]
