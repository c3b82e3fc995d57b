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
   Arabic-Indic digits are translated. Numeric dates that do not start with a 4-digit year are
   read day-first (``12/02/2018`` is 12 February), the convention of the Arabic press.

Times outside 1900..2100 are rejected as implausible (an epoch in the wrong unit, a
two-digit year gone wrong).
"""

from __future__ import annotations

import email.utils
import re
import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

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


def _format(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finish(dt: datetime, raw: object) -> tuple[str | None, str | None]:
    note = None
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=UTC)
        note = f"published_at {raw!r} has no time zone; assumed UTC"
    if not EARLIEST <= dt < LATEST:
        return None, f"published_at {raw!r} is outside 1900..2100; ignored"
    return _format(dt), note


def _from_epoch(value: float, raw: object) -> tuple[str | None, str | None]:
    magnitude = abs(value)
    if magnitude >= _EPOCH_MS_MAX:
        value /= 1_000_000
    elif magnitude >= _EPOCH_S_MAX:
        value /= 1000
    try:
        dt = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None, f"published_at {raw!r} is not a valid epoch time; ignored"
    return _finish(dt, raw)


def _translate_arabic(s: str) -> str:
    s = s.translate(_ARABIC_DIGITS)
    s = _ARABIC_MONTH_RE.sub(lambda m: " " + _ARABIC_MONTH_MAP[m.group()] + " ", s)
    return s.replace("،", ",")


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
        except (ValueError, OverflowError, dateutil_parser.UnknownTimezoneWarning):
            return None
    return parsed


def parse_published(value: str | int | float | None) -> tuple[str | None, str | None]:
    """``(utc_iso or None, warning or None)``; see the module docstring. Never raises."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None, f"published_at {value!r} is not a time; ignored"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
            return None, f"published_at {value!r} is not a time; ignored"
        return _from_epoch(float(value), value)
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
