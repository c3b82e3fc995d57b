"""Variant generator and labelled stream for `newsworker eval` (see docs/EVALUATION.md).

The concept: the same story reaches the firehose again in another shape. Each `make_*`
function below produces one such shape from a raw article (a dict with the raw-article fields);
`build_stream` interleaves real articles, their natural duplicates, generated variants (each
shortly after its original) and hard negatives (a different story quoting a block of another,
carrying the same outlet chrome, or opening with the same background paragraph), and labels
every record.

Guarantees:
- Deterministic: the same articles and the same `seed` give the same stream, byte for byte
  (one `random.Random(seed)`, no set or dict iteration order that depends on hashing).
- Labels are fixed by construction, never by any detector under evaluation: a record is a
  duplicate iff it is a generated variant or a natural duplicate of something earlier in the
  stream: the same text, the same URL, or a near-verbatim copy by exact shingle overlap
  (`COPY_JACCARD`). Corpus articles that overlap an earlier one less than that but clearly
  (`RELATED_*`) get no label (`duplicate is None`): they are reported apart, never scored.
- Variants never share their original's URL: they must be found by their text. Same-URL
  re-publication is measured by the corpus' own revisions.
- No text of the corpus is stored by this module; the boilerplate, datelines and page chrome
  below are written for this generator.
"""

from __future__ import annotations

import html
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import xxhash

Article = dict[str, Any]

#: The generated kinds, in the order of the report. `combo` chains two or three of the others.
VARIANT_KINDS: Final = ("edit", "syndicated", "html", "diacritics", "teaser", "reflow", "combo")
#: Natural duplicates found in the corpus itself.
NATURAL_KINDS: Final = ("exact", "revision", "copy")
#: Natural records whose label is uncertain: reported, not scored (see COPY_JACCARD).
UNSCORED_KINDS: Final = ("related",)
_NATURAL_LABEL: Final[dict[str, bool | None]] = {
    "exact": True,
    "revision": True,
    "copy": True,
    "original": False,
    "related": None,
}
#: Records that must come out clean.
NEGATIVE_KINDS: Final = ("original", "quote", "boilerplate", "intro")
#: Records that are their own article on a story an earlier record started: they must come out
#: clean (never dropped) and linked to that story (`related_to`). `followup`: a new lead paragraph
#: over most of an earlier article's body; `sibling`: the second of two articles of one outlet on
#: one event sharing background paragraphs (the first is a new story, kind `sibling` unrelated).
RELATED_KINDS: Final = ("followup", "sibling")

#: An original needs this many words to get variants: shorter items (captions, one-line briefs)
#: have no lead, body and ending to reshape separately. They stay in the stream as negatives.
MIN_WORDS_FOR_VARIANTS = 50

#: A variant lands this many positions after its original at most (log-uniform from 1): "shortly
#: after", as re-crawls and syndicated copies arrive minutes to hours later.
MAX_DISTANCE = 300

_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")
_WORD = re.compile(r"\S+")
_ARABIC_LETTER = re.compile(r"[\u0621-\u063a\u0641-\u064a]")
_DIGITS = re.compile(r"\d+")

HARAKAT: Final = "\u064e\u064f\u0650\u0652\u0651\u064b\u064c\u064d"
TATWEEL: Final = "\u0640"
#: Letters that do not join to the next one: a tatweel after them would be unnatural.
_NON_JOINING: Final = frozenset("اأإآدذرزوؤةىء")

CITIES: Final = ("القاهرة", "دبي", "بيروت", "الرياض", "عمان", "الرباط", "تونس", "بغداد", "لندن", "باريس")
AGENCIES: Final = ("رويترز", "أ ف ب", "د ب أ", "الأناضول", "أسوشيتد برس")
DATELINES: Final = (
    "{city} - ({agency}) - ",
    "{city} ({agency}) – ",
    "{city}، {agency}: ",
    "({agency}) {city} - ",
)
READ_ALSO: Final = ("اقرأ أيضا:", "اقرأ أيضاً:", "للمزيد:", "شاهد أيضا:", "مواضيع ذات صلة:")


@dataclass(frozen=True, slots=True)
class Outlet:
    """A (made-up) re-publisher with its own page chrome, shared by all its pages."""

    name: str
    host: str
    footer: tuple[str, ...]


OUTLETS: Final = (
    Outlet(
        "الخبر اليوم",
        "alkhabar-today.example",
        (
            "تابعونا على فيسبوك وتويتر للاطلاع على آخر الأخبار العاجلة لحظة بلحظة.",
            "اشترك في النشرة البريدية لتصلك أهم الأخبار كل صباح.",
            "جميع الحقوق محفوظة لموقع الخبر اليوم 2018.",
        ),
    ),
    Outlet(
        "شبكة المدى",
        "almada-net.example",
        (
            "حمّل تطبيق شبكة المدى على هاتفك الذكي وتابع الأخبار أولا بأول.",
            "الآراء الواردة في المقالات تعبر عن رأي كاتبيها ولا تعبر بالضرورة عن رأي الشبكة.",
            "جميع الحقوق محفوظة © شبكة المدى.",
        ),
    ),
    Outlet(
        "بوابة الشرق",
        "alsharq-gate.example",
        (
            "لمتابعة آخر المستجدات انضموا إلى قناتنا على تيليغرام.",
            "يمنع نسخ أو إعادة نشر هذا المحتوى دون إذن مسبق من إدارة التحرير.",
            "بوابة الشرق الإخبارية - كل الحقوق محفوظة.",
        ),
    ),
    Outlet(
        "صحيفة الوطن الرقمية",
        "alwatan-digital.example",
        (
            "هل لديك خبر أو صورة؟ راسلنا عبر البريد الإلكتروني أو واتساب.",
            "تابع تغطيتنا الخاصة على مدار الساعة في قسم الأخبار العاجلة.",
            "حقوق النشر محفوظة لصحيفة الوطن الرقمية.",
        ),
    ),
)

NAV: Final = ("الرئيسية", "سياسة", "اقتصاد", "رياضة", "ثقافة", "منوعات", "فيديو", "رأي")
FOOTER_LINKS: Final = ("من نحن", "اتصل بنا", "سياسة الخصوصية", "شروط الاستخدام", "أعلن معنا")
TEASER_TAILS: Final = ("...", "…", "... اقرأ المزيد", "… التفاصيل الكاملة على موقعنا")
QUOTE_INTROS: Final = (
    "وجاء في البيان:",
    "وقال المتحدث في تصريح نقلته وسائل الإعلام:",
    "ونقلت الوكالة عن المصدر قوله:",
)


# --- document model ---------------------------------------------------------------------------


@dataclass(slots=True)
class Doc:
    """An article as title + paragraphs of sentences, which is what the reshapings act on."""

    title: str | None
    paragraphs: list[list[str]]

    @classmethod
    def parse(cls, article: Mapping[str, Any]) -> Doc:
        paragraphs = []
        for line in str(article.get("text") or "").split("\n"):
            line = line.strip()
            if line:
                paragraphs.append([s for s in _SENTENCE_END.split(line) if s])
        return cls(article.get("title") or None, paragraphs)

    def text(self) -> str:
        return "\n".join(" ".join(p) for p in self.paragraphs)

    def sentences(self) -> list[tuple[int, int]]:
        return [(i, j) for i, p in enumerate(self.paragraphs) for j in range(len(p))]

    def copy(self) -> Doc:
        return Doc(self.title, [list(p) for p in self.paragraphs])


def word_count(text: str) -> int:
    return len(text.split())


def _log_uniform_int(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))


# --- the reshapings -----------------------------------------------------------------------------
# Each takes a Doc (and context) and returns a new Doc, or for `html` a page. They only ever see
# one article plus "donor" material (other articles' sentences and titles) passed in.


def edit(doc: Doc, rng: random.Random, donor: Sequence[str]) -> Doc:
    """Re-crawled after an edit: a few sentences changed, added or removed (5-20% of them)."""
    out = doc.copy()
    n_ops = max(1, round(len(out.sentences()) * rng.uniform(0.05, 0.2)))
    for _ in range(n_ops):
        places = out.sentences()
        op = rng.choice(("change", "add", "remove") if len(places) > 2 else ("change", "add"))
        i, j = rng.choice(places)
        if op == "change":
            out.paragraphs[i][j] = _change_sentence(out.paragraphs[i][j], rng, donor)
        elif op == "add" and donor:
            out.paragraphs[i].insert(j + rng.randint(0, 1), rng.choice(donor))
        elif op == "remove":
            del out.paragraphs[i][j]
            if not out.paragraphs[i]:
                del out.paragraphs[i]
    return out


def _change_sentence(sentence: str, rng: random.Random, donor: Sequence[str]) -> str:
    """An updated figure, or a few words rewritten."""
    if _DIGITS.search(sentence) and rng.random() < 0.5:
        return _DIGITS.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), sentence, count=1)
    words = sentence.split()
    donor_words = rng.choice(donor).split() if donor else ["كذلك"]
    for _ in range(min(len(words), rng.randint(1, 3))):
        words[rng.randrange(len(words))] = rng.choice(donor_words)
    return " ".join(words)


def syndicate(doc: Doc, rng: random.Random, outlet: Outlet, related_titles: Sequence[str]) -> Doc:
    """Syndicated: a dateline before the first sentence, "read also" links and the outlet's footer."""
    out = doc.copy()
    if out.paragraphs:
        dateline = rng.choice(DATELINES).format(city=rng.choice(CITIES), agency=rng.choice(AGENCIES))
        out.paragraphs[0][0] = dateline + out.paragraphs[0][0]
    out.paragraphs.extend(boilerplate(rng, outlet, related_titles))
    if out.title and rng.random() < 0.5:
        out.title = f"{out.title} | {outlet.name}"
    return out


def boilerplate(rng: random.Random, outlet: Outlet, related_titles: Sequence[str]) -> list[list[str]]:
    """An outlet's "read also" block and footer, as paragraphs."""
    block: list[list[str]] = []
    if related_titles:
        k = rng.randint(1, min(3, len(related_titles)))
        label = rng.choice(READ_ALSO)
        block.extend([[f"{label} {title}"] for title in rng.sample(list(related_titles), k)])
    block.extend([[line] for line in outlet.footer])
    return block


def diacritize(doc: Doc, rng: random.Random) -> Doc:
    """Diacritics on 10-50% of the letters and tatweel on 2-8% of the joining ones."""
    p_haraka, p_tatweel = rng.uniform(0.1, 0.5), rng.uniform(0.02, 0.08)

    def mark(text: str) -> str:
        out = []
        for k, ch in enumerate(text):
            out.append(ch)
            if not _ARABIC_LETTER.match(ch):
                continue
            joins_next = k + 1 < len(text) and bool(_ARABIC_LETTER.match(text[k + 1]))
            if joins_next and ch not in _NON_JOINING and rng.random() < p_tatweel:
                out.append(TATWEEL)
            if rng.random() < p_haraka:
                out.append(rng.choice(HARAKAT))
        return "".join(out)

    return Doc(mark(doc.title) if doc.title else None, [[mark(s) for s in p] for p in doc.paragraphs])


def teaser(doc: Doc, rng: random.Random) -> Doc:
    """Truncated to a teaser: the lead 30-60% of the words, cut mid-sentence, with a tail."""
    total = word_count(doc.text())
    keep = max(1, round(total * rng.uniform(0.3, 0.6)))
    out = Doc(doc.title, [])
    for paragraph in doc.paragraphs:
        kept: list[str] = []
        for sentence in paragraph:
            words = sentence.split()
            if keep <= 0:
                break
            kept.append(" ".join(words[:keep]))
            keep -= len(words)
        if kept:
            out.paragraphs.append(kept)
        if keep <= 0:
            break
    out.paragraphs[-1][-1] += " " + rng.choice(TEASER_TAILS)
    return out


def reflow(doc: Doc, rng: random.Random) -> tuple[Doc, bool]:
    """Re-flowed: sentences glued (`سوريا.وأعلن`), paragraphs joined by ", ", title as first line.

    Returns the doc and whether the title moved into the text (the caller drops the field then).
    """
    glue, commas, title_first = False, False, False
    while not (glue or commas or title_first):
        glue, commas, title_first = (rng.random() < 0.6 for _ in range(3))
    paragraphs = [list(p) for p in doc.paragraphs]
    if glue:
        paragraphs = [["".join(p) if rng.random() < 0.5 else " ".join(p)] for p in paragraphs]
    body = (", " if commas else ("" if glue else "\n")).join(" ".join(p) for p in paragraphs)
    out = Doc(doc.title, [[body]])
    if title_first and doc.title:
        out.paragraphs.insert(0, [doc.title])
        return out, True
    return out, False


def html_page(doc: Doc, rng: random.Random, outlet: Outlet, related_titles: Sequence[str]) -> str:
    """Wrapped in an HTML page: head, nav menu, the article, a "most read" aside, a footer."""
    esc = html.escape
    title = esc(doc.title or "")
    nav = "".join(f'<li><a href="/{k}">{esc(item)}</a></li>' for k, item in enumerate(NAV))
    body = "\n".join(f"<p>{esc(' '.join(p))}</p>" for p in doc.paragraphs)
    aside = "".join(f'<li><a href="/r/{k}">{esc(t)}</a></li>' for k, t in enumerate(related_titles[:4]))
    links = " | ".join(f'<a href="/p/{k}">{esc(x)}</a>' for k, x in enumerate(FOOTER_LINKS))
    share = (
        '<div class="share">شارك: <a href="#">فيسبوك</a> <a href="#">تويتر</a></div>'
        if rng.random() < 0.5
        else ""
    )
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title} - '
        f"{esc(outlet.name)}</title><script>window.dataLayer=[];</script>"
        "<style>body{font-family:sans-serif}</style></head><body>"
        f'<header><div class="logo">{esc(outlet.name)}</div><nav><ul>{nav}</ul></nav></header>'
        f"<main><article><h1>{title}</h1>{share}\n{body}\n</article>"
        f"<aside><h3>الأكثر قراءة</h3><ul>{aside}</ul></aside></main>"
        f"<footer><p>{links}</p><p>{esc(outlet.footer[-1])}</p></footer></body></html>"
    )


# --- variants of one article ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """Material from elsewhere in the stream that a reshaping may borrow."""

    donor_sentences: Sequence[str]
    related_titles: Sequence[str]


_STEPS: Final = ("edit", "syndicated", "diacritics", "teaser", "reflow")


def make_variant(
    article: Mapping[str, Any], kind: str, rng: random.Random, ctx: Context, number: int
) -> Article:
    """One variant of `article` of the given kind, as a raw article (new id, its own URL)."""
    if kind not in VARIANT_KINDS:
        raise ValueError(f"unknown variant kind {kind!r}")
    steps = [kind]
    if kind == "combo":
        steps = rng.sample(_STEPS, rng.randint(2, 3))
        if rng.random() < 0.3:
            steps.append("html")
        # edits and diacritics before the teaser cut, reflow and boilerplate last: the usual order
        steps.sort(key=("edit", "diacritics", "teaser", "syndicated", "reflow", "html").index)
    outlet = rng.choice(OUTLETS)
    doc = Doc.parse(article)
    title_in_text = False
    page: str | None = None
    for step in steps:
        if step == "edit":
            doc = edit(doc, rng, ctx.donor_sentences)
        elif step == "syndicated":
            doc = syndicate(doc, rng, outlet, ctx.related_titles)
        elif step == "diacritics":
            doc = diacritize(doc, rng)
        elif step == "teaser":
            doc = teaser(doc, rng)
        elif step == "reflow":
            doc, title_in_text = reflow(doc, rng)
        elif step == "html":
            page = html_page(doc, rng, outlet, ctx.related_titles)
    variant_id = f"{article['id']}~{kind}{number}"
    out: Article = {
        "id": variant_id,
        "url": f"https://{outlet.host}/{kind}/{variant_id}",
        "source": outlet.name if "syndicated" in steps or page else article.get("source"),
        "published_at": article.get("published_at"),
        "metadata": {"variant": "+".join(steps)},
    }
    if page is not None:
        out["html"] = page
        if rng.random() < 0.5:
            out["title"] = doc.title
    else:
        out["text"] = doc.text()
        if not title_in_text:
            out["title"] = doc.title
    return {k: v for k, v in out.items() if v is not None}


# --- hard negatives -----------------------------------------------------------------------------


def quote_negative(host: Mapping[str, Any], quoted: Mapping[str, Any], rng: random.Random) -> Article | None:
    """A different story that quotes a block (20-45% of the words) of `quoted` in its body."""
    source = Doc.parse(quoted)
    places = source.sentences()
    total = word_count(source.text())
    if len(places) < 3 or total < MIN_WORDS_FOR_VARIANTS:
        return None
    budget = round(total * rng.uniform(0.2, 0.45))
    start = rng.randrange(1, len(places))  # not the lead: that would make it a teaser of it
    block: list[str] = []
    for i, j in places[start:]:
        if word_count(" ".join(block)) >= budget:
            break
        block.append(source.paragraphs[i][j])
    if not block:
        return None
    doc = Doc.parse(host)
    if len(doc.paragraphs) < 1:
        return None
    at = rng.randint(1, len(doc.paragraphs))  # never before the host's own lead
    doc.paragraphs.insert(at, [f"{rng.choice(QUOTE_INTROS)} «{' '.join(block)}»"])
    return {
        **_meta(host),
        "id": f"{host['id']}~quotes~{quoted['id']}",
        "title": doc.title,
        "text": doc.text(),
    }


def boilerplate_negative(
    host: Mapping[str, Any], rng: random.Random, outlet: Outlet, related_titles: Sequence[str]
) -> Article:
    """A different story carrying the same outlet chrome as other pages of that outlet."""
    doc = Doc.parse(host)
    doc.paragraphs.extend(boilerplate(rng, outlet, related_titles))
    return {
        **_meta(host),
        "id": f"{host['id']}~chrome",
        "url": f"https://{outlet.host}/story/{host['id']}",
        "source": outlet.name,
        "title": doc.title,
        "text": doc.text(),
    }


def intro_negatives(
    hosts: Sequence[Mapping[str, Any]], background: Mapping[str, Any], rng: random.Random
) -> list[Article]:
    """Different stories opening with one shared background paragraph (20-50 words).

    Outlets open follow-up coverage with the same context paragraph ("since the war began in
    2011 ..."); the leads of such stories agree although their news differs.
    """
    words: list[str] = []
    for paragraph in Doc.parse(background).paragraphs[1:] or Doc.parse(background).paragraphs:
        words.extend(" ".join(paragraph).split())
    intro = " ".join(words[: rng.randint(20, 50)]).rstrip(".") + "."
    out = []
    for host in hosts:
        doc = Doc.parse(host)
        doc.paragraphs.insert(0, [intro])
        out.append({**_meta(host), "id": f"{host['id']}~intro", "title": doc.title, "text": doc.text()})
    return out


def followup(
    original: Mapping[str, Any], lead_from: Mapping[str, Any], rng: random.Random, number: int
) -> Article | None:
    """A follow-up of `original`: a new lead paragraph with new facts (the lead of another
    article, standing in for the day's news) over most (60-90%) of the original's body, its own
    lead dropped, under a new title. The way outlets update a developing story in a new article."""
    doc = Doc.parse(original)
    new_lead = Doc.parse(lead_from).paragraphs[:1]
    body = doc.paragraphs[1:]
    sentences = [(i, j) for i, p in enumerate(body) for j in range(len(p))]
    if len(sentences) < 4 or not new_lead:
        return None
    keep = max(3, round(len(sentences) * rng.uniform(0.6, 0.9)))
    start = rng.randint(0, len(sentences) - keep)  # trimmed at the start, the end, or both
    kept = set(sentences[start : start + keep])
    paragraphs = [[s for j, s in enumerate(p) if (i, j) in kept] for i, p in enumerate(body)]
    out = Doc(lead_from.get("title") or doc.title, [*new_lead, *(p for p in paragraphs if p)])
    ident = f"{original['id']}~followup{number}"
    return {
        **_meta(original),
        "id": ident,
        "url": f"{original.get('url') or 'https://news.example/'}~followup{number}",
        "title": out.title,
        "text": out.text(),
    }


def sibling_pair(
    hosts: Sequence[Mapping[str, Any]], background: Mapping[str, Any], rng: random.Random
) -> list[Article]:
    """Two articles of one outlet on one event: each its own story (`hosts`), both ending with
    the same background paragraphs (the body of `background`, 35-60% of a host's words)."""
    words = word_count(" ".join(str(h.get("text") or "") for h in hosts)) // len(hosts)
    budget = round(words * rng.uniform(0.35, 0.6))
    shared: list[list[str]] = []
    for paragraph in Doc.parse(background).paragraphs[1:] or Doc.parse(background).paragraphs:
        if word_count(" ".join(" ".join(p) for p in shared)) >= budget:
            break
        shared.append(paragraph)
    out = []
    for host in hosts:
        doc = Doc.parse(host)
        doc.paragraphs.extend([list(p) for p in shared])
        out.append({**_meta(host), "id": f"{host['id']}~sibling", "title": doc.title, "text": doc.text()})
    return out


def _meta(article: Mapping[str, Any]) -> Article:
    return {k: article[k] for k in ("id", "url", "source", "published_at") if article.get(k) is not None}


# --- the labelled stream ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Labelled:
    """One record of the evaluation stream and its ground truth."""

    article: Article
    #: True iff some earlier record of the stream is the same story; None: uncertain, unscored.
    duplicate: bool | None
    #: One of VARIANT_KINDS, NATURAL_KINDS or NEGATIVE_KINDS.
    kind: str
    #: Story group: all records of one story share it (the first record's corpus index).
    group: int
    #: The record's language, where the stream knows it (the multilingual section).
    lang: str | None = None
    #: Its own article on a story an earlier record started (a follow-up, a sibling, another
    #: outlet's rewrite): never to be dropped, and to be linked to an article of its group.
    related: bool = False


@dataclass(slots=True)
class StreamPlan:
    """How many of each thing to generate, as fractions of the corpus articles used."""

    variant_rate: float = 0.25  # variants per article, spread evenly over VARIANT_KINDS
    second_variant: float = 0.15  # share of varied originals that get a second variant
    quote_rate: float = 0.03
    boilerplate_rate: float = 0.03
    intro_rate: float = 0.03
    followup_rate: float = 0.03
    sibling_rate: float = 0.03  # articles in sibling pairs (each pair also uses a background)
    holdout_rate: float = 0.18  # articles kept out of the stream to host hard negatives
    kinds: tuple[str, ...] = field(default=VARIANT_KINDS)


#: Labels of natural near-copies come from exact word 3-shingle sets (no sketch, no index that
#: could miss a pair). At or above COPY_JACCARD two articles are the same text with small edits
#: (wire copies, re-posts under a new URL): labelled duplicates. Between that and the RELATED
#: bars they may be the same story lightly rewritten or two stories built on one template or
#: one press release: no label is certain, so they are left out of the scores and reported apart.
COPY_JACCARD = 0.8
RELATED_JACCARD = 0.2
RELATED_CONTAINMENT = 0.5
#: Shingles in more than this many articles (set phrases, outlets' own boilerplate) are skipped
#: when *looking for* candidate pairs; the overlap of a candidate is then computed on all.
_MAX_POSTING = 500
_TOKEN = re.compile(r"\w+")


def _shingle_set(text: str) -> set[int]:
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < 3:
        return {xxhash.xxh3_64_intdigest(" ".join(tokens).encode())} if tokens else set()
    return {xxhash.xxh3_64_intdigest(" ".join(tokens[i : i + 3]).encode()) for i in range(len(tokens) - 2)}


def _nearest_earlier(texts: Sequence[str]) -> list[tuple[int, float, float] | None]:
    """Per article, the earlier one it overlaps most (index, Jaccard, containment), if related."""
    sets = [_shingle_set(t) for t in texts]
    postings: dict[int, list[int]] = {}
    out: list[tuple[int, float, float] | None] = []
    for i, shingles in enumerate(sets):
        shared: dict[int, int] = {}
        for h in shingles:
            posting = postings.get(h)
            if posting is not None and len(posting) <= _MAX_POSTING:
                for j in posting:
                    shared[j] = shared.get(j, 0) + 1
        best: tuple[int, float, float] | None = None
        floor = max(1, int(0.1 * len(shingles)))
        for j, count in shared.items():
            if count < floor and count < 0.1 * len(sets[j]):
                continue
            inter = len(shingles & sets[j])
            jac = inter / len(shingles | sets[j])
            cont = inter / min(len(shingles), len(sets[j]))
            if (jac >= RELATED_JACCARD or cont >= RELATED_CONTAINMENT) and (best is None or jac > best[1]):
                best = (j, jac, cont)
        out.append(best)
        for h in shingles:
            postings.setdefault(h, []).append(i)
    return out


def _natural_groups(articles: Sequence[Mapping[str, Any]]) -> tuple[list[int], list[str], set[int]]:
    """Story group and natural kind of each article, and the articles with any related one.

    Kinds: `exact` (same whitespace-normalized text as an earlier article), `revision` (same URL,
    other text), `copy` (near-verbatim, see COPY_JACCARD), `related` (unscored), `original`.
    """
    parent = list(range(len(articles)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    texts = [" ".join(str(a.get("text") or "").split()) for a in articles]
    nearest = _nearest_earlier(texts)
    first_by: dict[tuple[str, str], int] = {}
    entangled: set[int] = set()
    for i, a in enumerate(articles):
        keys = [("text", texts[i])]
        if a.get("url"):
            keys.append(("url", str(a["url"])))
        for key in keys:
            j = first_by.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
                entangled.update((i, j))
        near = nearest[i]
        if near is not None:
            entangled.update((i, near[0]))
            if near[1] >= COPY_JACCARD:
                parent[find(i)] = find(near[0])
    groups = [find(i) for i in range(len(articles))]
    kinds = []
    seen_text: set[tuple[int, str]] = set()
    seen_url: set[tuple[int, str]] = set()
    seen_group: set[int] = set()
    for i, a in enumerate(articles):
        url = str(a.get("url") or "")
        if groups[i] not in seen_group:
            kinds.append("related" if nearest[i] is not None else "original")
        elif (groups[i], texts[i]) in seen_text:
            kinds.append("exact")
        elif url and (groups[i], url) in seen_url:
            kinds.append("revision")
        else:
            kinds.append("copy")
        seen_group.add(groups[i])
        seen_text.add((groups[i], texts[i]))
        seen_url.add((groups[i], url))
    return groups, kinds, entangled


def build_stream(
    articles: Sequence[Mapping[str, Any]], *, seed: int, plan: StreamPlan | None = None
) -> list[Labelled]:
    """The labelled stream: corpus order, each generated record shortly after what it copies."""
    plan = plan or StreamPlan()
    rng = random.Random(seed)
    groups, natural, entangled = _natural_groups(articles)
    # Originals for variants and hosts for negatives: articles unrelated to any other one, so
    # that what a generated record copies (or must not be taken for) is known exactly.
    singles = [i for i, k in enumerate(natural) if k == "original" and i not in entangled]
    long_enough = [
        i for i in singles if word_count(str(articles[i].get("text") or "")) >= MIN_WORDS_FOR_VARIANTS
    ]
    holdout = set(
        rng.sample(long_enough, min(len(long_enough) // 3, round(len(articles) * plan.holdout_rate)))
    )
    in_stream = [i for i in range(len(articles)) if i not in holdout]

    # (position key, tie-break, record): originals at their index, the rest after.
    placed: list[tuple[float, int, Labelled]] = [
        (i, 0, Labelled(dict(articles[i]), _NATURAL_LABEL[natural[i]], natural[i], groups[i]))
        for i in in_stream
    ]
    candidates = [i for i in long_enough if i not in holdout]
    titles = [str(articles[i].get("title")) for i in in_stream if articles[i].get("title")]

    def context(near: int) -> Context:
        donors = rng.sample(in_stream, min(3, len(in_stream)))
        sentences = [s for d in donors if d != near for p in Doc.parse(articles[d]).paragraphs for s in p]
        return Context(sentences, rng.sample(titles, min(4, len(titles))))

    def after(i: int) -> float:
        return i + _log_uniform_int(rng, 1, MAX_DISTANCE) - 0.5

    n_variants = round(len(articles) * plan.variant_rate)
    originals = rng.sample(candidates, min(len(candidates), round(n_variants / (1 + plan.second_variant))))
    jobs: list[tuple[int, str]] = []
    for k, i in enumerate(originals):
        jobs.append((i, plan.kinds[k % len(plan.kinds)]))
        if rng.random() < plan.second_variant:
            jobs.append((i, rng.choice(plan.kinds)))
    for number, (i, kind) in enumerate(jobs):
        variant = make_variant(articles[i], kind, rng, context(i), number)
        placed.append((after(i), 1 + number, Labelled(variant, True, kind, groups[i])))

    hosts = sorted(holdout)
    rng.shuffle(hosts)
    n_quote = round(len(articles) * plan.quote_rate)
    n_chrome = round(len(articles) * plan.boilerplate_rate)
    serial = len(jobs) + 1
    for host in hosts[:n_quote]:
        quoted = rng.choice(candidates)
        negative = quote_negative(articles[host], articles[quoted], rng)
        if negative is not None:
            serial += 1
            placed.append((after(quoted), serial, Labelled(negative, False, "quote", host)))
    for host in hosts[n_quote : n_quote + n_chrome]:
        near = rng.choice(candidates)
        negative = boilerplate_negative(
            articles[host], rng, rng.choice(OUTLETS), context(near).related_titles
        )
        serial += 1
        placed.append((after(near), serial, Labelled(negative, False, "boilerplate", host)))

    rest = hosts[n_quote + n_chrome :]
    for k in range(min(len(rest) // 3, round(len(articles) * plan.intro_rate / 2))):
        pair, background = rest[3 * k : 3 * k + 2], rest[3 * k + 2]
        near = rng.choice(candidates)
        negatives = intro_negatives([articles[h] for h in pair], articles[background], rng)
        for host, negative in zip(pair, negatives, strict=True):
            serial += 1
            placed.append((after(near), serial, Labelled(negative, False, "intro", host)))

    rest = rest[3 * min(len(rest) // 3, round(len(articles) * plan.intro_rate / 2)) :]
    n_siblings = min(len(rest) // 3, round(len(articles) * plan.sibling_rate / 2))
    for k in range(n_siblings):
        pair, background = rest[3 * k : 3 * k + 2], rest[3 * k + 2]
        first_sibling, second_sibling = sibling_pair([articles[h] for h in pair], articles[background], rng)
        at = after(rng.choice(candidates))
        serial += 1
        placed.append((at, serial, Labelled(first_sibling, False, "sibling", pair[0])))
        serial += 1
        # the second comes after the first: it links to the story the first started
        second_at = at + _log_uniform_int(rng, 1, MAX_DISTANCE)
        placed.append((second_at, serial, Labelled(second_sibling, False, "sibling", pair[0], related=True)))

    # New leads of follow-ups come from held-out articles no other record uses, when enough remain.
    lead_donors = rest[3 * n_siblings :] or hosts
    for number in range(round(len(articles) * plan.followup_rate)):
        if not lead_donors:
            break
        i = rng.choice(candidates)
        made = followup(articles[i], articles[lead_donors[number % len(lead_donors)]], rng, number)
        if made is not None:
            serial += 1
            placed.append((after(i), serial, Labelled(made, False, "followup", groups[i], related=True)))

    placed.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in placed]


def kinds_of(stream: Iterable[Labelled]) -> dict[str, int]:
    """How many records of each kind a stream holds (report order)."""
    kinds = (*NATURAL_KINDS, *VARIANT_KINDS, *NEGATIVE_KINDS, *RELATED_KINDS, *UNSCORED_KINDS)
    counts = {k: 0 for k in kinds}
    for record in stream:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    return counts


__all__ = [
    "MAX_DISTANCE",
    "NATURAL_KINDS",
    "NEGATIVE_KINDS",
    "OUTLETS",
    "RELATED_KINDS",
    "UNSCORED_KINDS",
    "VARIANT_KINDS",
    "Context",
    "Doc",
    "Labelled",
    "StreamPlan",
    "build_stream",
    "diacritize",
    "edit",
    "followup",
    "html_page",
    "kinds_of",
    "make_variant",
    "reflow",
    "sibling_pair",
    "syndicate",
    "teaser",
]
