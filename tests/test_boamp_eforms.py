"""BOAMP's eForms era: DILA flux XML carrying an eForms notice (UBL rebased on ``urn:boamp:``), and a
``MODIFICATION`` (an eForms change notice published through BOAMP, a full restatement) linked to its
original by the procedure UUID. The eForms bodies are the SDK examples of the corpus, wrapped at test
time in the DILA envelope."""

from __future__ import annotations

import re

import pytest

from tests import corpus_path
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.parse import parse_document
from tracker.parse.base import XML
from tracker.pipeline import ingest_documents

pytestmark = pytest.mark.corpus


def dila(idweb: str, nature: str, statut: str, sdk_file: str, published: str, previous: str | None = None) -> bytes:
    body = corpus_path("eforms_sdk_examples", sdk_file).read_text(encoding="utf-8")
    body = re.sub(r"<\?xml[^>]*\?>", "", body).replace(
        "urn:oasis:names:specification:ubl:schema:xsd:", "urn:boamp:names:specification:ubl:schema:xsd:"
    )
    anterieur = f"<ANNONCE_ANTERIEUR><IDWEB>{previous}</IDWEB></ANNONCE_ANTERIEUR>" if previous else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<jo:ann xmlns:jo="http://boamp.journal-officiel.gouv.fr/XML/3.2.5">
  <DONNEES><EFORMS>{body}</EFORMS></DONNEES>
  <GESTION><REFERENCE><IDWEB>{idweb}</IDWEB><TYPE_AVIS><FAMILLE><JOUE/></FAMILLE>
    <NATURE><{nature}/></NATURE><STATUT><{statut}/></STATUT></TYPE_AVIS>{anterieur}</REFERENCE>
  <INDEXATION><SCHEMA>3.2.5</SCHEMA><DATE_PUBLICATION>{published}</DATE_PUBLICATION></INDEXATION></GESTION>
</jo:ann>""".encode()


def test_dila_eforms_notice_is_read_through_the_rebased_namespaces():
    (snap,) = parse_document(
        Document("boamp", "x.xml", dila("26-1", "APPEL_OFFRE", "INITIAL", "cn_24_open.xml", "2020-02-28"), XML)
    )
    assert (snap.notice_id, snap.kind) == ("26-1", "initial")
    assert ("idweb", "26-1") in snap.identifiers
    assert any(scheme == "procedure_uuid" for scheme, _ in snap.identifiers)
    assert snap.buyer == "Renfrewshire Council"
    lot = next(iter(snap.lots.values()))
    assert lot["tender_deadline"].isoformat().startswith("2020-04-03T12:00")


def test_modification_restates_and_is_diffed_against_its_original(engine):
    docs = [
        Document(
            "boamp",
            "modif.xml",
            dila("26-2", "MODIFICATION", "INITIAL", "change-cn_24_open_dates.xml", "2020-04-17"),
            XML,
        ),
        Document("boamp", "initial.xml", dila("26-1", "APPEL_OFFRE", "INITIAL", "cn_24_open.xml", "2020-02-28"), XML),
    ]
    ingest_documents(engine, docs, batch_size=1)  # the change first: it waits for its original
    with session_scope(engine) as session:
        h = history(session, find_procedure(session, "26-2"))
    assert [v["notice_id"] for v in h["versions"]] == ["26-1", "26-2"]
    assert h["versions"][1]["kind"] == "change"
    moved = {(c["field"], c["lot"]): c for c in h["versions"][1]["changes"]}
    deadline = next(c for (field, _lot), c in moved.items() if field == "tender_deadline")
    assert deadline["old"].startswith("2020-04-03T12:00") and deadline["new"].startswith("2020-06-12T12:00")
    assert deadline["text"].endswith("(+70 jours)")
    assert any(field == "opening_date" for field, _ in moved)


# ---------------------------------------------------------------- BOAMP awards: the eForms award fields

CHAINS = ("boamp_ods_api", "chains")


def _ingest_chain(engine, name: str, on_versions=None) -> None:
    from tracker.reader import documents_from_file

    ingest_documents(engine, documents_from_file(corpus_path(*CHAINS, name)), on_versions=on_versions)


def _messages(engine, version_ids: list[int], follow: str) -> list[str]:
    from tracker.match import Match
    from tracker.notify.render import FORMATS, render_message
    from tracker.outbox import version_event
    from tracker.subscribers import Subscriber

    out = []
    with session_scope(engine) as session:
        for vid in version_ids:
            event = version_event(session, vid)
            assert event is not None
            match = Match(
                Subscriber(name="s", urls=("json://127.0.0.1/x",), follow=(follow,)),
                list(event.changes),
                ["all"],
                False,
            )
            out += [render_message(event, match, fmt=fmt).body for fmt in FORMATS]
    return out


def test_fnsimple_attribution_names_its_winner_and_amount(engine):
    notified: list[int] = []
    _ingest_chain(engine, "chain_24-69353_attribution_24-89736.json", on_versions=notified.extend)
    with session_scope(engine) as session:
        h = history(session, find_procedure(session, "24-89736"))
    award = h["versions"][-1]
    assert (award["notice_id"], award["kind"]) == ("24-89736", "award")
    changes = {c["field"]: c for c in award["changes"]}
    assert changes["award_winner"]["new"] == ["SMA NETAGIS"]
    assert changes["award_value"]["new"] == [89076]
    assert changes["award_winner"]["lot"] is None
    assert "89 076 euro(s) HT" in changes["award_value"]["evidence"]
    messages = _messages(engine, notified[-1:], "24-69353")  # the award's version
    assert messages and all("SMA NETAGIS" in m for m in messages)


def test_v230_attribution_sans_suite_is_no_award(engine):
    """21-164228 declares its only lot "sans suite": no winner to show, the procedure is cancelled."""
    _ingest_chain(engine, "chain_21-64504_attribution_21-164228.json")
    with session_scope(engine) as session:
        h = history(session, find_procedure(session, "21-64504"))
    last = h["versions"][-1]
    assert last["notice_id"] == "21-164228" and last["kind"] == "other"
    assert [(c["field"], c["new"]) for c in last["changes"]] == [("status", "cancelled")]


V230_DONNEES = {
    "OBJET": {"LOTS": {"LOT": [{"NUM": "1"}, {"NUM": "2"}, {"NUM": "3"}]}},
    "ATTRIBUTION": {
        "DECISION": [
            {
                "NUM_LOT": "1",
                "ATTRIBUE": "",
                "TITULAIRE": [{"DENOMINATION": "Alpha SAS"}, {"DENOMINATION": "Beta SARL"}],
                "RENSEIGNEMENT": {"MONTANT": {"@DEVISE": "EUR", "#text": "250000"}},
            },
            {"NUM_LOT": "2", "INFRUCTUEUX": ""},
            {"NUM_LOT": "3", "ATTRIBUE": "", "TITULAIRE": {"DENOMINATION": "Gamma"}},
        ]
    },
}


def test_v230_decisions_per_lot():
    from decimal import Decimal

    from tracker.parse.boamp import v230_award_amendments

    got = [(a.field, a.lot, a.new) for a in v230_award_amendments(V230_DONNEES)]
    assert got == [
        ("award_winner", "1", ["Alpha SAS", "Beta SARL"]),
        ("award_value", "1", [Decimal("250000")]),
        ("status", "2", "unsuccessful"),
        ("award_winner", "3", ["Gamma"]),  # no amount stated: none typed
    ]


@pytest.mark.parametrize(
    ("text", "winner", "value"),
    [
        (
            "Le marché a été attribué à l'entreprise SMA NETAGIS - 44 700 ORVAULT pour un montant de 89 076 euro(s)",
            ["SMA NETAGIS"],
            ["89076"],
        ),
        (
            "L'accord-cadre a été attribué le 13/03/2025 à la société DRI - DIGITAL RURAL INFORMATIQUE.\n"
            "La valeur finale de l'accord-cadre est de 78 140 euros HT.",
            ["DRI - DIGITAL RURAL INFORMATIQUE"],
            ["78140"],
        ),
        (
            "Attribué à la société ANTEA FRANCE pour un montant annuel de 50 000 EUR HT, puis de 30 000 EUR HT.",
            ["ANTEA FRANCE"],
            [],
        ),  # two amounts: none typed
        ("Lot 1 attribué à X pour 10 000 euros. Lot 2 attribué à Y pour 20 000 euros.", None, None),  # two winners
        ("Voir le rapport d'analyse des offres.", None, None),
    ],
)
def test_attribution_text_is_typed_only_when_unambiguous(text, winner, value):
    from decimal import Decimal

    from tracker.parse.boamp import text_award_amendments

    got = {a.field: a.new for a in text_award_amendments(text, "attributionMarche")}
    assert got.get("award_winner") == winner
    assert got.get("award_value", [] if winner else None) == (
        [Decimal(v) for v in value] if value is not None else None
    )


def test_ods_eforms_award_carries_the_eforms_award_fields():
    from tracker.reader import documents_from_file

    path = corpus_path("boamp_ods_eforms_era", "stage_2025_p001_first_record_24-145775_EFORMS_ATTRIBUTION.json")
    (snap,) = parse_document(next(iter(documents_from_file(path))))
    fields = {(a.field, a.lot): a.new for a in snap.amendments}
    assert fields[("award_winner", "LOT-0000")] == ["TSO CATENAIRES"]
    assert ("award_value", "LOT-0000") in fields
