"""What pathological inputs cost the pure stages, against real articles (issue 14's "people who try
to break it"): each input goes through `prepare` (decode, normalize, fingerprint) in this process,
and its time per KiB of message is set against the real articles' own.

    python bench/adversarial.py            # every input, ~1 min
    python bench/adversarial.py --scale 0.25

An input whose time grows faster than its size (quadratic) shows as a large ratio, and grows
with `--scale`. Inputs over the decoder's limits are dead letters and cost nothing. Every
input is built here from repeated characters and markup: no text of the data sets.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from worker.pipeline import DeadLettered, Limits, Message, prepare

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ant-dev.jsonl.gz"


def texts(n: int) -> dict[str, str]:
    return {
        "one character": "a" * n,
        "one Arabic letter, no spaces": "ب" * n,
        "dots": "." * n,
        "words glued by dots": "كلمة." * (n // 5),
        "format characters": "\u200d\u200c\u200f" * (n // 3),
        "tatweel": "ـ" * n,
        "short lines (a title repeated)": "x\n" * (n // 2),
        "two-word lines": "title word\n" * (n // 11),
        "Chinese": "中文字" * (n // 3),
        "Thai": "ภาษาไทย" * (n // 7),
        "URLs": "http://a.b/" * (n // 11),
        "Arabic-Indic digits": "١٢٣" * (n // 3),
        "mixed scripts": "abcд中ب" * (n // 7),
        "e-mail addresses": "a@b.c " * (n // 6),
        "one-letter words": " x" * (n // 2),
        "quotes": "\"“" * (n // 2),
        "brackets": "(" * n,
        "ellipses": "…" * n,
        "sentence marks": ". " * (n // 2),
        "1,000-letter words": ("x" * 1000 + " ") * (n // 1001),
        # read as HTML since scheme v13 (markup sent as text), CDATA wrappers unwrapped
        "markup: paragraphs": "<p>word</p>" * (n // 11),
        "markup: unclosed tags": "<p " * (n // 3),
        "markup: attributes on one element": "<p " + " ".join(f'a{i}="1"' for i in range(n // 12))
        + ">x</p><br>",
        "CDATA openings": "<![CDATA[" * (n // 9),
    }


def pages(n: int) -> dict[str, str]:
    return {
        "nested divs": "<div>" * (n // 5),
        "paragraphs": "<p>x</p>" * (n // 8),
        "attributes on one element": "<p " + " ".join(f'a{i}="1"' for i in range(n // 12)) + ">x</p>",
        "a script": "<script>" + "x" * n + "</script><p>hi there friend</p>",
        "an open comment": "<!--" + "-" * n,
        "entities": "&amp;" * (n // 5),
        "nested tables": "<table><tr><td>" * (n // 15),
        "links": '<a href="x">y</a> ' * (n // 19),
    }


def timed(value: bytes, limits: Limits) -> tuple[float, str]:
    started = time.perf_counter()
    out = prepare(Message(value=value, origin="bench:0:0"), limits=limits, now=0.0)
    seconds = time.perf_counter() - started
    return seconds, out.record.error_type if isinstance(out, DeadLettered) else "prepared"


def baseline(limits: Limits, count: int = 500) -> float:
    """Real articles' seconds per KiB (the first `count` of the corpus), or synthetic prose."""
    values: list[bytes] = []
    if CORPUS.exists():
        with gzip.open(CORPUS, "rb") as f:
            values = [line for _, line in zip(range(count), f, strict=False)]
    if not values:
        values = [msgspec.json.encode({"text": "A sentence of ordinary prose. " * 100})] * count
    for v in values[:20]:
        timed(v, limits)  # warm up (the language model, caches)
    seconds = sum(timed(v, limits)[0] for v in values)
    return seconds / (sum(len(v) for v in values) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="input size: 1 is ~1M characters")
    args = parser.parse_args()
    n = int(1_000_000 * args.scale)
    limits = Limits()
    per_kib = baseline(limits)
    print(f"real articles: {per_kib * 1e6:.1f} µs per KiB of message")
    print(f"{'input':38s} {'KiB':>7s} {'seconds':>8s} {'x real':>8s}  outcome")
    build: list[tuple[str, Callable[[str], dict[str, str]], dict[str, str]]] = [
        ("text", lambda t: {"id": "x", "url": "http://a.b/x", "text": t}, texts(n)),
        ("html", lambda h: {"id": "x", "url": "http://a.b/x", "html": h}, pages(n)),
    ]
    for field, wrap, inputs in build:
        for name, body in inputs.items():
            value = msgspec.json.encode(wrap(body))
            seconds, outcome = timed(value, limits)
            kib = len(value) / 1024
            ratio = seconds / kib / per_kib
            print(f"{field + ': ' + name:38s} {kib:7.0f} {seconds:8.3f} {ratio:8.1f}  {outcome}", flush=True)


if __name__ == "__main__":
    main()
