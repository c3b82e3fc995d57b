"""Decode + validate: raw message bytes -> `RawArticle`, or `PoisonInput` with a reason.

The only stage that sees bytes. Everything it rejects becomes a dead letter carrying the
original bytes, so a person can fix the producer and replay. Reasons are a small closed set
(they are a metric label): see `REASONS`.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Final

import msgspec

from worker.errors import PoisonInput
from worker.events import RawArticle
from worker.normalize.char_classes import CLASSES
from worker.normalize.normal_forms import is_nfc

#: Every reason `decode_article` can give; the metrics layer folds anything else into "other".
REASONS = (
    "too_large",
    "not_utf8",
    "invalid_json",
    "not_an_object",
    "invalid_field",
    "missing_text",
    "empty_text",
    "text_too_long",
    "field_too_long",
    "invalid_unicode",
    "non_standard_number",
)

_decoder = msgspec.json.Decoder(RawArticle)

#: Longest run of combining marks accepted in one field (when the field is not NFC already).
#: Unicode normalization (NFC, which the normalizer applies) sorts each run of marks by combining
#: class in quadratic time: 100,000 alternating Arabic marks take ~10 s, a million would stall the
#: partition for minutes. Real text needs a handful per letter (fully vocalised Arabic: 2-3), so
#: 32 only rejects "zalgo" junk. Marks spelled as HTML entities appear only after unescaping;
#: the normalizer caps those runs itself (`worker.normalize.text`).
MAX_COMBINING_RUN = 32


def _class_of(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"{chr(a)}-{chr(b)}" if a != b else re.escape(chr(a)) for a, b in ranges)


#: Every code point with a non-zero canonical combining class (all are in planes 0 and 1:
#: worker/normalize/char_classes.py, generated once rather than scanned at every process start).
_COMBINING_RANGES: Final = CLASSES["combining_planes"]
_COMBINING_RUN_RE: Final = re.compile(f"[{_class_of(_COMBINING_RANGES)}]{{{MAX_COMBINING_RUN + 1}}}")
#: The same runs in text of BMP characters only (nearly all text): a class of BMP code points is
#: a bitmap to the regex engine, one lookup a character, where the whole class, with plane 1's
#: ranges in it, is ~180 ranges tried in turn (~30 µs against ~400 on a 3,000-character article).
_BMP_COMBINING_RANGES: Final = CLASSES["combining"]
_BMP_COMBINING_RUN_RE: Final = re.compile(f"[{_class_of(_BMP_COMBINING_RANGES)}]{{{MAX_COMBINING_RUN + 1}}}")


def _combining_run(value: str) -> re.Match[str] | None:
    """The first run of more than `MAX_COMBINING_RUN` combining marks in `value`, if any."""
    # UTF-16 takes two units for a character outside the BMP, one for any other
    in_bmp = len(value.encode("utf-16-le", "surrogatepass")) == 2 * len(value)
    return (_BMP_COMBINING_RUN_RE if in_bmp else _COMBINING_RUN_RE).search(value)

#: Longest value of the short string fields that have no setting of their own (`title` and `id`
#: have: NEWSWORKER_MAX_TITLE_CHARS, NEWSWORKER_MAX_ID_CHARS). Each is copied into every output
#: event of the article, so without a bound one message of junk in `source` makes a clean event
#: of megabytes. `url`: 8,192 is what common servers and CDNs accept in a request line (longer
#: URLs do not load anywhere). `source`: an outlet or feed name. `language`: the longest BCP 47
#: tag in practical use is ~35 characters (`zh-Hant-TW-x-...`); an ISO 639-1 code is 2.
FIELD_LIMITS: dict[str, int] = {"url": 8192, "source": 256, "language": 35}


#: Confluent Schema Registry's wire format: a magic byte 0 and a 4-byte big-endian schema id
#: before the serialized value. Its JSON Schema serializer (and Kafka Connect's
#: JsonSchemaConverter) put it before plain JSON; no JSON document starts with a NUL.
#: An inline resource's payload in HTML (``src="data:image/png;base64,..."``): never text.
_DATA_URI_RE: Final = re.compile(r"\bdata:[\w/+.-]*(?:;[\w=.+-]+)*,[^\"'\s)<>]{64,}")


def _without_inline_data(article: RawArticle, html: str) -> RawArticle:
    """The article with its HTML's inline resources emptied (``data:,``): a page with a 900 KB
    inline image and 400 words of story is not a long article (it was dead-lettered as
    `text_too_long`, found by an adversarial review). The message's byte limit still holds."""
    slim = _DATA_URI_RE.sub("data:,", html)
    return article if len(slim) == len(html) else msgspec.structs.replace(article, html=slim)


_SCHEMA_REGISTRY_MAGIC: Final = b"\x00"
_SCHEMA_REGISTRY_HEADER: Final = 5


class _ConnectEnvelope(msgspec.Struct, frozen=True):
    """Kafka Connect's JsonConverter with `schemas.enable=true` (its default) wraps each value:
    ``{"schema": {...}, "payload": <the value>}``; the value is the article, or a string holding
    its JSON (a connector that reads lines as strings)."""

    schema: msgspec.Raw
    payload: RawArticle | str | None = None


_envelope_decoder = msgspec.json.Decoder(_ConnectEnvelope)


def _unframe(payload: bytes) -> bytes:
    """The JSON inside a Schema Registry wire-format header, or `PoisonInput` when what follows
    the header is not JSON (Avro and Protobuf serializers use the same header)."""
    body = payload[_SCHEMA_REGISTRY_HEADER:]
    if body.lstrip(b" \t\r\n").startswith((b"{", b"[", b'"')):
        return body
    if body.startswith(b"\x00"):  # zero bytes on: not a header, just not JSON
        return payload
    schema_id = int.from_bytes(payload[1:_SCHEMA_REGISTRY_HEADER], "big")
    raise PoisonInput(
        "invalid_json",
        "message is not valid JSON: it starts as Confluent Schema Registry's wire format does (a "
        f"zero byte, then schema id {schema_id}), but what follows is not JSON (Avro or Protobuf?): "
        "newsworker reads JSON articles; produce them with the JSON Schema serializer or as plain JSON",
    )


def _from_envelope(payload: bytes) -> RawArticle | None:
    """The article inside a Kafka Connect envelope, or None when the message is not one."""
    try:
        envelope = _envelope_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(envelope.payload, str):
        try:
            return _decoder.decode(envelope.payload.encode("utf-8", "surrogatepass"))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError, RecursionError):
            raise PoisonInput(
                "invalid_json",
                "message is a Kafka Connect envelope whose `payload` string is not a JSON article",
            ) from None
    return envelope.payload


class _NonStandardNumber(float):
    """Marks where stdlib's JSON parser met NaN / Infinity / -Infinity (msgspec refuses them)."""

    constant: str

    def __new__(cls, constant: str) -> _NonStandardNumber:
        value = super().__new__(cls, constant)
        value.constant = constant
        return value


def _non_standard_numbers(value: object, path: str = "$") -> list[tuple[str, str]]:
    """(JSON path, constant) of every NaN / Infinity in a parsed document, in document order."""
    if isinstance(value, _NonStandardNumber):
        return [(path, value.constant)]
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _non_standard_numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _non_standard_numbers(item, f"{path}[{index}]")
    return found


def _readable_id(payload: bytes, max_chars: int) -> str | None:
    """The `id` of a message refused for another field's type, for its dead letter (so the
    producer can find the article): `_id_of` its document."""
    try:
        return _id_of(msgspec.json.decode(payload), max_chars)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def _id_of(document: object, max_chars: int) -> str | None:
    """A refused document's `id`, for its dead letter: a string (without a lone surrogate: it
    may be what stdlib's parser read where msgspec refused) or an integer, of at most
    `max_chars`. Dead letters of a NaN or a lone surrogate elsewhere had none, though it was
    readable (a review's finding)."""
    found = document.get("id") if isinstance(document, dict) else None
    if isinstance(found, int) and not isinstance(found, bool):
        found = str(found)
    if not isinstance(found, str) or len(found) > max_chars:
        return None
    try:
        found.encode("utf-8")
    except UnicodeEncodeError:  # the lone surrogate is in the id itself
        return None
    return found


def _holds_json_object(payload: bytes) -> bool:
    """Whether a JSON string message holds a JSON object's text."""
    try:
        inner = msgspec.json.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # msgspec checks the type first
        return False
    return isinstance(inner, str) and inner.lstrip().startswith("{")


def _compressed(name: str) -> str:
    return (
        f"message is {name}-compressed data, not JSON: send the JSON itself and let the producer "
        f"compress its batches (Kafka's compression.type={name.split()[0]}), which newsworker reads"
    )


def _other_encoding(name: str) -> str:
    return (
        f"message is {name} (its byte order mark says so), not UTF-8: producers must send UTF-8 JSON "
        "(RFC 8259 section 8.1)"
    )


#: Leading bytes of messages that are not UTF-8 JSON, and what to tell their producer: byte order
#: marks of other Unicode encodings (UTF-32 first: its little-endian mark begins with UTF-16's),
#: and data the producer compressed itself (not Kafka's batch compression, which the consumer undoes).
_NOT_UTF8_PREFIXES: Final = (
    (codecs.BOM_UTF32_LE, _other_encoding("UTF-32")),
    (codecs.BOM_UTF32_BE, _other_encoding("UTF-32")),
    (codecs.BOM_UTF16_LE, _other_encoding("UTF-16")),
    (codecs.BOM_UTF16_BE, _other_encoding("UTF-16")),
    (b"\x1f\x8b", _compressed("gzip")),
    (b"\x28\xb5\x2f\xfd", _compressed("zstd")),
    (b"\x04\x22\x4d\x18", _compressed("lz4 frame")),
    (b"\xff\x06\x00\x00sNaPpY", _compressed("snappy frame")),
)


def _explain_decode_error(payload: bytes, max_id_chars: int = 96) -> PoisonInput:
    """A precise reason for JSON msgspec refused (its messages are terse; stdlib's name the spot)."""
    if not payload:
        return PoisonInput(
            "invalid_json",
            "message is empty (a null value: a tombstone on a compacted topic, or a producer that sent "
            "no body): there is no article to read",
        )
    for prefix, message in _NOT_UTF8_PREFIXES:
        if payload.startswith(prefix):
            return PoisonInput("not_utf8", message)
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return PoisonInput(
            "not_utf8",
            f"message is not valid UTF-8 (byte {exc.start}: {payload[exc.start : exc.start + 4]!r}); "
            "producers must send UTF-8 JSON",
        )
    try:
        # As text: given bytes, json.loads guesses UTF-16/32 from leading NULs and raises
        # UnicodeDecodeError (found by fuzzing). The payload is known to be UTF-8 here.
        # stdlib also reads NaN, Infinity and -Infinity (not JSON, RFC 8259 section 6, but what
        # Python's and JavaScript's lax encoders write); `parse_constant` marks where they are.
        document = json.loads(payload.decode("utf-8"), parse_constant=_NonStandardNumber)
    except json.JSONDecodeError as exc:
        return PoisonInput("invalid_json", f"message is not valid JSON: {exc}")
    except RecursionError:
        return PoisonInput("invalid_json", "message nests JSON too deeply")
    try:
        constants = _non_standard_numbers(document)
    except RecursionError:
        return PoisonInput("invalid_json", "message nests JSON too deeply")
    article_id = _id_of(document, max_id_chars)
    if constants:
        path, constant = constants[0]
        return PoisonInput(
            "non_standard_number",
            f"`{path.removeprefix('$.')}` is {constant}, which is not a JSON number; send null (or "
            "leave the field out), e.g. with allow_nan=False in Python's json.dumps",
            article_id=article_id,
        )
    # stdlib accepts what msgspec refused: unpaired surrogate escapes such as "\ud800".
    return PoisonInput(
        "invalid_unicode",
        "message holds an unpaired UTF-16 surrogate escape (e.g. \\ud800); fix the producer's JSON encoder",
        article_id=article_id,
    )


def decode_article(
    payload: bytes,
    *,
    max_bytes: int,
    max_text_chars: int,
    max_title_chars: int = 2000,
    max_id_chars: int = 96,
) -> RawArticle:
    """Parse and validate one message. Raises `PoisonInput` with an actionable message."""
    if payload.startswith(codecs.BOM_UTF8):
        # A UTF-8 byte order mark before the JSON (some encoders write one, e.g. .NET's
        # `new UTF8Encoding(true)`): RFC 8259 section 8.1 lets a parser ignore it, and every
        # article of such a producer would otherwise be a dead letter.
        payload = payload[len(codecs.BOM_UTF8) :]
    if len(payload) > max_bytes:
        raise PoisonInput(
            "too_large",
            f"message is {len(payload):,} bytes, over the limit of {max_bytes:,} "
            "(NEWSWORKER_MAX_MESSAGE_BYTES); split or trim the article before producing it",
        )
    if payload.startswith(_SCHEMA_REGISTRY_MAGIC) and len(payload) > _SCHEMA_REGISTRY_HEADER:
        payload = _unframe(payload)
    try:
        # msgspec checks UTF-8 and refuses unpaired surrogate escapes while it parses, so the
        # happy path reads the payload once; the failure paths below say which rule was broken.
        article = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        text = str(exc)
        # Only a top-level mismatch has no path; "Expected `object` ... - at `$.metadata`" is a field.
        if text.startswith("Expected `object`") and " - at `$" not in text:
            if text.endswith("got `str`") and _holds_json_object(payload):
                raise PoisonInput(
                    "not_an_object",
                    "message is a JSON string holding a JSON object (encoded twice?): send the object itself",
                ) from None
            raise PoisonInput(
                "not_an_object", f"message must be a JSON object with `text` or `html`: {text}"
            ) from None
        raise PoisonInput(
            "invalid_field", f"wrong field type: {text}", article_id=_readable_id(payload, max_id_chars)
        ) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise _explain_decode_error(payload, max_id_chars) from None
    except RecursionError:  # msgspec's nesting limit (e.g. `[[[[...` in metadata)
        raise PoisonInput("invalid_json", "message nests JSON too deeply; flatten `metadata`") from None
    if article.text is None and article.html is None and b'"payload"' in payload:
        article = _from_envelope(payload) or article
    try:
        return validate_article(
            article, max_text_chars=max_text_chars, max_title_chars=max_title_chars, max_id_chars=max_id_chars
        )
    except PoisonInput as exc:
        # An over-long id is not carried into the dead letter (it would make that huge too).
        article_id = article_id_of(article)
        if article_id is None or len(article_id) <= max_id_chars:
            exc.article_id = article_id
        raise


def article_id_of(article: RawArticle) -> str | None:
    """The producer's id as events carry it: a string (an integer id as its decimal digits)."""
    return str(article.id) if isinstance(article.id, int) else article.id


def validate_article(
    article: RawArticle, *, max_text_chars: int, max_title_chars: int = 2000, max_id_chars: int = 96
) -> RawArticle:
    """Checks on the parsed article that its types alone cannot express. An integer `id` (a
    database key) becomes its decimal digits: every event carries ids as strings. A null
    `metadata` (many producers write null for an absent object) becomes {}, as when absent."""
    if isinstance(article.id, int) or article.metadata is None:
        article = msgspec.structs.replace(
            article, id=article_id_of(article), metadata={} if article.metadata is None else article.metadata
        )
    limits = {
        "id": (max_id_chars, "NEWSWORKER_MAX_ID_CHARS"),
        "title": (max_title_chars, "NEWSWORKER_MAX_TITLE_CHARS"),
        **{name: (limit, "") for name, limit in FIELD_LIMITS.items()},
    }
    for name, (limit, setting) in limits.items():
        value = getattr(article, name)
        if value is not None and len(value) > limit:
            raise PoisonInput(
                "field_too_long",
                f"`{name}` is {len(value):,} characters, over the limit of {limit:,}"
                + (f" ({setting})" if setting else "")
                + f"; a real {name} is far shorter: check the producer's field mapping",
            )
    if article.text is None and article.html is None:
        raise PoisonInput("missing_text", "article has neither `text` nor `html`; send at least one")
    for name in ("text", "html", "title"):
        value = getattr(article, name)
        # The NFC quick check is linear and true for nearly all text; only the rest is scanned.
        if value and not is_nfc(value) and (run := _combining_run(value)):
            raise PoisonInput(
                "invalid_unicode",
                f"`{name}` holds more than {MAX_COMBINING_RUN} combining marks in a row (at character "
                f"{run.start():,}), e.g. 'zalgo' text; strip the stacked marks before producing it",
            )
    body = article.text if article.text and article.text.strip() else article.html
    if body is None or not body.strip():
        raise PoisonInput("empty_text", "`text` and `html` are empty or whitespace only")
    if article.html is not None and len(article.html) > max_text_chars:
        article = _without_inline_data(article, article.html)
    longest = max(len(article.text or ""), len(article.html or ""))
    if longest > max_text_chars:
        raise PoisonInput(
            "text_too_long",
            f"article body is {longest:,} characters, over the limit of {max_text_chars:,} "
            "(NEWSWORKER_MAX_TEXT_CHARS)",
        )
    return article
