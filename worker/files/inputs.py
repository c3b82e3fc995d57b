"""Reading articles from files for `produce` and the offline `dedup` mode.

Accepted: `.jsonl` / `.jsonl.gz` (one raw article per line), `.json` (one article), `.txt`
(plain text; its path in the directory given, without extension, is its id), `.html` / `.htm` (the page is the
article's `html`), and directories of those (walked in name order). Each record keeps its
origin (`path:line`), so errors name the line to fix, and the offline mode can tell a re-run
from a new article.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".txt", ".html", ".htm")
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


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path, _name in _named_files(paths):
        yield path


def _named_files(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Every file with the id a plain-text or HTML file's article gets: its path in the
    directory given, without its suffix (``site/a/index.html`` -> ``a/index``; a file given
    itself, or at a directory's top: its name). A wget mirror is all ``index.html``: by name
    alone its pages would be one id, and an article is never taken for a copy of its own id.
    A name met again under another directory given is the path as given (``b/site/index``)."""
    seen: set[str] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _suffix(p))
            named = [(p, p.relative_to(path).as_posix()) for p in found]
        elif path.exists():
            named = [(path, path.name)]
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
        for file, name in named:
            name = _unsuffixed(name)
            if name in seen:
                name = _unsuffixed(file.as_posix())
            seen.add(name)
            yield file, name


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


def _read_lines(path: Path, *, compressed: bool, check: bool = True) -> Iterator[InputRecord]:
    """A JSON-lines file's records; if the file cannot be read to its end (a `.gz` cut short by
    a copy or a full disk, or not gzip at all), every line before that, then one `unreadable`
    record naming where it stopped. `check`: see `read_records`."""
    number = 0
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                # a file saved as "UTF-8 with BOM", or lines joined from such files
                line = line.rstrip(b"\r\n").removeprefix(_BOM)
                if not line.strip():
                    continue
                yield InputRecord(line, f"{path}:{number}", _check_json(line) if check else None)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        where = f"after line {number}" if number else "at its start"
        problem = f"the file cannot be read {where} ({exc}): truncated or not gzip?"
        yield InputRecord(b"", f"{path}:{number + 1}", problem, unreadable=True)


def read_records(paths: Iterable[Path], *, check: bool = True) -> Iterator[InputRecord]:
    """Every article of every file, in order. Never stops at a bad record: it flags it.

    `check=False` leaves JSON unparsed here (`problem` is then set only for what is not JSON
    text at all): for a caller that runs the records through the worker's own decoding, which
    dead-letters a bad one with its reason, a parse here would only be done twice."""
    for path, name in _named_files(paths):
        suffix = _suffix(path)
        if suffix in (".jsonl", ".jsonl.gz"):
            yield from _read_lines(path, compressed=suffix == ".jsonl.gz", check=check)
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
