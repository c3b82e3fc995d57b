"""The character classes (worker/normalize/char_classes.py) are exactly the sets they are defined as,
generated or derived."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest

from worker.normalize import char_classes

_ALL = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
_BMP = [c for c in _ALL if ord(c) < 0x10000]


def _members(ranges: list[tuple[int, int]]) -> set[str]:
    return {chr(c) for a, b in ranges for c in range(a, b + 1)}


def _definitions() -> dict[str, set[str]]:
    return {
        "combining": {c for c in _BMP if unicodedata.combining(c)},
        "mark": {c for c in _BMP if unicodedata.category(c)[0] == "M"},
        "digit": {c for c in _BMP if unicodedata.category(c) == "Nd" and not c.isascii()},
        "space": {c for c in _BMP if c.isspace() and c not in " \n"},
        # the whole code space: no combining mark outside planes 0 and 1 (a Unicode version that
        # put one there fails here)
        "combining_planes": {c for c in _ALL if unicodedata.combining(c)},
    }


@pytest.mark.parametrize("classes", ["loaded", "derived"])
def test_each_class_is_exactly_its_definition(classes: str) -> None:
    got = char_classes.CLASSES if classes == "loaded" else char_classes.derive()
    assert set(got) == set(char_classes.NAMES)
    for name, members in _definitions().items():
        assert members, name
        assert _members(got[name]) == members, name
        ranges = got[name]
        # sorted, disjoint and merged: a class made of them is as short as it can be
        assert all(a <= b for a, b in ranges), name
        assert all(b + 1 < c for (_, b), (c, _) in itertools.pairwise(ranges)), name


def test_the_classes_make_the_regular_expressions_they_are_used_in() -> None:
    from worker.normalize import text

    for name in ("combining", "mark", "digit", "space"):
        pattern = re.compile(f"[{text._class(char_classes.CLASSES[name])}]")
        assert {c for c in _BMP if pattern.fullmatch(c)} == _members(char_classes.CLASSES[name]), name


def test_a_module_of_another_unicode_version_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.normalize import char_class_tables

    assert char_classes._loaded() is not None
    monkeypatch.setattr(char_class_tables, "UNIDATA_VERSION", "0.0.0")
    assert char_classes._loaded() is None  # so the classes are derived: the same answers
    monkeypatch.setattr(char_class_tables, "UNIDATA_VERSION", unicodedata.unidata_version)
    monkeypatch.setattr(char_class_tables, "CLASSES", {"combining": []})
    assert char_classes._loaded() is None  # damaged or older: derived too
