"""French dates and times, field labels, and the free text of BOAMP avis rectificatifs (tracker.parse.frtext)."""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests import seeds_path
from tracker.notice import DATE_FIELDS, TRACKED_FIELDS, Amendment
from tracker.parse.frtext import (
    Moment,
    field_for_label,
    find_moments,
    interpret,
    lots_in,
    parse_amount_text,
    parse_duration,
    parse_moment,
)

PLUS_1 = timezone(timedelta(hours=1))
PLUS_2 = timezone(timedelta(hours=2))


def winter(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PLUS_1)


def summer(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PLUS_2)


def same_moment(got: object, expected: date | datetime | None) -> bool:
    """Equal, of the same type (date vs datetime), and with the same UTC offset."""
    if type(got) is not type(expected):
        return False
    if isinstance(got, datetime) and isinstance(expected, datetime):
        return got == expected and got.utcoffset() == expected.utcoffset()
    return got == expected


def changes(amendments: list[Amendment]) -> list[tuple[str, object, object]]:
    return [(a.field, a.old, a.new) for a in amendments]


# ---------------------------------------------------------------- moments: forms of the corpus and seeds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("27/01/2021 à 14 H 00", winter(2021, 1, 27, 14)),
        ("le 24/02/2026 à 12h00", winter(2026, 2, 24, 12)),
        ("17/02/2026 12:00", winter(2026, 2, 17, 12)),
        ("01/06/2026", date(2026, 6, 1)),
        ("23/03/2026 à 16:00", winter(2026, 3, 23, 16)),
        ("15/09/2020 12:00 (heure de Paris)", summer(2020, 9, 15, 12)),
        ("jeudi 12 mars 2026 avant 16h00", winter(2026, 3, 12, 16)),
        ("lundi 05 octobre 2026 - 12 h 00", summer(2026, 10, 5, 12)),
        ("jeudi 1er octobre 2026 - 12 h 00", summer(2026, 10, 1, 12)),
        ("le 20 août 2018 de 10h à 12h", summer(2018, 8, 20, 10)),
        ("24 août 2018", date(2018, 8, 24)),
        ("2021-02-03", date(2021, 2, 3)),
        ("2016-04-25T12:00:00+01:00", summer(2016, 4, 25, 12)),  # BOAMP's "+01:00" is a wall time
        ("2021-02-03T14:00", winter(2021, 2, 3, 14)),
        ("27/01/21", date(2021, 1, 27)),
        ("le 01/02/21 à 14h00", winter(2021, 2, 1, 14)),
        ("Date: 05/01/2021Heure locale: 12:00", winter(2021, 1, 5, 12)),
        ("Modalités d'ouverture des offres :Date : 01/02/2021Heure locale : 09:00", winter(2021, 2, 1, 9)),
        ("La date d'ouverture des offres est reportée au 1er février 2021, 9h00", winter(2021, 2, 1, 9)),
        ("le 26 janvier 2021 à partir de 12h10", winter(2021, 1, 26, 12, 10)),
        ("Vendredi 5 février 2021 à 12h00", winter(2021, 2, 5, 12)),
        ("12.03.2026", date(2026, 3, 12)),
        ("12-03-2026 à 10h", winter(2026, 3, 12, 10)),
        ("le 29 mars 2026 à 12h00", summer(2026, 3, 29, 12)),  # first day of summer time
    ],
)
def test_parse_moment_reads_corpus_forms(text: str, expected: date | datetime) -> None:
    got = parse_moment(text)
    assert same_moment(got, expected), got


@pytest.mark.parametrize(
    ("time_text", "hour", "minute"),
    [
        ("14h", 14, 0),
        ("14h00", 14, 0),
        ("14h30", 14, 30),
        ("14 h 00", 14, 0),
        ("14H00", 14, 0),
        ("14:00", 14, 0),
        ("14:00:00", 14, 0),
        ("14 heures", 14, 0),
        ("14 heures 30", 14, 30),
        ("midi", 12, 0),
        ("9h00", 9, 0),
        ("00h00", 0, 0),
    ],
)
@pytest.mark.parametrize("lead", ["03/02/2021 à ", "03/02/2021 ", "mercredi 3 février 2021 avant ", "03/02/2021 - "])
def test_time_forms_after_a_date(lead: str, time_text: str, hour: int, minute: int) -> None:
    assert same_moment(parse_moment(lead + time_text), winter(2021, 2, 3, hour, minute))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 fevrier 2026", date(2026, 2, 12)),
        ("12 février 2026", date(2026, 2, 12)),
        ("12 FÉVRIER 2026", date(2026, 2, 12)),
        ("15 aout 2026", date(2026, 8, 15)),
        ("15 Août 2026", date(2026, 8, 15)),
        ("3 decembre 2025", date(2025, 12, 3)),
        ("3 décembre 2025", date(2025, 12, 3)),
        ("3 Decembre 2025", date(2025, 12, 3)),
        ("1er janvier 2027", date(2027, 1, 1)),
        ("samedi 1er mai 2027", date(2027, 5, 1)),
        ("7 juin 2026", date(2026, 6, 7)),
        ("7 juillet 2026", date(2026, 7, 7)),
        ("7 sept. 2026", date(2026, 9, 7)),
        ("7 janv. 2026", date(2026, 1, 7)),
    ],
)
def test_month_names_with_or_without_accents_any_case(text: str, expected: date) -> None:
    assert same_moment(parse_moment(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "32/13/2021",
        "31/02/2021",
        "29/02/2021",
        "00/01/2021",
        "31 juin 2026",
        "2021-13-45",
        "2021-02-30T12:00",
        "R.2132-7",
        "articles R. 2142-1, R. 2143-3 et R. 2143-11",
        "IV.2.2",
        "JOUE annonce no2020/S 235-580206",
        "04.91.99.99.99",
        "version 01.02.03",
        "12 mars",  # no year: cannot be placed in time
        "",
    ],
)
def test_impossible_or_non_dates_are_rejected_silently(text: str) -> None:
    assert parse_moment(text) is None
    assert find_moments(text) == []


def test_a_time_out_of_range_leaves_the_date_alone() -> None:
    assert same_moment(parse_moment("03/02/2021 à 25h00"), date(2021, 2, 3))
    assert same_moment(parse_moment("03/02/2021 à 12h75"), date(2021, 2, 3))


def test_iso_datetime_in_a_text_is_a_boamp_wall_time() -> None:
    # BOAMP labels summer times +01:00: the clock time is the buyer's, the offset that of the day
    got = parse_moment("2016-07-25T12:00:00+01:00")
    assert isinstance(got, datetime)
    assert got.utcoffset() == timedelta(hours=2)


def test_find_moments_in_order_with_spans_covering_the_time() -> None:
    text = "Du jeudi 1er octobre 2026 - 12 h 00 au 05/10/2026, puis 2026-11-02."
    moments = find_moments(text)
    assert [m.value for m in moments] == [summer(2026, 10, 1, 12), date(2026, 10, 5), date(2026, 11, 2)]
    assert [text[m.start : m.end] for m in moments] == [
        "jeudi 1er octobre 2026 - 12 h 00",
        "05/10/2026",
        "2026-11-02",
    ]
    assert all(isinstance(m, Moment) for m in moments)


def test_parse_moment_takes_the_first_of_several() -> None:
    assert same_moment(parse_moment("le 20 août 2018 de 10h à 12h, puis le 21/08/2018"), summer(2018, 8, 20, 10))


def test_spans_are_those_of_the_original_text_despite_accents() -> None:
    text = "Élément : prévue le 12 février 2026 à 16h00"
    (moment,) = find_moments(text)
    assert text[moment.start : moment.end] == "12 février 2026 à 16h00"


# ---------------------------------------------------------------- field_for_label


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("IV.2.2", "tender_deadline"),
        ("IV.2.2)", "tender_deadline"),
        ("iv.2.2", "tender_deadline"),
        ("IV.3.4)", "tender_deadline"),
        ("IV.2.7)", "opening_date"),
        ("IV.3.8", "opening_date"),
        ("IV.2.6)", None),
        ("II.2.7)", "duration"),
        ("II.3)", "duration"),
        ("IV.2.2.1", None),
        ("Date limite de réception des offres", "tender_deadline"),
        ("DATE LIMITE DE RECEPTION DES OFFRES", "tender_deadline"),
        ("Remise des offres", "tender_deadline"),
        ("Remise des plis", "tender_deadline"),
        ("Réception des plis", "tender_deadline"),
        ("Dépôt des offres", "tender_deadline"),
        ("Date limite de réponse", "tender_deadline"),
        ("Date et heure limites de réception des plis", "tender_deadline"),
        ("Date limite de réception des offres ou des demandes de participation", "tender_deadline"),
        ("IV.2.2) Date limite de réception des offres ou des demandes de participation", "tender_deadline"),
        ("Demandes de participation", "request_deadline"),
        ("Date limite de réception des candidatures", "request_deadline"),
        ("Candidatures", "request_deadline"),
        ("Ouverture des plis", "opening_date"),
        ("Modalités d'ouverture des offres", "opening_date"),
        ("Ouverture des candidatures", None),  # the applications, not the tenders
        ("Questions", "questions_deadline"),
        ("Date limite de réponse aux questions", "questions_deadline"),
        ("Renseignements complémentaires", "questions_deadline"),
        ("Date limite des demandes de renseignements", "questions_deadline"),
        ("Date prévisionnelle de début", "start_date"),
        ("Date prévisionnelle de début des prestations", "start_date"),
        ("Date de début", "start_date"),
        ("Commencement des travaux", "start_date"),
        ("Démarrage des prestations", "start_date"),
        ("Date de fin", "end_date"),
        ("Achèvement des travaux", "end_date"),
        ("Fin des prestations", "end_date"),
        ("Durée", "duration"),
        ("Durée du marché ou délai d'exécution", "duration"),
        ("II.2.7) Durée du marché, de l'accord-cadre", "duration"),
        ("II.3) Date de début des prestations", "start_date"),
        ("Valeur estimée", "estimated_value"),
        ("II.1.5) Valeur totale estimée", "estimated_value"),
        ("Montant estimé", "estimated_value"),
        ("Profil acheteur", "submission_url"),
        ("Adresse de dépôt des offres", "submission_url"),
        ("Remise électronique", "submission_url"),
        ("Date limite de remise des offres sur le profil acheteur", "tender_deadline"),
        ("Documents de la consultation", "documents_url"),
        ("DCE", "documents_url"),
        ("Dossier de consultation des entreprises", "documents_url"),
        ("Date limite de validité de l'offre", None),
        ("Durée de validité des offres", None),
        ("IV.2.6) Délai minimal pendant lequel le soumissionnaire est tenu de maintenir son offre", None),
        ("Section IV : Procédure", None),
        ("", None),
        (None, None),
    ],
)
def test_field_for_label(label: str | None, field: str | None) -> None:
    assert field_for_label(label) == field


def test_field_for_label_only_returns_tracked_fields() -> None:
    labels = ["IV.2.2", "Questions", "Durée", "DCE", "Valeur estimée", "Montant maximum", "Candidatures"]
    assert {field_for_label(label) for label in labels} <= set(TRACKED_FIELDS)


# ---------------------------------------------------------------- interpret: the patterns of the brief

PATTERN_1 = (
    "La date limite de réception des offres, prévue le jeudi 12 mars 2026 avant 16h00, "
    "est reportée au jeudi 19 mars 2026 avant 16h00."
)
PATTERN_2 = (
    "La date limite de réception des offres est fixée au lundi 05 octobre 2026 - 12 h 00 "
    "et non au jeudi 1er octobre 2026 - 12 h 00."
)
PATTERN_3 = (
    "Date et heure limites de réception des plis : le 24/02/2026 à 12h00 au lieu de : "
    "Date et heure limites de réception des plis : le 17/02/2026 à 12h00. "
    "Date prévisionnelle de début des prestations : 01/06/2026 au lieu de : "
    "Date prévisionnelle de début des prestations : 13/03/2026."
)
PATTERN_3_CHANGES = [
    ("tender_deadline", winter(2026, 2, 17, 12), winter(2026, 2, 24, 12)),
    ("start_date", date(2026, 3, 13), date(2026, 6, 1)),
]


def test_pattern_1_prevue_le_old_est_reportee_au_new() -> None:
    (amendment,) = interpret(PATTERN_1)
    assert amendment.field == "tender_deadline"
    assert same_moment(amendment.old, winter(2026, 3, 12, 16))
    assert same_moment(amendment.new, winter(2026, 3, 19, 16))
    assert amendment.evidence == PATTERN_1


def test_pattern_2_est_fixee_au_new_et_non_au_old() -> None:
    (amendment,) = interpret(PATTERN_2)
    assert amendment.field == "tender_deadline"
    assert same_moment(amendment.old, summer(2026, 10, 1, 12))
    assert same_moment(amendment.new, summer(2026, 10, 5, 12))


def test_pattern_3_two_sentences_new_au_lieu_de_old() -> None:
    amendments = interpret(PATTERN_3)
    assert changes(amendments) == PATTERN_3_CHANGES
    assert same_moment(amendments[0].old, winter(2026, 2, 17, 12))
    assert same_moment(amendments[1].new, date(2026, 6, 1))
    assert amendments[0].evidence.endswith("le 17/02/2026 à 12h00.")
    assert amendments[1].evidence.startswith("Date prévisionnelle de début des prestations : 01/06/2026")


@pytest.mark.parametrize(
    "text",
    [
        "Date limite de remise des offres : au lieu de 17/02/2026, lire 24/02/2026.",
        "Date limite de remise des offres : Au lieu de : 17/02/2026 Lire : 24/02/2026",
        "Date limite de remise des offres : Au lieu de : 17/02/2026. Lire : 24/02/2026.",
        "Date limite de remise des offres :\nAu lieu de :\n17/02/2026\nLire :\n24/02/2026",
    ],
    ids=["au-lieu-de-old-lire-new", "au-lieu-de-colon-old-lire-colon-new", "lire-after-a-period", "multiline"],
)
def test_pattern_4_au_lieu_de_old_lire_new(text: str) -> None:
    assert changes(interpret(text)) == [("tender_deadline", date(2026, 2, 17), date(2026, 2, 24))]


@pytest.mark.parametrize(
    "text",
    [
        "Date limite de remise des offres : 24/02/2026 en remplacement du 17/02/2026.",
        "Date limite de remise des offres : le 24/02/2026 remplace le 17/02/2026.",
        "La date limite de remise des offres du 17/02/2026 est remplacée par le 24/02/2026.",
        "La date limite de remise des offres du 17/02/2026 est remplacé par le 24/02/2026.",
        "La date limite de remise des offres est repoussée du 17/02/2026 au 24/02/2026.",
        "La date limite de remise des offres est prorogée du 17/02/2026 au 24/02/2026.",
        "La date limite de remise des offres est décalée du 17/02/2026 au 24/02/2026.",
        "La date limite de remise des offres est prolongée du 17/02/2026 jusqu'au 24/02/2026.",
        "La date limite de remise des offres est reportée du 17/02/2026 au 24/02/2026.",
        "Date limite de remise des offres : 17/02/2026 → 24/02/2026",
        "Date limite de remise des offres : 17/02/2026 -> 24/02/2026",
        "La date limite de remise des offres, initialement le 17/02/2026, est désormais le 24/02/2026.",
        "Date limite de remise des offres du 17/02/2026 modifiée au 24/02/2026.",
        "La date limite de remise des offres est fixée au 24/02/2026 au lieu du 17/02/2026.",
        "Date limite de remise des offres : initialement le 17/02/2026, nouvelle date : le 24/02/2026",
    ],
    ids=[
        "en-remplacement-de",
        "remplace",
        "remplacee-par",
        "remplace-par",
        "repoussee-du-au",
        "prorogee-du-au",
        "decalee-du-au",
        "prolongee-du-jusqu-au",
        "reportee-du-au",
        "arrow",
        "ascii-arrow",
        "est-desormais",
        "modifiee-au",
        "fixee-au-lieu-du",
        "initialement-nouvelle-date",
    ],
)
def test_pattern_5_connectives(text: str) -> None:
    assert changes(interpret(text)) == [("tender_deadline", date(2026, 2, 17), date(2026, 2, 24))]


def test_pattern_6_a_bare_moment_with_a_hint_is_left_to_parse_moment() -> None:
    assert interpret("03/02/2021 à 14 H 00", field_hint="opening_date") == []
    assert same_moment(parse_moment("03/02/2021 à 14 H 00"), winter(2021, 2, 3, 14))


@pytest.mark.parametrize(
    ("text", "field", "new"),
    [
        (
            "La date limite de réception des offres est reportée au jeudi 19 mars 2026 avant 16h00.",
            "tender_deadline",
            winter(2026, 3, 19, 16),
        ),
        (
            "La date limite de remise des offres est fixée au 05 janvier 2021 à 12h00",
            "tender_deadline",
            winter(2021, 1, 5, 12),
        ),
        (
            "La date limite de réception des offres est prolongée jusqu'au 24/02/2026.",
            "tender_deadline",
            date(2026, 2, 24),
        ),
        ("Date limite de réception des offres : lire 24/02/2026", "tender_deadline", date(2026, 2, 24)),
        (
            "L'administration prolonge le délai de réception des candidatures au 12/02/2021 à 12h00.",
            "request_deadline",
            winter(2021, 2, 12, 12),
        ),
        (
            "La date d'ouverture des plis est reportée au 23/02/2021 à 14h00",
            "opening_date",
            winter(2021, 2, 23, 14),
        ),
        (
            "Nouvelle date et heure limite de remise des plis : 10/02/2021 12:00",
            "tender_deadline",
            winter(2021, 2, 10, 12),
        ),
        (
            "La date limite de réception des offres est désormais le 24/02/2026.",
            "tender_deadline",
            date(2026, 2, 24),
        ),
    ],
    ids=[
        "reportee-au",
        "fixee-au",
        "prolongee-jusqu-au",
        "lire",
        "prolonge-active",
        "ouverture",
        "nouvelle",
        "desormais",
    ],
)
def test_one_moment_after_a_new_value_verb(text: str, field: str, new: date | datetime) -> None:
    (amendment,) = interpret(text)
    assert amendment.field == field
    assert amendment.old is None
    assert same_moment(amendment.new, new)


# ---------------------------------------------------------------- interpret: fields, hints, passthrough


def test_field_hint_names_the_field_when_the_words_do_not() -> None:
    text = "Au lieu de : 03/02/2021 à 14 H 00 Lire : 10/02/2021 à 14 H 00"
    assert changes(interpret(text, field_hint="opening_date")) == [
        ("opening_date", winter(2021, 2, 3, 14), winter(2021, 2, 10, 14))
    ]


def test_words_win_over_the_field_hint() -> None:
    text = "La date d'ouverture des plis est reportée du 03/02/2021 au 10/02/2021."
    assert [a.field for a in interpret(text, field_hint="tender_deadline")] == ["opening_date"]


def test_a_section_number_in_the_sentence_names_the_field() -> None:
    text = "IV.2.7) : 03/02/2021 au lieu de 27/01/2021"
    assert changes(interpret(text)) == [("opening_date", date(2021, 1, 27), date(2021, 2, 3))]


@pytest.mark.parametrize("hint", ["duration", "documents_url", "text", "nonsense"])
def test_a_field_hint_that_is_not_a_date_field_is_ignored(hint: str) -> None:
    assert interpret("Au lieu de 17/02/2026, lire 24/02/2026.", field_hint=hint) == []


def test_words_before_the_moments_win_over_words_after_them() -> None:
    text = (
        "Date limite de remise des plis : 24/02/2026 au lieu de 17/02/2026 suite aux questions posées "
        "par les candidats."
    )
    assert [a.field for a in interpret(text)] == ["tender_deadline"]


def test_lot_section_and_evidence_are_passed_through() -> None:
    text = "  La date limite de remise des offres est reportée\n du 17/02/2026   au 24/02/2026.  "
    (amendment,) = interpret(text, lot="3", section="IV.2.2")
    assert amendment == Amendment(
        field="tender_deadline",
        old=date(2026, 2, 17),
        new=date(2026, 2, 24),
        lot="3",
        section="IV.2.2",
        evidence="La date limite de remise des offres est reportée du 17/02/2026 au 24/02/2026.",
    )


def test_every_typed_field_is_a_date_field() -> None:
    assert all(a.field in DATE_FIELDS for a in interpret(PATTERN_1 + " " + PATTERN_2 + " " + PATTERN_3))


def test_sentence_splitting_keeps_article_numbers_and_dates_together() -> None:
    text = (
        "Conformément à l'article R.2132-7 du Code, la date limite de remise des offres prévue le "
        "05/10/2026 est reportée au 12/10/2026. Les articles R. 2142-1 et R. 2143-3 restent applicables."
    )
    assert changes(interpret(text)) == [("tender_deadline", date(2026, 10, 5), date(2026, 10, 12))]


def test_a_period_glued_to_the_next_sentence_ends_a_sentence() -> None:
    text = (
        "Nous avons reçu des questions.Enfin, la date limite de remise des offres a été repoussée au "
        "10 février 2021. Le règlement a été corrigé."
    )
    assert changes(interpret(text)) == [("tender_deadline", None, date(2021, 2, 10))]


def test_a_sentence_with_many_moments_is_read_line_by_line() -> None:
    text = (
        "- Date limite de réception des offres : 12/03/2026 au lieu du 05/03/2026\n"
        "- Date d'ouverture des plis : 13/03/2026 au lieu du 06/03/2026"
    )
    assert changes(interpret(text)) == [
        ("tender_deadline", date(2026, 3, 5), date(2026, 3, 12)),
        ("opening_date", date(2026, 3, 6), date(2026, 3, 13)),
    ]


# ---------------------------------------------------------------- interpret: never guess


@pytest.mark.parametrize(
    "text",
    [
        "Le 12/03/2026 est reporté au 19/03/2026.",  # no field named, no hint
        "La date limite de réception des offres : 12/03/2026, 19/03/2026.",  # no connective
        "Les accords-cadres sont à effet du 01/09/2021 jusqu'au 31/08/2024.",  # a period, not a change
        "La date limite de réception des offres est le 12/03/2026.",  # a statement, not a change
        "La date limite de réception des offres 12/03/2026 au lieu de 05/03/2026 lire 19/03/2026.",  # three
        "La date limite de réception des offres au lieu du 12/03/2026 lire 19/03/2026 et non 26/03/2026.",
        "Date limite de réception des offres : 12/03/2026 au lieu de : lire 05/03/2026",  # both kinds
        "La date limite de réception des offres n'est pas reportée au 19/03/2026.",  # negation
        "La date limite de réception des offres du 12/03/2026 n'est pas repoussée au 19/03/2026.",
        "La date limite de réception des offres reste fixée au 12/03/2026.",  # unchanged
        "La date limite de réception des offres est maintenue, elle est fixée au 12/03/2026.",
        "Le DCE est modifié, la date limite de réception des offres du 12/03/2026 reste inchangée.",
        "La date limite de réception des offres est modifiée : 19/03/2026",  # "modifiée" alone
        "La date limite de réception des offres est reportée, la visite aura lieu le 05/03/2026.",
        "Au lieu de : date limite de réception des offres le 12/03/2026",  # the old value only
        "La date limite de réception des offres, initialement prévue le 12/03/2026, est reportée.",
        "La date limite de réception des offres est reportée au 12/03/2026 au lieu du 12/03/2026.",  # no-op
        "La date limite de réception des offres est reportée à une date ultérieure.",  # no moment
        "Date limite de validité de l'offre : 120 jours à compter du 12/03/2026 au lieu du 05/03/2026.",
    ],
)
def test_ambiguous_or_untyped_sentences_produce_nothing(text: str) -> None:
    assert interpret(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02",
        "\ud800 lone surrogate 12/03/2026",
        "İstanbul 1er mars 2026 à 14h",
        "ﬁn des prestations : 31 juin 2026 → 32/13/2026",
        "→ → → au lieu de lire lire au lieu de",
        "Au lieu de : Lire :",
        "1er 1er 1er lundi lundi mars mars 2026 2026",
        "31/02/2021 à 99h99 au lieu de 2021-02-30T25:61",
        "reportée du au jusqu'au . ; ! ? .Lire",
        "IV.2.2) IV.2.7) II.3) IV.2.6)" * 10,
        "🙂" * 1000 + " date limite de réception des offres reportée au 19/03/2026",
        "\n".join(["au lieu de 01/01/2021 lire 02/01/2021"] * 50),
    ],
)
def test_interpret_never_raises_on_odd_text(text: str) -> None:
    for hint in (None, "tender_deadline", "duration"):
        result = interpret(text, field_hint=hint, lot="1", section="IV.2.2")
        assert all(isinstance(a, Amendment) for a in result)
    field_for_label(text)
    parse_moment(text)


def test_interpret_never_raises_on_random_token_soup() -> None:
    tokens = [
        "01/01/2021", "31/02/2021", "à", "14h", "24h00", "midi", "lundi", "1er", "mars", "août", "2021-13-45",
        "2016-04-25T12:00:00+01:00", "au lieu de", "lire", "Lire", "→", "reportée", "du", "au", "et non", ". ",
        ";", "\n", "offres", "date limite de réception des offres", "ouverture des plis", "IV.2.2)", "pas",
        "inchangée", "remplacée par", "remplace", "heure locale :", "\ud800", "İ", "-", ":", ",",
    ]  # fmt: skip
    rng = random.Random(20260224)  # noqa: S311 (reproducible fuzzing, not cryptography)
    for _ in range(2000):
        text = " ".join(rng.choice(tokens) for _ in range(rng.randint(0, 25)))
        interpret(text, field_hint=rng.choice([None, "tender_deadline"]))


# ---------------------------------------------------------------- hostile input: no catastrophic backtracking

HOSTILE = {
    "digits": "1" * 100_000,
    "slashes": "1/" * 50_000,
    "dots": "." * 100_000,
    "period-then-spaces": "a." + " " * 100_000 + "b",
    "spaces-between-moments": "La date limite de réception des offres reportée du 01/01/2021"
    + " " * 100_000
    + "02/01/2021",
    "comma-spaces": "reportée du 01/01/2021 ," + " " * 100_000 + "02/01/2021",
    "heure-locale-spaces": "01/01/2021 heure locale :" + " " * 100_000 + "x",
    "numbers": "12 " * 33_000,
    "dates": "01/01/2021 à 12h00 " * 5_000,
    "sentences": (PATTERN_1 + " ") * 800,
    "connectives": "au lieu de reportée lire → " * 4_000,
    "weekdays": "lundi 1er " * 10_000,
    "hours": "01/01/2021 " + "1 h " * 25_000,
    "separators": "1.2.3.4.5-6-7/8/9" * 6_000,
    "iso": "2021-01-01T" * 9_000,
    "lines": "01/01/2021 au lieu de 02/01/2021 au lieu de 03/01/2021\n" * 1_800,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_100kb_input_finishes_well_under_a_second(text: str) -> None:
    assert len(text) >= 90_000
    began = time.perf_counter()
    interpret(text, field_hint="tender_deadline")
    find_moments(text)
    field_for_label(text)
    assert time.perf_counter() - began < 1.0


# ---------------------------------------------------------------- the real seed


def test_seed_description_des_modifications_gives_the_two_amendments() -> None:
    lines = seeds_path("000_ebd4ca7beefc5e73.txt").read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if line.startswith("**Description des modifications**")]
    amendments = interpret(line, lot="LOT-0001")
    assert changes(amendments) == PATTERN_3_CHANGES
    assert same_moment(amendments[0].new, winter(2026, 2, 24, 12))
    assert all(a.lot == "LOT-0001" for a in amendments)


# ---------------------------------------------------------------- beyond dates: values, durations, URLs, status, lots


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("659,764 Euro", Decimal("659764")),
        ("12,000,000 Euro", Decimal("12000000")),
        ("90 000 euros HT", Decimal("90000")),
        ("3 000 000 euros ttc", Decimal("3000000")),
        ("72 millions d'euros H.T.", Decimal("72000000")),
        ("1 234,56 €", Decimal("1234.56")),
        ("1.234.567,89 €", Decimal("1234567.89")),
        ("970 000euro(s)", Decimal("970000")),
        ("1,5 million d'euros", Decimal("1500000")),
    ],
)
def test_amount_conventions(text: str, amount: Decimal) -> None:
    assert parse_amount_text(text) == amount


@pytest.mark.parametrize("text", ["1,234,56 €", "12 mois", "lot 3", "2021", "1 234,567 €"])
def test_ambiguous_or_no_amount(text: str) -> None:
    assert parse_amount_text(text) is None


@pytest.mark.parametrize(
    ("text", "duration"),
    [("12 mois", "P12M"), ("durée du marché : 48 mois", "P48M"), ("4 ans", "P4Y"), ("Durée en mois : 44", "P44M")],
)
def test_durations(text: str, duration: str) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize(
    ("text", "stated", "expected"),
    [
        ("Valeur estimée : 659,764 Euro", True, [("estimated_value", None, Decimal("659764"))]),
        ("La valeur estimée est portée à 90 000 euros HT", False, [("estimated_value", None, Decimal("90000"))]),
        ("Montant maximum : 72 millions d'euros H.T.", True, [("max_value", None, Decimal("72000000"))]),
        ("La durée du marché : 48 mois", True, [("duration", None, "P48M")]),
        ("Au lieu de 12 mois, lire 24 mois pour la durée du marché", False, [("duration", "P12M", "P24M")]),
        ("La procédure est déclarée sans suite.", False, [("status", None, "cancelled")]),
        ("Le lot n° 2 est déclaré infructueux.", False, [("status", None, "unsuccessful")]),
        (
            "Le DCE est disponible à la nouvelle adresse https://dce.example.fr.",
            False,
            [("documents_url", None, "https://dce.example.fr")],
        ),
        ("Adresse de dépôt : https://depot.example.fr", True, [("submission_url", None, "https://depot.example.fr")]),
        (
            "La date limite de réception des offres et d'ouverture des plis reportées au 12/03/2021 à 12h00.",
            False,
            [("tender_deadline", None, winter(2021, 3, 12, 12)), ("opening_date", None, winter(2021, 3, 12, 12))],
        ),
    ],
    ids=[
        "value",
        "value-portee",
        "max",
        "duration",
        "duration-pair",
        "sans-suite",
        "infructueux",
        "dce",
        "depot",
        "two-fields",
    ],
)
def test_typed_beyond_dates(text: str, stated: bool, expected: list[tuple[str, object, object]]) -> None:
    assert changes(interpret(text, stated=stated)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "La procédure pourra être déclarée sans suite.",  # a possibility
        "Le lot 3 avait été déclaré infructueux lors de la précédente consultation.",
        "Ce plan annule et remplace le plan indice B.",
        "Le montant du chiffre d'affaires exigé est de 90 000 euros.",
        "La pénalité est de 3 000 euros par jour.",
        "Durée de validité des offres : 120 jours.",
        "La durée du marché est prolongée de 6 mois.",  # relative, not the new duration
        "Le règlement de consultation est disponible sur https://x.example.fr.",  # no change said
        "Le lien vers le profil acheteur est corrigé : https://x.example.fr",  # the buyer's site
        "Valeur estimée : 1,234,56 €",
    ],
)
def test_untyped_beyond_dates(text: str) -> None:
    assert interpret(text, stated=True) == []


def test_lots_named_in_the_text() -> None:
    assert lots_in("lots 1, 2, 3, 4 et 9 ; lot no18 ; Lot 06 - Electricité ; LOT-0001") == [
        "1", "2", "3", "4", "9", "18", "6", "LOT-0001"
    ]  # fmt: skip
    (amendment,) = interpret("La date limite de réception des offres du lot 3 est reportée au 12/03/2021.")
    assert amendment.lot == "3"
    assert [a.lot for a in interpret("Les lots 1 et 2 sont déclarés infructueux.")] == ["1", "2"]


@pytest.mark.parametrize("text", [("90 000 " * 15_000), ("https://a.fr/" + "x" * 100_000), ("lot 1, " * 15_000)])
def test_hostile_values_urls_lots_stay_fast(text: str) -> None:
    began = time.perf_counter()
    interpret(text, field_hint="estimated_value", stated=True)
    assert time.perf_counter() - began < 1.0
