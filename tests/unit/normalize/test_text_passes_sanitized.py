"""The compiled normalize passes (all of them) under AddressSanitizer and UndefinedBehaviorSanitizer
(tests/support/sanitized.py): random text of each storage width (Latin-1, BMP, outside the BMP),
dense in the marks the rules act on, empty and long text, a table of the wrong size, bad
arguments."""

from __future__ import annotations

from pathlib import Path

from tests.support.sanitized import ROOT, run_sanitized

SOURCE = ROOT / "worker" / "normalize" / "_text_passes.c"

WORKLOAD = r"""
rng = random.Random(20261206)
marks = " \n\t\r\u00a0\u3000،؛؟,.:()[]{}_a5٣سي\u0651é新𝐀"
image = bytes(rng.getrandbits(8) for _ in range(2 * 65536))
for i in range(6000):
    s = "".join(rng.choice(marks) for _ in range(rng.randrange(0, 120)))
    if rng.random() < 0.2:
        s += chr(rng.randrange(0x10000, 0x110000))
    for f in (m.collapse_lines, m.fix_spacing):
        out = f(s)
        assert isinstance(out, str) and len(out) <= 2 * len(s)
    out = m.cp1256_key(s, image)
    assert out is None or len(out) <= len(s)
    assert m.chars_in(s, image[:8192]) <= set(s)
    assert m.may_break(s) in (True, False)
    assert m.surely_normal(s, image[:65536]) in (True, False)
    ordered = m.reorder_marks(s, image[:65536])
    assert ordered is None or len(ordered) == len(s)
    cut = 2 * rng.randrange(0, 0x700)  # a fold image of any length up to the Arabic block
    out = m.fold_chars(s, image[:cut])
    assert isinstance(out, str) and len(out) <= len(s)
long = "،كلمة , x ( y ) :" * 50_000
m.fix_spacing(long); m.collapse_lines(long + "\n" * 1000); m.cp1256_key(long, image); m.chars_in(long, image[:8192])
m.may_break(long + "قال.وأضاف"); m.surely_normal(long, image[:65536]); m.fold_chars(long, image[: 2 * 0x700])
classes = bytes(rng.randrange(0, 6) for _ in range(65536))  # many marks of few classes: long runs
for size in (0, 1, 63, 64, 65, 5000):
    m.reorder_marks("".join(chr(rng.randrange(0x300, 0x370)) for _ in range(size)), classes)
for bad in (None, 3, b"bytes"):
    for f in (m.collapse_lines, m.fix_spacing, m.may_break):
        refused(f, bad, errors=TypeError)
for f in (m.cp1256_key, m.chars_in, m.surely_normal, m.fold_chars, m.reorder_marks):
    for args in (("a", b"short"), (b"a", image), ("a",)):
        refused(f, *args)
refused(m.fold_chars, "a", image + b"xx")  # past the BMP
refused(m.fold_chars, "a", b"odd")
print("sanitized ok")
"""


def test_the_normalize_passes_are_clean_under_address_and_ub_sanitizers(tmp_path: Path) -> None:
    run_sanitized(SOURCE, "_text_passes", WORKLOAD, tmp_path)
