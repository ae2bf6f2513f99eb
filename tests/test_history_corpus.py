"""Acceptance of the BOAMP foundation on real data: every chain gives the right history, on SQLite and
PostgreSQL, whatever the order of ingestion."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests import corpus_path
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.models import Document as DocumentRow
from tracker.models import Notice, Quarantine, Version
from tracker.pipeline import ingest_documents
from tracker.reader import ODS_RECORD, documents_from_file, record_bytes

pytestmark = pytest.mark.corpus


def chain(name: str) -> Path:
    return corpus_path("boamp_ods_api", "chains", name)


def ingest(engine: Engine, *paths: Path, batch_size: int = 1000):
    docs = itertools.chain.from_iterable(documents_from_file(p) for p in paths)
    return ingest_documents(engine, docs, batch_size=batch_size)


def get_history(engine: Engine, ident: str, lang: str = "fr") -> dict[str, Any]:
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        assert proc is not None, f"no procedure for {ident}"
        return history(session, proc, lang=lang)


def changes_of(h: dict[str, Any], n: int) -> list[dict[str, Any]]:
    return h["versions"][n - 1]["changes"]


def typed(h: dict[str, Any], n: int, field: str) -> dict[str, Any]:
    found = [c for c in changes_of(h, n) if c["field"] == field]
    assert found, f"v{n} has no {field} change: {changes_of(h, n)}"
    return found[0]


def test_morbihan_energies_chain_has_three_versions(engine):
    ingest(engine, chain("chain_20-157376_rectif_21-6545_rectif_21-8404.json"))
    h = get_history(engine, "20-157376")
    assert [v["notice_id"] for v in h["versions"]] == ["20-157376", "21-6545", "21-8404"]
    assert [v["kind"] for v in h["versions"]] == ["initial", "rectificatif", "rectificatif"]
    deadline = typed(h, 2, "tender_deadline")
    assert (deadline["old"], deadline["new"]) == ("2021-01-27", "2021-02-03")
    assert deadline["text"] == "Date limite de réception des offres : 27/01/2021 → 03/02/2021 (+7 jours)"
    opening = typed(h, 3, "opening_date")
    assert (opening["old"], opening["new"]) == ("2021-01-27T14:00+01:00", "2021-02-03T14:00+01:00")
    assert opening["text"] == "Ouverture des offres : 27/01/2021 14:00 → 03/02/2021 14:00 (+7 jours)"
    assert h["procedure"]["buyer"] == "Morbihan Energies"
    assert {"20-157376", "21-6545", "21-8404"} <= set(h["procedure"]["identifiers"])


def test_history_is_found_by_any_notice_of_the_chain(engine):
    ingest(engine, chain("chain_20-157376_rectif_21-6545_rectif_21-8404.json"))
    ids = {get_history(engine, i)["procedure"]["id"] for i in ("20-157376", "21-6545", "21-8404")}
    assert ids == {"20-157376"}


def test_english_rendering(engine):
    ingest(engine, chain("chain_20-157376_rectif_21-6545_rectif_21-8404.json"))
    h = get_history(engine, "20-157376", lang="en")
    assert typed(h, 2, "tender_deadline")["text"] == "Tender submission deadline: 2021-01-27 → 2021-02-03 (+7 days)"


def test_rectificatif_with_two_modifications(engine):
    ingest(engine, chain("chain_17-31381_rectif_17-46785.json"))
    h = get_history(engine, "17-31381")
    assert len(h["versions"]) == 2
    deadline, opening = typed(h, 2, "tender_deadline"), typed(h, 2, "opening_date")
    assert (deadline["old"], deadline["new"]) == ("2017-04-13", "2017-04-27")
    assert (opening["old"], opening["new"]) == ("2017-04-14", "2017-04-28")


def test_avis_rectifie_moves_the_deadline_with_its_offset(engine):
    """BOAMP writes "2016-04-25T12:00:00+01:00" in April: the buyer's 12:00, Paris summer time."""
    ingest(engine, chain("chain_16-40880_avis_rectifie_16-58728.json"))
    change = typed(get_history(engine, "16-40880"), 2, "tender_deadline")
    assert (change["old"], change["new"]) == ("2016-04-25T12:00+02:00", "2016-04-29T12:00+02:00")


def test_request_deadline_is_not_the_tender_deadline(engine):
    ingest(engine, chain("chain_20-37549_avis_rectifie_20-51319.json"))
    h = get_history(engine, "20-37549")
    change = typed(h, 2, "request_deadline")
    assert (change["old"], change["new"]) == ("2020-04-21T16:00+02:00", "2020-05-04T16:00+02:00")
    assert not [c for c in changes_of(h, 2) if c["field"] == "tender_deadline"]


def test_free_text_rectificatif_is_a_text_change(engine):
    ingest(engine, chain("chain_23-34854_rectif_23-35823_FNSimple.json"))
    h = get_history(engine, "23-34854")
    assert len(h["versions"]) == 2
    fields = {c["field"] for c in changes_of(h, 2)}
    assert fields == {"text"}
    assert "marchespublics.nantesmetropole.fr" in changes_of(h, 2)[0]["new"]


def test_text_and_section_changes_are_kept(engine):
    ingest(engine, chain("chain_18-100479_rectif_18-103650.json"))
    changes = changes_of(get_history(engine, "18-100479"), 2)
    assert len(changes) == 2
    assert all(c["field"] == "text" for c in changes)
    assert any("visite" in c["new"] for c in changes)


@pytest.mark.parametrize(
    "name, ident, kind, status",
    [
        # 21-164228 declares its only lot "sans suite" (DECISION/SANS_SUITE): no award, the procedure ends
        ("chain_21-64504_attribution_21-164228.json", "21-64504", "other", "cancelled"),
        ("chain_24-69353_attribution_24-89736.json", "24-69353", "award", "awarded"),
    ],
)
def test_award_chains_end_with_an_award(engine, name, ident, kind, status):
    ingest(engine, chain(name))
    h = get_history(engine, ident)
    assert len(h["versions"]) == 2
    assert h["versions"][-1]["kind"] == kind
    assert typed(h, 2, "status")["new"] == status


def test_every_chain_links_all_its_records(sqlite_engine):
    folder = corpus_path("boamp_ods_api", "chains")
    for path in sorted(folder.glob("*.json")):
        records = json.loads(path.read_text())["results"]
        ingest(sqlite_engine, path)
        ids = {get_history(sqlite_engine, r["idweb"])["procedure"]["id"] for r in records}
        assert len(ids) == 1, f"{path.name}: {ids}"
        assert len(get_history(sqlite_engine, records[0]["idweb"])["versions"]) == len(records)


def _record_docs(path: Path) -> list[Document]:
    return [
        Document("boamp", f"{path}#{r['idweb']}", record_bytes(r), ODS_RECORD)
        for r in json.loads(path.read_text())["results"]
    ]


def _comparable(h: dict[str, Any]) -> dict[str, Any]:
    h = json.loads(json.dumps(h))
    h["procedure"]["identifiers"] = sorted(h["procedure"]["identifiers"])
    return h


@pytest.mark.parametrize(
    "name", ["chain_20-157376_rectif_21-6545_rectif_21-8404.json", "chain_17-31381_rectif_17-46785.json"]
)
def test_any_order_of_ingestion_gives_the_same_history(engine, name):
    docs = _record_docs(chain(name))
    ingest_documents(engine, docs)
    expected = _comparable(get_history(engine, "20-157376" if "157376" in name else "17-31381"))
    first = expected["procedure"]["id"]
    for perm in itertools.permutations(docs):
        with engine.begin() as conn:
            for table in ("delivery", "version", "identifier", "notice", "procedure", "document", "quarantine"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        ingest_documents(engine, list(perm), batch_size=1)  # one at a time: originals may come last
        assert _comparable(get_history(engine, first)) == expected, [d.locator for d in perm]


def test_rectificatif_alone_yields_a_typed_deadline_change(engine):
    ingest(engine, corpus_path("boamp_dila_flux_2026", "26-88384_MAPA_RECTIFICATIF.xml"))
    h = get_history(engine, "26-88384")
    change = typed(h, 1, "tender_deadline")
    assert change["old"].startswith("2026-10-01T12:00")
    assert change["new"].startswith("2026-10-05T12:00")
    assert h["procedure"]["buyer"] == "COMMUNE D'ESCAUTPONT"
    # the original, not in the corpus, is known by its idweb: the rectificatif will join it when it comes
    assert get_history(engine, "26-88340")["procedure"]["id"] == h["procedure"]["id"]


def test_reingesting_changes_nothing(engine):
    path = chain("chain_20-157376_rectif_21-6545_rectif_21-8404.json")
    ingest(engine, path)
    before = get_history(engine, "20-157376")
    stats = ingest(engine, path)
    assert (stats.stored, stats.unchanged, stats.versions_created, stats.versions_updated) == (0, 3, 0, 0)
    assert get_history(engine, "20-157376") == before


def test_identical_republication_is_not_a_new_version(engine):
    path = chain("chain_20-157376_rectif_21-6545_rectif_21-8404.json")
    ingest(engine, path)
    original = json.loads(path.read_text())["results"][0]
    republished = dict(
        original,
        idweb="20-199999",
        id="20_199999",
        dateparution="2020-12-30",
        annonce_lie=["20-157376"],
        url_avis=None,
    )
    republished["gestion"] = original["gestion"].replace("20-157376", "20-199999")
    stats = ingest_documents(engine, [Document("boamp", "republished", record_bytes(republished), ODS_RECORD)])
    assert stats.stored == 1 and stats.versions_created == 0
    assert len(get_history(engine, "20-157376")["versions"]) == 3


def test_gigalis_and_2006_files_ingest_without_crash(engine):
    gigalis = corpus_path("boamp_ods_api", "gigalis_500_reconstructed_as_v21_results.json")
    legacy = corpus_path("boamp_ods_api", "ods_v21_response_2006_legacy_v110_20records__BOAMP_favoris.json")
    stats = ingest(engine, gigalis, legacy)
    assert stats.documents == 520
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count()).select_from(DocumentRow))
        quarantined = session.scalar(select(func.count()).select_from(Quarantine))
        reasons = session.execute(select(Quarantine.reason)).scalars().all()
        assert stored + quarantined == 520
        assert all(reasons)
        proc_of = dict(session.execute(select(Notice.notice_id, Notice.procedure_id)).all())
        assert session.scalar(select(func.count()).select_from(Version)) >= 500
    records = json.loads(gigalis.read_text())["results"]
    pairs = [(r["idweb"], o) for r in records for o in r["annonce_lie"] or [] if o in proc_of]
    assert len(pairs) >= 15
    for idweb, original in pairs:
        assert proc_of[idweb] == proc_of[original], f"{idweb} not linked to {original}"
