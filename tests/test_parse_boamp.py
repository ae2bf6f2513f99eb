"""BOAMP parsing on small hand-written records (the corpus tests cover the real ones)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.parse import boamp, parse_item
from tracker.parse.xmltree import xml_to_dict

PLUS1 = timezone(timedelta(hours=1))
PLUS2 = timezone(timedelta(hours=2))


def ods(idweb: str, donnees: dict, *, nature="APPEL_OFFRE", etat="INITIAL", **flat) -> dict:
    gestion = {"REFERENCE": {"IDWEB": idweb}, "INDEXATION": {"DATE_PUBLICATION": "2021-01-17"}}
    return {
        "idweb": idweb,
        "nature": nature,
        "etat": etat,
        "dateparution": "2021-01-17",
        "gestion": json.dumps(gestion),
        "donnees": json.dumps(donnees),
        **flat,
    }


def test_v230_initial_fields():
    rec = ods(
        "20-1",
        {
            "IDENTITE": {
                "DENOMINATION": "Ville",
                "URL_DOCUMENT": "https://docs.example",
                "ADJUDICATEUR_NUTS": "FRH04",
            },
            "OBJET": {
                "TITRE_MARCHE": "Titre",
                "CPV": {"PRINCIPAL": "72222300"},
                "CARACTERISTIQUES": {"VALEUR_TOTALE": {"@DEVISE": "EUR", "#text": "320000.00"}},
                "DUREE_DELAI": {"DUREE_MOIS": "48"},
            },
            "CONDITION_DELAI": {"RECEPT_OFFRES": "2021-01-27T12:00:00+01:00"},
            "CONDITION_ADMINISTRATIVE": {"DATE_OUVERTURE_OFFRES": "2021-01-27"},
        },
    )
    snap = boamp.parse_ods_record(rec)
    assert snap.kind == "initial" and snap.restatement
    assert snap.fields["tender_deadline"] == datetime(2021, 1, 27, 12, 0, tzinfo=PLUS1)
    assert snap.fields["opening_date"] == date(2021, 1, 27)
    assert snap.fields["estimated_value"] == 320000
    assert snap.fields["duration"] == "P48M"
    assert snap.fields["documents_url"] == "https://docs.example"
    assert (snap.title, snap.buyer, snap.cpv, snap.nuts) == ("Titre", "Ville", ["72222300"], ["FRH04"])


def test_rectificatif_statements_of_every_form():
    rec = ods(
        "21-2",
        {
            "RECTIF": {
                "MODIFICATION": [
                    {"RUB_INIT": "IV.2.2)", "DATE": {"INIT": "2021-01-27", "LIRE": "2021-02-03"}},
                    {"RUB_INIT": "IV.2.7)", "TEXTE": {"INIT": "27/01/2021 à 14 H 00", "LIRE": "03/02/2021 à 14 H 00"}},
                    {
                        "RUB_INIT": "Date limite des demandes de participation :",
                        "TXT_INIT": "2020-04-21T16:00:00+01:00",
                        "LIRE": "2020-05-04T16:00:00+01:00",
                    },
                    {"RUB_INIT": "II.2.14", "LOT": "3", "TEXTE": {"INIT": "Rien", "LIRE": "Visite obligatoire"}},
                ]
            }
        },
        nature="RECTIFICATIF",
        etat="RECTIFICATIF",
        annonce_lie=["20-1"],
    )
    snap = boamp.parse_ods_record(rec)
    assert snap.kind == "rectificatif" and not snap.restatement
    assert snap.links == [("idweb", "20-1")]
    by_field = {a.field: a for a in snap.amendments}
    assert (by_field["tender_deadline"].old, by_field["tender_deadline"].new) == (date(2021, 1, 27), date(2021, 2, 3))
    assert by_field["opening_date"].new == datetime(2021, 2, 3, 14, 0, tzinfo=PLUS1)
    assert by_field["request_deadline"].old == datetime(2020, 4, 21, 16, 0, tzinfo=PLUS2)  # April: summer time
    assert by_field["text"].lot == "3" and by_field["text"].new == "Visite obligatoire"


@pytest.mark.parametrize("dirty", ["2020-12-25", "20-12-25", "", None, "n/a", "<b>21-1</b>"])
def test_dirty_links_never_become_identifiers(dirty):
    rec = ods("21-3", {"RECTIF": {}}, nature="RECTIFICATIF", etat="RECTIFICATIF", annonce_lie=[dirty])
    assert boamp.parse_ods_record(rec).links == []


def test_legacy_2006_links_are_not_valid_json_alone():
    value = '{"IDWEB": "BWP06173060423D", "DATEPARUTION": "24 juin 2006"},{"IDWEB": "BWP06173080211A"}'
    rec = ods(
        "BWP06184060013B",
        {"INFO": {}},
        etat="RECTIFICATIF",
        annonces_anterieures_schema_v110=value,
        source_schema="Boamp_v110.xsd",
    )
    snap = boamp.parse_ods_record(rec)
    assert snap.links == [("idweb", "BWP06173060423D"), ("idweb", "BWP06173080211A")]


def test_cancellation_and_award_kinds():
    assert boamp.notice_kind("APPEL_OFFRE", "ANNULATION") == "cancellation"
    assert boamp.notice_kind("ATTRIBUTION", "INITIAL") == "award"
    assert boamp.notice_kind("MODIFICATION", "INITIAL") == "change"
    assert boamp.notice_kind("APPEL_OFFRE", "RECTIFICATIF") == "rectificatif"
    assert boamp.notice_kind("INTENTION_CONCLURE", "INITIAL") == "other"


MAPA_RECTIF = """<?xml version="1.0" encoding="UTF-8"?>
<jo:ann xmlns:jo="http://boamp.journal-officiel.gouv.fr/XML/3.2.5">
  <DONNEES><MAPA>
    <organisme><acheteurPublic>COMMUNE D&amp;#039;ICI</acheteurPublic></organisme>
    <rectificatif>
      <avisInitial><idWeb>26-100</idWeb></avisInitial>
      <description><objet>Travaux</objet></description>
      <infosRectif><ajouter>La date limite de réception des offres, prévue le jeudi 12 mars 2026 avant 16h00,
      est reportée au jeudi 19 mars 2026 avant 16h00. Une visite est organisée.</ajouter></infosRectif>
    </rectificatif>
  </MAPA></DONNEES>
  <GESTION><REFERENCE><IDWEB>26-101</IDWEB><TYPE_AVIS><NATURE><RECTIFICATIF/></NATURE>
  <STATUT><RECTIFICATIF/></STATUT></TYPE_AVIS></REFERENCE>
  <INDEXATION><DATE_PUBLICATION>2026-03-01</DATE_PUBLICATION></INDEXATION></GESTION>
</jo:ann>"""


def test_dila_325_rectificatif_free_text():
    root, tree = xml_to_dict(MAPA_RECTIF.encode())
    snap = boamp.parse_dila_xml(root, tree)
    assert (snap.notice_id, snap.kind, snap.published) == ("26-101", "rectificatif", date(2026, 3, 1))
    assert snap.links == [("idweb", "26-100")]
    assert snap.buyer == "COMMUNE D'ICI"
    deadline = next(a for a in snap.amendments if a.field == "tender_deadline")
    assert deadline.old.isoformat() == "2026-03-12T16:00:00+01:00"
    assert deadline.new.isoformat() == "2026-03-19T16:00:00+01:00"


@pytest.mark.parametrize(
    "content, reason",
    [
        (b'{"idweb": "x"}', "no valid idweb"),
        (b'{"idweb": "21-1", "donnees": "{not json"}', "donnees is not valid JSON"),
        (b"[1, 2", "invalid JSON"),
    ],
)
def test_bad_records_are_quarantined_with_a_reason(content, reason):
    item = parse_item(Document("boamp", "f.json#1", content, "application/vnd.opendatasoft.record+json"))
    assert item.error and reason in item.error


def test_xml_with_entities_is_refused():
    evil = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><ANNONCE>&x;</ANNONCE>'
    with pytest.raises(ParseError):
        xml_to_dict(evil)


def test_parse_does_not_mutate_its_input():
    rec = ods(
        "21-2",
        {"RECTIF": {"MODIFICATION": {"RUB_INIT": "IV.2.2)", "DATE": {"INIT": "2021-01-27", "LIRE": "2021-02-03"}}}},
    )
    before = json.dumps(rec, sort_keys=True)
    boamp.parse_ods_record(rec)
    assert json.dumps(rec, sort_keys=True) == before


# ------------------------------------------------------------------ wall times in the buyer's zone


def v230_deadline(idweb: str, value: str, *, gestion_extra: dict | None = None, identite: dict | None = None, **flat):
    rec = ods(idweb, {"IDENTITE": identite or {}, "CONDITION_DELAI": {"RECEPT_OFFRES": value}}, **flat)
    if gestion_extra:
        gestion = json.loads(rec["gestion"])
        gestion["INDEXATION"].update(gestion_extra)
        rec["gestion"] = json.dumps(gestion)
    return boamp.parse_ods_record(rec).fields["tender_deadline"]


def test_a_legacy_summer_deadline_is_paris_summer_time():
    assert v230_deadline("16-1", "2016-04-25T12:00:00+01:00").isoformat() == "2016-04-25T12:00:00+02:00"
    assert v230_deadline("16-2", "2016-12-05T12:00:00+01:00").isoformat() == "2016-12-05T12:00:00+01:00"
    assert v230_deadline("16-3", "2016-04-25T12:00:00+02:00").isoformat() == "2016-04-25T12:00:00+02:00"
    assert v230_deadline("16-4", "2016-04-25T10:00:00-04:00").isoformat() == "2016-04-25T10:00:00-04:00"
    assert v230_deadline("16-5", "2016-04-25T12:00:00Z").isoformat() == "2016-04-25T12:00:00+02:00"


@pytest.mark.parametrize(
    "where, expected",
    [
        ({"code_departement": ["974"]}, "2021-06-10T12:00:00+04:00"),
        ({"code_departement": "971"}, "2021-06-10T12:00:00-04:00"),
        ({"code_departement": '["988"]'}, "2021-06-10T12:00:00+11:00"),
        ({"gestion_extra": {"DEP_PUBLICATION": "973"}}, "2021-06-10T12:00:00-03:00"),
        ({"gestion_extra": {"DEP_PUBLICATION": ["976"]}}, "2021-06-10T12:00:00+03:00"),
        ({"identite": {"CP": "97200"}}, "2021-06-10T12:00:00-04:00"),
        ({"identite": {"CP": "44000"}}, "2021-06-10T12:00:00+02:00"),
        ({"code_departement": ["44", "49"]}, "2021-06-10T12:00:00+02:00"),
        # published in Paris and Réunion: the buyer's postal code decides, else the first département
        ({"code_departement": ["75", "974"], "identite": {"CP": "97400"}}, "2021-06-10T12:00:00+04:00"),
        ({"code_departement": ["75", "974"]}, "2021-06-10T12:00:00+02:00"),
        ({"code_departement": ["974"], "identite": {"CP": "75001"}}, "2021-06-10T12:00:00+04:00"),
        ({}, "2021-06-10T12:00:00+02:00"),
    ],
)
def test_the_zone_is_the_buyers(where, expected):
    assert v230_deadline("21-9", "2021-06-10T12:00:00+01:00", **where).isoformat() == expected


def fns(idweb: str, body: dict, *, organisme: dict | None = None, **flat) -> dict:
    rec = ods(idweb, {"FNSimple": {"organisme": organisme or {"nomOfficiel": "Ville"}, "initial": body}}, **flat)
    rec["source_schema"] = "3.2.5"
    return rec


def test_325_naive_deadlines_are_wall_times():
    body = {
        "procedure": {"dateReceptionOffres": "2024-04-10T14:00:00", "dateReceptionCandidatures": "2024-01-10T14:00Z"}
    }
    snap = boamp.parse_ods_record(fns("24-1", body))
    assert snap.fields["tender_deadline"].isoformat() == "2024-04-10T14:00:00+02:00"
    assert snap.fields["request_deadline"].isoformat() == "2024-01-10T14:00:00+01:00"
    overseas = boamp.parse_ods_record(fns("24-2", body, organisme={"cp": "97490"}))
    assert overseas.fields["tender_deadline"].isoformat() == "2024-04-10T14:00:00+04:00"
    nested = boamp.parse_ods_record(fns("24-3", body, organisme={"adr": {"cp": "98714"}}))
    assert nested.fields["tender_deadline"].isoformat() == "2024-04-10T14:00:00-10:00"


def test_a_date_field_without_time_stays_a_date():
    rec = ods("21-5", {"CONDITION_ADMINISTRATIVE": {"DATE_OUVERTURE_OFFRES": "2021-06-10+01:00"}})
    assert boamp.parse_ods_record(rec).fields["opening_date"] == date(2021, 6, 10)


def test_rectificatif_statements_are_read_in_the_buyers_zone():
    rec = ods(
        "21-6",
        {
            "RECTIF": {
                "MODIFICATION": {
                    "RUB_INIT": "Date limite de réception des offres",
                    "TXT_INIT": "2021-06-10T12:00:00+01:00",
                    "LIRE": "2021-06-17T12:00:00+01:00",
                },
                "INFO_COMPLEMENTAIRE": "La date limite de remise des plis est reportée au 24/06/2021 à 12h00.",
            }
        },
        nature="RECTIFICATIF",
        etat="RECTIFICATIF",
        code_departement=["972"],
    )
    amendments = boamp.parse_ods_record(rec).amendments
    moments = {a.new.isoformat() for a in amendments if a.field == "tender_deadline"}
    assert moments == {"2021-06-17T12:00:00-04:00", "2021-06-24T12:00:00-04:00"}


def test_datelimitereponse_is_never_a_source_for_a_deadline():
    """ODS derives it (legacy values converted to UTC, 3.2.5 ones relabelled UTC): the structured value wins,
    and a record with only the flat field has no deadline."""
    flat = {"datelimitereponse": "2021-06-10T10:00:00+00:00"}
    assert v230_deadline("21-7", "2021-06-10T12:00:00+01:00", **flat).isoformat() == "2021-06-10T12:00:00+02:00"
    alone = boamp.parse_ods_record(ods("21-8", {"IDENTITE": {}}, **flat))
    assert "tender_deadline" not in alone.fields and "request_deadline" not in alone.fields
    body = {"procedure": {"dateReceptionOffres": "2024-04-10T14:00:00"}}
    snap = boamp.parse_ods_record(fns("24-4", body, datelimitereponse="2024-04-10T14:00:00+00:00"))
    assert snap.fields["tender_deadline"].isoformat() == "2024-04-10T14:00:00+02:00"


def test_no_module_reads_the_flat_datelimitereponse():
    root = Path(boamp.__file__).resolve().parents[1]
    readers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"""["']datelimitereponse["']""", path.read_text(encoding="utf-8"), re.IGNORECASE)
    ]
    assert readers == []


# the retired DILA API: epoch milliseconds are instants, written with the buyer's offset at that instant
WINTER_NOON_PARIS = 1614596400000  # 2021-03-01T11:00Z
SUMMER_NOON_PARIS = 1623319200000  # 2021-06-10T10:00Z


def dila_api(receptoffres: int, *, dep: list[str] | None = None, cp: str | None = None) -> dict:
    return {
        "gestion": {
            "reference": {
                "idweb": "20-152081",
                "typeavis": {"statut": {"initial": "<?xml version='1.0'?><INITIAL/>"}},
            },
            "indexation": {"datepublication": 1607900400000, "deppublication": dep},
        },
        "donnees": {
            "identite": {"denomination": "Commune", "cp": cp},
            "conditiondelai": {"receptoffres": receptoffres},
        },
    }


@pytest.mark.parametrize(
    "epoch, dep, cp, expected",
    [
        (WINTER_NOON_PARIS, ["13"], None, "2021-03-01T12:00:00+01:00"),
        (SUMMER_NOON_PARIS, ["13"], None, "2021-06-10T12:00:00+02:00"),
        (SUMMER_NOON_PARIS, ["974"], None, "2021-06-10T14:00:00+04:00"),
        (SUMMER_NOON_PARIS, None, "97300", "2021-06-10T07:00:00-03:00"),
        (SUMMER_NOON_PARIS, None, None, "2021-06-10T12:00:00+02:00"),
    ],
)
def test_dila_api_epochs_are_instants_in_the_buyers_offset(epoch, dep, cp, expected):
    snap = boamp.parse_dila_api_json(dila_api(epoch, dep=dep, cp=cp))
    deadline = snap.fields["tender_deadline"]
    assert deadline.isoformat() == expected
    assert deadline.timestamp() * 1000 == epoch
    assert snap.published == date(2020, 12, 14)  # DILA's day: midnight in Paris, wherever the buyer is
