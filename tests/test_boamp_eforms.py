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
