"""Factories shared by the test tiers (`make_article(**overrides)` over copy-paste)."""

from __future__ import annotations

import random
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


# --- synthetic news: distinct articles of pseudo-Arabic words ---------------------------------

SENTENCES = [
    "أعلنت وزارة الصحة اليوم تسجيل 120 إصابة جديدة في العاصمة.",
    "وقال المتحدث باسم الوزارة إن الفرق الطبية تعمل على مدار الساعة.",
    "وأضاف أن المستشفيات الحكومية رفعت درجة الاستعداد القصوى.",
    "ودعت الوزارة المواطنين إلى الالتزام بالإرشادات الصحية.",
    "من جهة أخرى افتتح المحافظ مركزا جديدا للرعاية الأولية.",
    "ويضم المركز عيادات متخصصة وقسما للطوارئ يعمل طوال الأسبوع.",
    "وأشار المحافظ إلى أن المشروع كلف نحو 15 مليون دينار.",
    "ومن المتوقع أن يخدم المركز أكثر من 50 ألف نسمة في المنطقة.",
]


LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    return ["".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 7))) for _ in range(size)]


_VOCAB = vocabulary(random.Random(0))
_WEIGHTS = [1 / (rank + 1) for rank in range(len(_VOCAB))]


def synthetic_article(n: int = 0, paragraphs: int = 4, **overrides: Any) -> dict[str, Any]:
    """A synthetic article of pseudo-Arabic words with Zipf-like frequencies, like news: other
    articles share its frequent words but not its phrases. Deterministic in `n`."""
    rng = random.Random(n)
    body = []
    for _ in range(paragraphs):
        sentences = [" ".join(rng.choices(_VOCAB, _WEIGHTS, k=rng.randint(8, 20))) + "." for _ in range(3)]
        body.append(" ".join(sentences))
    body[0] = SENTENCES[n % len(SENTENCES)] + " " + body[0]  # a real sentence, with a number
    article = {
        "id": f"a{n}",
        "url": f"https://news.example/a{n}",
        "source": "wire",
        "title": " ".join(rng.choices(_VOCAB, _WEIGHTS, k=6)),
        "text": "\n".join(body),
        "published_at": "2018-03-01T10:00:00Z",
    }
    article.update(overrides)
    return article


def synthetic_corpus(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` distinct synthetic articles (used by the integration test of `newsworker eval` too)."""
    return [synthetic_article(seed * 100_000 + i) for i in range(n)]
