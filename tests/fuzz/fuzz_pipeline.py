"""Coverage-guided fuzzing of the pipeline's pure part (decode + validate -> normalize -> fingerprint).

Run by hand for as long as you like (atheris = libFuzzer for Python):

    python tests/fuzz/fuzz_pipeline.py tests/fuzz/corpus -max_total_time=600

`tests/fuzz/test_fuzz.py` runs it in CI with a fixed budget. One input is checked by `check`:
the first byte picks raw bytes (the message as a producer sent it) or a structured article built
from the rest (so that the fuzzer reaches the normalizer instead of failing at JSON syntax).

A finding is any exception out of `check`: `prepare` raising at all, an `internal_error` dead
letter (that is how `prepare` hides an unexpected exception from the stream, so here it counts as
a crash), or a broken invariant of a prepared article. libFuzzer's `-timeout` turns an input that
takes too long into a finding too (a pathological input that would stall a partition).
"""

from __future__ import annotations

import sys

import msgspec

with __import__("contextlib").suppress(ImportError):
    import atheris

    with atheris.instrument_imports(include=["worker"]):
        import worker.normalize.text
        import worker.pipeline  # noqa: F401

from worker.pipeline import DeadLettered, Limits, Message, Prepared, prepare

LIMITS = Limits(max_message_bytes=64 * 1024, max_text_chars=20_000, dead_letter_preview_bytes=1024)
FIELDS = ("id", "source", "url", "title", "text", "html", "published_at", "language")


def structured(data: bytes) -> bytes:
    """An article whose fields are made from `data`, JSON-encoded as a producer would."""
    article: dict[str, object] = {}
    step = max(1, len(data) // 6)
    chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    for index, chunk in enumerate(chunks):
        name = FIELDS[(chunk[0] if chunk else index) % len(FIELDS)]
        text = chunk[1:].decode("utf-8", "surrogateescape" if index % 2 else "replace")
        if name == "html" and index % 3 == 0:
            text = f"<div><p>{text}</p><script>{text}</script></div>"
        article[name] = text
    if not ("text" in article or "html" in article):
        article["text"] = data.decode("latin-1")
    try:
        return msgspec.json.encode(article)
    except (msgspec.EncodeError, UnicodeEncodeError):  # lone surrogates: send them escaped
        import json

        return json.dumps(article, ensure_ascii=True).encode()


def check(data: bytes) -> None:
    if not data:
        return
    value = data[1:] if data[0] % 2 == 0 else structured(data[1:])
    result = prepare(Message(value=value, origin="fuzz:0:0"), limits=LIMITS, now=1_795_000_000.0)
    if isinstance(result, DeadLettered):
        if result.reason == "internal_error":
            raise AssertionError(f"prepare hid an exception: {result.record.error}")
        assert result.record.error and result.record.original_size == len(value)
        return
    assert isinstance(result, Prepared)
    assert result.article_id and result.clean.event.text.strip(), "a prepared article has an id and text"
    assert len(result.fp.exact) == 16


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
