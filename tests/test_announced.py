"""Dates announced in eForms free texts (BT-141, BT-762), in EU languages: ``tracker.parse.announced``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from tracker.parse.announced import announced_amendments, find_dates

PLUS_1 = timezone(timedelta(hours=1))
LOT = {"LOT-0001": {"tender_deadline": datetime(2024, 3, 1, 12, 0, tzinfo=PLUS_1)}}


@pytest.mark.parametrize(
    ("text", "day", "at"),
    [
        ("Termin składania ofert: 2023-12-12 12:30:00", date(2023, 12, 12), time(12, 30)),
        ("date limite : 15/03/2024 à 12h00", date(2024, 3, 15), time(12, 0)),
        ("Angebotsfrist: 15.03.2024 um 12.00 Uhr", date(2024, 3, 15), time(12, 0)),
        ("le 15 mars 2024 à 12 h 30", date(2024, 3, 15), time(12, 30)),
        ("le 1er mars 2024", date(2024, 3, 1), None),
        ("by 15 March 2024 at 12:00", date(2024, 3, 15), time(12, 0)),
        ("by March 15, 2024", date(2024, 3, 15), None),
        ("bis zum 15. März 2024", date(2024, 3, 15), None),
        ("hasta el 15 de marzo de 2024 a las 12:00", date(2024, 3, 15), time(12, 0)),
        ("entro il 15 marzo 2024 ore 12:00", date(2024, 3, 15), time(12, 0)),
        ("do dnia 15 marca 2024 r. godz. 12:00", date(2024, 3, 15), None),
        ("kuni 31.07.2023. a.", date(2023, 7, 31), None),
        ("15-03-2024", date(2024, 3, 15), None),
    ],
)
def test_date_forms(text: str, day: date, at: time | None) -> None:
    (mention,) = find_dates(text)
    assert (mention.day, mention.at) == (day, at)


def test_impossible_dates_and_section_numbers_are_not_dates() -> None:
    assert find_dates("W pkt 5.1.12 zmiana; 31.02.2024; 2024-13-01") == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("La date limite de réception des offres est reportée au 15/03/2024 12:00.", "tender_deadline"),
        ("Die Angebotsfrist wird auf den 15.03.2024, 12:00 verlängert.", "tender_deadline"),
        ("Ouverture des plis : 15/03/2024 14:00", "opening_date"),
        ("The deadline for questions is now 10 March 2024.", "questions_deadline"),
        ("Il termine per il ricevimento delle offerte è il 15/03/2024 12:00", "tender_deadline"),
        ("15/03/2024 12:00 is the new tender deadline", "tender_deadline"),
    ],
)
def test_field_by_keyword(text: str, field: str) -> None:
    lots = {"LOT-0001": {field: datetime(2024, 3, 1, 12, 0, tzinfo=PLUS_1)}}
    (amendment,) = announced_amendments([text], lots)
    assert amendment.field == field
    assert amendment.announced is True
    assert amendment.lot == "LOT-0001"


def test_a_date_without_a_keyword_is_not_typed() -> None:
    assert announced_amendments(["Voir le document publié le 15/03/2024."], LOT) == []


def test_agreeing_text_announces_nothing_and_old_comes_from_the_structure() -> None:
    assert announced_amendments(["date limite : 01/03/2024 12:00"], LOT) == []
    (moved,) = announced_amendments(["date limite reportée du 01/03/2024 au 08/03/2024 12:00"], LOT)
    assert moved.new == datetime(2024, 3, 8, 12, 0, tzinfo=PLUS_1)
    assert moved.old == datetime(2024, 3, 1, 12, 0, tzinfo=PLUS_1)


def test_several_lots_give_a_procedure_level_announcement() -> None:
    lots = {"LOT-0001": dict(LOT["LOT-0001"]), "LOT-0002": dict(LOT["LOT-0001"])}
    (amendment,) = announced_amendments(["date limite : 08/03/2024"], lots)
    assert (amendment.lot, amendment.new, amendment.old) == (
        None,
        date(2024, 3, 8),
        LOT["LOT-0001"]["tender_deadline"],
    )


def test_a_time_without_any_offset_keeps_the_day() -> None:
    (amendment,) = announced_amendments(["date limite : 08/03/2024 12:00"], {"LOT-0001": {}})
    assert amendment.new == date(2024, 3, 8)


def test_huge_text_is_bounded() -> None:
    text = "date limite 08/03/2024 " * 10_000
    assert len(announced_amendments([text], LOT)) == 1
