"""The generated classes (worker/normalize/char_class_tables.py) are this Python's Unicode."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from worker.normalize import char_class_tables as tables
from worker.normalize import char_classes


def test_the_generated_classes_are_this_pythons_unicode() -> None:
    # A Python with another Unicode version fails here: `python -m worker.normalize.char_classes`
    # makes them again (until then every process derives them at its start: the same answers).
    assert unicodedata.unidata_version == tables.UNIDATA_VERSION
    assert char_classes.GENERATED
    assert char_classes.derive() == char_classes.CLASSES


def test_regenerating_the_classes_gives_the_same_file(tmp_path: Path) -> None:
    written = char_classes.write_tables(str(tmp_path / "tables.py"))
    assert Path(written).read_text(encoding="utf-8") == Path(tables.__file__).read_text(encoding="utf-8")
