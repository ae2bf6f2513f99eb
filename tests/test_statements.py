"""Amendment statements of BOAMP rectificatifs read into typed amendments (tracker.parse.statements)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tracker.notice import Amendment
from tracker.parse.statements import (
    Statement,
    StatementForm,
    read_statement,
    rectif_325_amendments,
    rectif_325_statements,
    rectif_amendments,
    rectif_statements,
)

PLUS_1 = timezone(timedelta(hours=1))
BEFORE_AFTER, ADDED, REMOVED, FREE_TEXT = (
    StatementForm.BEFORE_AFTER,
    StatementForm.ADDED,
    StatementForm.REMOVED,
    StatementForm.FREE_TEXT,
)


def winter(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PLUS_1)


def typed(amendments: list[Amendment]) -> list[tuple[str, str | None, Any, Any]]:
    return [(a.field, a.lot, a.old, a.new) for a in amendments if a.field != "text"]


def texts(amendments: list[Amendment]) -> list[Amendment]:
    return [a for a in amendments if a.field == "text"]


# ---------------------------------------------------------------- the two silent errors of the old reader

#: 20-159258 (January 2021 CSV, IV.2.7, TEXTE/LIRE): the opening is at 22:05, not 22:00.
TEXT_20_159258 = (
    "Après la mention : Ouverture des offres.Ajouter : La limite de remise des offres est reportée au vendredi "
    "8 janvier 2021 à 22h00. En conséquence, la date d'ouverture des offres est reportée au vendredi 8 janvier "
    "2021 à 22h05"
)
#: 21-11455 (IV.2.7, TEXTE/LIRE): 16/02 is the former date, 23/02 the new one.
TEXT_21_11455 = (
    "Après la mention : Modalités d'ouverture des offres :Date : le 16/02/21 à 00h00Ajouter : La date "
    "d'ouverture est reportée au 23 février 2021"
)


def test_20_159258_opening_at_22_05_and_the_deadline_at_22_00() -> None:
    got = read_statement(Statement(BEFORE_AFTER, section="IV.2.7", new=TEXT_20_159258))
    assert typed(got) == [
        ("tender_deadline", None, None, winter(2021, 1, 8, 22)),
        ("opening_date", None, None, winter(2021, 1, 8, 22, 5)),
    ]
    assert got[1].evidence.startswith("En conséquence, la date d'ouverture")


def test_21_11455_the_new_opening_is_23_february() -> None:
    got = read_statement(Statement(BEFORE_AFTER, section="IV.2.7", new=TEXT_21_11455))
    assert typed(got) == [("opening_date", None, None, date(2021, 2, 23))]


# ---------------------------------------------------------------- each form


def test_before_after_bare_values_typed_by_the_heading() -> None:
    st = Statement(
        BEFORE_AFTER,
        section="Date limite de réception des offres",
        old="2021-01-15T12:00:00+01:00",
        new="2021-01-29T12:00:00+01:00",
    )
    (amendment,) = read_statement(st)
    assert typed([amendment]) == [("tender_deadline", None, winter(2021, 1, 15, 12), winter(2021, 1, 29, 12))]
    assert amendment.evidence.startswith("Date limite de réception des offres : ")


def test_before_after_multi_statement_lire_text_gives_several_amendments() -> None:
    st = Statement(
        BEFORE_AFTER,
        section="IV.2",
        old="Date limite de réception des offres : 16/02/2021 à 12h00. Date d'ouverture des plis : 17/02/2021 à 10h00",
        new="Date limite de réception des offres : 23/02/2021 à 12h00. Date d'ouverture des plis : 24/02/2021 à 10h00",
    )
    assert typed(read_statement(st)) == [
        ("tender_deadline", None, winter(2021, 2, 16, 12), winter(2021, 2, 23, 12)),
        ("opening_date", None, winter(2021, 2, 17, 10), winter(2021, 2, 24, 10)),
    ]


def test_before_after_value_duration_and_lot() -> None:
    value = Statement(
        BEFORE_AFTER,
        section="II.2.6)",
        label="Valeur hors T.V.A",
        lot="1",
        old="5 000 000 euros",
        new="8 400 000 euros",
    )
    assert typed(read_statement(value)) == [("estimated_value", "1", Decimal(5000000), Decimal(8400000))]
    duration = Statement(
        BEFORE_AFTER, section="II.2.7", lot="Lot 1 et lot 2", old="Durée en mois : 45", new="Durée en mois : 44"
    )
    assert typed(read_statement(duration)) == [("duration", "1", "P45M", "P44M"), ("duration", "2", "P45M", "P44M")]


def test_before_after_unchanged_value_is_no_typed_change_but_the_text_stays() -> None:
    st = Statement(BEFORE_AFTER, section="VI.3", old="Visite le 12/01.", new="Visite le 19/01.")
    (amendment,) = read_statement(st)
    assert (amendment.field, amendment.old, amendment.new) == ("text", "Visite le 12/01.", "Visite le 19/01.")


def test_structured_date_block_is_a_day() -> None:
    st = Statement(BEFORE_AFTER, section="IV.2.2)", old="2021-01-27", new="2021-02-03", structured="date")
    assert typed(read_statement(st)) == [("tender_deadline", None, date(2021, 1, 27), date(2021, 2, 3))]


def test_added_text_states_its_values() -> None:
    got = read_statement(
        Statement(ADDED, section="Date limite de réception des candidatures", new="2021-01-20T12:00:00+01:00")
    )
    assert typed(got) == [("request_deadline", None, None, winter(2021, 1, 20, 12))]
    sans_suite = Statement(ADDED, new="La présente consultation est déclarée sans suite pour motif d'intérêt général")
    assert typed(read_statement(sans_suite)) == [("status", None, None, "cancelled")]
    url = "http://www.marchespublics.example.fr"
    dce = Statement(ADDED, section="Retrait du DCE", new=f"Le DCE peut être consulté à l'adresse suivante :{url}")
    assert typed(read_statement(dce)) == [("documents_url", None, None, url)]


def test_removed_text_is_kept_as_text_it_removes() -> None:
    (amendment,) = read_statement(Statement(REMOVED, section="III.1.3", new="Chiffre d'affaires minimal : 1 M€"))
    assert (amendment.field, amendment.old, amendment.new) == ("text", "Chiffre d'affaires minimal : 1 M€", None)


def test_free_text_types_its_sentences_and_keeps_the_rest() -> None:
    text = (
        "La date limite de réception des offres est reportée au 12/03/2021 à 12h00. Une visite supplémentaire "
        "est organisée sur le site pour tous les candidats intéressés."
    )
    got = read_statement(Statement(FREE_TEXT, new=text))
    assert typed(got) == [("tender_deadline", None, None, winter(2021, 3, 12, 12))]
    assert got[0].evidence == "La date limite de réception des offres est reportée au 12/03/2021 à 12h00."
    (rest,) = texts(got)
    assert rest.new.startswith("Une visite supplémentaire")


def test_a_lot_declared_unsuccessful() -> None:
    got = read_statement(Statement(FREE_TEXT, new="Le lot n° 2 est déclaré infructueux."))
    assert typed(got) == [("status", "2", None, "unsuccessful")]


def test_a_statement_with_only_a_section_is_one_text_amendment() -> None:
    (amendment,) = read_statement(Statement(BEFORE_AFTER, section="IV.2.2", label="Délai", lot="3", structured="date"))
    assert (amendment.field, amendment.section, amendment.lot, amendment.old, amendment.new) == (
        "text",
        "IV.2.2 Délai",
        "3",
        None,
        None,
    )


def test_a_sentence_and_a_day_only_block_disagreeing_keep_the_sentence_with_the_evidence() -> None:
    dn = {
        "RECTIF": {
            "MODIFICATION": [
                {"RUB_INIT": "IV.2.2)", "DATE": {"INIT": "2021-01-27", "LIRE": "2021-02-03"}},
                {
                    "RUB_INIT": "VI.3",
                    "TEXTE": {"LIRE": "La date limite de réception des offres est reportée au 04/02/2021 à 12h00."},
                },
            ]
        }
    }
    (deadline,) = [a for a in rectif_amendments(dn) if a.field == "tender_deadline"]
    assert (deadline.old, deadline.new) == (date(2021, 1, 27), winter(2021, 2, 4, 12))
    assert "2021-02-03" in deadline.evidence


# ---------------------------------------------------------------- every shape of the v230 tree


@pytest.mark.parametrize(
    "rectif",
    [
        {
            "MODIFICATION": {
                "RUB_INIT": "IV.2.7)",
                "TEXTE": {"INIT": "27/01/2021 à 14 H 00", "LIRE": "03/02/2021 à 14 H 00"},
            }
        },
        {
            "MODIFICATION": [
                {"RUB_INIT": "IV.2.7)", "TXT_INIT": "27/01/2021 à 14 H 00", "LIRE": "03/02/2021 à 14 H 00"}
            ]
        },
        {
            "MODIFICATION": {
                "RUB_INIT": {"#text": "IV.2.7)", "@x": "1"},
                "TEXTE": {"LIRE": {"#text": "03/02/2021 à 14 H 00"}},
            }
        },
        {"MODIFICATION": {"RUB_INIT": "IV.2.7)", "TEXTE": {"LIRE": {"P": ["03/02/2021", "à 14 H 00"]}}}},
        {
            "MODIFICATION": {
                "RUB_INIT": "IV.2.7)",
                "AJOUTER": "La date d'ouverture des plis est fixée au 03/02/2021 à 14h00.",
            }
        },
        {"MODIFICATION": {"RUB_INIT": "IV.2.7)", "AJOUTER": ["03/02/2021 à 14 H 00"]}},
        {"INFO_COMPLEMENTAIRE": "La date d'ouverture des plis est reportée au 03/02/2021 à 14h00."},
        {"INFO_COMPLEMENTAIRE": {"#text": "La date d'ouverture des plis est reportée au 03/02/2021 à 14h00."}},
        {"AJOUT": "Date d'ouverture des plis : 03/02/2021 à 14h00"},
    ],
    ids=[
        "object",
        "list",
        "text-and-attributes",
        "inner-paragraphs",
        "ajouter",
        "ajouter-list",
        "info",
        "info-text",
        "ajout",
    ],
)
def test_v230_shapes_give_the_opening(rectif: dict[str, Any]) -> None:
    got = rectif_amendments({"RECTIF": rectif})
    assert [(a.field, a.new) for a in got if a.field != "text"] == [("opening_date", winter(2021, 2, 3, 14))]


def test_v230_unknown_child_string_modification_and_suppression_are_kept_as_text() -> None:
    dn = {
        "RECTIF": {
            "ANNONCE_ANTERIEUR": {"REFERENCE": {"IDWEB": "20-1"}},
            "MODIFICATION": ["Le CCTP est modifié.", {"RUB_INIT": "II.2.4", "NOUVEAU": "Texte inconnu ajouté"}],
            "SUPPRESSION": "La clause 4 est supprimée.",
        }
    }
    statements = rectif_statements(dn)
    assert [s.form for s in statements] == [FREE_TEXT, FREE_TEXT, REMOVED]
    got = rectif_amendments(dn)
    assert [a.field for a in got] == ["text", "text", "text"]
    assert [a.new for a in got][:2] == ["Le CCTP est modifié.", "Texte inconnu ajouté"]


def test_v230_supprimer_and_a_lost_value_never_vanish() -> None:
    dn = {"RECTIF": {"MODIFICATION": [{"RUB_INIT": "IV.2.2"}, {"RUB_INIT": "III.1", "SUPPRIMER": "Référence X"}]}}
    got = rectif_amendments(dn)
    assert [(a.field, a.section, a.old) for a in got] == [("text", "IV.2.2", None), ("text", "III.1", "Référence X")]


# ---------------------------------------------------------------- 3.2.5 infosRectif


def test_325_plain_text_infos_rectif() -> None:
    """The 3.2.5 schema allows ``infosRectif`` as plain text (no corpus file has one)."""
    doc = {
        "FNSimple": {
            "rectificatif": {
                "infosRectif": "La date limite de réception des offres est reportée au 12/03/2026 à 12h00."
            }
        }
    }
    body = doc["FNSimple"]["rectificatif"]
    assert [s.form for s in rectif_325_statements(body)] == [FREE_TEXT]
    assert typed(rectif_325_amendments(body)) == [("tender_deadline", None, None, winter(2026, 3, 12, 12))]


@pytest.mark.parametrize(
    "infos",
    [
        {"ajouter": "Date limite de réception des offres : 12/03/2026 à 12h00"},
        {
            "ajouter": [
                "Date limite de réception des offres : 12/03/2026 à 12h00",
                "Une visite est organisée le 1er mars.",
            ]
        },
        [{"ajouter": "Date limite de réception des offres : 12/03/2026 à 12h00"}, {"supprimer": "La visite."}],
        {"rubDelais": "ReceptionOffres", "auLieuDeDate": "2026-03-05T12:00:00", "lireDate": "2026-03-12T12:00:00"},
    ],
    ids=["ajouter", "ajouter-list", "list", "lire"],
)
def test_325_infos_rectif_shapes(infos: Any) -> None:
    got = rectif_325_amendments({"infosRectif": infos})
    assert [(a.field, a.new) for a in got if a.field != "text"] == [("tender_deadline", winter(2026, 3, 12, 12))]


def test_325_lire_beside_infos_rectif() -> None:
    body = {"infosRectif": {"supprimer": "Ancienne clause"}, "lireDateReceptionOffres": "2026-03-12T12:00:00"}
    got = rectif_325_amendments(body)
    assert ("tender_deadline", winter(2026, 3, 12, 12)) in [(a.field, a.new) for a in got]
    assert any(a.field == "text" and a.old == "Ancienne clause" for a in got)


# ---------------------------------------------------------------- never empty


def test_read_statement_is_never_empty_on_generated_statements() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st_ = pytest.importorskip("hypothesis.strategies")
    words = st_.sampled_from(
        [
            "Date limite",
            "de réception des offres",
            ":",
            "12/03/2026",
            "à 12h00",
            "au lieu de",
            "lire",
            "lot 2",
            "90 000 euros",
            "12 mois",
            "https://x.example.fr",
            "sans suite",
            "infructueux",
            "IV.2.2",
            "Ajouter :",
            "Après la mention :",
            ".",
            "\n",
            "",
            "ô",
        ]
    )
    text = st_.one_of(st_.none(), st_.lists(words, max_size=12).map(" ".join), st_.text(max_size=40))
    statements = st_.builds(
        Statement,
        form=st_.sampled_from(list(StatementForm)),
        section=text,
        label=text,
        lot=text,
        old=text,
        new=text,
        structured=st_.sampled_from([None, "date", "cpv"]),
    )

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(statements)
    def check(statement: Statement) -> None:
        got = read_statement(statement)
        assert got and all(isinstance(a, Amendment) for a in got)

    check()
