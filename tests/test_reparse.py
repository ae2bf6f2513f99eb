"""``tracker reparse``: stored notices re-derived from their kept raw documents with today's parsers.

The versions "stored before" are made by ingesting with the former reading of BOAMP date-times (the
``+01:00`` label kept as an offset), then the documents are re-read with the wall-time rule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from tests import corpus_path
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.models import Notice, Version
from tracker.parse import boamp, frtext
from tracker.pipeline import ingest_documents, reparse_documents
from tracker.reader import ODS_RECORD, documents_from_file, record_bytes
from tracker.values import parse_iso

CHAIN = ("boamp_ods_api", "chains", "chain_16-40880_avis_rectifie_16-58728.json")


@pytest.fixture
def former_reading(monkeypatch):
    """BOAMP date-times read as before the wall-time rule: the stated offset kept."""

    def kept_as_stated(text: str, *, zone: Any = None) -> Any:
        return parse_iso(text)

    monkeypatch.setattr(boamp, "parse_boamp_moment", kept_as_stated)
    monkeypatch.setattr(frtext, "parse_boamp_moment", kept_as_stated)
    return monkeypatch


def deadline_change(engine: Engine, ident: str) -> tuple[str, str]:
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        assert proc is not None
        h = history(session, proc)
    change = next(c for v in h["versions"] for c in v["changes"] if c["field"] == "tender_deadline")
    return change["old"], change["new"]


@pytest.mark.corpus
def test_reparse_gives_stored_versions_the_wall_time_offsets(engine, former_reading):
    ingest_documents(engine, documents_from_file(corpus_path(*CHAIN)))
    assert deadline_change(engine, "16-40880") == ("2016-04-25T12:00+01:00", "2016-04-29T12:00+01:00")
    former_reading.undo()
    calls: list[list[int]] = []
    seen: list[tuple[int, int]] = []
    stats = reparse_documents(engine, on_versions=calls.append, progress=lambda d, t: seen.append((d, t)))
    assert deadline_change(engine, "16-40880") == ("2016-04-25T12:00+02:00", "2016-04-29T12:00+02:00")
    assert stats.documents == 2 and stats.stored == 2 and stats.versions_updated == 2
    assert sorted(i for call in calls for i in call) == sorted(stats.version_ids) and len(stats.version_ids) == 2
    assert seen == [(2, 2)]
    # read the same way twice: nothing changes, nobody is called
    calls.clear()
    again = reparse_documents(engine, on_versions=calls.append)
    assert (again.documents, again.versions_updated, again.version_ids, calls) == (2, 0, [], [])


@pytest.mark.corpus
def test_reparse_of_one_source_only(engine):
    ingest_documents(engine, documents_from_file(corpus_path(*CHAIN)))
    assert reparse_documents(engine, source="ted").documents == 0
    assert reparse_documents(engine, source="boamp").documents == 2


def _record(idweb: str, donnees: dict[str, Any], **flat: Any) -> Document:
    gestion = {"REFERENCE": {"IDWEB": idweb}, "INDEXATION": {"DATE_PUBLICATION": "2099-05-01"}}
    rec = {"idweb": idweb, "nature": "APPEL_OFFRE", "etat": "INITIAL", "dateparution": "2099-05-01"}
    rec |= {"gestion": json.dumps(gestion), "donnees": json.dumps(donnees), **flat}
    return Document("boamp", f"test#{idweb}", record_bytes(rec), ODS_RECORD)


def _told(engine: Engine) -> None:
    """What a fan-out records: the versions' changes were told to subscribers."""
    with session_scope(engine) as session:
        for vid, changes in session.execute(select(Version.id, Version.changes)).all():
            session.execute(
                update(Version).where(Version.id == vid).values(told=changes, notified_at=datetime.now(UTC))
            )


def test_a_deadline_ahead_told_with_the_former_offset_owes_one_correction(engine, former_reading):
    original = _record("99-1", {"CONDITION_DELAI": {"RECEPT_OFFRES": "2099-06-10T12:00:00+01:00"}})
    rectif = _record(
        "99-2",
        {
            "RECTIF": {
                "MODIFICATION": {
                    "RUB_INIT": "Date limite de réception des offres",
                    "TXT_INIT": "2099-06-10T12:00:00+01:00",
                    "LIRE": "2099-06-17T12:00:00+01:00",
                }
            }
        },
        nature="RECTIFICATIF",
        etat="RECTIFICATIF",
        annonce_lie=["99-1"],
    )
    ingest_documents(engine, [original, rectif], on_versions=lambda ids: None)
    assert deadline_change(engine, "99-1") == ("2099-06-10T12:00+01:00", "2099-06-17T12:00+01:00")
    _told(engine)
    former_reading.undo()
    calls: list[list[int]] = []
    reparse_documents(engine, on_versions=calls.append)
    assert deadline_change(engine, "99-1") == ("2099-06-10T12:00+02:00", "2099-06-17T12:00+02:00")
    owed = [i for call in calls for i in call]
    assert owed, "the versions whose deadline moved are handed to the notification stage"
    with session_scope(engine) as session:
        corrected = [
            (nid, c)
            for nid, c in session.execute(
                select(Notice.notice_id, Version.corrections).join(Notice, Notice.id == Version.notice_pk)
            )
            if c
        ]
    facts = [f for _, c in corrected for f in c]
    assert {(f["told"], f["now"]) for f in facts if f["notice_id"] == "99-2"} == {
        ("2099-06-17T12:00+01:00", "2099-06-17T12:00+02:00")
    }


@pytest.mark.corpus
def test_past_deadlines_are_set_right_silently(engine, former_reading):
    ingest_documents(engine, documents_from_file(corpus_path(*CHAIN)), on_versions=lambda ids: None)
    _told(engine)
    former_reading.undo()
    reparse_documents(engine, on_versions=lambda ids: None)
    with session_scope(engine) as session:
        assert not [c for c in session.execute(select(Version.corrections)).scalars() if c]
    assert deadline_change(engine, "16-40880") == ("2016-04-25T12:00+02:00", "2016-04-29T12:00+02:00")


@pytest.mark.corpus
def test_reparse_command(tracker_cli):
    path = corpus_path(*CHAIN)
    assert tracker_cli("ingest", str(path)).exit_code == 0
    result = tracker_cli("reparse", "--source", "boamp")
    assert result.exit_code == 0, result.output
    assert "2 document(s) re-read: 2 stored, 0 quarantined" in result.output
    assert "reparse: 2/2 document(s)" in result.output  # progress on stderr (mixed in by the test runner)
