"""BOAMP date-times are the buyer's wall time: the rule on every lexical shape, every zone, the clock changes.

A BOAMP value written with the constant legacy ``+01:00`` label, or naive (3.2.5), is the clock time of the
buyer (Europe/Paris, or the overseas zone of its département); any other stated offset is kept; a date stays
a date. Around a clock change the digits are kept and the earlier instant they can mean is taken.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import select

from tests import corpus_path
from tracker.db import session_scope
from tracker.models import Notice, Version
from tracker.parse import boamp
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.values import (
    OVERSEAS_ZONES,
    PARIS,
    department_of_postal_code,
    parse_boamp_moment,
    parse_iso,
    wall_time,
    zone_for_department,
)


def off(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


def moment(text: str, zone: ZoneInfo = PARIS) -> date | datetime | None:
    return parse_boamp_moment(text, zone=zone)


# ------------------------------------------------------------------ every lexical shape


@pytest.mark.parametrize(
    "text, expected",
    [
        # the legacy label, winter and summer: same digits, the offset in force
        ("2021-01-27T12:00:00+01:00", datetime(2021, 1, 27, 12, 0, tzinfo=off(1))),
        ("2016-04-29T12:00:00+01:00", datetime(2016, 4, 29, 12, 0, tzinfo=off(2))),
        ("2016-04-29T12:00+01:00", datetime(2016, 4, 29, 12, 0, tzinfo=off(2))),
        ("2016-04-29T12:00:00+0100", datetime(2016, 4, 29, 12, 0, tzinfo=off(2))),
        ("2026-01-05T12:00:00.000+01:00", datetime(2026, 1, 5, 12, 0, tzinfo=off(1))),
        ("2026-07-05T12:00:00.000+01:00", datetime(2026, 7, 5, 12, 0, tzinfo=off(2))),
        # naive (3.2.5), with or without seconds and fractions
        ("2024-04-10T14:00:00", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        ("2024-12-10T14:00:00", datetime(2024, 12, 10, 14, 0, tzinfo=off(1))),
        ("2024-04-10T14:00", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        ("2024-04-10T14:00:30", datetime(2024, 4, 10, 14, 0, 30, tzinfo=off(2))),
        ("2024-04-10T14:00:00.000", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        ("2024-04-10 14:00:00", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        # Z (3.2.5) is a label too
        ("2025-09-15T12:00:00Z", datetime(2025, 9, 15, 12, 0, tzinfo=off(2))),
        ("2025-12-15T12:00:00Z", datetime(2025, 12, 15, 12, 0, tzinfo=off(1))),
        ("2024-04-10t14:00:00z", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        ("2024-04-10T14:00:00.000Z", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        ("2024-04-10T14:00:00+00:00", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        # any other offset is what it says
        ("2024-04-10T14:00:00+02:00", datetime(2024, 4, 10, 14, 0, tzinfo=off(2))),
        ("2024-02-28T12:00:00+02:00", datetime(2024, 2, 28, 12, 0, tzinfo=off(2))),
        ("2024-04-10T10:00:00-04:00", datetime(2024, 4, 10, 10, 0, tzinfo=off(-4))),
        # ISO 8601's end of day
        ("2024-04-10T24:00:00+01:00", datetime(2024, 4, 11, 0, 0, tzinfo=off(2))),
        ("2024-12-31T24:00", datetime(2025, 1, 1, 0, 0, tzinfo=off(1))),
    ],
)
def test_every_shape(text: str, expected: datetime) -> None:
    got = moment(text)
    assert got == expected
    assert isinstance(got, datetime) and got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2021-01-27", date(2021, 1, 27)),
        ("2021-07-27", date(2021, 7, 27)),
        ("2021-07-27+01:00", date(2021, 7, 27)),
        ("2021-07-27Z", date(2021, 7, 27)),
        (" 2021-07-27 ", date(2021, 7, 27)),
    ],
)
def test_a_date_without_time_stays_a_date(text: str, expected: date) -> None:
    got = moment(text)
    assert got == expected and not isinstance(got, datetime)


@pytest.mark.parametrize("text", ["", "n/a", "27/01/2021", "2021-02-30T12:00:00", "2021-01-27T25:00:00+01:00"])
def test_what_is_no_moment_is_none(text: str) -> None:
    assert moment(text) is None


def test_eforms_values_keep_their_offset() -> None:
    """parse_iso (eForms) keeps every stated offset, the +01:00 of a summer day included."""
    assert parse_iso("2016-04-25T12:00:00+01:00") == datetime(2016, 4, 25, 12, 0, tzinfo=off(1))
    assert parse_iso("2016-04-25T12:00:00+01:00").utcoffset() == timedelta(hours=1)  # type: ignore[union-attr]


# ------------------------------------------------------------------ the clock changes


@pytest.mark.parametrize(
    "text, hours",
    [
        # spring forward, Sunday 2024-03-31: 02:00 → 03:00
        ("2024-03-31T01:59:00+01:00", 1),
        ("2024-03-31T03:00:00+01:00", 2),
        ("2024-03-31T12:00:00+01:00", 2),
        ("2024-03-30T12:00:00+01:00", 1),
        # fall back, Sunday 2024-10-27: 03:00 → 02:00
        ("2024-10-27T01:59:00", 2),
        ("2024-10-27T03:00:00", 1),
        ("2024-10-27T12:00:00+01:00", 1),
        ("2024-10-26T12:00:00+01:00", 2),
    ],
)
def test_the_change_days(text: str, hours: int) -> None:
    got = moment(text)
    assert isinstance(got, datetime) and got.utcoffset() == timedelta(hours=hours)


def test_a_nonexistent_wall_time_is_the_earlier_reading() -> None:
    """02:30 on 2024-03-31 never shows on a Paris clock: the digits are kept with the summer offset, the
    earlier of the two instants they can mean (00:30 UTC rather than 01:30 UTC)."""
    got = moment("2024-03-31T02:30:00+01:00")
    assert got == datetime(2024, 3, 31, 2, 30, tzinfo=off(2))
    assert got.utcoffset() == timedelta(hours=2)  # type: ignore[union-attr]
    assert moment("2024-03-31T02:30:00") == got


def test_an_ambiguous_wall_time_is_its_first_occurrence() -> None:
    """02:30 on 2024-10-27 shows twice on a Paris clock: the first time (summer offset, fold=0) is taken."""
    got = moment("2024-10-27T02:30:00+01:00")
    assert got == datetime(2024, 10, 27, 2, 30, tzinfo=off(2))
    assert got.utcoffset() == timedelta(hours=2)  # type: ignore[union-attr]


def test_wall_time_picks_the_earlier_instant_in_any_zone() -> None:
    miquelon = ZoneInfo("America/Miquelon")  # changes clocks like North America, at 02:00 local
    spring = wall_time(date(2024, 3, 10), 2, 30, zone=miquelon)
    autumn = wall_time(date(2024, 11, 3), 1, 30, zone=miquelon)
    assert spring.utcoffset() == timedelta(hours=-2)
    assert autumn.utcoffset() == timedelta(hours=-2)
    assert wall_time(date(2024, 7, 1), 12, 0).utcoffset() == timedelta(hours=2)


# ------------------------------------------------------------------ zones of the départements

EXPECTED_ZONES = {
    "971": ("America/Guadeloupe", -4, -4),
    "972": ("America/Martinique", -4, -4),
    "973": ("America/Cayenne", -3, -3),
    "974": ("Indian/Reunion", 4, 4),
    "975": ("America/Miquelon", -3, -2),
    "976": ("Indian/Mayotte", 3, 3),
    "977": ("America/St_Barthelemy", -4, -4),
    "978": ("America/Marigot", -4, -4),
    "984": ("Indian/Kerguelen", 5, 5),
    "986": ("Pacific/Wallis", 12, 12),
    "987": ("Pacific/Tahiti", -10, -10),
    "988": ("Pacific/Noumea", 11, 11),
}


@pytest.mark.parametrize("code", sorted(EXPECTED_ZONES))
def test_overseas_zones_are_in_the_tz_database(code: str) -> None:
    name, winter, summer = EXPECTED_ZONES[code]
    assert OVERSEAS_ZONES[code] == name
    assert name in available_timezones()
    zone = zone_for_department(code)
    assert zone.key == name
    assert wall_time(date(2024, 1, 15), 12, 0, zone=zone).utcoffset() == timedelta(hours=winter)
    assert wall_time(date(2024, 7, 15), 12, 0, zone=zone).utcoffset() == timedelta(hours=summer)


def test_every_overseas_code_is_expected() -> None:
    assert set(OVERSEAS_ZONES) == set(EXPECTED_ZONES)


@pytest.mark.parametrize(
    "code, name",
    [
        ("44", "Europe/Paris"),
        ("01", "Europe/Paris"),
        ("1", "Europe/Paris"),
        ("2A", "Europe/Paris"),
        ("2b", "Europe/Paris"),
        ("75", "Europe/Paris"),
        (None, "Europe/Paris"),
        ("", "Europe/Paris"),
        ("inconnu", "Europe/Paris"),
        ("971", "America/Guadeloupe"),
        (" 974 ", "Indian/Reunion"),
        ("988 - Nouvelle-Calédonie", "Pacific/Noumea"),
        ("9711", "Europe/Paris"),  # not a département code
    ],
)
def test_zone_for_department(code: str | None, name: str) -> None:
    assert zone_for_department(code).key == name


@pytest.mark.parametrize(
    "postal, dept",
    [
        ("44403", "44"),
        ("97133", "971"),
        ("97600", "976"),
        ("98800", "988"),
        ("20000", "20"),
        ("4440", None),
        (None, None),
    ],
)
def test_department_of_postal_code(postal: str | None, dept: str | None) -> None:
    assert department_of_postal_code(postal) == dept


@pytest.mark.parametrize(
    "code, hours",
    [("971", -4), ("972", -4), ("973", -3), ("974", 4), ("976", 3), ("975", -2), ("987", -10), ("988", 11)],
)
def test_overseas_wall_times(code: str, hours: int) -> None:
    zone = zone_for_department(code)
    for text in ("2024-06-10T12:00:00+01:00", "2024-06-10T12:00:00"):
        got = moment(text, zone)
        assert got == datetime(2024, 6, 10, 12, 0, tzinfo=off(hours))
    assert moment("2024-06-10T12:00:00+02:00", zone) == datetime(2024, 6, 10, 12, 0, tzinfo=off(2))


# ------------------------------------------------------------------ the 500 real records

GIGALIS = ("boamp_ods_api", "gigalis_500_reconstructed_as_v21_results.json")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?[+-]\d{2}:\d{2}$")


def _datetimes(value: Any) -> list[datetime]:
    """Every ISO date-time string in a stored JSON value."""
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return [datetime.fromisoformat(value)]
    if isinstance(value, dict):
        return [d for v in value.values() for d in _datetimes(v)]
    if isinstance(value, list):
        return [d for v in value for d in _datetimes(v)]
    return []


def _zone_of(record: dict[str, Any]) -> ZoneInfo:
    return boamp.record_zone(record, json.loads(record["gestion"] or "{}"), json.loads(record["donnees"] or "{}"))


def _in_force(dt: datetime, zone: ZoneInfo) -> timedelta | None:
    return wall_time(dt.date(), dt.hour, dt.minute, zone=zone).utcoffset()


@pytest.mark.corpus
def test_every_stored_deadline_has_the_offset_of_its_zone_that_day(sqlite_engine) -> None:
    path = corpus_path(*GIGALIS)
    records = json.loads(path.read_text())["results"]
    zones = {r["idweb"]: _zone_of(r) for r in records}
    ingest_documents(sqlite_engine, documents_from_file(path))
    checked, summer = 0, 0
    with session_scope(sqlite_engine) as session:
        rows = session.execute(
            select(Notice.notice_id, Notice.record, Version.state, Version.changes).join(
                Version, Version.notice_pk == Notice.id, isouter=True
            )
        ).all()
        for notice_id, record, state, changes in rows:
            stored = {k: record.get(k) for k in ("fields", "lots", "amendments")}
            for dt in _datetimes([stored, state, changes]):
                assert dt.utcoffset() == _in_force(dt, zones[notice_id]), (notice_id, dt.isoformat())
                checked += 1
                summer += dt.utcoffset() == timedelta(hours=2)
    assert checked >= 400 and summer >= 200  # summer deadlines are most of the sample's


@pytest.mark.corpus
def test_legacy_deadlines_read_noon_as_often_in_summer_as_in_winter() -> None:
    """The evidence for the rule: read as wall times, +01:00 deadlines fall at 12:00 as often in summer as in
    winter; read as true +01:00 instants, summer ones would fall at 13:00 Paris time."""
    hours: dict[bool, Counter[str]] = {False: Counter(), True: Counter()}
    for record in json.loads(corpus_path(*GIGALIS).read_text())["results"]:
        raw = (json.loads(record["donnees"] or "{}").get("CONDITION_DELAI") or {}).get("RECEPT_OFFRES")
        if not (isinstance(raw, str) and raw.endswith("+01:00")):
            continue
        deadline = boamp.parse_ods_record(record).fields["tender_deadline"]
        hours[deadline.utcoffset() == timedelta(hours=2)][deadline.strftime("%H:%M")] += 1
    winter, summer = (hours[s]["12:00"] / sum(hours[s].values()) for s in (False, True))
    assert sum(hours[True].values()) > 100 and sum(hours[False].values()) > 100
    assert abs(summer - winter) < 0.1 and summer > 0.5
    assert hours[True]["13:00"] / sum(hours[True].values()) < 0.05
