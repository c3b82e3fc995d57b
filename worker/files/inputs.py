"""Reading articles from files for `produce` and the offline `dedup` mode.

Accepted: `.jsonl` / `.jsonl.gz` (one raw article per line; `.ndjson` / `.ndjson.gz` the
same), `.json` (one article), `.txt` (plain text; its path in the directory given, without
extension, is its id), `.html` / `.htm` (the page is the article's `html`), and directories of
those (walked in name order; files of other names are skipped, and `input_files` lists them).
A file named on its own with another name is plain text (`story`, `story.md`, a shell's
`<(...)`), unless its name says it is not (`NOT_TEXT_SUFFIXES`: read as text, a `.json.gz` or a
`.csv` was one garbage article, a review's finding). Each record keeps its origin
(`path:line`), so errors name the line to fix, and the offline mode can tell a re-run from a
new article.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".txt", ".html", ".htm")
_JSON_LINES = {".jsonl": False, ".ndjson": False, ".jsonl.gz": True, ".ndjson.gz": True}  # compressed?
#: Names of files that are no article's text, refused when named on their own: compressed or
#: archived data (a `.json.gz`: name it `.jsonl.gz` if it holds JSON lines), tables, documents.
NOT_TEXT_SUFFIXES = (
    ".gz", ".bz2", ".xz", ".zst", ".zip", ".tar", ".7z", ".csv", ".tsv", ".parquet", ".avro",
    ".xlsx", ".xls", ".pdf", ".doc", ".docx", ".odt",
)  # fmt: skip
#: The UTF-8 byte order mark some editors put at the start of a file (RFC 8259 lets a reader
#: ignore it): dropped before a line's or a file's JSON, so `produce` sends JSON without it (the
#: worker ignores one before a message's JSON too).
_BOM = codecs.BOM_UTF8


class InputRecord(msgspec.Struct, frozen=True):
    value: bytes  # the message as it would travel on Kafka
    origin: str  # "path:line" (line 1 for single-article files)
    problem: str | None = None  # why the worker will dead-letter it, when known here
    #: Not an article but the rest of a file that cannot be read (a truncated or corrupt
    #: `.jsonl.gz`): `value` is empty and `problem` says why. Never sent; a dead letter offline.
    unreadable: bool = False


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), "")


class UnreadableInput(ValueError):
    """A file named on the command line that is no article's text (`NOT_TEXT_SUFFIXES`)."""


class InputFiles(msgspec.Struct, frozen=True):
    """The files an input names, each with the id a plain-text or HTML file's article gets,
    and the files its directories hold that no reader reads (skipped, to be said)."""

    files: list[tuple[Path, str]]
    skipped: list[Path]


def input_files(paths: Iterable[Path]) -> InputFiles:
    """Every file of `paths`, listed (and every path checked) before any is read: a missing or
    unreadable second input used to stop a run after the first was decided and recorded (a
    review's finding). Raises FileNotFoundError, or `UnreadableInput` for a file named with a
    suffix no reader reads.

    An id is the file's path in the directory given, without its suffix (``site/a/index.html``
    -> ``a/index``; a file given itself, or at a directory's top: its name). A wget mirror is
    all ``index.html``: by name alone its pages would be one id, and an article is never taken
    for a copy of its own id. A name met again under another directory given is the path as
    given (``b/site/index``)."""
    paths = list(paths)
    named: list[tuple[Path, str]] = []
    skipped: list[Path] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if _suffix(file):
                    named.append((file, file.relative_to(path).as_posix()))
                else:
                    skipped.append(file)
        elif path.exists():
            if not _suffix(path) and path.name.lower().endswith(NOT_TEXT_SUFFIXES):
                raise UnreadableInput(
                    f"{path}: not an article's text (its name says so); the readers take "
                    f"{', '.join(SUFFIXES)} (a file of JSON lines compressed: .jsonl.gz)"
                )
            named.append((path, path.name))
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    seen: set[str] = set()
    files: list[tuple[Path, str]] = []
    for file, name in named:
        name = _unsuffixed(name)
        if name in seen:
            name = _unsuffixed(file.as_posix())
        seen.add(name)
        files.append((file, name))
    return InputFiles(files, skipped)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path, _name in input_files(paths).files:
        yield path


def _unsuffixed(name: str) -> str:
    """`name` without the reader's suffix it ends with (``a/index.html`` -> ``a/index``)."""
    return name[: len(name) - len(_suffix(Path(name)))]


def _check_json(line: bytes) -> str | None:
    try:
        value = msgspec.json.decode(line)
    except UnicodeDecodeError:  # msgspec raises it, not DecodeError, for bad UTF-8 in a string
        return "not valid UTF-8"
    except msgspec.DecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return "not valid UTF-8"
        return f"invalid JSON: {exc}"
    except RecursionError:  # msgspec's nesting limit: `[[[[...`, as the worker's decoder says too
        return "invalid JSON: nested too deeply"
    if not isinstance(value, dict):
        return "not a JSON object"
    return None


def _cr_lines(line: bytes) -> list[bytes]:
    """A line as an editor shows it: a bare CR (a classic Mac file, a tool that writes ``\\r``
    alone) ends a line too. JSON holds a raw CR only as white space between tokens, so a line
    that parses as a whole with one inside stays whole, and so does one none of whose pieces is a
    JSON object (a raw CR inside a string, ``"Score\\r42\\rend"``: one bad record, not three).
    Otherwise it is split at each CR: a file of CR-only line endings was one record,
    dead-lettered as invalid JSON (a review's finding; then, a review of the fix: with a BOM, a
    leading CR or a bad first record too)."""
    if b"\r" not in line or _parses(line.removeprefix(_BOM)):
        return [line]
    pieces = line.split(b"\r")
    objects = (_check_json(piece.removeprefix(_BOM)) is None for piece in pieces if piece.strip())
    return pieces if any(objects) else [line]


def _parses(data: bytes) -> bool:
    try:
        msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return False
    return True


def _read_lines(path: Path, *, compressed: bool, check: bool = True) -> Iterator[InputRecord]:
    """A JSON-lines file's records; if the file cannot be read to its end (a `.gz` cut short by
    a copy or a full disk, or not gzip at all), every line before that, then one `unreadable`
    record naming where it stopped. `check`: see `read_records`."""
    number = 0
    try:
        with (
            gzip.open(path, "rb") if compressed else open(path, "rb") as fh,
            contextlib.ExitStack() as stack,
        ):
            lines: Iterable[bytes] = fh
            if fh.peek(2)[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                # UTF-16 with its byte order mark, as PowerShell's `>` writes: each line read as
                # bytes was a dead letter blamed on another producer's wire format (a review's
                # finding)
                text = stack.enter_context(io.TextIOWrapper(fh, encoding="utf-16"))
                lines = (line.encode("utf-8") for line in text)
            for line in lines:
                for piece in _cr_lines(line.rstrip(b"\r\n")):
                    number += 1
                    # a file saved as "UTF-8 with BOM", or lines joined from such files
                    piece = piece.removeprefix(_BOM)
                    if not piece.strip():
                        continue
                    yield InputRecord(piece, f"{path}:{number}", _check_json(piece) if check else None)
    except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as exc:
        where = f"after line {number}" if number else "at its start"
        problem = f"the file cannot be read {where} ({exc}): truncated or not gzip?"
        yield InputRecord(b"", f"{path}:{number + 1}", problem, unreadable=True)


def read_records(paths: Iterable[Path] | InputFiles, *, check: bool = True) -> Iterator[InputRecord]:
    """Every article of every file, in order (`paths`, or their `input_files` listed already).
    Never stops at a bad record: it flags it.

    `check=False` leaves JSON unparsed here (`problem` is then set only for what is not JSON
    text at all): for a caller that runs the records through the worker's own decoding, which
    dead-letters a bad one with its reason, a parse here would only be done twice."""
    listed = paths if isinstance(paths, InputFiles) else input_files(paths)
    for path, name in listed.files:
        suffix = _suffix(path)
        if suffix in _JSON_LINES:
            yield from _read_lines(path, compressed=_JSON_LINES[suffix], check=check)
        elif suffix == ".json":
            data = path.read_bytes().removeprefix(_BOM)
            yield InputRecord(data, f"{path}:1", _check_json(data) if check else None)
        else:
            data = path.read_bytes()
            field = "html" if suffix in (".html", ".htm") else "text"
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                yield InputRecord(data, f"{path}:1", "not valid UTF-8")
                continue
            yield InputRecord(msgspec.json.encode({"id": name, field: text}), f"{path}:1")
