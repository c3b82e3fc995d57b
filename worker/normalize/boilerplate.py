"""Syndication chrome: the lines and prefixes a re-publisher adds around a story, found so that
the match key can leave them out.

The same story reaches the firehose from a wire agency, from portals that run the wire copy, and
from the outlet's own pages, and each adds its *chrome*: a dateline before the first sentence
(``القاهرة - (رويترز) -``, ``BEIRUT, March 3 (Reuters) -``), "read also" / "for more" link lines
(``اقرأ أيضا: ...``, ``Read more: ...``), calls to follow, share, subscribe or download the app,
copyright and opinion disclaimers, agency and photo credits, bylines, and page furniture a
flattened page leaves in the text (breadcrumb, share bar, a date line). None of it is the story,
and on a short copy it is a large share of the words: a 40-word teaser carrying 40 words of
footer is half chrome, so its shingles are only half contained in its original.

``story_text(paragraphs)`` returns the body the match key is built from: chrome lines dropped,
the dateline cut from the first remaining paragraph, a "read more" tail cut from the last one.
The readable text (``NormalizedText.paragraphs``) keeps everything: it is what the outlet
published, and a rule that is wrong there would lose words people read; a rule that is wrong
here costs a few shingles of one fingerprint.

How the rules decide (each is a pure function with a named golden test in
``tests/unit/test_boilerplate.py``; why each exists is in ``docs/NORMALIZATION.md``):

- a whole line is chrome only when it is *short* (chrome is a label, a call, a notice; a story
  paragraph that happens to mention Reuters or Facebook is longer) and it *starts with* a label
  (``اقرأ أيضا``, ``للمزيد:``, ``Related:``, ``بقلم``), or carries an unmistakable notice
  (``©``, ``جميع الحقوق محفوظة``, ``all rights reserved``), or pairs a call to action (``تابعونا``,
  ``اشترك``, ``Follow``, ``Download``) with a channel (a social network, the app, the newsletter,
  "our site/channel"), or is made of date words and numbers only;
- calls, notices, credits and furniture are trimmed only from the edges of the story (the
  first and last lines, and ``", "``-joined segments at the end of a flattened page); related
  links anywhere;
- a dateline is cut only from the first paragraph, only when it is credited (an agency or outlet
  in parentheses, a known agency after a separator), written as an English all-caps place, or is
  a bare one- or two-word place before a spaced dash;
- the body never loses everything: when every line looks like chrome, nothing is dropped.

Rules match the *folded* spelling of the text (``arabic.fold_for_match``: no diacritics or
tatweel, one alef, ``ى``->``ي``, ``ة``->``ه``), so ``اقرأ أيضاً`` and ``اقرا ايضا`` are one label and a
vocalised footer is still a footer; that is why the patterns below are spelled ``اقرا ايضا``,
``النشره``. The returned paragraphs are folded too: they feed only the match key, which folds
the same way.

Guarantees: pure and deterministic; every regular expression is anchored or a plain character
class / literal alternation with bounded repetitions of disjoint classes (linear time, checked
on adversarial input by the property tests); ``story_text`` of the same paragraphs is always
the same, so normalization stays idempotent. Cost: ~10 µs on a typical 2,300-character article
(one fold of the body, an anchored ``match`` per paragraph, searches only on short lines).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from worker.normalize import arabic

# ---------------------------------------------------------------------------------------------
# Shared vocabulary (folded spelling)
# ---------------------------------------------------------------------------------------------

#: Wire agencies and the big broadcasters whose name appears as a credit. A credit names them
#: in a dateline (``(رويترز)``), in a credit line (``فرانس24/ أ ف ب``) or after a separator
#: (``دبي، رويترز:``). The list is about the phenomenon (who syndicates news in Arabic and
#: English), not about any one feed; an unknown agency is still caught when it is in
#: parentheses.
_AGENCY: Final = (
    r"(?:وكاله\s)?(?:"
    r"رويترز|فرانس\sبرس|الفرنسيه|ا\.?\s?ف\.?\s?ب\.?|اسوشي?يتد\sبرس|اسوشيتيد\sبرس|"
    r"د\.?\s?ب\.?\s?ا\.?|الالمانيه|الاناضول|ا\.?\s?ش\.?\s?ا\.?|واس|وام|كونا|بترا|سانا|"
    r"شينخوا|سبوتنيك|ارنا|تاس|يو\sبي\sاي|سي\sان\sان|بي\sبي\sسي|وكالات|"
    r"reuters|afp|ap|associated\spress|dpa|anadolu(?:\sagency)?|xinhua|upi|bloomberg|spa|wam|"
    r"kuna|qna|mena|tass|efe|kyodo|ansa|irna|sputnik|cnn|bbc|agencies"
    r")"
)
_AGENCY_RE: Final = re.compile(rf"(?<!\w){_AGENCY}(?!\w)", re.IGNORECASE)

#: Longest line (characters) that a whole-line rule looks at. Chrome lines are labels, calls
#: and notices: the longest seen on ant-dev (a "for more" line with a long headline) is ~230
#: characters; story paragraphs are mostly longer. Also bounds the work per line.
MAX_CHROME_CHARS: Final = 320
#: Longest line (words) of a related-link line: a label and one headline.
MAX_LINK_WORDS: Final = 35
#: Longest social / legal line (words): a call or notice is one or two sentences.
MAX_NOTICE_WORDS: Final = 30
#: Longest credit, byline or date line (words).
MAX_CREDIT_WORDS: Final = 10
#: Headlines that may follow a label standing alone on its line (``اقرأ أيضاً:`` then one
#: headline per line, as BBC Arabic lays them out).
MAX_LINK_BLOCK: Final = 8
#: Longest headline of such a block (words).
MAX_HEADLINE_WORDS: Final = 25

_SEP: Final = r"\s*(?:--?|[–—]|:)\s*"
#: One word of a dateline's place or date: anything but spaces, brackets, quotes, dashes and
#: the separators below (disjoint from them, so the repetitions cannot backtrack).
_WORD: Final = r"[^\s()\[\]«»\"'\-–—:،,./]{1,30}"
_WORD_SEP: Final = r"[ ،,/]{1,3}"

# ---------------------------------------------------------------------------------------------
# Rule 1: dateline at the start of the story
# ---------------------------------------------------------------------------------------------

#: ``القاهرة - (رويترز) -``, ``دبي، الإمارات العربية المتحدة (CNN)--``, ``WASHINGTON, March 3
#: (Reuters) -``, ``(أ ف ب) -``: up to seven words of place and date, a short credit in
#: parentheses (any name: the parentheses are the evidence), a separator.
_DATELINE_CREDIT_RE: Final = re.compile(
    rf"(?:{_WORD}{_WORD_SEP}){{0,7}}(?:[-–—]\s?)?\([^()\n]{{1,40}}\)\.?{_SEP}"
)
#: ``(أ ف ب) بيروت -``: the credit first, then the place.
_DATELINE_CREDIT_FIRST_RE: Final = re.compile(
    rf"\([^()\n]{{1,40}}\)\s?{_WORD}(?:{_WORD_SEP}{_WORD}){{0,3}}{_SEP}"
)
#: ``دبي، رويترز:``, ``عمان - بترا -``: a place, then a known agency after a comma or a dash
#: (a plain space would also match ``قالت رويترز:``, which is the story speaking).
_DATELINE_AGENCY_RE: Final = re.compile(
    rf"(?:{_WORD}{_WORD_SEP}){{0,4}}{_WORD}\s?(?:[،,]|[-–—])\s?{_AGENCY}{_SEP}", re.IGNORECASE
)
#: ``BEIRUT —``, ``NEW YORK, Lebanon --``: an English place in capitals before a dash.
_DATELINE_CAPS_RE: Final = re.compile(
    r"[A-Z][A-Z.']{1,20}(?:[ /][A-Z][A-Z.']{1,20}){0,3}"
    r"(?:, [A-Z][a-zA-Z.]{1,20}(?: [A-Za-z0-9.]{1,20}){0,3})?"
    r"\s?(?:--?|[–—])\s"
)
#: ``القاهرة - ``, ``Beirut - ``: a bare one- or two-word place (letters only) before a spaced
#: dash. Not a score (``ليفانتي 3 - 1``: digits) and not a longer clause.
_DATELINE_PLACE_RE: Final = re.compile(r"[^\W\d_]{2,30}(?: [^\W\d_]{2,30})? (?:--?|[–—]) ")
_DATELINE_RES: Final = (
    _DATELINE_CREDIT_RE,
    _DATELINE_CREDIT_FIRST_RE,
    _DATELINE_AGENCY_RE,
    _DATELINE_CAPS_RE,
    _DATELINE_PLACE_RE,
)
#: Words the rest of the paragraph must keep for a cut to count (a "dateline" followed by
#: almost nothing is more likely a short line of another shape).
_MIN_WORDS_AFTER_DATELINE: Final = 3


#: Characters a dateline is looked for in: seven words of place and date and a credit.
_DATELINE_HEAD_CHARS: Final = 160


#: Datelines cut at most from one paragraph: a portal may put its own before the wire's
#: (``الرياض (أ ف ب) – (CNN)-- ...``).
_MAX_DATELINES: Final = 2


def strip_dateline(paragraph: str) -> str:
    """The first paragraph without its dateline prefix (``القاهرة - (رويترز) - أعلن ...`` ->
    ``أعلن ...``), or two stacked ones; unchanged when it has none. Expects folded text."""
    for _ in range(_MAX_DATELINES):
        rest = _strip_one_dateline(paragraph)
        if rest is paragraph:
            break
        paragraph = rest
    return paragraph


def _strip_one_dateline(paragraph: str) -> str:
    head = paragraph[:_DATELINE_HEAD_CHARS]
    # Every shape ends with a dash or a colon: without one the patterns cannot match.
    if "-" not in head and "–" not in head and "—" not in head and ":" not in head:
        return paragraph
    for pattern in _DATELINE_RES:
        m = pattern.match(paragraph)
        if m is not None:
            rest = paragraph[m.end() :]
            return rest if rest.count(" ") + 1 >= _MIN_WORDS_AFTER_DATELINE else paragraph
    return paragraph


# ---------------------------------------------------------------------------------------------
# Rule 2: related-link lines ("read also", "for more", "related", "watch")
# ---------------------------------------------------------------------------------------------

#: Labels that are never story text, whatever follows them (``إقرأ أيضا اتهام ...`` has no
#: colon on BBC Arabic).
_LINK_LABEL_FREE: Final = (
    r"(?:اقرا|طالع|شاهد|اقراوا|طالعوا|شاهدوا)\s(?:ايضا|كذلك)"
    r"|(?:مواضيع|موضوعات|اخبار|مقالات|روابط|قصص|تقارير)\s(?:ذات\sصله|متعلقه|مشابهه|مقترحه)"
    r"|(?:قد|ربما)\s(?:يهمك|يهمكم|تهمك|يعجبك)"
    r"|اخترنا\s(?:لك|لكم)|الاكثر\s(?:قراءه|مشاهده)"
    r"|(?:read|see)\salso|also\s(?:read|see)|you\smay\salso\slike|recommended\sfor\syou|don'?t\smiss"
    # scheme v16: the same labels in other languages of the news (a review found them kept):
    # Russian, Ukrainian, Indonesian and Malay, Turkish, Hindi, Spanish, Portuguese, French,
    # German, Italian, Polish, Dutch
    r"|(?:читайте|смотрите)\s(?:также|тоже)|(?:читайте|дивіться)\sтакож"
    r"|baca\s(?:juga|pula)|ayrıca\s(?:okuyun|bakınız)"
    r"|यह\sभी\s(?:प\u0922\u093cें|देखें)"
    r"|te\spuede\sinteresar|leia\stambém|(?:à\s)?lire\saussi|lesen\ssie\sauch|leggi\sanche"
    r"|czytaj\s(?:także|również)"
)
#: Labels that are a link only with a separator (``للمزيد:``; ``للمزيد من الضغط`` is a sentence).
_LINK_LABEL_SEP: Final = (
    r"اقرا\s(?:المزيد|التفاصيل)|للمزيد(?:\sمن\s(?:المعلومات|التفاصيل))?|لمزيد\sمن\s(?:المعلومات|التفاصيل)"
    r"|المزيد\sمن\s(?:الاخبار|المقالات|التقارير)|ذات\sصله|شاهد|فيديو|استمع|رابط|روابط"
    r"|read\smore|more\son\sthis(?:\sstory)?|more|related(?:\s(?:stories|articles|coverage|content|news))?"
    r"|watch|listen|recommended|further\sreading"
    r"|ilgili\shaber(?:ler)?|по\sтеме|(?:lee|lea|ver)\stambién|veja\stambém|leia\smais|saiba\smais"
    r"|leer\smás|voir\saussi|mehr\szum\sthema|zobacz\s(?:także|również)|lees\sook"
)
#: One anchored match finds the label; what follows it says which kind of line this is. Labels
#: of cased scripts are matched on the lower-cased line (no IGNORECASE: it slows every match).
_LINK_LABEL_RE: Final = re.compile(
    rf"[\W_]{{0,3}}(?:(?P<free>{_LINK_LABEL_FREE})|(?P<sep>{_LINK_LABEL_SEP}))"
)
#: What may follow a label that needs a separator.
_LINK_SEPARATORS: Final = frozenset(":：-–—|»>/")
#: What may follow a label standing alone on its line.
_LINK_LABEL_TAIL: Final = " :：-–—|»>/.…"
#: What ends a story paragraph (a headline of a link block ends without it).
_PARAGRAPH_ENDINGS: Final = (".", "،", ",", ":", "؛", ";")
_CLOSERS: Final = "\"'»”’)] "
#: Characters a link label is looked for in (the longest label and its punctuation).
_LABEL_HEAD_CHARS: Final = 48

_NOT_LINK, _LINK_LINE, _LINK_LABEL_ALONE = 0, 1, 2


def _lowered(line: str) -> str:
    """`line` lower-cased for the English and other cased labels and calls (no IGNORECASE: it
    slows every match); a line opening in Arabic, which has no case, skips the copy (~0.5 µs)."""
    return line if "\u0600" <= line[:1] <= "\u06ff" else line.lower()


def _link_kind(line: str) -> int:
    head = _lowered(line[:_LABEL_HEAD_CHARS])
    m = _LINK_LABEL_RE.match(head)
    if m is None:
        return _NOT_LINK
    rest = line[m.end() :]
    if not rest.strip(_LINK_LABEL_TAIL):
        return _LINK_LABEL_ALONE if len(line) <= _LABEL_HEAD_CHARS else _NOT_LINK
    if line.count(" ") >= MAX_LINK_WORDS:
        return _NOT_LINK
    if m.group("free") is not None:
        return _NOT_LINK if rest[0].isalnum() else _LINK_LINE
    after = rest[1:] if rest[0] == " " else rest
    return _LINK_LINE if after[:1] in _LINK_SEPARATORS else _NOT_LINK


def is_related_link(line: str) -> bool:
    """A "read also" / "for more" / "related" line: a short line that starts with such a label
    (``اقرأ أيضا: عنوان``, ``للمزيد - عنوان``, ``Read more: headline``). Expects folded text."""
    return len(line) <= MAX_CHROME_CHARS and _link_kind(line) == _LINK_LINE


def is_link_label_alone(line: str) -> bool:
    """A link label with nothing after it (``اقرأ أيضاً:``): the next lines are its headlines."""
    return _link_kind(line) == _LINK_LABEL_ALONE


def is_headline(line: str) -> bool:
    """A short line that does not end like a story paragraph (a linked headline)."""
    if len(line) > MAX_CHROME_CHARS or line.count(" ") >= MAX_HEADLINE_WORDS:
        return False
    return not line.rstrip(_CLOSERS).endswith(_PARAGRAPH_ENDINGS)


# ---------------------------------------------------------------------------------------------
# Rule 3: calls to follow, share, subscribe, download ("follow us on Twitter")
# ---------------------------------------------------------------------------------------------

#: Calls to action that are unambiguous: "us" as the object (``تابعونا``, ``راسلنا``), feminine
#: imperatives, "download the app", "you can receive / follow / download" (``يمكنك بعد ذلك
#: تبديل`` is a how-to step), English calls. Anywhere among the first seven words (``هل لديك
#: خبر؟ راسلنا``), with any channel.
_STRONG_CALL: Final = (
    r"(?:و|ف)?(?:تابعونا|راسلونا|شاركونا|راسلنا|تابعي|اشتركي|انضمي|(?:حمل|نزل|ثبت)\s(?:ال)?تطبيق"
    r"|(?:يمكنك|يمكنكم|بامكانك|بامكانكم)\s(?:الان\s|ايضا\s)?(?:استلام|تلقي|تسلم|متابعه|تحميل|الاشتراك"
    r"|مشاهده|الاستماع|التسجيل|قراءه))"
    r"|follow\s(?:us|@)|subscribe|sign\sup|join\sus|download|get\s(?:the|our)\sapp|like\sus|share\s(?:this|on)"
    r"|visit\sour|contact\sus|send\sus|(?:you\scan|to)\s(?:follow|subscribe|download|receive)"
    # scheme v16: the same calls in other languages of the news (a review found them kept)
    r"|подписывайтесь|подпишитесь|присоединяйтесь|следите\sза\s(?:нами|новостями)|читайте\sнас"
    r"|підписуйтесь|підпишіться|стежте\sза\s(?:нами|новинами)"
    r"|ikuti\s(?:kami|berita|akun|saluran|kanal|update)|bizi\stakip\sedin|abone\sol(?:un)?"
    r"|síguenos|suscríbete|siga-nos|inscreva-se|suivez-nous|abonnez-vous|rejoignez-nous"
    r"|folgen\ssie\suns|abonnieren\ssie|seguici|iscriviti"
)
#: Plural imperatives and purpose clauses, spelled like a plural past verb (``سجلوا`` "register"
#: / "they scored", ``شاركوا`` "take part" / "they took part"): a call only as the line's first
#: word. Arabic narration opens a sentence with the *singular* verb (``تابع المشجعون``) or with
#: ``و``; a line that opens with the bare plural form is addressing the reader. Any channel.
_PLURAL_CALL: Final = (
    r"(?:تابعوا|اشتركوا|سجلوا|حملوا|نزلوا|انضموا|تواصلوا|شاركوا|زوروا|ادعموا"
    r"|لمتابعه|للمتابعه|للاشتراك|لتحميل|لتصلك|لتصلكم|لمشاهده)"
)
#: Calls that are also singular past-tense verbs of ordinary narration (``تابع`` "he went on",
#: ``شارك`` "took part", ``حمّل`` "blamed", ``انضم`` "joined"): a call only as the line's first
#: word and pointing at the outlet's own channel (``تابع تغطيتنا``, ``اشترك في النشرة``), never
#: at a social network or an ordinary word alone (``تابع في تغريدة على تويتر`` is the story).
_WEAK_CALL: Final = r"(?:تابع|تابعنا|اشترك|سجل|حمل|نزل|انضم|تواصل|شارك|ادعم)"
_STRONG_CALL_RE: Final = re.compile(
    rf"[\W_]{{0,3}}(?:\S{{1,40}} ){{0,6}}?(?:{_STRONG_CALL})(?!\w)", re.IGNORECASE
)
_PLURAL_CALL_RE: Final = re.compile(rf"[\W_]{{0,3}}{_PLURAL_CALL}(?!\w)")
_WEAK_CALL_RE: Final = re.compile(rf"[\W_]{{0,3}}{_WEAK_CALL}(?!\w)")
#: The outlet's own channels: its app, newsletter, site, pages, coverage (Arabic first-person
#: plural ``...نا``: ``موقعنا``, ``قناتنا``, ``تغطيتنا``). Enough for a weak call.
_OWN_CHANNEL: Final = (
    r"تطبيقنا|النشره|نشرتنا|بريدنا|موقعنا|صفحتنا|صفحاتنا|قناتنا|قنواتنا|حسابنا|حساباتنا|منصاتنا|تغطيتنا"
    r"|newsletter|our\s(?:app|site|website|channel|page|podcast|coverage)"
    # scheme v16: the outlet's own channel in other languages; a plain "channel" word is a
    # waterway, a chain or a TV channel in a story there (a review of the first version)
    r"|наш(?:ем|им|его|у|а|и)?\s(?:канал[аеу]?|telegram-канал[аеу]?|сайт[аеу]?|рассылк[аеуи])"
    r"|(?:saluran|kanal|akun)\s(?:kami|resmi\skami)|nuestro\scanal|nosso\scanal|notre\scha[iî]ne"
    r"|unseren?\s(?:kanal|newsletter)|il\snostro\scanale"
)
#: Channels named with ordinary words (``تطبيق`` is also "implementing"): only after a strong
#: or plural call.
_PLAIN_CHANNEL: Final = (
    r"تطبيق|التطبيق|البريد|الاشعارات|اشعارات|موقع|الموقع|قناه|القناه|صفحه|الصفحه|حساب|حسابات"
    r"|الرسائل\sالقصيره|the\sapp|e-?mail|rss|podcast|sms"
)
#: "Click here": a link's text, never a sentence of a story.
_CLICK_HERE_RE: Final = re.compile(
    r"(?<!\w)(?:اضغط|اضغطوا|انقر|انقروا|click|tap)\s(?:هنا|here)(?!\w)", re.IGNORECASE
)
#: Social networks (names as written in Arabic and English news).
_SOCIAL: Final = (
    r"فيسبوك|فيس\sبوك|تويتر|اكس|انستغرام|انستجرام|انستقرام|يوتيوب|تيليغرام|تلغرام|تليغرام|تيلغرام"
    r"|تلجرام|واتساب|واتس\sاب|سناب\s?شات|تيك\s?توك|لينكد\s?ان|ساوند\s?كلاود"
    r"|facebook|twitter|x|instagram|youtube|telegram|whatsapp|snapchat|tiktok|linkedin|google\snews"
    r"|телеграме?|телеграмм[еa]?|вконтакте|дзен[еa]?|одноклассниках|threads"
)
_OWN_CHANNEL_RE: Final = re.compile(rf"(?<!\w)[وبلف]?(?:{_OWN_CHANNEL})(?!\w)", re.IGNORECASE)
_ANY_CHANNEL_RE: Final = re.compile(
    rf"(?<!\w)[وبلف]?(?:{_OWN_CHANNEL}|{_PLAIN_CHANNEL}|{_SOCIAL})(?!\w)", re.IGNORECASE
)


#: First words of every call above (with the conjunctions ``و``/``ف`` attached): a line none of
#: whose first words is one of them is no call, and the patterns are not tried.
# fmt: off
_STRONG_CALL_WORDS: Final = (
    "تابعونا", "راسلونا", "شاركونا", "راسلنا", "تابعي", "اشتركي", "انضمي", "حمل", "نزل", "ثبت",
    "يمكنك", "يمكنكم", "بامكانك", "بامكانكم",
)
_CALL_WORDS: Final = frozenset((
    *(prefix + w for w in _STRONG_CALL_WORDS for prefix in ("", "و", "ف")),
    "تابعوا", "اشتركوا", "سجلوا", "حملوا", "نزلوا", "انضموا", "تواصلوا", "شاركوا", "زوروا",
    "ادعموا", "لمتابعه", "للمتابعه", "للاشتراك", "لتحميل", "لتصلك", "لتصلكم", "لمشاهده",
    "تابع", "تابعنا", "اشترك", "سجل", "انضم", "تواصل", "شارك", "ادعم",
    "follow", "subscribe", "sign", "join", "download", "get", "like", "share", "visit", "contact",
    "send", "you", "to",
    "подписывайтесь", "подпишитесь", "присоединяйтесь", "следите", "читайте", "підписуйтесь",
    "підпишіться", "стежте", "ikuti", "bizi", "abone", "síguenos", "suscríbete", "siga-nos",
    "inscreva-se", "suivez-nous", "abonnez-vous", "rejoignez-nous", "folgen", "abonnieren",
    "seguici", "iscriviti",
))
# fmt: on
#: Bullets and emphasis that may open a chrome line (``** تابعونا``, ``• Follow us``).
_LEADING_MARKS: Final = "*•·-–—>»#|_ "


def is_social_call(line: str) -> bool:
    """A call to follow / share / subscribe / download / click, pointing at a channel:
    ``تابعونا على فيسبوك``, ``حمّل تطبيقنا``, ``Follow us on Twitter``, ``اضغط هنا``."""
    if len(line) > MAX_CHROME_CHARS or line.count(" ") >= MAX_NOTICE_WORDS:
        return False
    low = _lowered(line)
    if ("هنا" in low or "here" in low) and _CLICK_HERE_RE.search(low) is not None:
        return True
    if _CALL_WORDS.isdisjoint(low.lstrip(_LEADING_MARKS).split(" ", 7)[:7]):
        return False
    if _STRONG_CALL_RE.match(low) is not None or _PLURAL_CALL_RE.match(low) is not None:
        return _ANY_CHANNEL_RE.search(low) is not None
    if _WEAK_CALL_RE.match(low) is not None:
        return _OWN_CHANNEL_RE.search(low) is not None
    return False


# ---------------------------------------------------------------------------------------------
# Rule 4: legal notices (copyright, reproduction ban, opinion disclaimer)
# ---------------------------------------------------------------------------------------------

#: Three kinds, each behind substrings it cannot match without (an ``in`` test costs ~70 ns on
#: a short line; the patterns' alternations cost microseconds): a rights notice, a ban on
#: reproducing *this* content (``يحظر نقل الجنسية`` is a law in the story, not a notice), an
#: opinion disclaimer.
_RIGHTS_RE: Final = re.compile(
    r"©|\(c\)\s?\d{4}|^copyright|copyright\s?(?:\(c\)|\d{4})|all\srights\sreserved"
    r"|(?:حقوق|الحقوق)(?:\s(?:النشر|الطبع|التاليف|التوزيع|الملكيه)(?:\s(?:الفكريه|و(?:ال)?(?:نشر|طبع|توزيع)))?)?"
    r"\s(?:كلها\s|جميعها\s)?محفوظه",
    re.IGNORECASE,
)
_BAN_RE: Final = re.compile(
    r"(?:يمنع|يحظر|لا\sيجوز|ممنوع|غير\sمسموح)\s(?:منعا\sباتا\s)?ب?(?:نسخ|اعاده\sنشر|النسخ|النقل|نقل|الاقتباس)"
    r"[^.\n]{0,60}(?:دون|بدون|الا\sب|المحتوي|المواد|الموقع|المنشوره|هذا)"
    r"|(?:may|must)\snot\sbe\s(?:re)?(?:published|produced|printed|distributed|broadcast|copied)",
    re.IGNORECASE,
)
_DISCLAIMER_RE: Final = re.compile(
    r"(?:تعبر|يعبر|تمثل|يمثل|تعكس|يعكس)\s(?:عن\s)?(?:راي|اراء|وجهه\sنظر|وجهات\sنظر)\s"
    r"(?:كاتب|كتاب|صاحب|اصحاب|كاتبيها|كاتبها|كتابها|اصحابها|صاحبها)"
    r"|(?:views|opinions)\sexpressed",
    re.IGNORECASE,
)


def is_legal_notice(line: str) -> bool:
    """A short copyright / reproduction / opinion-disclaimer line: ``جميع الحقوق محفوظة © ...``,
    ``الآراء الواردة تعبر عن رأي كاتبيها``, ``All rights reserved.``"""
    if len(line) > MAX_CHROME_CHARS or line.count(" ") >= MAX_NOTICE_WORDS:
        return False
    return bool(
        (
            ("محفوظ" in line or "©" in line or "opyright" in line or "eserved" in line or "(c)" in line)
            and _RIGHTS_RE.search(line)
        )
        or (
            ("نسخ" in line or "نشر" in line or "نقل" in line or "اقتباس" in line or " not be " in line)
            and _BAN_RE.search(line)
        )
        or (
            ("راي" in line or "اراء" in line or "نظر" in line or "xpressed" in line)
            and _DISCLAIMER_RE.search(line)
        )
    )


# ---------------------------------------------------------------------------------------------
# Rule 5: credits, bylines, publication-date lines
# ---------------------------------------------------------------------------------------------

#: Reuters-style staff credits: ``Reporting by ...; Editing by ...``, ``(إعداد ... للنشرة
#: العربية - تحرير ...)``.
_STAFF_CREDIT_RE: Final = re.compile(
    r"\(?(?:(?:additional\s)?reporting|writing|editing|compiled|produced)(?:\sand\s\w+)?\sby\s"
    r"|\((?:اعداد|تحرير|تغطيه\sصحفيه|شارك\sفي\sالتغطيه|ترجمه)\s[^()\n]{1,200}\)$",
    re.IGNORECASE,
)
_STAFF_CREDIT_FIRST: Final = frozenset("(RrWwEeCcPpAa")
#: Byline, photo credit, publication date: a label at the start of a short line.
_LABELLED_CREDIT_RE: Final = re.compile(
    r"[\W_]{0,3}(?:بقلم|written\sby|story\sby"
    r"|(?:كتب|كتبت|اعداد|تحرير|ترجمه|المصدر|مصدر\sالصوره|حقوق\sالصوره|الصوره|صوره|تصوير"
    r"|source|photo|picture|image|credit)\s?[:：]"
    r"|image\s(?:copyright|source|caption)|getty\simages"
    r"|(?:اخر\sتحديث|تاريخ\sالنشر|تم\sالنشر|نشر\sفي|نشر\sبتاريخ|تحديث"
    r"|published|updated|last\supdated|posted)\s?[:：]?\s?(?=.{0,40}\d))",
    re.IGNORECASE,
)
#: An English byline: ``By Jane Doe and John Roe`` (names only: ``By Tuesday, the army ...``
#: is a sentence).
_BYLINE_RE: Final = re.compile(r"By\s(?:[A-Z][\w.'’-]{0,30}(?:,|\sand)?\s?){1,6}")
#: What a credit line is made of besides agency names: separators and a few words.
_CREDIT_FILLER_RE: Final = re.compile(r"[\W_]+")


def is_credit_line(line: str) -> bool:
    """A credit, byline or date line: ``فرانس24/ أ ف ب``, ``(رويترز)``, ``بقلم: فلان``,
    ``Reporting by ...``, ``Photo: Reuters``, ``آخر تحديث: 12 مارس 2018``."""
    if len(line) > MAX_CHROME_CHARS:
        return False
    if line[:1] in _STAFF_CREDIT_FIRST and _STAFF_CREDIT_RE.match(line):
        return True
    if line.count(" ") >= MAX_CREDIT_WORDS:
        return False
    if _LABELLED_CREDIT_RE.match(line) or _BYLINE_RE.fullmatch(line):
        return True
    # Agency names and separators only, plus at most one word attached by a separator (the
    # outlet: ``فرانس24/ أ ف ب``); ``قالت رويترز`` has a word but no separator: a sentence.
    if _AGENCY_RE.search(line) is None:
        return False
    rest = _CREDIT_FILLER_RE.sub(" ", _AGENCY_RE.sub(" ", line)).split()
    if not rest:
        return True
    separated = any(c in line for c in "/|()-–—")
    return len(rest) == 1 and separated


# ---------------------------------------------------------------------------------------------
# Rule 5b: page furniture left in the text (breadcrumb, share bar, a date on its own line)
# ---------------------------------------------------------------------------------------------

#: ``الرئيسية > أخبار > سياسة``, ``Home / World``: where the page sits on the site.
_BREADCRUMB_RE: Final = re.compile(r"[\W_]{0,3}(?:الرئيسيه|الصفحه\sالرئيسيه|home)\s?[>»›/|\\]", re.IGNORECASE)
#: ``شارك: فيسبوك تويتر``, ``Share this article:``: the label of a share bar.
_SHARE_LABEL_RE: Final = re.compile(
    r"[\W_]{0,3}(?:شارك|شاركوا|مشاركه|شارك\s(?:الخبر|المقال|الموضوع)|share(?:\sthis)?(?:\s(?:article|story|post|page))?)"
    r"\s?[:：]",
    re.IGNORECASE,
)
#: Words of a date or time line (folded spelling; English lower-cased): weekdays, both Arabic
#: month series, the usual clock words.
# fmt: off
_DATE_WORDS: Final = frozenset((
    "الاثنين", "الثلاثاء", "الاربعاء", "الخميس", "الجمعه", "السبت", "الاحد",
    "يناير", "فبراير", "مارس", "ابريل", "مايو", "يونيو", "يوليو", "اغسطس", "سبتمبر", "اكتوبر",
    "نوفمبر", "ديسمبر", "كانون", "شباط", "اذار", "نيسان", "ايار", "حزيران", "تموز", "اب", "ايلول",
    "تشرين", "الاول", "الثاني", "الساعه", "ص", "م", "بتوقيت", "غرينتش", "جرينتش", "مكه", "المكرمه",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
    "wed", "thu", "fri", "sat", "sun", "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "am", "pm", "gmt", "utc", "at",
))
# fmt: on
#: A number of a date or time: ``12``, ``2018``, ``10:30``, ``12/03/2018``, ``2018-03-12``.
_DATE_NUMBER_RE: Final = re.compile(r"\d{1,4}(?:[:/.\-]\d{1,4}){0,2}")
_DATE_SEPARATORS: Final = " ،,|-–—/:.()"
#: Longest date line (words).
MAX_DATE_WORDS: Final = 10


def is_page_furniture(line: str) -> bool:
    """Navigation left in the text: a breadcrumb (``الرئيسية > أخبار``), a share bar
    (``شارك: فيسبوك تويتر``), a date or time on its own line (``الاثنين 12 مارس 2018 - 10:30``)."""
    if len(line) > MAX_CHROME_CHARS or line.count(" ") >= MAX_DATE_WORDS:
        return False
    if _BREADCRUMB_RE.match(line) or _SHARE_LABEL_RE.match(line):
        return True
    if not any(c.isdigit() for c in line):
        return False
    low = line.lower() if line.isascii() else line
    for word in low.replace("،", " ").replace(",", " ").split():
        word = word.strip(_DATE_SEPARATORS)
        if word and word not in _DATE_WORDS and _DATE_NUMBER_RE.fullmatch(word) is None:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Rule 5c: a cookie notice scraped with the text
# ---------------------------------------------------------------------------------------------

#: Longest cookie notice (characters): a banner's paragraph or two, far longer than other chrome.
MAX_COOKIE_CHARS: Final = 1200
#: A notice is the site speaking of its own cookies, in the first person (``We use cookies``,
#: ``This website uses cookies``, ``يستخدم هذا الموقع ملفات تعريف الارتباط``; ``the website
#: uses cookies from 40 partners`` is reporting), or the reader addressed about them
#: (``By continuing to browse ... you agree``, ``باستمرارك ... فانك توافق``) with the cookie
#: policy named; or a consent button's label alone (``Accept all cookies``). A story about
#: cookies (a regulator's fine, a site that made users "accept all cookies") is none of these
#: (folded spelling; lower-cased).
_COOKIE_SITE_RE: Final = re.compile(
    r"\bwe\s(?:also\s)?use\s(?:cookies|small\sfiles)"
    r"|\b(?:this|our)\s(?:web)?(?:site|page|app)\s(?:also\s)?uses\s(?:cookies|small\sfiles)"
    r"|(?:نستخدم|نحن\sنستخدم|يستخدم\sهذا\sالموقع|يستخدم\sموقعنا)\s(?:ملفات\sتعريف\sالارتباط|الكوكيز|كوكيز)"
)
_COOKIE_READER_RE: Final = re.compile(
    r"\byou\s(?:agree|consent|accept)\b|\byour\sconsent\b|باستمرارك|موافقتك|(?:فانك|انك)\sتوافق"
)
_COOKIE_POLICY_RE: Final = re.compile(
    r"cookie\s(?:policy|settings|preferences|notice|statement)|سياسه\s(?:ملفات\sتعريف\sالارتباط|الكوكيز)"
)
_COOKIE_BUTTON_RE: Final = re.compile(
    r"(?:accept|allow|reject|manage)\s(?:all\s)?cookies|cookie\s(?:settings|preferences)"
    r"|(?:قبول|رفض|ادارة)\s(?:جميع\s)?(?:ملفات\sتعريف\sالارتباط|الكوكيز)"
)
#: Longest consent button label (words).
_COOKIE_BUTTON_WORDS: Final = 6


def is_cookie_notice(line: str) -> bool:
    """A cookie banner's text: ``We use cookies to improve your experience. By continuing to
    browse the site you agree ...``, ``يستخدم هذا الموقع ملفات تعريف الارتباط ...``."""
    if len(line) > MAX_COOKIE_CHARS:
        return False
    if "ookie" not in line and "كوكيز" not in line and "تعريف الارتباط" not in line:
        return False
    low = line.lower()
    if _COOKIE_SITE_RE.search(low) or (_COOKIE_READER_RE.search(low) and _COOKIE_POLICY_RE.search(low)):
        return True
    return low.count(" ") < _COOKIE_BUTTON_WORDS and _COOKIE_BUTTON_RE.search(low) is not None


# ---------------------------------------------------------------------------------------------
# Rule 5d: a placeholder where a story will be (a flash's "more to follow", a video's caption)
# ---------------------------------------------------------------------------------------------

#: ``This is a developing story.``, ``More details to follow.``, ``Watch the video above.``,
#: ``عاجل``, ``التفاصيل بعد قليل`` (folded spelling; English lower-cased): what a flash or a
#: video page shows instead of a story. Different stories' flashes share it word for word.
_PLACEHOLDER_EN_RE: Final = re.compile(
    r"\bdeveloping\s(?:news\s)?story\b|\bthis\sis\sa\sbreaking\snews\s(?:story|update|alert)\b"
    r"|\b(?:more\s)?details\s(?:to\s(?:follow|come)|soon)\b|\bmore\sto\s(?:follow|come)\b"
    r"|\b(?:check|come)\sback\s(?:later\s|soon\s)?for\s(?:updates|more)\b|\bupdates\sto\sfollow\b"
    r"|\b(?:this|the)\s(?:story|article|post|report)\s(?:will\sbe|is\sbeing|may\sbe)\supdated\b"
    r"|\bwatch\s(?:the\s)?(?:full\s)?(?:video|clip|report)\s(?:above|below)\b"
)
_PLACEHOLDER_AR_RE: Final = re.compile(
    r"^(?:عاجل|خبر\sعاجل)\W*$|التفاصيل\s(?:بعد\sقليل|لاحقا|تباعا|تتبع)"
    r"|(?:المزيد|مزيد)\sمن\sالتفاصيل\s(?:لاحقا|بعد\sقليل|تباعا)"
    r"|(?:شاهد|شاهدوا|تابع|تابعوا)\s(?:ال)?(?:فيديو|مقطع)\s?(?:اعلاه|ادناه|التالي)"
)
#: Words every placeholder holds one of (in Arabic: عاجل, التفاصيل, فيديو, مقطع): a line with
#: none is not tried (an ``in`` test costs ~70 ns; the patterns' alternations, tried at every
#: position, ~30 µs on a 300-character line).
_PLACEHOLDER_EN_WORDS: Final = ("developing", "breaking", "details", "more to", "back", "updated", "watch")


def is_placeholder(line: str) -> bool:
    """A short line standing in for a story: ``This is a developing story. More details to
    follow.``, ``Watch the video above.``, ``عاجل``, ``التفاصيل بعد قليل``. A body of nothing
    else (and chrome) tells no story (`story_of`); in a body that tells one it stays in the key:
    a flash's update that adds a line (``At least 78 killed.``) must not become a copy of the
    flash for having lost its "More details to follow"."""
    if len(line) > MAX_CHROME_CHARS or line.count(" ") >= MAX_NOTICE_WORDS:
        return False
    if not line.isascii():
        if (
            "عاجل" in line or "التفاصيل" in line or "فيديو" in line or "مقطع" in line
        ) and _PLACEHOLDER_AR_RE.search(line):
            return _only_placeholder(_PLACEHOLDER_AR_RE, line)
        first = line[:1]
        if not (first.isascii() and first.isalpha()):  # not English (``This is ... follow…``
            return False  # is); lower-casing Arabic to look costs ~16,000 instructions a line
    low = line.lower()
    if any(w in low for w in _PLACEHOLDER_EN_WORDS) and _PLACEHOLDER_EN_RE.search(low):
        return _only_placeholder(_PLACEHOLDER_EN_RE, low)
    return False


#: The words a placeholder line may hold besides its phrases (``This is a ...``, ``خبر ...``,
#: ``Breaking news: ...``): any other word is news (``At least 78 killed, details soon.``,
#: ``استقالة الحكومة، التفاصيل لاحقا``: an update of a flash, not a placeholder).
_PLACEHOLDER_FILLER: Final = frozenset((
    "this", "is", "a", "an", "the", "it", "breaking", "news", "story", "update", "updates",
    "alert", "please", "and", "we", "will", "more", "developing", "live", "video",
    "خبر", "عاجل", "و", "هذا", "الخبر", "قيد", "التحديث", "يتبع",
))  # fmt: skip


def _only_placeholder(pattern: re.Pattern[str], line: str) -> bool:
    """Is the line its placeholder phrases and filler words only (`_PLACEHOLDER_FILLER`)?
    ``... مقتل 17 فلسطينيا ..., شاهد الفيديو اعلاه.`` is a story sentence with a caption run
    into it, ``At least 78 killed, details soon.`` an update: story."""
    rest = _CREDIT_FILLER_RE.sub(" ", pattern.sub(" ", line)).split()
    return all(word in _PLACEHOLDER_FILLER for word in rest)


# ---------------------------------------------------------------------------------------------
# Rule 6: a "read more" tail after a teaser's ellipsis
# ---------------------------------------------------------------------------------------------

#: ``... اقرأ المزيد``, ``… التفاصيل على موقعنا``, ``... Read more``, ``... continue reading``: a
#: call to read on, after an ellipsis, at the very end of the story.
_READ_MORE_TAIL_RE: Final = re.compile(
    r"(?:\.\.\.|…)\s?[-–—]?\s?(?:(?:اقرا|تابع|طالع)\s(?:المزيد|التفاصيل|القراءه|الخبر|باقي)|المزيد|للمزيد"
    r"|التفاصيل|التتمه|read\smore|more|continue\sreading|full\sstory|read\sthe\sfull|details)"
    r"[^.!?؟\n]{0,50}$",
    re.IGNORECASE,
)


def strip_read_more_tail(paragraph: str) -> str:
    """The last paragraph without a "read more" tail after its ellipsis: ``... قال الوزير ...
    اقرأ المزيد`` -> ``... قال الوزير``; unchanged when it has none."""
    if "…" not in paragraph and "..." not in paragraph:
        return paragraph
    # The tail is at most ~60 characters: search only there (and keep the cost constant).
    start = max(0, len(paragraph) - 64)
    m = _READ_MORE_TAIL_RE.search(paragraph, start)
    if m is None:
        return paragraph
    head = paragraph[: m.start()].rstrip()
    return head or paragraph


# ---------------------------------------------------------------------------------------------
# The body the match key is built from
# ---------------------------------------------------------------------------------------------


def is_chrome_line(line: str) -> bool:
    """Any whole-line rule: related link, social call, legal notice, credit, page furniture,
    cookie notice."""
    return is_related_link(line) or _is_edge_chrome(line)


def _is_edge_chrome(line: str) -> bool:
    return (
        is_social_call(line)
        or is_legal_notice(line)
        or is_credit_line(line)
        or is_page_furniture(line)
        or is_cookie_notice(line)
    )


#: First letters of the link labels (folded spelling, and the hamza forms that fold to alef).
#: Most story paragraphs in Arabic open with the conjunction ``و``, which no label does: such
#: lines skip the pattern.
_LINK_FIRST_CHARS: Final = frozenset(
    "اأإآطشمرقتلذفyrasdmwlfYRASDMWLF"
    "чсдпЧСДПbBiIvVtTcCzZàÀeEय"  # scheme v16: the labels of other languages
)


def story_paragraphs(paragraphs: Sequence[str]) -> list[str]:
    """`story_of`'s story; a body that is chrome and nothing else (or nothing) whole."""
    story = story_of(paragraphs)
    return list(paragraphs) if story is None else story


def story_of(paragraphs: Sequence[str]) -> list[str] | None:
    """The story without its chrome, for the match key only; None when no line is a story's.

    1. Related-link lines, and the headlines under a lone "read also" label, are dropped
       wherever they are: outlets insert them between paragraphs.
    2. Social calls, legal notices and credits are trimmed from the two *edges* of what is
       left, up to the first story line: that is where outlets put them, and in the middle of
       a story a short line that looks like one is more likely the story (a quote, a how-to
       step). It also keeps the cost to a few lines per article.
    3. The dateline is cut from the first remaining paragraph, a "read more" tail from the last.

    Lines a rule looked at are returned folded (``arabic.fold_for_match``; the match key folds
    the same way), the others as given. A body that is chrome and nothing else tells no story:
    None (`story_paragraphs` keys it whole, the normalizer by its title).
    """
    fold = arabic.fold_for_match  # per line, only where a rule looks (~0.7 µs a line)
    kept: list[str] = []
    i, n = 0, len(paragraphs)
    while i < n:
        line = paragraphs[i]
        i += 1
        first = line[:1]
        if len(line) > MAX_CHROME_CHARS or (first not in _LINK_FIRST_CHARS and first.isalnum()):
            kept.append(line)  # a label may follow punctuation (``** اقرأ``): those are tried
            continue
        kind = _link_kind(fold(line))
        if kind == _LINK_LABEL_ALONE:
            block = 0
            while i < n and block < MAX_LINK_BLOCK and is_headline(paragraphs[i]):
                i += 1
                block += 1
        elif kind == _NOT_LINK:
            kept.append(line)
    start, end = 0, len(kept)
    last = first_line = ""
    while end > start:
        last = fold(kept[end - 1])
        if not _is_edge_chrome(last):
            break
        end -= 1
    while start < end:
        first_line = fold(kept[start])
        if not _is_edge_chrome(first_line):
            break
        start += 1
    if start == end:
        return None
    if is_placeholder(first_line) and all(
        is_placeholder(f) or _is_edge_chrome(f) for f in map(fold, kept[start + 1 : end])
    ):
        return None  # chrome and placeholders only: no story
    story = kept[start:end]
    story[-1] = strip_read_more_tail(_trim_run_in_chrome(last))
    story[0] = strip_dateline(first_line if start < end - 1 else story[-1])
    return story


#: How a flattened page joins its lines (``..., اقرأ أيضا: ..., تابعونا على ...``).
_RUN_IN_JOINER: Final = ", "


def _trim_run_in_chrome(line: str) -> str:
    """The last paragraph without chrome run into its end: a page flattened to one paragraph
    joins its lines with ``", "``, so the trailing block (links, calls, notices) ends up after
    the story's last words. Segments are trimmed from the end while they are chrome, as whole
    lines are at the edges."""
    if _RUN_IN_JOINER not in line:
        return line
    segments = line.split(_RUN_IN_JOINER)
    end = len(segments)
    while end > 1 and (_link_kind(segments[end - 1]) != _NOT_LINK or _is_edge_chrome(segments[end - 1])):
        end -= 1
    return line if end == len(segments) else _RUN_IN_JOINER.join(segments[:end])


def story_text(paragraphs: Sequence[str]) -> str:
    """``story_paragraphs`` joined as the normalizer joins paragraphs (the match key's input)."""
    return "\n\n".join(story_paragraphs(paragraphs))


__all__ = [
    "MAX_CHROME_CHARS",
    "is_chrome_line",
    "is_cookie_notice",
    "is_credit_line",
    "is_headline",
    "is_legal_notice",
    "is_link_label_alone",
    "is_page_furniture",
    "is_placeholder",
    "is_related_link",
    "is_social_call",
    "story_of",
    "story_paragraphs",
    "story_text",
    "strip_dateline",
    "strip_read_more_tail",
]
