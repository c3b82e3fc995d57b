"""The event contracts: what enters on the input topic and what leaves on each output topic.

These msgspec types are the single source of truth. `schemas/*.schema.json` is generated from them
(`newsworker schemas`), and a test fails when the committed files drift from the code.

Every output event carries `schema_version`; a change that is not backwards compatible bumps it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

SCHEMA_VERSION = 1
#: The clean event's own version. 2: `paragraphs` left out; they are `text.split("\n\n")`
#: (a paragraph never holds a line break), and carrying both doubled every clean event's size.
#: 3: `story_id`, `related_to` and `similarity`: an article sharing a story with an earlier one
#: is published and linked instead of dropped (docs/DEDUP.md, "Three answers").
CLEAN_SCHEMA_VERSION = 3


def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


# What the contracts promised in words only (a review's finding), now in the schemas too; they
# constrain consumers' validation, not the worker's encoding (msgspec checks them on decode).
#: A time as the worker writes it: RFC 3339 (UTC ISO-8601).
_TIME = msgspec.Meta(extra_json_schema={"format": "date-time"})
#: An estimated similarity.
_SHARE = msgspec.Meta(ge=0.0, le=1.0)
_COUNT = msgspec.Meta(ge=0)


class RawArticle(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=False):
    """A raw article as scrapers, RSS readers and wire feeds send it (input topic, JSON object).

    Unknown fields are ignored, so producers may send more than this. At least one of `text` and
    `html` must hold non-blank content. A bare plain-text file is a raw article too: `newsworker
    produce` turns it into `{"id": <file name without extension>, "text": <contents>}`.
    """

    id: Annotated[
        str | int | None,
        _d(
            "Producer's id (a string, or an integer: a database key, read as its decimal digits); "
            "a stable id is derived from the content when absent"
        ),
    ] = None
    url: Annotated[str | None, _d("Where the article was published")] = None
    source: Annotated[str | None, _d("Outlet or feed name")] = None
    title: Annotated[str | None, _d("Headline")] = None
    text: Annotated[str | None, _d("Plain text body")] = None
    html: Annotated[str | None, _d("HTML page or fragment; used when `text` is absent")] = None
    published_at: Annotated[
        Any,
        _d(
            "Publication time: ISO-8601, RFC 2822, epoch seconds/milliseconds, or MongoDB extended "
            'JSON ({"$date": ...}). A value that is none of these is ignored, with a warning on the '
            "clean article: the article is not refused for it"
        ),
    ] = None
    language: Annotated[
        str | None,
        _d("BCP 47 tag (ISO 639-1 code) if the producer knows it; another value is ignored, with a warning"),
    ] = None
    metadata: Annotated[
        dict[str, Any] | None,
        _d("Free-form producer metadata, passed through (null reads as {}, as when absent)"),
    ] = {}


class Fingerprints(msgspec.Struct, kw_only=True, frozen=True):
    """The article's fingerprints, as the dedup stage computed them."""

    scheme: Annotated[str, _d("Fingerprint scheme version; entries of different schemes never mix")]
    exact: Annotated[str, _d("128-bit hash (hex) of the match key: equal for exact duplicates")]
    near: Annotated[str, _d("Compact MinHash sketch (hex) used to verify near-duplicates")]
    tokens: Annotated[int, _d("Number of match-key tokens the sketch was built from")]


class CleanArticle(msgspec.Struct, kw_only=True, frozen=True):
    """A cleaned article (clean topic): the first copy of an article seen in the window, linked
    to its story."""

    schema_version: int = CLEAN_SCHEMA_VERSION
    id: Annotated[str, _d("The input's id, or a stable id derived from its content")]
    source: str | None
    url: str | None
    canonical_url: Annotated[str | None, _d("URL without tracking parameters, fragment, default port")]
    title: str | None
    text: Annotated[
        str,
        _d(
            "Readable cleaned text: paragraphs separated by one blank line (`\\n\\n`); a paragraph "
            "holds no line break, so `text.split('\\n\\n')` gives the paragraphs"
        ),
    ]
    language: Annotated[
        str | None,
        _d(
            "Language tag: the producer's as given (BCP 47 shaped, e.g. en, en-US), else a detected "
            "ISO 639-1 code"
        ),
    ]
    published_at: Annotated[Annotated[str, _TIME] | None, _d("Publication time, UTC ISO-8601")]
    ingested_at: Annotated[str, _d("When the worker processed it, UTC ISO-8601"), _TIME]
    word_count: Annotated[int, _COUNT]
    fingerprints: Fingerprints
    warnings: Annotated[list[str], _d("Non-fatal problems, e.g. an unparseable publication time")] = []
    metadata: dict[str, Any] = {}
    story_id: Annotated[
        str | None,
        _d(
            "The story's first-seen article (a clean one); this article's own id when it starts a "
            "story. Group by it to group by story"
        ),
    ] = None
    related_to: Annotated[
        str | None,
        _d("The earlier clean article of the story this one matched (the edge), or null"),
    ] = None
    similarity: Annotated[
        Annotated[float, _SHARE] | None,
        _d("Estimated similarity to `related_to`, 0..1; null when not related"),
    ] = None


DuplicateKind = Literal["exact", "near", "url"]
#: Every reason a dead letter gives (a closed set: `worker.validate.REASONS`, the decoder's, then
#: the pipeline's, the prepare pool's and the publisher's; tests/unit/test_events.py checks it).
DeadLetterReason = Literal[
    "too_large", "not_utf8", "invalid_json", "not_an_object", "invalid_field", "missing_text",
    "empty_text", "text_too_long", "field_too_long", "invalid_unicode", "non_standard_number",
    "internal_error", "prepare_crashed", "prepare_timeout", "output_too_large",
]  # fmt: skip


class DuplicateEvent(msgspec.Struct, kw_only=True, frozen=True):
    """An article that repeats one already seen in the dedup window (duplicates topic)."""

    schema_version: int = SCHEMA_VERSION
    id: Annotated[str, _d("The duplicate article's id")]
    duplicate_of: Annotated[str, _d("Id of the canonical (first-seen) article it repeats")]
    kind: Annotated[
        DuplicateKind, _d("exact: same normalized text; near: same story reshaped; url: same canonical URL")
    ]
    similarity: Annotated[float, _d("Estimated similarity to the canonical article, 0..1"), _SHARE]
    seen_at: Annotated[str, _d("When the worker saw the duplicate, UTC ISO-8601"), _TIME]
    source: str | None = None
    url: str | None = None
    title: str | None = None


class DeadLetter(msgspec.Struct, kw_only=True, frozen=True):
    """A message the worker could not process (dead-letter topic), with the reason and its bytes."""

    schema_version: int = SCHEMA_VERSION
    original: Annotated[
        str,
        _d(
            "The original message (its first NEWSWORKER_DEAD_LETTER_PREVIEW_BYTES when `truncated`): "
            "text when it is UTF-8 (unless control characters would make its JSON string more than twice "
            "its size), else base64 (`original_encoding`)"
        ),
    ]
    original_encoding: Literal["utf-8", "base64"]
    original_size: Annotated[int, _d("Size of the original message in bytes"), _COUNT]
    truncated: Annotated[bool, _d("True when `original` holds only the first bytes of a huge message")] = (
        False
    )
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    error_type: Annotated[
        DeadLetterReason,
        _d(
            "Reason class. The producer's to fix: too_large, not_utf8, invalid_json, not_an_object, "
            "invalid_field, missing_text, empty_text, text_too_long, field_too_long, invalid_unicode, "
            "non_standard_number; the operator's: output_too_large (raise the output topic's "
            "max.message.bytes, then send the input again); an input that crashed or stalled the "
            "worker's pure stages: prepare_crashed, prepare_timeout; a bug: internal_error (report "
            "both with the original)"
        ),
    ]
    error: Annotated[str, _d("What is wrong and what to do about it")]
    failed_at: Annotated[str, _d("UTC ISO-8601"), _TIME]
    id: Annotated[str | None, _d("The input's id when it could be read")] = None


#: Topic role -> event type; `schemas/<role>.schema.json` is generated from this.
CONTRACTS: dict[str, type[msgspec.Struct]] = {
    "raw": RawArticle,
    "clean": CleanArticle,
    "duplicate": DuplicateEvent,
    "dead_letter": DeadLetter,
}


def json_schema(kind: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one contract, as committed under `schemas/`."""
    schema: dict[str, Any] = msgspec.json.schema(kind)
    if kind is RawArticle:
        # "text and/or html with content": a rule msgspec types cannot state, added here so the
        # schema says it. A bare `required` would accept `{"text": null}` or `{"text": " "}`, which
        # the worker dead-letters, so each branch also wants a string holding a non-space.
        schema["$defs"]["RawArticle"]["anyOf"] = [
            {"required": [name], "properties": {name: {"type": "string", "pattern": "\\S"}}}
            for name in ("text", "html")
        ]
    elif kind in (CleanArticle, DuplicateEvent, DeadLetter):
        # The worker writes every field of an output event, defaults too: say so, so that a
        # consumer's generated types are not optional everywhere (a review's finding). A
        # published clean event always names its story (its own id when it starts one); the
        # type says null only because the event is built before its link is known.
        definition = schema["$defs"][kind.__name__]
        definition["required"] = list(definition["properties"])
        if kind is CleanArticle:
            story = definition["properties"]["story_id"]
            story.pop("anyOf", None)
            story.pop("default", None)
            story["type"] = "string"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = kind.__name__
    return schema
