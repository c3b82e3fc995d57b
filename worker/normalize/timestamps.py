"""Publication time in any common shape -> UTC ISO-8601 (``2018-02-12T07:00:00Z``).

``parse_published`` never raises. It returns ``(utc_iso, None)`` on success, ``(None, None)``
when there is no value, and ``(None, warning)`` when a value is there but cannot be read: an
unreadable time is a note on the article, never a reason to dead-letter it. A time that was read
but had to be interpreted (no time zone, so UTC is assumed) comes back with both a value and a
warning.

Accepted, tried in this order (cheapest and least ambiguous first):

1. numbers and digit strings: Unix epoch seconds; values past year 5138 in seconds are taken
   as milliseconds, then microseconds (producers send all three);
2. ISO 8601 / RFC 3339 (``datetime.fromisoformat``, which on 3.11 accepts ``Z``, offsets,
   ``T`` or space, fractions);
3. RFC 2822 / RFC 5322 (``email.utils``), the RSS ``pubDate`` shape;
4. anything else python-dateutil reads (``12 February 2018 10:00 AST``, ``12/02/2018``), after
   Arabic month names (both the Egyptian/Gulf ``فبراير`` and the Levantine ``شباط`` series) and
   Arabic-Indic digits are translated, and the rest of an Arabic byline made readable: weekday
   names and "الساعة" / "نشر في" dropped, ص / صباحاً / م / مساءً / ظهراً after a time read as
   a.m. / p.m., "م" after a year (AD) dropped, a Hijri date beside the Gregorian one dropped,
   "بتوقيت مكة" / "بتوقيت غرينتش" read as zones. Numeric dates that do not start with a 4-digit year are
   read day-first (``12/02/2018`` is 12 February), the convention of the Arabic press.

Times outside 1900..2100 are rejected as implausible (an epoch in the wrong unit, a
two-digit year gone wrong).
"""

from __future__ import annotations

import email.utils
import re
import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from dateutil import parser as dateutil_parser

#: Values outside this range are certainly wrong (wrong epoch unit, broken year).
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
#: Longer strings are not dates; the cap bounds the work dateutil can be made to do.
MAX_CHARS: Final = 100
_EPOCH_S_MAX: Final = 10**11  # ~ year 5138 in seconds; larger is milliseconds
_EPOCH_MS_MAX: Final = 10**14  # larger still is microseconds
#: Parts missing from a dateutil string are filled from this, so that a bare "10:30" lands in
#: year 1 and is rejected instead of silently becoming today.
_NO_DATE: Final = datetime(1, 1, 1)
_NUMERIC_RE: Final = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_YEAR_FIRST_RE: Final = re.compile(r"^\s*\d{4}\D")
_ARABIC_DIGITS: Final = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
#: Arabic month names, longest first so that "تشرين الثاني" wins over a shorter match.
_ARABIC_MONTHS: Final = sorted(
    {
        "يناير": "January", "فبراير": "February", "مارس": "March", "أبريل": "April",
        "ابريل": "April", "إبريل": "April", "مايو": "May", "يونيو": "June", "يونيه": "June",
        "يوليو": "July", "يوليه": "July", "أغسطس": "August", "اغسطس": "August",
        "سبتمبر": "September", "أكتوبر": "October", "اكتوبر": "October", "نوفمبر": "November",
        "ديسمبر": "December", "كانون الثاني": "January", "شباط": "February", "آذار": "March",
        "اذار": "March", "نيسان": "April", "أيار": "May", "ايار": "May", "حزيران": "June",
        "تموز": "July", "آب": "August", "اب": "August", "أيلول": "September",
        "ايلول": "September", "تشرين الأول": "October", "تشرين الاول": "October",
        "تشرين الثاني": "November", "كانون الأول": "December", "كانون الاول": "December",
    }.items(),
    key=lambda kv: -len(kv[0]),
)  # fmt: skip
_ARABIC_MONTH_RE: Final = re.compile("|".join(re.escape(k) for k, _ in _ARABIC_MONTHS))
_ARABIC_MONTH_MAP: Final = dict(_ARABIC_MONTHS)
#: Words that carry no date: weekday names (the date beside them says the day, and a weekday
#: that disagrees with it should not make the value unreadable), "day", "the hour", "published
#: on", "updated", "corresponding to". Removed before the month names are looked up.
_ARABIC_NOISE_RE: Final = re.compile(
    r"(?<!\w)(?:يوم|الساعة|الساعه|نشر\s+في|نشر|بتاريخ|آخر\s+تحديث|اخر\s+تحديث|تحديث|الموافق|"
    r"ال[أاإ]حد|ال[أاإ]ثنين|الاثنين|الثلاثاء|ال[أا]ربعاء|الخميس|الجمعة|الجمعه|السبت)(?!\w)"
)
#: Morning / evening after a time: ص / صباحاً (a.m.), م / مساءً (p.m.), ظهراً (noon, p.m. from
#: 12) and the spellings without tanwin or with a final alif. Only after a time of day: a bare
#: "م" after a year is "ميلادي" (AD), as in "12 فبراير 2018م", and is dropped below.
_ARABIC_MERIDIEM_RE: Final = re.compile(
    r"(?<!\d)(\d{1,2}(?::\d{2}){0,2})\s*(صباح[اًا]*|صباحً?ا|مساء[ًا]*|مساءً|ظهر[اًا]*|عصر[اًا]*|ليل[اًا]*|ص|م)(?!\w)"
)
_ARABIC_PM_WORDS: Final = ("م", "مساء", "ظهر", "عصر", "ليل")
#: Era marks: م / ميلادي (AD, after a year) and "هـ" (Hijri): a Hijri date is not read (it would
#: need a calendar conversion); in "26 جمادى 1439 هـ - 11 فبراير 2018 م" only the Gregorian part is.
_ARABIC_ERA_RE: Final = re.compile(r"(?<=\d)\s*(?:ميلادي(?:ة)?|م)(?!\w)")
_HIJRI_MONTHS: Final = (
    "محرم", "صفر", "ربيع الأول", "ربيع الاول", "ربيع الآخر", "ربيع الثاني", "جمادى الأولى",
    "جمادى الاولى", "جمادى الآخرة", "جمادى الاخرة", "جمادى الثانية", "رجب", "شعبان", "رمضان",
    "شوال", "ذو القعدة", "ذي القعدة", "ذو الحجة", "ذي الحجة",
)  # fmt: skip
#: A Hijri date ("26 جمادى الأولى 1439 هـ"), removed whole when a Gregorian one stands beside it.
_HIJRI_DATE_RE: Final = re.compile(
    r"\d{1,2}\s+(?:" + "|".join(sorted(map(re.escape, _HIJRI_MONTHS), key=len, reverse=True))
    + r")\s+\d{3,4}\s*(?:هـ|ه)?(?!\w)"
)
#: Time-zone phrases of the Arabic press, as zone abbreviations `TZINFOS` knows.
_ARABIC_ZONES: Final = {
    "بتوقيت غرينتش": "GMT", "بتوقيت جرينتش": "GMT", "بتوقيت غرينيتش": "GMT",
    "بتوقيت مكة المكرمة": "AST", "بتوقيت مكة": "AST", "بتوقيت السعودية": "AST",
    "بتوقيت الرياض": "AST", "بتوقيت بغداد": "AST", "بتوقيت الكويت": "AST", "بتوقيت الدوحة": "AST",
    "بتوقيت القاهرة": "EET", "بتوقيت دمشق": "EEST", "بتوقيت بيروت": "EET", "بتوقيت عمان": "EEST",
    "بتوقيت الإمارات": "GST", "بتوقيت أبوظبي": "GST", "بتوقيت دبي": "GST",
}  # fmt: skip
_ARABIC_ZONE_RE: Final = re.compile(
    "|".join(re.escape(k) for k in sorted(_ARABIC_ZONES, key=len, reverse=True))
)


#: The RFC 2822 date shape; ``email.utils`` is lenient beyond it (it reads "2:00 AM EST" as a
#: naive 02:00), so anything else goes to dateutil.
_RFC2822_RE: Final = re.compile(
    r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"(?:\s+(?:[+-]\d{4}|[A-Za-z]{1,5}))?$"
)
#: Zone names that ``email.utils`` reads differently from ``TZINFOS`` (it takes AST as
#: Atlantic, -4): strings ending in them skip the RFC 2822 parser.
_RFC2822_DISAGREES: Final = frozenset({"AST"})


def _tz(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


#: Zone abbreviations seen in news feeds. ``AST`` is Arabia Standard Time (+3) here, not
#: Atlantic (-4): this worker reads the Arabic press first.
TZINFOS: Final = {
    "UTC": UTC, "GMT": UTC, "Z": UTC, "UT": UTC,
    "EST": _tz(-5), "EDT": _tz(-4), "CST": _tz(-6), "CDT": _tz(-5),
    "MST": _tz(-7), "MDT": _tz(-6), "PST": _tz(-8), "PDT": _tz(-7),
    "BST": _tz(1), "CET": _tz(1), "CEST": _tz(2), "EET": _tz(2), "EEST": _tz(3),
    "MSK": _tz(3), "AST": _tz(3), "GST": _tz(4), "IRST": _tz(3.5), "PKT": _tz(5),
    "JST": _tz(9), "KST": _tz(9), "HKT": _tz(8), "SGT": _tz(8), "AEST": _tz(10),
}  # fmt: skip


def _format(utc: datetime) -> str:
    """A time in UTC between `EARLIEST` and `LATEST` as ``YYYY-MM-DDTHH:MM:SSZ``: what
    ``strftime("%Y-%m-%dT%H:%M:%SZ")`` writes (``%04d`` and ``%Y`` agree on years >= 1000), in
    ~0.8 µs instead of ~2.5."""
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)  # noqa: UP031 (f-string specs: ~1.7 µs)


def _finish(dt: datetime, raw: object) -> tuple[str | None, str | None]:
    note = None
    try:
        offset = dt.utcoffset() if dt.tzinfo is not None else None
    except ValueError:  # dateutil reads "+99:00" as a zone; Python refuses offsets of a day or more
        return None, f"published_at {raw!r} has an impossible time zone offset; ignored"
    if offset is None:
        dt = dt.replace(tzinfo=UTC)
        note = f"published_at {raw!r} has no time zone; assumed UTC"
    try:
        # in UTC first: the bounds are UTC's, and aware times in one zone compare without
        # asking each for its offset (~1.8 µs the two comparisons otherwise)
        utc = dt.astimezone(UTC)
    except OverflowError:  # year 1 or 9999, moved past the calendar by its offset
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        return None, f"published_at {raw!r} is outside 1900..2100; ignored"
    return _format(utc), note


#: Epoch seconds of a smaller magnitude (within 11.6 days of 1970-01-01) are no time of
#: publication: 0 for "unknown", a year, a count of hours or days. A real pre-1973 time (an
#: archive's 1969 story, -14182940) stays.
_EPOCH_S_MIN: Final = 1_000_000


def _from_epoch(value: float, raw: object) -> tuple[str | None, str | None]:
    if 1000 <= value <= 2999 and value == int(value):
        # ``"2024"``: a year, not 2024 seconds after 1970 (it was published as 1970-01-01T00:33:44Z
        # without a word: a review's finding); a year alone is no time of publication
        return None, f"published_at {_shown(raw)} is a year, not a time; ignored"
    magnitude = abs(value)
    if magnitude < _EPOCH_S_MIN:
        # 0, 999, -2024: "unknown" or a mistake, published as a 1970 date without a word
        # before (a review's finding)
        return None, f"published_at {_shown(raw)} is too near 1970 to be an epoch time of news; ignored"
    if magnitude >= _EPOCH_MS_MAX:
        value /= 1_000_000
    elif magnitude >= _EPOCH_S_MAX:
        value /= 1000
    try:
        dt = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None, f"published_at {_shown(raw)} is not a valid epoch time; ignored"
    return _finish(dt, raw)


def _meridiem(match: re.Match[str]) -> str:
    word = match.group(2)
    pm = word == "م" or (len(word) > 1 and word.startswith(_ARABIC_PM_WORDS))
    time = match.group(1) if ":" in match.group(1) else match.group(1) + ":00"
    return f"{time} {'PM' if pm else 'AM'}"


def _translate_arabic(s: str) -> str:
    """Arabic date words -> what dateutil reads: digits, months, a.m./p.m., zones; noise dropped."""
    s = s.translate(_ARABIC_DIGITS)
    s = _HIJRI_DATE_RE.sub(" ", s)
    s = _ARABIC_ZONE_RE.sub(lambda m: " " + _ARABIC_ZONES[m.group()] + " ", s)
    s = _ARABIC_NOISE_RE.sub(" ", s)
    # Before the months: "م" and "ص" are single letters that a month name never ends in alone.
    s = _ARABIC_MERIDIEM_RE.sub(_meridiem, s)
    s = _ARABIC_ERA_RE.sub(" ", s)
    s = _ARABIC_MONTH_RE.sub(lambda m: " " + _ARABIC_MONTH_MAP[m.group()] + " ", s)
    # "،" is the Arabic comma; " - " and "|" separate the date from the time in many bylines.
    s = s.replace("،", ",").replace("|", " ").replace(" - ", " ").replace(" – ", " ")
    return re.sub(r"\s+", " ", s).strip(" ,:")


def _dateutil(s: str) -> datetime | None:
    year_first = bool(_YEAR_FIRST_RE.match(s))
    with warnings.catch_warnings():
        # An unknown zone name is a reason to distrust the value, not to crash the caller
        # (pytest and some deployments run with warnings as errors).
        warnings.simplefilter("error", dateutil_parser.UnknownTimezoneWarning)
        try:
            parsed: datetime = dateutil_parser.parse(
                s,
                default=_NO_DATE,
                dayfirst=not year_first,
                yearfirst=year_first,
                tzinfos=TZINFOS,
            )
        # ArithmeticError: dateutil's Decimal arithmetic on a long run of digits after a colon
        # ("6:66666666666666666660000") raises decimal.InvalidOperation (found by fuzzing)
        except (ValueError, ArithmeticError, dateutil_parser.UnknownTimezoneWarning):
            return None
    return parsed


def _mongo_date(value: dict[Any, Any]) -> object:
    """The time inside MongoDB extended JSON's ``{"$date": ...}`` (an ISO string, epoch
    milliseconds, or ``{"$numberLong": "<ms>"}``), as epoch milliseconds or a string; the value
    itself when it is not one."""
    if len(value) != 1 or "$date" not in value:
        return value
    inner = value["$date"]
    if isinstance(inner, dict) and len(inner) == 1 and isinstance(inner.get("$numberLong"), str):
        try:
            return int(inner["$numberLong"])
        except ValueError:
            return value
    # relaxed mode writes epoch milliseconds as a plain number; `_from_epoch` reads the unit
    return inner if isinstance(inner, (str, int, float)) and not isinstance(inner, bool) else value


def _shown(value: object) -> str:
    shown = repr(value)
    return shown[:60] + "..." if len(shown) > 60 else shown


def parse_published(value: object) -> tuple[str | None, str | None]:
    """``(utc_iso or None, warning or None)``; see the module docstring. Never raises."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        value = _mongo_date(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None, f"published_at {_shown(value)} is not a time; ignored"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
            return None, f"published_at {value!r} is not a time; ignored"
        try:
            number = float(value)
        except OverflowError:  # an int of hundreds of digits (a Mongo $numberLong of them too)
            return None, f"published_at {_shown(value)} is not a time; ignored"
        return _from_epoch(number, value)
    s = value.strip()
    if not s:
        return None, None
    if len(s) > MAX_CHARS:
        return None, f"published_at {s[:40]!r}... is too long to be a time; ignored"
    if _NUMERIC_RE.match(s):
        return _from_epoch(float(s), value)
    try:
        return _finish(datetime.fromisoformat(s), value)
    except ValueError:
        pass
    if _RFC2822_RE.match(s) and s.rsplit(None, 1)[-1].upper() not in _RFC2822_DISAGREES:
        try:
            return _finish(email.utils.parsedate_to_datetime(s), value)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    if not s.isascii():
        s = _translate_arabic(s)
    dt = _dateutil(s)
    if dt is None:
        return None, f"published_at {value!r} is not a recognized time format; ignored"
    return _finish(dt, value)
