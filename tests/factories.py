"""Factories shared by the test tiers (`make_article(**overrides)` over copy-paste)."""

from __future__ import annotations

from typing import Any

import msgspec

ARABIC_BODY = (
    "افتتح وزير الثقافة صباح اليوم الدورة الجديدة من معرض الكتاب الدولي بمشاركة أكثر من 400 دار نشر عربية وأجنبية. "
    "وقال الوزير إن المعرض يمثل نافذة للقراء على أحدث الإصدارات في الأدب والفكر والعلوم. "
    "ويستمر المعرض عشرة أيام ويتضمن برنامجا ثقافيا يضم ندوات وأمسيات شعرية وورشا للأطفال."
)
ENGLISH_BODY = (
    "The city council approved a plan on Tuesday to add 40 kilometres of protected bike lanes over the next "
    "three years, the largest expansion of the network since it was created. Council members voted 9 to 2 "
    "in favour after a four-hour debate, and work on the first section is due to begin in the spring."
)


def make_article(**overrides: Any) -> dict[str, Any]:
    article: dict[str, Any] = {
        "id": "a-1",
        "source": "test-wire",
        "url": "https://news.example.org/a-1",
        "title": "Book fair opens",
        "text": ARABIC_BODY,
        "published_at": "2026-11-20T09:30:00Z",
    }
    article.update(overrides)
    return {k: v for k, v in article.items() if v is not ...}


def encode(article: dict[str, Any]) -> bytes:
    return msgspec.json.encode(article)
