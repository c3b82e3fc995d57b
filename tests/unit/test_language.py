"""Offline language detection on readable text."""

from __future__ import annotations

import pytest

from worker.language import detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("انتهت في عاصمة كازاخستان الجولة الثانية من الاجتماع دون التوصل إلى اتفاق", "ar"),
        ("The second round of talks ended in the capital without an agreement", "en"),
        ("این یک متن فارسی است که برای آزمایش نوشته شده است", "fa"),
        ("یہ ایک اردو جملہ ہے جو جانچ کے لیے لکھا گیا ہے", "ur"),
        ("Les pourparlers se sont terminés sans accord sur le cessez-le-feu", "fr"),
        ("Переговоры завершились без соглашения о прекращении огня", "ru"),
        ("Görüşmeler ateşkes konusunda anlaşma olmadan sona erdi", "tr"),
        ("THE SECOND ROUND OF TALKS ENDED WITHOUT AN AGREEMENT", "en"),
    ],
)
def test_detects_common_news_languages(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "   ", "ok", "12345 67890 !!! ???", "\u200b\u200b"])
def test_empty_or_too_short_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_egyptian_arabic_maps_to_ar() -> None:
    assert detect_language("ازيك يا باشا عامل ايه النهارده انا كويس الحمد لله") == "ar"


def test_only_the_start_of_a_long_text_is_read() -> None:
    text = "The second round of talks ended without an agreement. " * 200
    assert detect_language(text + "انتهت الجولة الثانية " * 500) == "en"
