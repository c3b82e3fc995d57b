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


def _format_checker() -> jsonschema.FormatChecker:
    """jsonschema checks `date-time` only with an optional package: this one checks it as
    RFC 3339 (what `datetime.fromisoformat` reads of the worker's `...Z` times, with a zone)."""
    from datetime import datetime

    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        return not isinstance(value, str) or (
            "T" in value and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
        )

    return checker


def test_every_event_the_pipeline_writes_meets_its_contract_formats_and_bounds_included(seeds_dir: Path) -> None:
    """Clean, duplicate and dead-letter events of the real pipeline, for the seeds and odd
    inputs, against the committed schemas with their formats (`date-time`) and bounds
    (similarity 0..1, counts >= 0) checked: those were promises in words only (a review's
    finding)."""
    import asyncio

    from tests.support.fakes import InMemoryStore
    from worker.dedup.decision import Thresholds
    from worker.pipeline import Clean, Duplicate, Limits, Message, process_batch

    values = [r.value for r in read_records([seeds_dir])]
    values += [
        json.dumps({"id": "t1", "text": "The council met.", "published_at": when}).encode()
        for when in ("2024", "1999-12-31T23:59:59+14:00", "Tue, 01 Jan 2030 10:00:00 GMT", "نص", 1.7e12, None)
    ]
    values += [b"{not json", b"\xff\xfe", json.dumps({"id": "e", "title": "no body"}).encode(), values[0]]
    messages = [Message(value=v, origin=f"t:0:{i}") for i, v in enumerate(values)]
    outcomes = asyncio.run(process_batch(messages, InMemoryStore(), limits=Limits(), thresholds=Thresholds()))
    schemas = {role: json.loads((ROOT / "schemas" / f"{role}.schema.json").read_text(encoding="utf-8")) for role in CONTRACTS}
    checker = _format_checker()
    roles = []
    for outcome in outcomes:
        if isinstance(outcome, Clean):
            role, event = "clean", outcome.article
        elif isinstance(outcome, Duplicate):
            role, event = "duplicate", outcome.event
        else:
            role, event = "dead_letter", outcome.record
        roles.append(role)
        jsonschema.validate(json.loads(msgspec.json.encode(event)), schemas[role], format_checker=checker)
    assert {"clean", "duplicate", "dead_letter"} <= set(roles)
    # the promises are in the schemas, not in words only
    text = json.dumps(schemas)
    assert text.count('"format": "date-time"') == 4  # ingested_at, published_at, seen_at, failed_at
    assert '"maximum": 1.0' in json.dumps(schemas["duplicate"]) and '"maximum": 1.0' in json.dumps(schemas["clean"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("2024-01-01 10:00", {"type": "string", "format": "date-time"}, format_checker=checker)


def test_output_schemas_require_every_field_the_worker_writes() -> None:
    """The worker writes every field of an output event, defaults too: the schemas said most were
    optional, and a published clean event's `story_id` nullable (a review of the downstream
    view). A clean event without its story, or any output missing a field, is refused."""
    from worker.events import CleanArticle

    for kind in (CleanArticle, DuplicateEvent, DeadLetter):
        definition = json_schema(kind)["$defs"][kind.__name__]
        assert definition["required"] == list(definition["properties"]), kind.__name__
    schema = json.loads((ROOT / "schemas" / "clean.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["CleanArticle"]["properties"]["story_id"]["type"] == "string"
    dup = json.loads(
        msgspec.json.encode(DuplicateEvent(id="b", duplicate_of="a", kind="near", similarity=0.9, seen_at="2026-01-01T00:00:00Z"))
    )
    del dup["url"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dup, json_schema(DuplicateEvent))


def test_dead_letter_reasons_are_a_closed_set_in_the_schema() -> None:
    """`error_type` was a free string "e.g. ...": the reasons are a closed set (the decoder's, the
    pipeline's, the prepare pool's, the publisher's), and the schema lists it."""
    from typing import get_args

    from worker.events import DeadLetterReason
    from worker.service.metrics import KNOWN_DEAD_LETTER_REASONS
    from worker.service.preparer import ISOLATION_REASONS
    from worker.service.publisher import OUTPUT_TOO_LARGE
    from worker.validate import REASONS

    listed = set(get_args(DeadLetterReason))
    assert listed == set(KNOWN_DEAD_LETTER_REASONS) == {*REASONS, *ISOLATION_REASONS, OUTPUT_TOO_LARGE, "internal_error"}
    schema = json.loads((ROOT / "schemas" / "dead_letter.schema.json").read_text(encoding="utf-8"))
    assert set(schema["$defs"]["DeadLetter"]["properties"]["error_type"]["enum"]) == listed


def test_a_small_json_message_s_dead_letter_keeps_it_as_text() -> None:
    """A short JSON message (its quotes escaped in the dead letter) was kept as base64, against
    the schema's "text when it was UTF-8"; control characters still make it base64 (a JSON
    string of NULs grows sixfold)."""
    from worker.pipeline import Limits, Message, dead_letter

    for value in (b'"str"', b'[1, "a", "b"]', b'{"id": "x", "text": "\\"quoted\\""}'):
        record = dead_letter(Message(value=value, origin="t:0:0"), "not_an_object", "x", 0.0, Limits()).record
        assert (record.original, record.original_encoding) == (value.decode(), "utf-8")
    record = dead_letter(Message(value=b"\x00" * 40, origin="t:0:0"), "invalid_json", "x", 0.0, Limits()).record
    assert record.original_encoding == "base64"
