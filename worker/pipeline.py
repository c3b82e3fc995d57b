"""The pipeline: raw message bytes in, one outcome out per message (clean | duplicate | dead letter).

    decode+validate -> normalize -> fingerprint -> dedup (store round trips) -> outcome

`prepare_batch` runs the pure per-message stages (CPU only), `decide_batch` the one stage with
I/O, the dedup store, which it receives as an argument, and `outcomes_of` builds the output
events; `process_batch` runs the three in a row, while the worker's agent overlaps them across
batches (worker/service/app.py). Kafka never appears here, Redis only behind the `DedupStore`
protocol. The result list is in input order and always as long as the input:
count in = clean + duplicates + dead letters.

A store outage raises `TransientError` out of `process_batch` *before* anything is decided or
published, so the caller retries the whole batch later and no article passes unchecked.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol

import msgspec
import xxhash

from worker.dedup.decision import (
    PENDING,
    Decision,
    DuplicateOf,
    Match,
    Related,
    StoreAnswer,
    StoredRecord,
    StoreItem,
    Thresholds,
    decided_record,
    judge,
    make_record,
    not_itself,
    recorded_decision,
    resolve,
)
from worker.dedup.fingerprint import DEFAULT_SCHEME, ArticleFingerprints, Scheme, fingerprint
from worker.errors import PoisonInput
from worker.events import CleanArticle, DeadLetter, DuplicateEvent, Fingerprints, RawArticle
from worker.normalize.language import detect_language
from worker.normalize.text import NormalizedText, normalize_text, word_count
from worker.normalize.timestamps import parse_published
from worker.normalize.urls import canonicalize_url, names_an_article
from worker.validate import article_id_of, decode_article

if TYPE_CHECKING:  # the prepare processes need no settings parser (pydantic-settings: ~0.25 s)
    from worker.config import Settings

log = logging.getLogger(__name__)

#: Characters of readable text given to language detection: enough for a reliable guess,
#: bounded so that a huge article does not cost more.
LANGUAGE_SAMPLE_CHARS = 2000


class DedupStore(Protocol):
    """The store's side of a decision (worker/dedup/store.py; tests: tests/support/fakes.py)."""

    async def check_and_record(self, items: Sequence[StoreItem]) -> list[StoreAnswer]: ...

    async def await_decided(self, refs: Sequence[bytes]) -> dict[bytes, StoredRecord]: ...

    async def record_decisions(
        self, decided: Sequence[tuple[StoreItem, StoredRecord]]
    ) -> list[StoredRecord | None]: ...


class StageObserver(Protocol):
    def observe_stage(self, stage: str, seconds: float) -> None: ...


class _NoObserver:
    def observe_stage(self, stage: str, seconds: float) -> None:
        return None


# The per-article records below (and ArticleFingerprints, NormalizedText, the decision's) are
# frozen msgspec Structs, not frozen dataclasses: the same small immutable values, built in C.
# A frozen dataclass' __init__ calls object.__setattr__ per field, ~1.5 µs a record of 6-8
# fields against ~0.2; an article makes ~15 of them across the worker's processes
# (docs/BENCHMARKS.md, session 27).
class Message(msgspec.Struct, frozen=True):
    """One input message and where it came from."""

    value: bytes
    origin: str  # "topic:partition:offset", or "path:line" offline: identifies a redelivery
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp: float | None = None  # broker timestamp, epoch seconds


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_bytes: int = 8 * 1024 * 1024
    max_text_chars: int = 1_000_000
    dead_letter_preview_bytes: int = 64 * 1024  # as Settings.dead_letter_preview_bytes
    max_title_chars: int = 2000  # as Settings.max_title_chars
    max_id_chars: int = 96  # as Settings.max_id_chars


#: How a clean event's JSON ends before its story link is known: its last three fields, null.
_UNLINKED_TAIL: Final = b',"story_id":null,"related_to":null,"similarity":null}'
_json_encode = msgspec.json.Encoder().encode
_decode_clean_json = msgspec.json.Decoder(CleanArticle).decode


class CleanDraft(msgspec.Struct, frozen=True):
    """A clean event before its story link: its JSON up to the link's three fields (the last of
    its encoding), and the fields the worker itself reads. Made where the article is prepared
    (a prepare process), so the event loop's process only appends the link (`linked`): it
    neither decodes nor encodes the article again."""

    head: bytes
    id: str
    source: str | None
    url: str | None
    title: str | None
    warnings: tuple[str, ...]

    @property
    def event(self) -> CleanArticle:
        """The whole event, unlinked (decoded: for tests and rare paths)."""
        return _decode_clean_json(self.head + _UNLINKED_TAIL)


def draft_of(event: CleanArticle) -> CleanDraft:
    """An unlinked clean event as a draft."""
    encoded = _json_encode(event)
    if not encoded.endswith(_UNLINKED_TAIL):  # a linked event, or a changed field order
        raise ValueError(f"clean event {event.id!r} does not end unlinked")
    return CleanDraft(
        encoded[: -len(_UNLINKED_TAIL)], event.id, event.source, event.url, event.title, tuple(event.warnings)
    )


class Clean(msgspec.Struct, frozen=True):
    """A clean article's outcome: its event as published (`value`, JSON, linked to its story)."""

    value: bytes
    draft: CleanDraft
    message: Message

    @property
    def article(self) -> CleanArticle:
        """The published event, decoded (for tests and rare paths)."""
        return _decode_clean_json(self.value)


class Duplicate(msgspec.Struct, frozen=True):
    event: DuplicateEvent
    message: Message


class DeadLettered(msgspec.Struct, frozen=True):
    record: DeadLetter
    message: Message

    @property
    def reason(self) -> str:
        return self.record.error_type


Outcome = Clean | Duplicate | DeadLettered


class Prepared(msgspec.Struct, frozen=True):
    """An article that passed the pure stages and waits for its dedup decision."""

    message: Message
    article_id: str
    fp: ArticleFingerprints
    #: The event published for it if it is not a duplicate (built here: it needs no decision);
    #: None when prepared with `events=False`.
    clean: CleanDraft | None


@functools.lru_cache(maxsize=8)  # a batch's articles share one `now`
def utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def derive_id(raw: RawArticle) -> str:
    """A stable id for an article sent without one: a hash of its raw content fields."""
    h = xxhash.xxh3_128(seed=0)
    for part in (raw.source, raw.url, raw.title, raw.text, raw.html):
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return f"nw-{h.hexdigest()[:24]}"


def _preview(kept: bytes, truncated: bool) -> tuple[str, str]:
    """The dead letter's copy of the message: text when that stays small in JSON, else base64.

    Bounded so that the dead letter can always be published: base64 is 4/3 of the bytes, while
    JSON escapes a control character as 6 bytes (a preview of NULs would grow sixfold). A quote
    or a backslash takes 2, so any UTF-8 text without control characters stays text (a JSON
    message of a few bytes, its quotes escaped, was base64 at 4/3: a review's finding).
    """
    try:
        text = kept.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.reason == "unexpected end of data"):
            return base64.b64encode(kept).decode("ascii"), "base64"
        text = kept[: exc.start].decode("utf-8", "replace")  # the cut split the last character
    if len(msgspec.json.encode(text)) > 2 * len(kept) + 2:
        return base64.b64encode(kept).decode("ascii"), "base64"
    return text, "utf-8"


def dead_letter(
    message: Message, reason: str, error: str, now: float, limits: Limits, article_id: str | None = None
) -> DeadLettered:
    value = message.value
    truncated = len(value) > limits.dead_letter_preview_bytes
    kept = value[: limits.dead_letter_preview_bytes]
    original, encoding = _preview(kept, truncated)
    record = DeadLetter(
        original=original,
        original_encoding=encoding,  # type: ignore[arg-type]
        original_size=len(value),
        truncated=truncated,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        error_type=reason,  # type: ignore[arg-type]  # a closed set: tests/unit/test_events.py
        error=error,
        failed_at=utc_iso(now),
        id=article_id,
    )
    return DeadLettered(record, message)


def prepare(
    message: Message,
    *,
    limits: Limits,
    scheme: Scheme = DEFAULT_SCHEME,
    now: float,
    observer: StageObserver | None = None,
    events: bool = True,
) -> Prepared | DeadLettered:
    """The pure stages for one message. Never raises: bad input becomes a dead letter.

    `events=False` skips building the clean event (offline dedup reports verdicts only).
    """
    [outcome] = prepare_batch(
        [message], limits=limits, scheme=scheme, now=now, observer=observer, events=events
    )
    return outcome


class _Work:
    """One message on its way through `prepare_batch`'s stages: what each stage made of it, and
    its outcome once it has one (a dead letter at any stage, else `Prepared` after the last)."""

    __slots__ = (
        "article_id", "canonical_url", "cleaning", "fp", "language", "message", "outcome", "raw", "text"
    )

    def __init__(self, message: Message) -> None:
        self.message = message
        self.article_id: str | None = None
        self.raw: RawArticle
        self.text: NormalizedText
        self.canonical_url: str | None
        self.fp: ArticleFingerprints
        self.language: str | None = None
        self.cleaning = 0.0  # seconds in the normalize stage so far (the clean event is part of it)
        self.outcome: Prepared | DeadLettered | None = None


def prepare_batch(
    messages: Sequence[Message],
    *,
    limits: Limits,
    scheme: Scheme = DEFAULT_SCHEME,
    now: float,
    observer: StageObserver | None = None,
    events: bool = True,
) -> list[Prepared | DeadLettered]:
    """The pure stages for a batch, in input order (CPU only: no I/O, never raises).

    Stage by stage over the whole batch, not message by message: each stage's code and tables
    stay in the CPU's caches while it runs over every article (~15 % less CPU per article than
    all stages one article at a time, docs/BENCHMARKS.md, session 20). Each article's outcome
    is the same either way: the stages are pure, and an article that fails a stage becomes its
    dead letter there and skips the rest.
    """
    obs = observer or _NoObserver()
    clock = time.perf_counter

    def decode(w: _Work) -> None:
        t0 = clock()
        w.raw = raw = decode_article(
            w.message.value,
            max_bytes=limits.max_message_bytes,
            max_text_chars=limits.max_text_chars,
            max_title_chars=limits.max_title_chars,
            max_id_chars=limits.max_id_chars,
        )
        w.article_id = article_id_of(raw) or derive_id(raw)
        obs.observe_stage("decode", clock() - t0)

    def normalize(w: _Work) -> None:
        t0 = clock()
        raw = w.raw
        w.text = text = normalize_text(title=raw.title, text=raw.text, html=raw.html)
        if not text.text.strip():
            raise PoisonInput(
                "empty_text", "article has no readable text after cleaning (markup or symbols only)"
            )
        w.cleaning = clock() - t0

    def canonical(w: _Work) -> None:  # a stage of its own: urllib's code is not the text's
        t0 = clock()
        w.canonical_url = canonicalize_url(w.raw.url)
        w.cleaning += clock() - t0

    def fingerprinted(w: _Work) -> None:
        t0 = clock()
        # An article whose match key is empty (symbols only) is fingerprinted on its readable
        # text instead, so that such articles are not all "exact duplicates" of each other.
        # A site's root names no article: no URL signal (`names_an_article`).
        url = w.canonical_url if names_an_article(w.canonical_url) else None
        w.fp = fingerprint(w.text.match_key or w.text.text, url, scheme)
        obs.observe_stage("fingerprint", clock() - t0)

    def language(w: _Work) -> None:  # the language model's tables, for every article in a row
        t0 = clock()
        w.language = language_of(w.raw, w.text)
        w.cleaning += clock() - t0

    def finish(w: _Work) -> None:
        t0 = clock()
        article_id = w.article_id or ""  # set by `decode`
        clean = None
        if events:
            event = build_clean(w.raw, article_id, w.text, w.canonical_url, w.fp, now, scheme, w.language)
            clean = draft_of(event)
        # One observation per article: the clean event (language, publication date) is part of
        # cleaning the article up, though it needs the fingerprints and so comes after them.
        obs.observe_stage("normalize", w.cleaning + (clock() - t0))
        w.outcome = Prepared(w.message, article_id, w.fp, clean)

    # the language is the clean event's only: offline dedup (events=False) skips it
    stages = (decode, normalize, canonical, fingerprinted, *([language] if events else []), finish)
    outcomes: list[Prepared | DeadLettered] = []
    for part in _slices(messages, _SLICE_BYTES):
        work = [_Work(m) for m in part]
        for stage in stages:
            for w in work:
                if w.outcome is not None:
                    continue  # a dead letter since an earlier stage
                try:
                    stage(w)
                except PoisonInput as exc:
                    article_id = w.article_id or exc.article_id
                    w.outcome = dead_letter(w.message, exc.reason, exc.message, now, limits, article_id)
                except Exception as exc:  # a bug, triggered by this message: never stop the stream for it
                    w.outcome = _internal_error(w, exc, now, limits)
        # every article has its outcome by now; were one missing, it would be a dead letter, not lost
        outcomes += [w.outcome or _internal_error(w, RuntimeError("no outcome"), now, limits) for w in work]
    return outcomes


#: Input bytes whose articles go through the stages together (`prepare_batch`): a batch of real
#: articles (~3 KB each) is one slice, while large ones go a few at a time, so that what the
#: stages make of them (decoded, normalized, keyed: a few times the input) is held for a few
#: articles at once, not for a whole batch of them.
_SLICE_BYTES: Final = 4 * 1024 * 1024


def _slices(messages: Sequence[Message], limit: int) -> list[Sequence[Message]]:
    """`messages` in consecutive slices of at most `limit` bytes of input (at least one message
    each); joined in order they are `messages` again."""
    out: list[Sequence[Message]] = []
    start = size = 0
    for end, m in enumerate(messages):
        if end > start and size + len(m.value) > limit:
            out.append(messages[start:end])
            start, size = end, 0
        size += len(m.value)
    if start < len(messages):
        out.append(messages[start:])
    return out


def _internal_error(w: _Work, exc: Exception, now: float, limits: Limits) -> DeadLettered:
    message = w.message
    log.error(
        "internal error while preparing message %s", message.origin,
        exc_info=exc,
        extra={"topic": message.topic, "partition": message.partition, "offset": message.offset,
               "article_id": w.article_id, "reason": "internal_error"},
    )
    return dead_letter(
        message,
        "internal_error",
        f"internal error ({type(exc).__name__}: {exc}); please report it",
        now,
        limits,
        w.article_id,
    )


def build_clean(
    raw: RawArticle,
    article_id: str,
    text: NormalizedText,
    canonical_url: str | None,
    fp: ArticleFingerprints,
    now: float,
    scheme: Scheme,
    language: str | None,
) -> CleanArticle:
    """The clean event (`language`: `language_of` the article)."""
    warnings = list(text.warnings)
    published, warning = parse_published(raw.published_at)
    if warning:
        warnings.append(warning)
    if raw.language and not _LANGUAGE_TAG_RE.fullmatch(raw.language):
        shown = raw.language if raw.language.isprintable() else ascii(raw.language)
        warnings.append(f"language {shown[:40]!r} is not a language tag; detected from the text")
    return CleanArticle(
        id=article_id,
        source=raw.source,
        url=raw.url,
        canonical_url=canonical_url,
        title=text.title,
        text=text.text,
        language=language,
        published_at=published,
        ingested_at=utc_iso(now),
        word_count=word_count(text.paragraphs),
        fingerprints=Fingerprints(
            scheme=scheme.version, exact=fp.exact_hex, near=fp.sketch.hex(), tokens=fp.tokens
        ),
        warnings=warnings,
        metadata=raw.metadata or {},  # null read as {} by validate_article
    )


#: A BCP 47 language tag's shape (``ar``, ``en-GB``, ``zh-Hant-TW``, ``und``): a producer's
#: `language` of another (``"\u0000"``, ``"  "``, ``"Arabic news"``) is not passed on.
_LANGUAGE_TAG_RE: Final = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


def language_of(raw: RawArticle, text: NormalizedText) -> str | None:
    """The article's language: the producer's tag, else detected from its readable text."""
    if raw.language and _LANGUAGE_TAG_RE.fullmatch(raw.language):
        return raw.language
    return detect_language(text.text[:LANGUAGE_SAMPLE_CHARS])


def _event_of(p: Prepared) -> CleanDraft:
    if p.clean is None:
        raise ValueError(f"{p.message.origin} was prepared without events (events=False)")
    return p.clean


def build_duplicate(p: Prepared, decision: DuplicateOf, now: float) -> DuplicateEvent:
    clean = _event_of(p)
    return DuplicateEvent(
        id=p.article_id,
        duplicate_of=decision.canonical_id,
        kind=decision.kind,
        similarity=decision.similarity,
        seen_at=utc_iso(now),
        source=clean.source,
        url=clean.url,
        title=clean.title,
    )


async def decide_batch(
    staged: Sequence[Prepared | DeadLettered],
    store: DedupStore,
    *,
    thresholds: Thresholds,
    observer: StageObserver | None = None,
) -> list[Decision | None]:
    """The dedup stage: one decision per prepared article (None for a dead letter), in order.

    Raises `TransientError` when the store is down, before anything is decided.
    """
    obs = observer or _NoObserver()
    prepared = [p for p in staged if isinstance(p, Prepared)]
    items = [StoreItem(p.article_id, p.fp, make_record(p.article_id, p.fp)) for p in prepared]
    t0 = time.perf_counter()
    decided = await decide_items(items, store, thresholds) if items else []
    obs.observe_stage("dedup", time.perf_counter() - t0)
    it = iter(decided)
    return [next(it) if isinstance(s, Prepared) else None for s in staged]


async def decide_items(
    items: Sequence[StoreItem], store: DedupStore, thresholds: Thresholds
) -> list[Decision]:
    """Decide a batch against the store, in batch order, and record the decisions.

    A verdict names a remembered article; what it resolves to (`duplicate_of`, `story_id`)
    comes from that article's *decided* record. Three cases: an article earlier in this batch
    (its decision is known here: a duplicate of a duplicate in one batch names the clean one,
    issue 14 #6), a decided record, or another worker's pending one (the store waits for it).
    An article that finds its own decided record (a redelivery, or the same id produced twice)
    keeps the recorded decision, so one id never gets two outcomes.
    """
    return await decide_answered(items, await store.check_and_record(items), store, thresholds)


async def decide_answered(
    items: Sequence[StoreItem], answers: Sequence[StoreAnswer], store: DedupStore, thresholds: Thresholds
) -> list[Decision]:
    """`decide_items` after its first step: the store's answers are in.

    Decisions are recorded in rounds: first every article that depends on no pending record of
    another worker, then (after waiting for those records) the rest. Two workers whose batches
    depend on each other's articles so unblock each other at once instead of waiting out
    `PENDING_WAIT_SECONDS`; a round trip is added only when there is something to wait for.
    """
    matches: list[Match | None] = [
        judge(item.fp, a.view, a.records, thresholds, item.article_id)
        for item, a in zip(items, answers, strict=True)
    ]
    in_batch: dict[tuple[bytes, str], int] = {}  # articles of this batch that own their record
    for index, (item, a) in enumerate(zip(items, answers, strict=True)):
        if a.view.exact_owner is None:
            in_batch.setdefault((item.ref, item.article_id), index)
    decisions: list[Decision | None] = [None] * len(items)
    known: dict[int, StoredRecord] = {}  # decided records of this batch's articles, by index
    waited: dict[bytes, StoredRecord] = {}  # other workers' records, once decided
    undecided = list(range(len(items)))
    while undecided:
        ready: list[int] = []
        blocked: list[int] = []
        for index in undecided:
            item, view, match = items[index], answers[index].view, matches[index]
            if view.own is not None and view.own.state != PENDING:
                decisions[index] = recorded_decision(view.own, match)
                known[index] = view.own
                continue
            target: StoredRecord | None = None
            if match is not None:
                earlier = in_batch.get((match.ref, match.record.id))
                if earlier is not None and earlier < index:
                    target = known.get(earlier)
                elif match.record.state == PENDING:
                    target = waited.get(match.ref)
                else:
                    target = match.record
                if target is None:
                    blocked.append(index)
                    continue
            decision = not_itself(resolve(match, target), item.article_id)
            decisions[index] = decision
            if view.exact_owner is None:
                ready.append(index)
                known[index] = decided_record(item.record, decision)
        if ready:
            stood = await store.record_decisions([(items[i], known[i]) for i in ready])
            for index, recorded in zip(ready, stood, strict=True):
                if recorded is not None:  # decided before (a takeover): that decision stands
                    decisions[index] = recorded_decision(recorded, matches[index])
                    known[index] = recorded
        external = sorted(
            {
                match.ref
                for i in blocked
                if (match := matches[i]) is not None
                and match.record.state == PENDING
                and match.ref not in waited
                and in_batch.get((match.ref, match.record.id), len(items)) >= i
            }
        )
        if external:
            found = await store.await_decided(external)
            for ref in external:  # a record gone meanwhile (expired) resolves as it was seen
                waited[ref] = found.get(ref) or next(
                    m.record for i in blocked if (m := matches[i]) is not None and m.ref == ref
                )
        if blocked == undecided and not external and not ready:
            raise RuntimeError(f"dedup: {len(blocked)} decisions wait on nothing (a bug)")
        undecided = blocked
    done = [d for d in decisions if d is not None]
    if len(done) != len(items):
        raise RuntimeError("dedup: an article was left undecided (a bug)")
    return done


def outcomes_of(
    staged: Sequence[Prepared | DeadLettered],
    decisions: Sequence[Decision | None],
    *,
    now: float,
) -> list[Outcome]:
    """The output events of a decided batch, in input order (count in = count out)."""
    outcomes: list[Outcome] = []
    for s, decision in zip(staged, decisions, strict=True):
        if isinstance(s, DeadLettered):
            outcomes.append(s)
        elif isinstance(decision, DuplicateOf):
            outcomes.append(Duplicate(build_duplicate(s, decision, now), s.message))
        else:
            draft = _event_of(s)
            outcomes.append(Clean(linked(draft, decision), draft, s.message))
    return outcomes


def linked(draft: CleanDraft, decision: Decision | None) -> bytes:
    """The clean event with its story link (its own story, or the story of what it matched), as
    published: the bytes `msgspec.json.encode` gives the event with those three fields set."""
    if isinstance(decision, Related):
        link = (
            b',"story_id":' + _json_encode(decision.story_id)
            + b',"related_to":' + _json_encode(decision.related_to)
            + b',"similarity":' + _json_encode(decision.similarity)
        )  # fmt: skip
    else:
        link = b',"story_id":' + _json_encode(draft.id) + b',"related_to":null,"similarity":null'
    return draft.head + link + b"}"


async def process_batch(
    messages: Sequence[Message],
    store: DedupStore,
    *,
    limits: Limits,
    thresholds: Thresholds,
    scheme: Scheme = DEFAULT_SCHEME,
    clock: Callable[[], float] = time.time,
    observer: StageObserver | None = None,
) -> list[Outcome]:
    """Decide every message of a batch: the three steps above in a row.

    Raises `TransientError` when the store is down.
    """
    now = clock()
    staged = prepare_batch(messages, limits=limits, scheme=scheme, now=now, observer=observer)
    decisions = await decide_batch(staged, store, thresholds=thresholds, observer=observer)
    return outcomes_of(staged, decisions, now=now)


def limits_of(settings: Settings) -> Limits:
    """The input limits the settings give."""
    return Limits(
        max_message_bytes=settings.max_message_bytes,
        max_text_chars=settings.max_text_chars,
        dead_letter_preview_bytes=settings.dead_letter_preview_bytes,
        max_title_chars=settings.max_title_chars,
        max_id_chars=settings.max_id_chars,
    )
