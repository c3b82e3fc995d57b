"""Properties of the pipeline's pure part, over inputs hypothesis makes up (and adversarial ones).

- `prepare` never raises on any bytes or any JSON article, and never hides a bug: an
  `internal_error` dead letter (what `prepare` makes of an unexpected exception) fails the test.
- `process_batch` returns one outcome per message, in input order: count in = count out.
- Normalization is idempotent at the pipeline level: a clean article's own title and text, sent
  again as a raw article, normalize to the same text and the same exact fingerprint.
- Bounded time: every module-level regular expression of the worker runs in (near-)linear time on
  strings built from its own characters, and whole pathological articles finish in bounded time.

`InMemoryStore` mirrors `RedisDedupStore`'s claim semantics (first claimant owns a key; a replay of
the same id+origin is its own owner) so that the duplicate path of `process_batch` is exercised.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import re
import time

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fakes import InMemoryStore
from worker import pipeline
from worker.dedup.decision import (
    Related,
    Thresholds,
)
from worker.dedup.fingerprint import ArticleFingerprints, Scheme
from worker.pipeline import DeadLettered, Limits, Message, Prepared, draft_of, linked, prepare, process_batch

LIMITS = Limits(max_message_bytes=256 * 1024, max_text_chars=100_000, dead_letter_preview_bytes=4096)
NOW = 1_795_000_000.0


def prepared(value: bytes, origin: str = "t:0:0") -> Prepared | DeadLettered:
    result = prepare(Message(value=value, origin=origin), limits=LIMITS, now=NOW)
    if isinstance(result, DeadLettered):
        assert result.reason != "internal_error", result.record.error  # a bug, not bad input
        assert result.record.error and result.record.original_size == len(value)
    return result


# --- strategies -----------------------------------------------------------------------------------

#: Any code point, lone surrogates included (they reach us as JSON escapes such as "\ud800").
any_char = st.characters(codec=None, categories=None)
texts = st.text(alphabet=any_char, max_size=400)
scripts = st.sampled_from(
    [
        "The council approved the plan on Tuesday. ",
        "افتتح وزير الثقافة معرض الكتاب. ",
        "東京で会議が開かれた。",
        "Москва приняла решение. ",
        "<p>para</p><div>",
        "&amp;&#1575;&#x627; ",
        "\u202e\u200f\u2066\u200b\ufeff",
        "\x00\x07\x1b[31m",
        "ـــ",
        "\r\n\n\t  ",
        "https://x.example/a?utm_source=1 ",
    ]
)
mixed_text = st.lists(st.one_of(scripts, texts), max_size=12).map("".join)
field_value = st.one_of(
    st.none(),
    mixed_text,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
article_dicts = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(alphabet=any_char, max_size=20), field_value),
        "source": field_value,
        "url": field_value,
        "title": st.one_of(mixed_text, field_value),
        "text": st.one_of(mixed_text, mixed_text, field_value),
        "html": st.one_of(mixed_text, field_value),
        "published_at": st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=False), st.none()),
        "language": field_value,
        "metadata": st.one_of(st.dictionaries(st.text(max_size=8), field_value, max_size=4), field_value),
    },
)


def to_json(article: dict[str, object]) -> bytes:
    # ensure_ascii: lone surrogates become "\udxxx" escapes, as a careless producer sends them.
    return json.dumps(article, ensure_ascii=True).encode()


def test_an_article_with_null_metadata_comes_out_clean_with_empty_metadata() -> None:
    result = prepared(b'{"id": "m", "text": "A short body of a real article.", "metadata": null}')
    assert isinstance(result, Prepared), result
    assert result.clean is not None and result.clean.event.metadata == {}


@pytest.mark.parametrize("given", ["\u0000", "  ", "Arabic news", "ar_EG", "e"])
def test_a_language_that_is_no_tag_is_detected_instead_with_a_warning(given: str) -> None:
    body = "أعلن المبعوث الدولي اليوم أن المحادثات ستستأنف في جنيف الأسبوع المقبل بعد جولة دون اتفاق."
    result = prepared(msgspec.json.encode({"id": "l", "text": body, "language": given}))
    assert isinstance(result, Prepared) and result.clean is not None
    event = result.clean.event
    assert event.language == "ar"
    assert any(w.startswith("language ") and "not a language tag" in w for w in event.warnings)


@pytest.mark.parametrize("given", ["ar", "en-GB", "zh-Hant-TW", "und"])
def test_a_language_tag_is_the_producer_s(given: str) -> None:
    result = prepared(msgspec.json.encode({"id": "l", "text": "A short body of a real article.", "language": given}))
    assert isinstance(result, Prepared) and result.clean is not None
    assert result.clean.event.language == given and result.clean.event.warnings == []


# --- never raises, count in = count out -------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_prepare_never_raises_on_any_bytes(value: bytes) -> None:
    prepared(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(article_dicts)
def test_prepare_never_raises_on_any_json_article(article: dict[str, object]) -> None:
    result = prepared(to_json(article))
    if isinstance(result, Prepared):
        assert result.clean.event.text.strip() and result.article_id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(article_dicts.map(to_json), st.binary(max_size=200)), max_size=25))
def test_process_batch_gives_one_outcome_per_message_in_order(values: list[bytes]) -> None:
    # Every message twice, the second as a replay (same origin): the same outcome both times.
    messages = [Message(value=v, origin=f"t:0:{i}") for i, v in enumerate(values)]
    store = InMemoryStore()
    first = asyncio.run(
        process_batch(messages, store, limits=LIMITS, thresholds=Thresholds(), clock=lambda: NOW)
    )
    again = asyncio.run(
        process_batch(messages, store, limits=LIMITS, thresholds=Thresholds(), clock=lambda: NOW)
    )
    assert [o.message for o in first] == messages == [o.message for o in again]  # count in = count out
    for a, b in zip(first, again, strict=True):
        assert type(a) is type(b), "a replayed message must get the same outcome"
        if isinstance(a, DeadLettered):
            assert a.reason != "internal_error", a.record.error


def _outcome_key(outcome: Prepared | DeadLettered) -> tuple[object, ...]:
    if isinstance(outcome, DeadLettered):
        return ("dead", outcome.message, outcome.record)
    return ("prepared", outcome.message, outcome.article_id, outcome.fp, outcome.clean)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            *[st.fixed_dictionaries({"title": mixed_text, "text": mixed_text}).map(to_json)] * 3,
            article_dicts.map(to_json),
            st.binary(max_size=200),
        ),
        max_size=25,
    ),
    st.lists(st.booleans(), min_size=25, max_size=25),
    st.integers(1, 600),
)
def test_a_batch_prepared_stage_by_stage_is_each_message_prepared_alone(
    values: list[bytes], broken: list[bool], slice_bytes: int
) -> None:
    """`prepare_batch` runs each stage over the whole batch: an article that fails one (bad
    input, or a bug: the fingerprint stage raises on its `broken` calls here, which reach the
    same articles either way) becomes its dead letter there, the others go on, and every
    outcome is the one it gets alone; also when the batch goes through in slices of its bytes."""
    messages = [Message(value=v, origin=f"t:0:{i}") for i, v in enumerate(values)]
    real = pipeline.fingerprint
    calls = [0]

    def fingerprint(key: str, url: str | None, scheme: Scheme) -> ArticleFingerprints:
        calls[0] += 1
        if broken[calls[0] - 1]:
            raise RuntimeError("a bug in one article's fingerprint")
        return real(key, url, scheme)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "fingerprint", fingerprint)
        alone = [prepare(m, limits=LIMITS, now=NOW) for m in messages]
        fingerprinted, calls[0] = calls[0], 0
        together = pipeline.prepare_batch(messages, limits=LIMITS, now=NOW)
        assert calls[0] == fingerprinted
        calls[0] = 0
        patch.setattr(pipeline, "_SLICE_BYTES", slice_bytes)  # several slices of the batch
        sliced = pipeline.prepare_batch(messages, limits=LIMITS, now=NOW)
    assert [_outcome_key(o) for o in together] == [_outcome_key(o) for o in alone]
    assert [_outcome_key(o) for o in sliced] == [_outcome_key(o) for o in alone]
    assert [o.message for o in together] == messages  # count in = count out, in order
    bugs = [o for o in together if isinstance(o, DeadLettered) and o.reason == "internal_error"]
    assert len(bugs) == sum(broken[:fingerprinted])


@given(st.lists(st.integers(0, 50), max_size=30), st.integers(1, 120))
def test_slices_keep_every_message_in_order_within_the_byte_limit(sizes: list[int], limit: int) -> None:
    messages = [Message(value=b"x" * n, origin=f"t:0:{i}") for i, n in enumerate(sizes)]
    slices = pipeline._slices(messages, limit)
    assert [m for part in slices for m in part] == messages
    for part in slices:
        assert part and (len(part) == 1 or sum(len(m.value) for m in part) <= limit)
    for part, after in itertools.pairwise(slices):  # none could have taken the next one
        assert sum(len(m.value) for m in part) + len(after[0].value) > limit


# --- idempotence ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({"title": st.one_of(st.none(), mixed_text), "text": mixed_text}))
def test_a_clean_article_sent_again_normalizes_to_itself(article: dict[str, object]) -> None:
    first = prepared(to_json(article))
    if not isinstance(first, Prepared):
        return
    again = prepared(msgspec.json.encode({"title": first.clean.event.title, "text": first.clean.event.text}))
    assert isinstance(again, Prepared)
    assert again.clean.event.text == first.clean.event.text
    assert again.clean.event.title == first.clean.event.title
    assert again.fp.exact == first.fp.exact


# --- bounded time ----------------------------------------------------------------------------------

WORKER_MODULES = (
    "worker.normalize.text",
    "worker.normalize.html_text",
    "worker.normalize.arabic",
    "worker.normalize.urls",
    "worker.normalize.timestamps",
    "worker.normalize.language",
    "worker.validate",
    "worker.pipeline",
    "worker.dedup.fingerprint",
    "worker.files.inputs",
    "worker.normalize.boilerplate",
)
_META = set("()[]{}?*+|^$\\.-:!=<>")


def module_patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for name in WORKER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                found.append((f"{name}.{attr}", value))
    return found


def adversarial(pattern: str, n: int) -> list[str]:
    """Strings of ~n characters made of the pattern's own characters, then one that breaks the match."""
    own = [c for c in dict.fromkeys(pattern) if c not in _META][:10]
    alphabet = [*own, " ", "a", "1", ".", ",", "\u0627", "\u200c", "\n"]
    out = []
    for i, c in enumerate(alphabet):
        out.append(c * n + "\x00")
        d = alphabet[(i + 1) % len(alphabet)]
        out.append((c + d) * (n // 2) + "!")
    out.append(("".join(alphabet) * (n // len(alphabet) + 1))[:n] + "\x00")
    return out


PATTERNS = module_patterns()


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _ in PATTERNS])
def test_every_regex_is_fast_on_strings_of_its_own_characters(name: str, pattern: re.Pattern[str]) -> None:
    # 20k characters: linear matching takes well under 10 ms; a quadratic pattern takes seconds.
    for s in adversarial(pattern.pattern, 20_000):
        started = time.perf_counter()
        pattern.sub("", s)
        assert time.perf_counter() - started < 0.5, f"{name} is slow on {s[:20]!r}... ({len(s)} chars)"


def test_worker_regexes_were_found() -> None:
    assert len(PATTERNS) >= 10, PATTERNS  # the normalizer's own patterns are among them


PATHOLOGICAL = {
    "spaces": " " * 200_000 + "x",
    "dots": "." * 200_000,
    "comma sentences": "a., " * 50_000,
    "one long word": "a" * 200_000,
    "tatweel": "ـ" * 100_000 + "كتاب",
    "diacritics": "ب" + "\u064e\u0651" * 50_000,  # dead-lettered by decode (was ~10 s in NFC)
    "zero-width joiners": "\u200c\u200d" * 100_000 + "x",
    "entities": "&#1575;" * 30_000 + "&amp" * 20_000,
    "mojibake": "Ø§Ù„" * 50_000,
    "cp1256 mojibake": "\u0637\u00a7\u0638\u201e" * 40_000,
    "brackets": "( [ { " * 30_000,
    "newlines": "a\n\n" * 60_000,
    "html tags": "<b>" * 60_000,  # tags named, none closed: text since scheme v14 (HTML in v13)
    "cdata openings": "<![CDATA[" * 30_000,  # a regex unwrapping CDATA was quadratic on these
    "unclosed tags": "<p " * 60_000,
    "markup paragraphs": "<p>x</p>" * 30_000,
}


@pytest.mark.parametrize("kind", list(PATHOLOGICAL))
def test_pathological_articles_finish_in_bounded_time(kind: str) -> None:
    body = PATHOLOGICAL[kind]
    for article in ({"title": body[:1000], "text": body}, {"html": f"<p>{body}</p>"}):
        value = msgspec.json.encode(article)
        started = time.perf_counter()
        prepare(Message(value=value, origin="t:0:0"), limits=Limits(), now=NOW)
        assert time.perf_counter() - started < 5.0, f"{kind}: {time.perf_counter() - started:.1f}s"


def test_entity_encoded_mark_runs_finish_in_linear_time() -> None:
    # Marks spelled as HTML entities pass the decoder's check and appear only after unescaping;
    # the normalizer caps the runs before NFC (it was quadratic: ~1.5 s here, minutes for 1M).
    value = msgspec.json.encode({"text": "ب" + "&#x64e;&#x651;" * 20_000})  # 40k marks once unescaped
    started = time.perf_counter()
    prepare(Message(value=value, origin="t:0:0"), limits=Limits(), now=NOW)
    assert time.perf_counter() - started < 0.5  # linear: ~30 ms; quadratic: ~1.5 s


# --- reasons of known bad inputs (regressions found by these tests) ----------------------------------


@pytest.mark.parametrize(
    ("value", "reason", "words"),
    [
        # msgspec reports a wrong container type of a field as "Expected `object` ... at `$.metadata`".
        (b'{"text": "ok", "metadata": [1, 2]}', "invalid_field", "metadata"),
        (b"[1, 2]", "not_an_object", "JSON object"),
        # msgspec raises RecursionError past its depth limit; it used to become internal_error.
        (b'{"text": "x", "metadata": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "invalid_json", "deeply"),
        # 100k alternating marks took ~10 s in NFC; rejected in microseconds now.
        (msgspec.json.encode({"text": "ب" + "\u064e\u0651" * 50_000}), "invalid_unicode", "combining marks"),
        # Found by fuzzing: json.loads(bytes) read NULs as UTF-32 and raised (internal_error before).
        (b"\x00" * 40 + b'{"text": "x"}', "invalid_json", "not valid JSON"),
    ],
    ids=[
        "field of wrong container type",
        "top-level array",
        "nesting past the depth limit",
        "zalgo marks",
        "leading NUL bytes",
    ],
)
def test_reasons_of_known_bad_inputs(value: bytes, reason: str, words: str) -> None:
    started = time.perf_counter()
    result = prepared(value)
    assert isinstance(result, DeadLettered) and result.reason == reason, result
    assert words in result.record.error
    assert time.perf_counter() - started < 1.0


def test_real_vocalised_arabic_is_not_mistaken_for_zalgo() -> None:
    text = "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ، الْحَمْدُ لِلَّهِ رَبِّ الْعَالَمِينَ. " * 200
    assert isinstance(prepared(msgspec.json.encode({"text": text})), Prepared)


# --- dead letters stay publishable -------------------------------------------------------------------


def test_dead_letter_of_a_huge_message_of_control_characters_stays_small() -> None:
    """JSON would escape each NUL as 6 bytes: the preview goes out as base64 (4/3) instead."""
    limits = Limits(max_message_bytes=1024 * 1024, dead_letter_preview_bytes=64 * 1024)
    value = b"\x00" * (3 * 1024 * 1024)  # valid UTF-8, too large
    result = prepare(Message(value=value, origin="t:0:0"), limits=limits, now=NOW)
    assert isinstance(result, DeadLettered) and result.reason == "too_large"
    assert result.record.original_encoding == "base64" and result.record.truncated
    assert len(msgspec.json.encode(result.record)) < 64 * 1024 * 4 // 3 + 2048


def test_truncated_utf8_preview_stays_text_when_the_cut_splits_a_character() -> None:
    limits = Limits(max_message_bytes=4096, dead_letter_preview_bytes=1001)  # 1001: inside a letter
    value = msgspec.json.encode({"text": "ب" * 5000})
    result = prepare(Message(value=value, origin="t:0:0"), limits=limits, now=NOW)
    assert isinstance(result, DeadLettered) and result.record.original_encoding == "utf-8"
    assert result.record.original.startswith('{"text":"ببب')


@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=3000))
@settings(max_examples=200, deadline=None)
def test_every_dead_letter_is_bounded_by_its_preview(value: bytes, preview: int) -> None:
    limits = Limits(max_message_bytes=1024, dead_letter_preview_bytes=preview)
    result = prepare(Message(value=value, origin="t:0:0"), limits=limits, now=NOW)
    if isinstance(result, DeadLettered):
        assert len(msgspec.json.encode(result.record.original)) <= min(preview, len(value)) * 4 // 3 + 8


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("ab سلام.\n\r\t\u2028\u2029\u0085\x0b\x0c،")), max_size=300))
def test_clean_text_splits_back_into_its_paragraphs(body: str) -> None:
    """The clean event carries no `paragraphs` list: `text.split("\\n\\n")` must give them back,
    so no paragraph may hold a line break of any kind or be empty."""
    result = prepared(msgspec.json.encode({"title": "t", "text": body}))
    if isinstance(result, Prepared):
        parts = result.clean.event.text.split("\n\n")
        assert all(p.strip() and not any(ch in p for ch in "\n\r\u2028\u2029\x85\x0b\x0c") for p in parts)


def test_a_page_its_scripts_fill_in_is_published_from_its_json_ld_not_dead_lettered() -> None:
    ld = {"@type": "NewsArticle", "headline": "Council approves budget", "articleBody": "The council approved it."}
    html = (
        '<html><head><title>Site</title><script type="application/ld+json">'
        + json.dumps(ld)
        + '</script></head><body><div id="app"></div></body></html>'
    )
    result = prepared(msgspec.json.encode({"id": "spa", "html": html}))
    assert isinstance(result, Prepared), result
    assert result.clean.event.title == "Council approves budget" and result.clean.event.text == "The council approved it."
    assert "html_json_ld_body" in result.clean.event.warnings  # where the text came from
    # without the JSON-LD the same page has no text: a dead letter, as before
    empty = prepared(msgspec.json.encode({"id": "spa", "html": html.replace("articleBody", "x")}))
    assert isinstance(empty, DeadLettered) and empty.reason == "empty_text"


def test_a_site_s_root_as_the_url_gives_no_url_signal_but_stays_in_the_event() -> None:
    """Feeds that send their home page as every item's URL made each article a revision of the
    one before (a `url` duplicate: a review's finding). The root is no article's URL."""
    home = prepared(msgspec.json.encode({"id": "h", "url": "https://news.example/", "text": "The council met."}))
    page = prepared(msgspec.json.encode({"id": "p", "url": "https://news.example/a/1", "text": "The council met."}))
    assert isinstance(home, Prepared) and isinstance(page, Prepared)
    assert home.fp.url is None and page.fp.url is not None
    assert home.clean.event.canonical_url == "https://news.example/"


def test_a_page_over_the_length_limit_by_an_inline_image_is_published() -> None:
    """A 400-word page with a 900 KB inline base64 image was `text_too_long` (a review's
    finding): inline resources' payloads are no text. A page long by its text still is."""
    story = "<p>" + "The council approved the budget for schools and roads on Monday. " * 40 + "</p>"
    image = '<img src="data:image/png;base64,' + "iVBORw0KGgo" * 14_000 + '">'
    result = prepared(msgspec.json.encode({"id": "img", "html": f"<html><body><article>{image}{story}</article></body></html>"}))
    assert isinstance(result, Prepared), result
    assert result.clean.event.text.startswith("The council approved the budget")
    long_page = "<html><body><article>" + story * 50 + "</article></body></html>"
    too_long = prepared(msgspec.json.encode({"id": "long", "html": long_page}))
    assert isinstance(too_long, DeadLettered) and too_long.reason == "text_too_long"


# -- the clean event's draft: linked in the event loop's process without decoding it ----------

_LINKS = st.one_of(
    st.none(),
    st.builds(
        Related,
        story_id=st.text(max_size=40),
        related_to=st.text(max_size=40),
        similarity=st.floats(min_value=0.0, max_value=1.0) | st.sampled_from([0.1 + 0.2, 1e-300, 5e-324, 2 / 3]),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"title": st.text(max_size=40), "text": st.text(min_size=1, max_size=300), "source": st.text(max_size=10)},
        optional={"metadata": st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)},
    ),
    _LINKS,
)
def test_a_linked_draft_is_the_bytes_of_the_linked_event(article: dict[str, object], link: Related | None) -> None:
    result = prepared(msgspec.json.encode({"id": "a-1", **article}))
    if not isinstance(result, Prepared):
        return  # a dead letter: no event
    assert result.clean is not None
    event = result.clean.event
    if isinstance(link, Related):
        expected = msgspec.structs.replace(
            event, story_id=link.story_id, related_to=link.related_to, similarity=link.similarity
        )
    else:
        expected = msgspec.structs.replace(event, story_id=event.id)
    assert linked(result.clean, link) == msgspec.json.encode(expected)
    assert draft_of(event) == result.clean
    assert (result.clean.id, result.clean.source, result.clean.title) == (event.id, event.source, event.title)
    assert list(result.clean.warnings) == event.warnings


def test_a_linked_event_is_not_taken_for_a_draft() -> None:
    result = prepared(msgspec.json.encode({"id": "a-1", "text": "Talks resumed in Geneva."}))
    assert isinstance(result, Prepared) and result.clean is not None
    with pytest.raises(ValueError, match="unlinked"):
        draft_of(msgspec.structs.replace(result.clean.event, story_id="a-1"))


def test_an_untitled_hindi_follow_up_with_the_danda_typed_as_a_bar_is_not_a_duplicate() -> None:
    """Many Hindi sites type the danda as ``|``. An untitled article's first paragraph ending in
    one was taken for its title, out of the key, so a follow-up that changed only its lead (the
    death toll 12 -> 18) had the original's key: an exact duplicate, dropped (a review's
    finding, scheme v16). It is published, linked to its story, as with ``।``."""
    rest = (
        "पुलिस अधीक्षक ने बताया कि हादसा राष्ट्रीय राजमार्ग पर सुबह करीब पांच बजे हुआ जब बस लखनऊ से आ रही थी| "
        "घायलों को जिला अस्पताल में भर्ती कराया गया है, जहां कई लोगों की हालत गंभीर बताई जा रही है|\n\n"
        "मुख्यमंत्री ने हादसे पर दुख जताया और मृतकों के परिजनों को सहायता राशि देने की घोषणा की| "
        "जिलाधिकारी ने मामले की जांच के आदेश दिए हैं और रिपोर्ट तीन दिन के भीतर मांगी गई है|"
    )
    first = "गोरखपुर जिले में मंगलवार सुबह एक बस और ट्रक की टक्कर में बारह लोगों की मौत हो गई|"
    then = "गोरखपुर बस हादसे में मरने वालों की संख्या बढ़कर अठारह हो गई है, छह और घायलों ने दम तोड़ा|"
    messages = [
        Message(value=to_json({"id": "original", "text": first + "\n\n" + rest}), origin="t:0:0"),
        Message(value=to_json({"id": "follow-up", "text": then + "\n\n" + rest}), origin="t:0:1"),
    ]
    store = InMemoryStore()
    outcomes = [
        asyncio.run(process_batch([m], store, limits=LIMITS, thresholds=Thresholds(), clock=lambda: NOW))[0]
        for m in messages
    ]
    assert [type(o).__name__ for o in outcomes] == ["Clean", "Clean"]
    assert outcomes[1].article.story_id == "original"
    assert outcomes[0].article.title is None


def test_a_revision_under_an_id_already_published_never_duplicates_itself() -> None:
    """``x`` published, ``y`` a copy of it, then ``x`` again with its text revised: the revision
    matched ``y`` and resolved to "a duplicate of x", an event naming its own id as the article
    it repeats, after ``x`` came out clean (a review's finding). One id, one outcome: clean."""
    body = (
        "The central bank raised interest rates by half a point on Tuesday, citing persistent inflation in food "
        "and energy prices. Analysts had expected a smaller move after months of slowing growth. The governor said "
        "further increases were possible if wages kept rising faster than productivity across the economy. "
    )
    extra = "Separately, the finance ministry said it would publish a revised budget forecast next week."
    articles = [
        {"id": "x", "text": body},
        {"id": "y", "text": "Update: " + body + extra},
        {"id": "x", "text": "Update: " + body + extra + " More."},
    ]
    store = InMemoryStore()
    outcomes = [
        asyncio.run(process_batch(
            [Message(value=to_json(a), origin=f"t:0:{i}")], store, limits=LIMITS, thresholds=Thresholds(), clock=lambda: NOW
        ))[0]
        for i, a in enumerate(articles)
    ]
    assert [type(o).__name__ for o in outcomes] == ["Clean", "Duplicate", "Clean"]
    assert outcomes[1].event.duplicate_of == "x"
    assert outcomes[2].article.id == "x" and outcomes[2].article.story_id in (None, "x")
    # in one batch as well
    batch = [Message(value=to_json(a), origin=f"t:1:{i}") for i, a in enumerate(articles)]
    together = asyncio.run(process_batch(batch, InMemoryStore(), limits=LIMITS, thresholds=Thresholds(), clock=lambda: NOW))
    assert [type(o).__name__ for o in together] == ["Clean", "Duplicate", "Clean"]


@pytest.mark.parametrize(
    ("value", "article_id"),
    [
        (b'{"id": "a1", "text": NaN}', "a1"),
        (b'{"id": 7, "text": "x", "published_at": Infinity}', "7"),
        (b'{"id": "a2", "text": "bad \\ud800 escape"}', "a2"),
        (b'{"id": "\\ud800", "text": "x"}', None),  # the surrogate is the id itself
    ],
)
def test_a_dead_letter_for_a_number_or_escape_msgspec_refuses_keeps_a_readable_id(
    value: bytes, article_id: str | None
) -> None:
    """A NaN or a lone surrogate elsewhere in the article: its dead letter had no id, though the
    id was plainly there (a review's finding), so the producer could not find the article."""
    result = prepared(value)
    assert isinstance(result, DeadLettered) and result.record.id == article_id
