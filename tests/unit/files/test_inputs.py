"""File readers: every record of every file, in order, bad ones flagged with their line, never a stop."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import pytest

from worker.files.inputs import iter_files, read_records


def test_every_shape_is_read_in_order_with_its_origin(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"id": "1", "text": "x"}\n\n{"id": "2", "text": "y"}\n', encoding="utf-8")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write('{"id": "3", "text": "z"}\n')
    (tmp_path / "c.json").write_text('{"id": "4", "text": "w"}', encoding="utf-8")
    (tmp_path / "d-story.txt").write_text("\ufeffنص الخبر", encoding="utf-8")
    (tmp_path / "e.html").write_text("<p>page</p>", encoding="utf-8")
    (tmp_path / "ignored.csv").write_text("a,b", encoding="utf-8")
    records = list(read_records([tmp_path]))
    assert [r.origin.rsplit("/", 1)[1] for r in records] == ["a.jsonl:1", "a.jsonl:3", "b.jsonl.gz:1", "c.json:1", "d-story.txt:1", "e.html:1"]
    assert all(r.problem is None for r in records)
    assert msgspec.json.decode(records[4].value) == {"id": "d-story", "text": "نص الخبر"}  # BOM dropped
    assert msgspec.json.decode(records[5].value) == {"id": "e", "html": "<p>page</p>"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"text": "\xff"}', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # was a RecursionError out of the command
        (b'{"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_a_bad_line_is_flagged_and_the_rest_still_read(tmp_path: Path, line: bytes, problem: str) -> None:
    good = json.dumps({"id": "ok", "text": "t"}).encode()
    (tmp_path / "in.jsonl").write_bytes(good + b"\n" + line + b"\n" + good + b"\n")
    records = list(read_records([tmp_path / "in.jsonl"]))
    assert [r.problem is None for r in records] == [True, False, True]
    assert problem in (records[1].problem or "") and records[1].origin.endswith(":2")
    assert records[1].value == line  # kept as it is, for its dead letter


def test_a_byte_order_mark_before_the_json_is_dropped(tmp_path: Path) -> None:
    good = json.dumps({"id": "ok", "text": "t"}).encode()
    # a file saved as "UTF-8 with BOM", and a second such file appended to it
    (tmp_path / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + good + b"\n\xef\xbb\xbf" + good + b"\n")
    (tmp_path / "b.json").write_bytes(b"\xef\xbb\xbf" + good)
    (tmp_path / "c.jsonl").write_bytes(b'{"id": "\xef\xbb\xbf", "text": "t"}\n')  # inside the JSON: data
    records = list(read_records([tmp_path]))
    assert [r.value for r in records[:3]] == [good, good, good]
    assert all(r.problem is None for r in records)
    assert msgspec.json.decode(records[3].value)["id"] == "\ufeff"


def test_a_gzip_file_cut_short_yields_its_lines_then_one_unreadable_record(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"a{i}", "text": f"article {i}"}).encode() for i in range(2000)]
    data = gzip.compress(b"\n".join(lines) + b"\n")
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])  # a copy that stopped halfway
    (tmp_path / "plain.jsonl.gz").write_bytes(lines[0] + b"\n")  # named .gz, not gzip
    (tmp_path / "z.jsonl").write_bytes(lines[1] + b"\n")  # the files after them are still read
    records = list(read_records([tmp_path]))
    cut = [r for r in records if "cut.jsonl.gz" in r.origin]
    assert 0 < len(cut) - 1 < len(lines) and cut[-1].unreadable and not any(r.unreadable for r in cut[:-1])
    assert [r.value for r in cut[:-2]] == lines[: len(cut) - 2]  # in order; the last line may be cut
    assert cut[-1].value == b"" and "truncated or not gzip" in (cut[-1].problem or "")
    assert cut[-1].origin.endswith(f":{len(cut)}")  # the line it stopped at
    plain = [r for r in records if "plain.jsonl.gz" in r.origin]
    assert len(plain) == 1 and plain[0].unreadable and plain[0].origin.endswith(":1")
    assert records[-1].value == lines[1] and not records[-1].unreadable


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(iter_files([tmp_path / "nope"]))


def test_unchecked_lines_are_read_as_they_are_for_the_worker_to_decode(tmp_path: Path) -> None:
    lines = [b'{"id": "ok", "text": "t"}', b"{not json", b"[" * 1000 + b"]" * 1000, b'{"text": "\xff"}']
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    records = list(read_records([tmp_path / "in.jsonl"], check=False))
    assert [r.value for r in records] == lines
    assert all(r.problem is None and not r.unreadable for r in records)


def test_files_of_one_name_in_a_tree_get_one_id_each(tmp_path: Path) -> None:
    """A wget mirror is all index.html: by file name alone every page had the id "index", and
    an article is never taken for a copy of its own id (a near copy came out clean)."""
    for folder in ("a", "b", "c/d"):
        (tmp_path / "site" / folder).mkdir(parents=True)
        (tmp_path / "site" / folder / "index.html").write_text(f"<p>{folder}</p>", encoding="utf-8")
    (tmp_path / "site" / "top.txt").write_text("top", encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "top.txt").write_text("other top", encoding="utf-8")
    ids = [msgspec.json.decode(r.value)["id"] for r in read_records([tmp_path / "site", tmp_path / "other"])]
    assert ids == ["a/index", "b/index", "c/d/index", "top", (tmp_path / "other" / "top").as_posix()]
    assert [msgspec.json.decode(r.value)["id"] for r in read_records([tmp_path / "site" / "top.txt"])] == ["top"]


def test_a_file_in_utf16_as_powershell_writes_it_is_read(tmp_path: Path) -> None:
    """PowerShell's `>` writes UTF-16 with a byte order mark: its lines were dead letters blamed
    on another producer's wire format, and its last NUL an extra record (a review's finding)."""
    lines = [{"id": f"u{i}", "text": f"خبر رقم {i} عن الاجتماع"} for i in range(3)]
    text = "".join(json.dumps(a, ensure_ascii=False) + "\r\n" for a in lines)
    (tmp_path / "in.jsonl").write_bytes(text.encode("utf-16"))
    records = list(read_records([tmp_path / "in.jsonl"]))
    assert [json.loads(r.value) for r in records] == lines
    assert all(r.problem is None for r in records)


def test_a_file_named_as_no_text_is_refused_other_names_are_text_and_a_directory_s_unread_are_listed(
    tmp_path: Path,
) -> None:
    from worker.files.inputs import UnreadableInput, input_files

    (tmp_path / "a.ndjson").write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,text\n", encoding="utf-8")
    with pytest.raises(UnreadableInput, match="not an article's text"):
        input_files([tmp_path / "b.csv"])
    listed = input_files([tmp_path])
    assert [p.name for p, _ in listed.files] == ["a.ndjson"] and [p.name for p in listed.skipped] == ["b.csv"]
    with pytest.raises(FileNotFoundError):
        input_files([tmp_path / "a.ndjson", tmp_path / "missing.jsonl"])
    # a file named on its own with another name is plain text, as before (`story`, `story.md`)
    (tmp_path / "story.md").write_text("A story in Markdown.", encoding="utf-8")
    (record,) = read_records([tmp_path / "story.md"])
    assert msgspec.json.decode(record.value) == {"id": "story.md", "text": "A story in Markdown."}


@pytest.mark.parametrize("compressed", [False, True])
def test_a_file_with_cr_only_line_endings_is_read_line_by_line(tmp_path: Path, compressed: bool) -> None:
    """A classic Mac file (or a tool that ends lines with a bare CR) was one record, dead-lettered
    as invalid JSON: every article in it lost to one bad line (a review's finding)."""
    lines = [{"id": f"m{i}", "text": f"خبر رقم {i}\r\nعن الاجتماع"} for i in range(3)]
    text = "\r".join(json.dumps(a, ensure_ascii=False) for a in lines) + "\r"
    data = text.encode("utf-8")
    name = "in.jsonl.gz" if compressed else "in.jsonl"
    (tmp_path / name).write_bytes(gzip.compress(data) if compressed else data)
    records = list(read_records([tmp_path / name]))
    assert [json.loads(r.value) for r in records] == lines
    assert all(r.problem is None for r in records)
    assert [r.origin.rsplit(":", 1)[1] for r in records] == ["1", "2", "3"]


def test_a_cr_that_json_allows_keeps_its_line_whole(tmp_path: Path) -> None:
    """A raw CR between tokens is JSON white space, and one inside a string is one bad record:
    neither splits a line."""
    (tmp_path / "in.jsonl").write_bytes(
        b'{"id": "a",\r "text": "one"}\n{"id": "b", "text": "two\r42\rthree"}\n{"id": "c", "text": "four"}\n'
    )
    records = list(read_records([tmp_path / "in.jsonl"]))
    assert [r.origin.rsplit(":", 1)[1] for r in records] == ["1", "2", "3"]
    assert json.loads(records[0].value) == {"id": "a", "text": "one"} and records[0].problem is None
    assert records[1].problem is not None and records[1].problem.startswith("invalid JSON")
    assert records[2].problem is None


def test_cr_only_lines_after_a_bom_a_leading_cr_or_a_bad_first_record_are_split(tmp_path: Path) -> None:
    """A review of the CR fix: a CR-only file saved with a BOM, one that starts with a CR, or
    whose first record is bad was still one record."""
    good = [json.dumps({"id": f"c{i}", "text": "نص"}, ensure_ascii=False).encode() for i in range(2)]
    for name, data in (
        ("bom.jsonl", b"\xef\xbb\xbf" + b"\r".join(good) + b"\r"),
        ("lead.jsonl", b"\r" + b"\r".join(good)),
        ("bad.jsonl", b"\r".join([b"{not json", *good])),
    ):
        (tmp_path / name).write_bytes(data)
        records = list(read_records([tmp_path / name]))
        assert [r.value for r in records if r.problem is None] == good, name
        assert len(records) == (3 if name == "bad.jsonl" else 2), name
