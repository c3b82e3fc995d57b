from __future__ import annotations

import unicodedata

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.factories import encode, make_article
from worker.errors import PoisonInput
from worker.validate import FIELD_LIMITS, REASONS, decode_article

LIMITS = {"max_bytes": 100_000, "max_text_chars": 50_000}


def reason_of(payload: bytes) -> str:
    with pytest.raises(PoisonInput) as info:
        decode_article(payload, **LIMITS)
    assert info.value.reason in REASONS
    assert info.value.message  # a person can act on it
    return info.value.reason


def test_valid_article_decodes_and_keeps_fields() -> None:
    raw = decode_article(encode(make_article(metadata={"feed": "rss"})), **LIMITS)
    assert raw.id == "a-1" and raw.metadata == {"feed": "rss"}


def test_a_null_metadata_reads_as_none_given_and_a_wrong_type_is_still_refused() -> None:
    # Many producers write null for an absent object; every other optional field takes null too.
    raw = decode_article(b'{"id": 7, "text": "body", "metadata": null}', **LIMITS)
    assert raw.metadata == {} and raw.id == "7"
    assert decode_article(b'{"id": "x", "text": "body"}', **LIMITS).metadata == {}
    for wrong in (b"[]", b'"feed"', b"1"):
        assert reason_of(b'{"id": "x", "text": "body", "metadata": ' + wrong + b"}") == "invalid_field"


def test_html_only_article_is_valid() -> None:
    raw = decode_article(encode(make_article(text=..., html="<p>hello</p>")), **LIMITS)
    assert raw.html == "<p>hello</p>" and raw.text is None


def test_a_byte_order_mark_before_the_json_is_ignored() -> None:
    # RFC 8259 8.1: a parser may ignore it; .NET's UTF8Encoding(true) writes one
    raw = decode_article(b"\xef\xbb\xbf" + encode(make_article()), **LIMITS)
    assert raw.id == "a-1"
    assert reason_of(b"\xef\xbb\xbf\xef\xbb\xbf" + encode(make_article())) == "invalid_json"  # one mark only
    assert reason_of(b"\xef\xbb\xbf") == "invalid_json"


def test_a_schema_registry_header_before_the_json_is_skipped() -> None:
    # Confluent's JSON Schema serializer: magic byte 0, a 4-byte schema id, then the JSON
    for schema_id in (1, 255, 2**31 + 7):
        header = b"\x00" + schema_id.to_bytes(4, "big")
        assert decode_article(header + encode(make_article()), **LIMITS).id == "a-1"
    # the same header before Avro or Protobuf bytes: said so, not "not valid JSON"
    with pytest.raises(PoisonInput) as info:
        decode_article(b"\x00\x00\x00\x01\x07\x02\x06a-1\x02T", **LIMITS)
    assert info.value.reason == "invalid_json"
    assert "Schema Registry" in info.value.message and "schema id 263" in info.value.message
    assert reason_of(b"\x00") == "invalid_json"  # too short to be a header: just not JSON
    framed = b"\x00\x00\x00\x00\x01" + encode(make_article(text=...))
    assert reason_of(framed) == "missing_text"  # what is inside is checked as any article


def test_a_kafka_connect_envelope_is_opened() -> None:
    # JsonConverter with schemas.enable=true (its default): {"schema": ..., "payload": value}
    article = make_article()
    envelope = {"schema": {"type": "struct", "fields": [], "optional": False}, "payload": article}
    assert decode_article(msgspec.json.encode(envelope), **LIMITS).id == "a-1"
    # a connector that reads its records as strings: the payload is the article's JSON text
    as_string = {"schema": {"type": "string", "optional": False}, "payload": encode(article).decode()}
    assert decode_article(msgspec.json.encode(as_string), **LIMITS).id == "a-1"
    # what is inside is checked like any article
    assert reason_of(msgspec.json.encode({"schema": None, "payload": make_article(text="x" * 60_000)})) == (
        "text_too_long"
    )
    assert reason_of(msgspec.json.encode({"schema": None, "payload": None})) == "missing_text"
    with pytest.raises(PoisonInput) as info:
        decode_article(msgspec.json.encode({"schema": None, "payload": "plain words"}), **LIMITS)
    assert info.value.reason == "invalid_json" and "Kafka Connect envelope" in info.value.message
    # not an envelope without its schema: a field named payload is just another field
    assert reason_of(msgspec.json.encode({"payload": article})) == "missing_text"
    assert decode_article(msgspec.json.encode({"payload": "p", "text": "words"}), **LIMITS).text == "words"


def test_a_payload_the_producer_compressed_itself_is_named() -> None:
    import gzip

    with pytest.raises(PoisonInput) as info:
        decode_article(gzip.compress(encode(make_article())), **LIMITS)
    assert info.value.reason == "not_utf8" and "gzip-compressed" in info.value.message
    assert "compression.type=gzip" in info.value.message
    with pytest.raises(PoisonInput) as info:
        decode_article(b"\x28\xb5\x2f\xfd" + bytes(range(200)), **LIMITS)
    assert "zstd-compressed" in info.value.message


def test_an_empty_message_and_other_unicode_encodings_are_named() -> None:
    with pytest.raises(PoisonInput) as info:
        decode_article(b"", **LIMITS)  # a tombstone: the worker reads a null value as no bytes
    assert info.value.reason == "invalid_json" and "tombstone" in info.value.message
    for encoding, name in (("utf-16", "UTF-16"), ("utf-32", "UTF-32")):  # Python writes the mark
        payload = encode(make_article()).decode().encode(encoding)
        with pytest.raises(PoisonInput) as info:
            decode_article(payload, **LIMITS)
        assert info.value.reason == "not_utf8" and f"message is {name}" in info.value.message


def test_an_article_encoded_twice_is_named() -> None:
    with pytest.raises(PoisonInput) as info:
        decode_article(msgspec.json.encode(encode(make_article()).decode()), **LIMITS)
    assert info.value.reason == "not_an_object" and "encoded twice" in info.value.message
    with pytest.raises(PoisonInput) as info:
        decode_article(b'"just words"', **LIMITS)
    assert info.value.reason == "not_an_object" and "encoded twice" not in info.value.message


def test_an_integer_id_is_read_as_its_digits() -> None:
    # a database key: WordPress post ids, RSS items numbered by their feed
    assert decode_article(encode(make_article(id=4711)), **LIMITS).id == "4711"
    assert decode_article(encode(make_article(id=0)), **LIMITS).id == "0"
    assert decode_article(encode(make_article(id=-2**70)), **LIMITS).id == str(-2**70)
    assert reason_of(encode(make_article(id=10**100))) == "field_too_long"  # 101 digits > 96
    assert reason_of(encode(make_article(id=1.5))) == "invalid_field"
    assert reason_of(encode(make_article(id=True))) == "invalid_field"


def test_a_published_at_of_any_type_is_not_a_reason_to_refuse_the_article() -> None:
    # it is a hint: the normalizer ignores what is not a time, with a warning (test_timestamps.py)
    for value in (True, {"$date": "2024-05-01T10:00:00Z"}, [1, 2], {"nested": {"deep": [1]}}):
        assert decode_article(encode(make_article(published_at=value)), **LIMITS).published_at == value


def test_a_dead_letter_for_a_wrong_field_type_keeps_the_id() -> None:
    for article_id, expected in (("a-9", "a-9"), (12, "12"), ("x" * 500, None), (None, None)):
        with pytest.raises(PoisonInput) as info:
            decode_article(encode(make_article(id=article_id, url=12)), **LIMITS)
        assert info.value.reason == "invalid_field" and info.value.article_id == expected


def test_unknown_fields_are_ignored() -> None:
    assert decode_article(encode(make_article(extra_field=1)), **LIMITS).id == "a-1"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"id": "x", "text": "cut', "invalid_json"),
        (b"\xff\xfe not utf8", "not_utf8"),
        (b'["a list"]', "not_an_object"),
        (b"42", "not_an_object"),
        (encode(make_article(title=7)), "invalid_field"),
        (encode(make_article(text=["a"])), "invalid_field"),
        (encode(make_article(text=...)), "missing_text"),
        (encode(make_article(text="   \n ")), "empty_text"),
        (encode(make_article(text="", html="  ")), "empty_text"),
        (encode(make_article(text="x" * 60_000)), "text_too_long"),
        (b"x" * 100_001, "too_large"),
        (b'{"id": "s", "text": "bad \\ud800 surrogate"}', "invalid_unicode"),
        (b"", "invalid_json"),
        # found by fuzzing: msgspec names the type (a string) before it checks the string's UTF-8
        (b'"\xff{\xffext":\x00{\x0b\x00\x00\x00:', "not_an_object"),
        (b'"\xff"', "not_an_object"),
        (b'{"id": 5, "text": 7, "x": "\xff"}', "invalid_field"),
    ],
)
def test_bad_input_gets_a_reason(payload: bytes, reason: str) -> None:
    assert reason_of(payload) == reason


def test_null_bytes_in_text_are_not_a_crash() -> None:
    raw = decode_article(encode(make_article(text="a\x00b text")), **LIMITS)
    assert raw.text == "a\x00b text"


def poison_of(payload: bytes, **limits: int) -> PoisonInput:
    with pytest.raises(PoisonInput) as info:
        decode_article(payload, **{**LIMITS, **limits})
    assert info.value.reason in REASONS
    return info.value


@pytest.mark.parametrize(
    ("payload", "field", "constant"),
    [
        (b'{"id": "n", "text": NaN}', "text", "NaN"),
        (b'{"id": "n", "text": "x", "published_at": Infinity}', "published_at", "Infinity"),
        (b'{"id": "n", "text": "x", "published_at": -Infinity}', "published_at", "-Infinity"),
        (b'{"id": "n", "text": "x", "metadata": {"score": [1, NaN]}}', "metadata.score[1]", "NaN"),
    ],
)
def test_nan_and_infinity_are_named_as_such_with_their_field(payload: bytes, field: str, constant: str) -> None:
    """msgspec refuses these non-JSON numbers; the reason was once "unpaired UTF-16 surrogate"."""
    poison = poison_of(payload)
    assert poison.reason == "non_standard_number"
    assert f"`{field}` is {constant}" in poison.message and "surrogate" not in poison.message


def test_a_surrogate_is_still_a_surrogate_beside_a_nan_free_document() -> None:
    assert "surrogate" in poison_of(b'{"text": "a \\udc00 b"}').message


@pytest.mark.parametrize(
    ("field", "limit_kwarg", "limit", "setting"),
    [
        ("title", "max_title_chars", 2000, "NEWSWORKER_MAX_TITLE_CHARS"),
        ("id", "max_id_chars", 128, "NEWSWORKER_MAX_ID_CHARS"),
        ("url", None, FIELD_LIMITS["url"], ""),
        ("source", None, FIELD_LIMITS["source"], ""),
        ("language", None, FIELD_LIMITS["language"], ""),
    ],
)
def test_every_short_field_is_bounded(field: str, limit_kwarg: str | None, limit: int, setting: str) -> None:
    """One over the limit is a dead letter naming the field, its length and the limit; at it, fine."""
    limits = {limit_kwarg: limit} if limit_kwarg else {}
    decode_article(encode(make_article(**{field: "x" * limit})), **{**LIMITS, **limits})
    poison = poison_of(encode(make_article(**{field: "x" * (limit + 1)})), **limits)
    assert poison.reason == "field_too_long"
    assert f"`{field}` is {limit + 1:,} characters, over the limit of {limit:,}" in poison.message
    assert setting in poison.message


def test_a_huge_title_is_a_dead_letter_that_keeps_the_id() -> None:
    poison = poison_of(encode(make_article(title="t" * 4_300_000)), max_bytes=10_000_000)
    assert poison.reason == "field_too_long" and poison.article_id == "a-1"


def test_an_over_long_id_is_not_carried_into_the_dead_letter() -> None:
    assert poison_of(encode(make_article(id="i" * 129)), max_id_chars=128).article_id is None


def test_the_default_limits_keep_a_remembered_article_in_one_listpack_value() -> None:
    """Three ids at the limit (a record holds its own, and a duplicate's its canonical's, a linked
    article's its story's) keep the Redis record under `hash-max-listpack-value 512`
    (deploy/redis/redis.conf), the memory budget."""
    from worker.config import Settings
    from worker.dedup.decision import encode_record, make_record
    from worker.dedup.fingerprint import DEFAULT_SCHEME, fingerprint

    longest = "i" * Settings().max_id_chars
    fp = fingerprint(" ".join(f"word{i}" for i in range(400)), "https://example.org/a", DEFAULT_SCHEME)
    record = msgspec.structs.replace(make_record(longest, fp), canonical_id=longest, story_id=longest)
    assert len(encode_record(record)) <= 512


def test_the_combining_runs_are_searched_with_every_combining_mark() -> None:
    from worker.validate import _COMBINING_RANGES

    # the generated class (planes 0-1) holds every code point with a combining class, whole range
    marks = {c for c in range(0x110000) if not 0xD800 <= c < 0xE000 and unicodedata.combining(chr(c))}
    assert {c for a, b in _COMBINING_RANGES for c in range(a, b + 1)} == marks


_BMP_MARKS = "\u064e\u0651\u0301\u05b8"  # Arabic fatha and shadda, combining acute, Hebrew qamats
_PLANE_1_MARKS = "\U0001d165\U0001d167\U00011046\U0001e8d0"  # musical stem and tremolo, Brahmi virama, Mende Kikakui


@given(
    st.lists(
        st.sampled_from(["ب", "a", " ", "\U0001f600", "\U00020000", *_BMP_MARKS, *_PLANE_1_MARKS]), max_size=120
    ),
    st.integers(min_value=0, max_value=3),
)
def test_the_bmp_scan_for_mark_runs_finds_what_the_whole_class_finds(pieces: list[str], run_kind: int) -> None:
    from worker.validate import _COMBINING_RUN_RE, MAX_COMBINING_RUN, _combining_run

    marks = (_BMP_MARKS, _PLANE_1_MARKS, _BMP_MARKS + _PLANE_1_MARKS, "")[run_kind]
    run = "".join(marks[i % len(marks)] for i in range(MAX_COMBINING_RUN + 1)) if marks else ""
    value = "".join(pieces[: len(pieces) // 2]) + run + "".join(pieces[len(pieces) // 2 :])
    expected = _COMBINING_RUN_RE.search(value)
    found = _combining_run(value)
    assert (found and found.span()) == (expected and expected.span())


def test_a_run_of_marks_is_refused_with_or_without_characters_outside_the_bmp() -> None:
    from worker.validate import MAX_COMBINING_RUN

    long_run, short_run = "\u064e\u0651" * MAX_COMBINING_RUN, "\u064e\u0651" * (MAX_COMBINING_RUN // 4)
    for text in (f"ب{long_run}", f"\U0001f600 ب{long_run}", f"ب{short_run}\U0001d165" * 2 + "x" + "\U0001d165" * 40):
        assert poison_of(encode(make_article(text=text))).reason == "invalid_unicode", text
    for text in (f"ب{short_run} ب{short_run}", f"\U0001f600 ب{short_run}"):
        decode_article(encode(make_article(text=text)), **LIMITS)
