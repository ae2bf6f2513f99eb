"""A large ingest may parse in a second process while the first stores: the result is the same."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from tests import corpus_path
from tests.legacy_rectif import records_from_csv
from tracker.db import session_scope
from tracker.documents import Document
from tracker.models import Notice, Version
from tracker.parse.base import ODS_RECORD
from tracker.pipeline import PARALLEL_FROM, ingest_documents
from tracker.reader import record_bytes

pytestmark = pytest.mark.corpus


def _documents() -> list[Document]:
    records = records_from_csv(corpus_path("boamp_legacy_rectif_text", "aufilduboamp_2021-01_D_09_rectif.csv"))
    return [Document("boamp", f"parallel#{r['idweb']}", record_bytes(r), ODS_RECORD) for r in records]


def _contents(engine: Engine) -> list[tuple[str, object, object]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Notice.notice_id, Version.number, Version.changes).join(Version, Version.notice_pk == Notice.id)
        ).all()
    return sorted((nid, number, changes) for nid, number, changes in rows)


def test_parsing_in_a_second_process_gives_the_same_history(sqlite_engine: Engine, tmp_path) -> None:
    from tracker.db import make_engine, upgrade

    docs = _documents()
    assert len(docs) >= PARALLEL_FROM
    parallel = make_engine(f"sqlite:///{tmp_path / 'parallel.db'}")
    upgrade(parallel)
    one = ingest_documents(sqlite_engine, docs, batch_size=PARALLEL_FROM, parse_workers=0)
    two = ingest_documents(parallel, docs, batch_size=PARALLEL_FROM, parse_workers=1)
    assert (one.stored, one.versions_created, one.quarantined) == (two.stored, two.versions_created, two.quarantined)
    assert _contents(sqlite_engine) == _contents(parallel)
    again = ingest_documents(parallel, docs, batch_size=PARALLEL_FROM, parse_workers=1)
    assert again.unchanged == len(docs) and again.stored == 0
    parallel.dispose()
