"""The committed JSON Schemas are generated from the code; they must never drift."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from worker.cli import main
from worker.events import CONTRACTS, DeadLetter, DuplicateEvent, json_schema
from worker.files.inputs import read_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("role", sorted(CONTRACTS))
def test_committed_schema_matches_code(role: str) -> None:
    committed = json.loads((ROOT / "schemas" / f"{role}.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(CONTRACTS[role]), "run `newsworker schemas` and commit the result"


def test_schemas_check_command_flags_drift(tmp_path: Path) -> None:
    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert main(["schemas", "--dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "clean.schema.json").write_text("{}", encoding="utf-8")
    assert main(["schemas", "--dir", str(tmp_path), "--check"]) == 1


def test_raw_schema_requires_text_or_html() -> None:
    schema = json_schema(CONTRACTS["raw"])
    jsonschema.validate({"text": "x"}, schema)
    jsonschema.validate({"html": "<p>x</p>"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"title": "no body"}, schema)


def test_events_validate_against_their_schema() -> None:
    dup = DuplicateEvent(
        id="b", duplicate_of="a", kind="near", similarity=0.9, seen_at="2026-01-01T00:00:00Z"
    )
    jsonschema.validate(json.loads(msgspec.json.encode(dup)), json_schema(DuplicateEvent))
    dl = DeadLetter(
        original="x",
        original_encoding="utf-8",
        original_size=1,
        error_type="invalid_json",
        error="bad",
        failed_at="2026-01-01T00:00:00Z",
    )
    jsonschema.validate(json.loads(msgspec.json.encode(dl)), json_schema(DeadLetter))


@pytest.mark.parametrize(
    "article",
    [{"text": None}, {"html": None}, {"text": ""}, {"text": " \n\t"}, {"text": None, "html": ""}, {"text": 3}],
    ids=["null-text", "null-html", "empty-text", "blank-text", "null-text-empty-html", "number-text"],
)
def test_raw_schema_rejects_what_the_worker_dead_letters(article: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(article, json_schema(CONTRACTS["raw"]))


def test_raw_schema_accepts_one_body_beside_a_null_one() -> None:
    jsonschema.validate({"text": None, "html": "<p>x</p>"}, json_schema(CONTRACTS["raw"]))
    jsonschema.validate({"text": "x", "html": None}, json_schema(CONTRACTS["raw"]))


def test_raw_schema_accepts_every_seed(seeds_dir: Path) -> None:
    """The seeds as `newsworker produce` sends them (a .txt file becomes `{"id", "text"}`)."""
    records = list(read_records([seeds_dir]))
    assert records, f"no seed in {seeds_dir}"
    for record in records:
        jsonschema.validate(json.loads(record.value), json_schema(CONTRACTS["raw"]))
