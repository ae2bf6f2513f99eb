"""Typed values: their JSON form, their comparison, their rendering in French and English.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATE_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})$")
_ISO_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def wall_time(day: date, hour: int, minute: int, *, zone: ZoneInfo = PARIS, second: int = 0) -> datetime:
    """A local wall time in ``zone``, with the offset in force at that time of that day.

    Around a clock change a wall time can be ambiguous (autumn: 02:30 happens twice) or nonexistent
    (spring: the clock jumps from 02:00 to 03:00). Either way the digits are kept and the earlier of the two
    instants they can mean is taken (the larger offset: 02:30+02:00 on both days): a bidder who trusts
    it is never late. Elsewhere both readings are the same instant.
    """
    first = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
    second_reading = first.replace(fold=1)
    # same tzinfo: ``<`` would compare the digits; the instants are what differ
    return second_reading if second_reading.timestamp() < first.timestamp() else first


#: the zone of each overseas département and collectivité (INSEE code); every other code is metropolitan France
OVERSEAS_ZONES: dict[str, str] = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "975": "America/Miquelon",
    "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy",
    "978": "America/Marigot",
    "984": "Indian/Kerguelen",
    "986": "Pacific/Wallis",
    "987": "Pacific/Tahiti",
    "988": "Pacific/Noumea",
}
_DEPARTMENT = re.compile(r"^\s*(\d{3}|\d{1,2}|2[AB])(?!\d)", re.IGNORECASE)
_POSTAL_CODE = re.compile(r"^\s*(\d{5})(?!\d)")


def zone_for_department(code: str | None) -> ZoneInfo:
    """The time zone of a buyer in this département: the overseas one's, else Europe/Paris.

    ``code`` is an INSEE département code as BOAMP writes it (``"44"``, ``"2A"``, ``"971"``, ``"971 -
    Guadeloupe"``); a missing or unknown code is metropolitan France. TAAF (984) spans several zones: its
    seat's, Kerguelen, is taken; French Polynesia (987) is Tahiti's (the Marquesas and Gambier differ).
    """
    m = _DEPARTMENT.match(code or "")
    name = OVERSEAS_ZONES.get(m.group(1)) if m else None
    return ZoneInfo(name) if name else PARIS


def department_of_postal_code(code: str | None) -> str | None:
    """The département of a French postal code (``"97133"`` → ``"971"``, ``"44403"`` → ``"44"``), or None."""
    m = _POSTAL_CODE.match(code or "")
    if not m:
        return None
    digits = m.group(1)
    return digits[:3] if digits[:2] in ("97", "98") else digits[:2]


def paris_wall_time(day: date, hour: int, minute: int) -> datetime:
    """A local wall time in France, with the offset in force that day."""
    return wall_time(day, hour, minute, zone=PARIS)


def fixed_offset(dt: datetime) -> datetime:
    """Replace a zoneinfo tz by its fixed offset, so the value serialises and compares stably."""
    off = dt.utcoffset()
    if off is None:
        return dt
    return dt.replace(tzinfo=timezone(off))


def parse_iso(value: str, *, naive_zone: ZoneInfo | None = PARIS) -> date | datetime | None:
    """Parse the ISO 8601 shapes seen in BOAMP and eForms data.

    ``2021-01-27`` stays a date; ``2020-04-03+01:00`` (eForms date with offset) is a date too.
    ``2016-04-25T12:00:00+01:00``, ``…Z``, ``….000+01:00`` keep their offset as given (BOAMP labels
    summer times +01:00: we keep the source's word rather than guess). A naive time is a French wall
    time when ``naive_zone`` is given.
    """
    text = value.strip()
    if not text:
        return None
    m = _ISO_DATE_OFFSET.match(text)
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
        if m:
            return date.fromisoformat(m.group(1))
    except ValueError:  # 0000-00-00, 2021-02-30: no date
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        if naive_zone is None:
            return dt.replace(tzinfo=UTC)
        dt = dt.replace(tzinfo=naive_zone)
    return fixed_offset(dt.replace(microsecond=0))


def parse_boamp_moment(value: str, *, zone: ZoneInfo = PARIS) -> date | datetime | None:
    """A BOAMP date or date-time: the buyer's wall time, whatever offset label it carries.

    BOAMP's legacy values say ``+01:00`` in every month (``2016-04-29T12:00:00+01:00``,
    ``….000+01:00``), 3.2.5 values are naive (``2024-04-10T14:00:00``) or say ``Z``
    (``2025-09-15T12:00:00Z``): all are the clock time of the buyer, so they get the offset of ``zone`` at
    that time of that day (see :func:`wall_time` for the clock change nights). ``Z`` is a label like
    ``+01:00``: 9 of the 10 ``Z`` deadlines of the 500-record sample read 12:00, the usual noon deadline,
    never 10:00 (noon in Paris in UTC); and reading a true UTC time as a wall time can only make a
    deadline earlier, never late. Any other explicit offset (``+02:00``, ``-04:00``) is kept as stated.
    Seconds are kept, fractions dropped; ``24:00`` is the next day's ``00:00``. A date without a time stays
    a date (``2021-01-27``, ``2021-01-27+01:00``). Anything else is None.
    """
    text = value.strip().upper()
    if _ISO_DATE.match(text) or _ISO_DATE_OFFSET.match(text):
        return parse_iso(text)
    text, next_day = _midnight_as_24(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    try:
        dt += timedelta(days=next_day)
    except OverflowError:  # 9999-12-31T24:00
        return None
    offset = dt.utcoffset()
    if offset is None or offset in LABEL_OFFSETS:
        return fixed_offset(wall_time(dt.date(), dt.hour, dt.minute, zone=zone, second=dt.second))
    return fixed_offset(dt.replace(microsecond=0))


#: the offsets BOAMP writes whatever the zone and the month (legacy ``+01:00``, 3.2.5 ``Z``): labels, not the
#: offsets of the times they label
LABEL_OFFSETS = frozenset({timedelta(hours=1), timedelta(0)})
_HOUR_24 = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ])24(:00(?::00(?:\.0+)?)?)")


def _midnight_as_24(text: str) -> tuple[str, int]:
    """``…T24:00`` (ISO 8601's end of day) as ``…T00:00`` and one day to add."""
    m = _HOUR_24.match(text)
    if not m:
        return text, 0
    return f"{m.group(1)}00{m.group(2)}{text[m.end() :]}", 1


def combine_date_time(day_text: str, time_text: str | None) -> date | datetime | None:
    """eForms splits a moment in two: ``2020-04-03+01:00`` and ``12:00:00+01:00``."""
    day = parse_iso(day_text)
    if not isinstance(day, date) or isinstance(day, datetime):
        return day
    if not time_text:
        return day
    m = _ISO_TIME.match(time_text.strip())
    if not m:
        return day
    hour, minute = int(m.group(1)), int(m.group(2))
    off = m.group(4)
    if off is None:
        dm = _ISO_DATE_OFFSET.match(day_text.strip())
        off = dm.group(2) if dm else None
    try:
        if off is None:
            return fixed_offset(paris_wall_time(day, hour, minute))
        tz = UTC if off == "Z" else datetime.strptime(off.replace(":", ""), "%z").tzinfo
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    except ValueError:  # 25:61, +99:00: the day alone is sure
        return day


#: an amount's literal longer than this is no amount a notice states (``1e999999999`` is 11 characters, but a
#: 5,000-digit integer is not): refused before ``Decimal`` reads it
MAX_AMOUNT_CHARS = 40
#: amounts at or above this (in any currency) are no contract's value: refused rather than carried along,
#: since rendering or comparing them costs time and memory that grows with their exponent
MAX_AMOUNT = Decimal("1e15")


def small_int(text: str | None, *, digits: int = 6) -> int | None:
    """A count, a number of months, a lot number: digits only, at most ``digits`` of them (a 5,000-digit
    "duration" is no duration, and ``int`` of it would raise)."""
    if not text or not text.isdigit() or len(text) > digits:
        return None
    return int(text)


def parse_amount(value: Any) -> Decimal | None:
    """An amount, or None when there is none or it is no finite amount of a sane size (``NaN``, ``Infinity``,
    ``1e23``, ``1e999999999``, a 5,000-digit integer): bounded by length and magnitude before conversion."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if -MAX_AMOUNT < value < MAX_AMOUNT else None
    if isinstance(value, float | Decimal):
        value = str(value) if isinstance(value, float) else value
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace("€", "")
    if not text or len(text) > MAX_AMOUNT_CHARS:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount.adjusted() >= 15 or abs(amount) >= MAX_AMOUNT:
        return None
    return amount


_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: str, limit: int | None = None) -> str:
    """Text without NUL, the other C0 controls but tab and line breaks, DEL and lone surrogates (what databases
    refuse or terminals act on), cut to ``limit`` characters when given."""
    if _UNSAFE_TEXT.search(value):
        value = _UNSAFE_TEXT.sub("", value)
    return value if limit is None else value[:limit]


def has_unsafe_text(value: str) -> bool:
    return _UNSAFE_TEXT.search(value) is not None


def to_json(value: Any) -> Any:
    """The JSON form of a typed value: ISO 8601 strings for dates, numbers for amounts."""
    if isinstance(value, datetime):
        v = fixed_offset(value)
        return v.isoformat(timespec="minutes" if v.second == 0 else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value.adjusted()) > 30:  # never made by parse_amount: kept as text
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json` for the values of date fields."""
    if isinstance(value, str) and value[:4].isdigit() and len(value) >= 10 and value[4] == "-":
        parsed = parse_iso(value, naive_zone=None)
        if parsed is not None:
            return parsed
    return value


def same_day(a: date | datetime, b: date | datetime) -> bool:
    return _day(a) == _day(b)


def _day(v: date | datetime) -> date:
    return v.date() if isinstance(v, datetime) else v


def delta(old: Any, new: Any) -> timedelta | None:
    """The shift between two moments, or None when they are not both dates."""
    if not isinstance(old, date) or not isinstance(new, date):
        return None
    if isinstance(old, datetime) and isinstance(new, datetime):
        return new - old
    return _day(new) - _day(old)


def delta_days(old: Any, new: Any) -> int | None:
    d = delta(from_json(old), from_json(new))
    if d is None:
        return None
    # whole days when the shift is whole days, else rounded toward the nearest day
    return round(d.total_seconds() / 86400)


# ---------------------------------------------------------------- rendering

_MONTHS_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


def render_value(value: Any, lang: str = "fr") -> str:
    v = from_json(value)
    if v is None or v == "":
        return "—"
    if isinstance(v, datetime):
        local = v
        return local.strftime("%d/%m/%Y %H:%M") if lang == "fr" else local.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.strftime("%d/%m/%Y") if lang == "fr" else v.isoformat()
    if isinstance(v, bool):
        return ("oui" if v else "non") if lang == "fr" else ("yes" if v else "no")
    if isinstance(v, int | float | Decimal):
        return _render_amount(Decimal(str(v)), lang)
    if isinstance(v, list):
        return ", ".join(render_value(x, lang) for x in v) or "—"
    if isinstance(v, str):
        m = _MONTHS_DURATION.match(v)
        if m and any(m.groups()):
            return _render_duration(m.groups(), lang)
    return str(v)


def _render_amount(amount: Decimal, lang: str) -> str:
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
        return f"{text} €"
    return f"€{text}"


_DURATION_UNITS = {
    "fr": (("an", "ans"), ("mois", "mois"), ("semaine", "semaines"), ("jour", "jours")),
    "en": (("year", "years"), ("month", "months"), ("week", "weeks"), ("day", "days")),
}


def _render_duration(groups: tuple[str | None, ...], lang: str) -> str:
    parts = []
    for count, (one, many) in zip(groups, _DURATION_UNITS.get(lang, _DURATION_UNITS["en"]), strict=True):
        if count:
            n = int(count)
            parts.append(f"{n} {one if n == 1 else many}")
    return " ".join(parts)


def render_delta(old: Any, new: Any, lang: str = "fr") -> str | None:
    """``+7 jours`` / ``+7 days``; hours when the shift is less than a day."""
    d = delta(from_json(old), from_json(new))
    if d is None or not d:
        return None
    seconds = d.total_seconds()
    sign = "+" if seconds > 0 else "−"
    seconds = abs(seconds)
    if seconds % 86400 == 0 or seconds >= 86400:
        n = round(seconds / 86400)
        unit = ("jour" if n == 1 else "jours") if lang == "fr" else ("day" if n == 1 else "days")
    else:
        n = round(seconds / 3600) or 1
        unit = ("heure" if n == 1 else "heures") if lang == "fr" else ("hour" if n == 1 else "hours")
    return f"{sign}{n} {unit}"
