"""The generated tables (worker/normalize/normal_form_tables.py) are this Python's Unicode."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from worker.normalize import normal_form_tables as tables
from worker.normalize import normal_forms

pytest.importorskip("worker.normalize._text_passes", reason="not built (see pyproject.toml)")


def test_the_generated_tables_are_this_pythons_unicode() -> None:
    # A Python with another Unicode version fails here: `python -m worker.normalize.normal_forms`
    # makes them again (until then the worker gives the same answers, from the full check only).
    assert unicodedata.unidata_version == tables.UNIDATA_VERSION
    assert normal_forms.derive_tables() == normal_forms._TABLES
    assert normal_forms.QUICK


def test_regenerating_the_tables_gives_the_same_file(tmp_path: Path) -> None:
    written = normal_forms.write_tables(str(tmp_path / "tables.py"))
    assert Path(written).read_text(encoding="utf-8") == Path(tables.__file__).read_text(encoding="utf-8")
