"""Publication times to UTC ISO-8601: one test per accepted shape, and the warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.normalize import timestamps
from worker.normalize.timestamps import parse_published

UTC_7AM = "2018-02-12T07:00:00Z"


def test_missing_value_is_no_time_and_no_warning() -> None:
    assert parse_published(None) == (None, None)
    assert parse_published("  ") == (None, None)


@pytest.mark.parametrize("value", [1518418800, 1518418800.0, "1518418800", 1518418800000, 1518418800000000])
def test_epoch_seconds_milliseconds_microseconds(value: int | float | str) -> None:
    assert parse_published(value) == (UTC_7AM, None)


@pytest.mark.parametrize(
    "value",
    [
        "2018-02-12T10:00:00+03:00",
        "2018-02-12T07:00:00Z",
        "2018-02-12 07:00:00+00:00",
        "2018-02-12T07:00:00.250Z",
    ],
)
def test_iso_8601(value: str) -> None:
    assert parse_published(value) == (UTC_7AM, None)


@pytest.mark.parametrize("value", ["Mon, 12 Feb 2018 10:00:00 +0300", "Mon, 12 Feb 2018 07:00:00 GMT"])
def test_rfc_2822(value: str) -> None:
    assert parse_published(value) == (UTC_7AM, None)


def test_free_form_with_zone_abbreviation() -> None:
    assert parse_published("12 February 2018 10:00 AST") == (UTC_7AM, None)  # Arabia, +3
    assert parse_published("February 12, 2018 2:00 AM EST") == (UTC_7AM, None)


def test_arabic_month_names_and_digits() -> None:
    assert parse_published("١٢ فبراير ٢٠١٨ 07:00 GMT") == (UTC_7AM, None)
    assert parse_published("12 شباط 2018 07:00 UTC") == (UTC_7AM, None)
    assert parse_published("3 تشرين الثاني 2017 10:00 UTC") == ("2017-11-03T10:00:00Z", None)


def test_numeric_dates_are_day_first_unless_year_first() -> None:
    assert parse_published("12/02/2018 07:00 UTC")[0] == UTC_7AM
    assert parse_published("2018/02/12 07:00 UTC")[0] == UTC_7AM


def test_naive_time_is_read_as_utc_with_a_warning() -> None:
    iso, warning = parse_published("2018-02-12 07:00")
    assert iso == UTC_7AM
    assert warning is not None and "assumed UTC" in warning


@pytest.mark.parametrize(
    "value",
    [
        "hello", "Feb 31 2018", "10:30", "10 XYZ 2018 10:00 FOO", "x" * 500, True, float("nan"), 10**30,
        "6:6666666666666666666000000000000000",  # dateutil: decimal.InvalidOperation (found by fuzzing)
    ],
)
def test_unreadable_time_is_a_warning_not_an_error(value: object) -> None:
    iso, warning = parse_published(value)  # type: ignore[arg-type]
    assert iso is None
    assert warning is not None and "published_at" in warning


@pytest.mark.parametrize(
    "value",
    [
        {"$date": "2024-05-01T10:00:00Z"},  # MongoDB extended JSON, relaxed: ISO
        {"$date": 1714557600000},  # relaxed: epoch milliseconds
        {"$date": {"$numberLong": "1714557600000"}},  # canonical
    ],
)
def test_mongodb_extended_json_dates(value: object) -> None:
    assert parse_published(value) == ("2024-05-01T10:00:00Z", None)


@pytest.mark.parametrize(
    "value", [True, [2024, 5, 1], {"$date": True}, {"date": "2024-05-01"}, {"$date": {"$numberLong": "x"}}]
)
def test_a_value_of_another_type_is_a_warning(value: object) -> None:
    published, warning = parse_published(value)
    assert published is None and warning is not None and warning.startswith("published_at ")
    assert len(parse_published({"$date": "x" * 500})[1] or "") < 200  # the warning stays short


@pytest.mark.parametrize("value", ["2024-05-01T10:00:00+99:00", "2024-05-01 10:00 -2400", "May 1 2024 10:00 +48:30"])
def test_an_impossible_zone_offset_is_a_warning_not_an_internal_error(value: str) -> None:
    # dateutil reads these as zones; Python's datetime raised ValueError on their offset (the
    # article was a dead letter, internal_error)
    iso, warning = parse_published(value)
    assert iso is None and warning is not None and "offset" in warning


@given(st.datetimes(timezones=st.none()), st.integers(-99, 99), st.integers(0, 59))
def test_never_raises_on_any_offset(moment: object, hours: int, minutes: int) -> None:
    sign = "-" if hours < 0 else "+"
    iso, warning = parse_published(f"{moment:%Y-%m-%dT%H:%M:%S}{sign}{abs(hours):02d}:{minutes:02d}")
    assert iso is None or (abs(hours) < 24 and warning is None)


def test_out_of_range_years_are_rejected() -> None:
    assert parse_published("1850-01-01T00:00:00Z")[0] is None
    assert parse_published("2150-01-01T00:00:00Z")[0] is None


@pytest.mark.parametrize("value", [10**400, -(10**400), {"$date": {"$numberLong": "9" * 400}}, "9" * 400])
def test_a_number_past_a_float_is_a_warning_not_an_internal_error(value: object) -> None:
    # float() raised OverflowError on an int of hundreds of digits: the article was a dead
    # letter (internal_error) in the stream, and clean offline
    iso, warning = parse_published(value)
    assert iso is None and warning is not None and warning.startswith("published_at ") and len(warning) < 200


@given(st.one_of(st.text(max_size=60), st.integers(), st.floats(), st.none()))
def test_never_raises(value: str | int | float | None) -> None:
    iso, _warning = parse_published(value)
    assert iso is None or (iso.endswith("Z") and len(iso) == 20)


#: Bylines of the Arabic press, each with the UTC time it names (no zone given: UTC assumed).
ARABIC_BYLINES = [
    ("الأحد 12 فبراير 2018 - 10:30 ص", "2018-02-12T10:30:00Z"),  # weekday, a.m. as ص
    ("الاثنين، 12 شباط 2018 الساعة 10:30 مساءً", "2018-02-12T22:30:00Z"),  # Levantine month, مساءً
    ("١٢ فبراير ٢٠١٨ الساعة ١٠:٣٠ م", "2018-02-12T22:30:00Z"),  # Arabic-Indic digits, م
    ("2018/02/12 10:30 صباحاً", "2018-02-12T10:30:00Z"),
    ("الخميس، ١٥ مارس ٢٠١٨ ٠٩:٤٥ صباحا", "2018-03-15T09:45:00Z"),  # صباحا without tanwin
    ("نشر في: الثلاثاء 13 فبراير 2018 - 09:15 م", "2018-02-13T21:15:00Z"),  # "published on"
    ("الأحد 11 فبراير 2018 الساعة 1 ظهراً", "2018-02-11T13:00:00Z"),  # bare hour, noon
    ("السبت 3 مارس 2018 12:15 ص", "2018-03-03T00:15:00Z"),  # 12 a.m. is midnight
    ("12 فبراير 2018 12:30 م", "2018-02-12T12:30:00Z"),  # 12 p.m. is noon
    ("12 فبراير 2018م", "2018-02-12T00:00:00Z"),  # م after a year is "AD", not p.m.
    ("11/02/2018 - 10:00 م", "2018-02-11T22:00:00Z"),
    ("الأحد 26 جمادى الأولى 1439 هـ - 11 فبراير 2018 م", "2018-02-11T00:00:00Z"),  # Hijri beside
    ("يوم الأربعاء 14 كانون الثاني 2015", "2015-01-14T00:00:00Z"),
]


@pytest.mark.parametrize(("value", "expected"), ARABIC_BYLINES, ids=[v for v, _ in ARABIC_BYLINES])
def test_arabic_bylines(value: str, expected: str) -> None:
    iso, warning = parse_published(value)
    assert iso == expected
    assert warning is not None and "assumed UTC" in warning


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12 فبراير 2018 10:30 بتوقيت مكة المكرمة", "2018-02-12T07:30:00Z"),
        ("الجمعة 2 آذار 2018 | 08:00 م بتوقيت غرينتش", "2018-03-02T20:00:00Z"),
    ],
)
def test_arabic_zone_phrases(value: str, expected: str) -> None:
    assert parse_published(value) == (expected, None)


@pytest.mark.parametrize("value", ["26 جمادى الأولى 1439 هـ", "منذ ساعتين", "الأحد", "م", "الساعة 10 م"])
def test_arabic_without_a_gregorian_date_is_a_warning(value: str) -> None:
    iso, warning = parse_published(value)
    assert iso is None and warning is not None


_ARABIC_DATE_ALPHABET = st.sampled_from(
    [*"٠١٢٣٤٥٦٧٨٩0123456789 :/-،|م", "ص", "مساءً", "الساعة", "الأحد", "فبراير", "شباط", "هـ", "جمادى الأولى"]
)


@given(st.lists(_ARABIC_DATE_ALPHABET, max_size=25).map("".join))
def test_arabic_shapes_never_raise(value: str) -> None:
    iso, _warning = parse_published(value)
    assert iso is None or (iso.endswith("Z") and len(iso) == 20)


def _finished_by_strftime(moment: datetime) -> str | None:
    """What `_finish` gave before it formatted by hand: bounds compared in the time's own zone,
    then ``strftime`` in UTC."""
    if not timestamps.EARLIEST <= moment < timestamps.LATEST:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_the_hand_formatted_time_is_strftimes(moment: datetime, offset_minutes: int) -> None:
    # any zone, the bounds' edges included (hypothesis reaches 1899-12-31/2100-01-01 and years 1-9999)
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert timestamps._finish(aware, "raw")[0] == _finished_by_strftime(aware)


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "1899-12-31T23:59:59-01:00", "2100-01-01T00:00:00Z"],
)
def test_times_at_the_calendars_edges_are_out_of_range_not_errors(value: str) -> None:
    iso, warning = parse_published(value)
    assert (iso, warning) == (("1900-01-01T00:59:59Z", None) if value.startswith("1899") else (None, warning))
    assert iso is not None or "outside 1900..2100" in (warning or "")


@pytest.mark.parametrize("value", ["2024", 2024, " 1999 ", 2024.0])
def test_a_year_alone_is_ignored_with_a_warning_not_read_as_seconds_since_1970(value: object) -> None:
    """``"published_at": "2024"`` came out as 1970-01-01T00:33:44Z, without a warning (a
    review's finding)."""
    parsed, warning = parse_published(value)
    assert parsed is None and warning is not None and "a year" in warning


@pytest.mark.parametrize("value", [0, 999, 3000, 2024.5, -2024, "86400", 480_000])
def test_an_epoch_near_1970_is_ignored_with_a_warning(value: object) -> None:
    """``0`` (a producer's "unknown"), ``999``, ``-2024``, a count of hours: published as 1970
    dates without a warning (a review's finding). A real time of 1969 stays."""
    parsed, warning = parse_published(value)
    assert parsed is None and warning is not None and "1970" in warning
    assert parse_published(-14182940) == ("1969-07-20T20:17:40Z", None)
