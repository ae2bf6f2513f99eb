"""Nothing missed: every amendment record of the corpus, in every folder, yields a version with a change.

Every file of the shared corpus goes through the reader and ``ingest`` as ``tracker ingest`` reads it (files no
parser reads are skipped, as the command skips them), and so do the January-2021 rectificatifs rebuilt from
DILA's flattened CSV as v230 records. Then every amendment notice (rectificatif, avis rectifié, modification,
change notice, cancellation, or any notice stating amendments) must own a live version with at least one change.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests import corpus_path, shared_dir
from tests.legacy_rectif import records_from_csv
from tracker.consolidate import is_amendment
from tracker.db import session_scope
from tracker.documents import Document
from tracker.models import Notice, Version
from tracker.parse import parse_item
from tracker.parse.base import ODS_RECORD, ParsedItem
from tracker.pipeline import ingest_documents
from tracker.reader import InputError, documents_from_file, iter_files, record_bytes

pytestmark = pytest.mark.corpus

LEGACY_CSV = ("boamp_legacy_rectif_text", "aufilduboamp_2021-01_D_09_rectif.csv")


def corpus_documents() -> Iterator[Document | ParsedItem]:
    root = corpus_path()
    for path in iter_files([root]):
        try:
            yield from documents_from_file(path)
        except InputError:
            continue  # not a notice (notes, statistics, code lists, pages no parser reads yet)


def legacy_documents() -> list[Document]:
    return [
        Document("boamp", f"legacy-2021-01#{r['idweb']}", record_bytes(r), ODS_RECORD)
        for r in records_from_csv(corpus_path(*LEGACY_CSV))
    ]


def amendments_without_change(engine: Engine) -> list[str]:
    missing = []
    with session_scope(engine) as session:
        rows = session.execute(select(Notice.id, Notice.source, Notice.notice_id, Notice.record)).all()
        live: dict[int, Any] = {}
        for npk, changes in session.execute(
            select(Version.notice_pk, Version.changes).where(Version.superseded_at.is_(None))
        ):
            live[npk] = changes
    for pk, source, notice_id, record in rows:
        if is_amendment(record) and not live.get(pk):
            missing.append(f"{source} {notice_id} ({record.get('kind')})")
    return missing


def test_every_amendment_of_the_corpus_makes_a_version_with_a_change(sqlite_engine: Engine) -> None:
    assert shared_dir().exists()
    stats = ingest_documents(sqlite_engine, itertools.chain(corpus_documents(), legacy_documents()))
    assert stats.notices > 1000
    with session_scope(sqlite_engine) as session:
        amendments = sum(1 for (rec,) in session.execute(select(Notice.record)) if is_amendment(rec))
    assert amendments > 800, amendments  # the 841 rebuilt January-2021 rectificatifs and the corpus's own
    assert amendments_without_change(sqlite_engine) == []


def test_amendments_make_changes_whatever_the_order_of_arrival(sqlite_engine: Engine) -> None:
    """The rebuilt rectificatifs first (their originals are not in the corpus), then everything else."""
    ingest_documents(sqlite_engine, legacy_documents(), batch_size=97)
    ingest_documents(sqlite_engine, corpus_documents(), batch_size=53)
    assert amendments_without_change(sqlite_engine) == []


@pytest.mark.parametrize(
    "shape",
    [
        {"INFO_COMPLEMENTAIRE": "Le dossier est complété par une annexe."},
        {"MODIFICATION": {"RUB_INIT": "IV.2.2)"}},
        {"MODIFICATION": [{"RUB_INIT": "II.1.4", "UNKNOWN": {"X": "y"}}, "texte libre"]},
        {"MODIFICATION": "La date limite est modifiée."},
        {},
        "rectificatif en texte",
    ],
    ids=["info", "section-only", "unknown-child-and-string", "string", "empty", "rectif-is-a-string"],
)
def test_a_rectificatif_of_any_shape_makes_a_change(sqlite_engine: Engine, shape: object) -> None:
    record = {
        "idweb": "21-99999",
        "nature": "RECTIFICATIF",
        "etat": "RECTIFICATIF",
        "dateparution": "2021-01-15",
        "annonce_lie": ["20-99998"],
        "gestion": "{}",
        "donnees": json.dumps({"RECTIF": shape}),
    }
    item = parse_item(Document("boamp", "shape", record_bytes(record), ODS_RECORD))
    assert item.error is None, item.error
    ingest_documents(sqlite_engine, [item])
    assert amendments_without_change(sqlite_engine) == []
    with session_scope(sqlite_engine) as session:
        (changes,) = session.execute(select(Version.changes)).one()
    assert changes and all(c["field"] for c in changes)


def test_the_corpus_folder_is_read_whole() -> None:
    """Guard: the walk above covers every folder of the corpus."""
    folders = {p.name for p in Path(corpus_path()).iterdir() if p.is_dir()}
    assert {
        "boamp_ods_api",
        "boamp_dila_xml",
        "boamp_dila_flux_2026",
        "eforms_sdk_examples",
        "ted_eforms_real",
    } <= folders


def _eforms(name: str) -> bytes:
    return corpus_path("eforms_sdk_examples", name).read_bytes()


def _changes_of(engine: Engine, notice_id_part: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Notice.notice_id, Version.changes)
            .join(Version, Version.notice_pk == Notice.id)
            .where(Version.superseded_at.is_(None))
        ).all()
    found = [changes for notice_id, changes in rows if notice_id_part in notice_id]
    assert found, f"no live version of {notice_id_part}"
    return found[0]


@pytest.mark.parametrize(
    "keep",
    ["descriptions", "reason", "documents"],
)
def test_an_eforms_change_notice_that_changes_nothing_but_says_why_makes_a_change(
    sqlite_engine: Engine, keep: str
) -> None:
    """A change notice whose body restates the original unchanged, and whose only content is a description
    (BT-141), a reason (BT-140/BT-762) or the documents-changed flag (BT-718/BT-719), still reaches its
    subscribers."""
    original = _eforms("cn_24_open.xml")
    change = _eforms("change-cn_24_open_dates.xml").decode()
    change = change.replace("2020-06-12+01:00", "2020-04-03+01:00")  # the moved dates moved back: no diff
    changes_block = change[change.index("<efac:Changes>") : change.index("</efac:Changes>")]
    kept = changes_block
    if keep != "descriptions":
        kept = re.sub(r"<efac:Change>.*?</efac:Change>", "", kept, flags=re.DOTALL)
    if keep != "reason":
        kept = re.sub(r"<efbc:ReasonDescription[^>]*>.*?</efbc:ReasonDescription>", "", kept, flags=re.DOTALL)
    if keep == "documents":
        kept = kept.replace(
            "<efac:ChangeReason>",
            "<efac:Change><efbc:ProcurementDocumentsChangeIndicator>true</efbc:ProcurementDocumentsChangeIndicator>"
            "<efbc:ProcurementDocumentsChangeDate>2020-04-14+01:00</efbc:ProcurementDocumentsChangeDate>"
            "</efac:Change><efac:ChangeReason>",
        )
    change = change.replace(changes_block, kept)
    docs = [
        Document("ted", "cn_24_open.xml", original, "application/xml"),
        Document("ted", f"change-{keep}.xml", change.encode(), "application/xml"),
    ]
    stats = ingest_documents(sqlite_engine, docs)
    assert stats.quarantined == 0
    assert amendments_without_change(sqlite_engine) == []
    changes = _changes_of(sqlite_engine, "71397268")  # the change notice's id
    assert changes, changes
    said = json.dumps(changes, ensure_ascii=False)
    expected = {"descriptions": "Time limit for receipt", "reason": "Covid-19", "documents": "2020-04-14"}[keep]
    assert expected in said, said
