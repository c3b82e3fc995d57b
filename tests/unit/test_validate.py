from __future__ import annotations

import pytest

from tests.support.factories import encode, make_article
from worker.errors import PoisonInput
from worker.validate import REASONS, decode_article

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


def test_html_only_article_is_valid() -> None:
    raw = decode_article(encode(make_article(text=..., html="<p>hello</p>")), **LIMITS)
    assert raw.html == "<p>hello</p>" and raw.text is None


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
    ],
)
def test_bad_input_gets_a_reason(payload: bytes, reason: str) -> None:
    assert reason_of(payload) == reason


def test_null_bytes_in_text_are_not_a_crash() -> None:
    raw = decode_article(encode(make_article(text="a\x00b text")), **LIMITS)
    assert raw.text == "a\x00b text"
