"""eForms change notices as versions, through the whole pipeline (SQLite and PostgreSQL): the SDK pairs in any
order, reasons and descriptions in the history, documents changed, cancellation, announced dates, awards."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests import corpus_path, shared_dir
from tracker.db import session_scope
from tracker.history import find_procedure, history, render_text
from tracker.models import Quarantine
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file

pytestmark = pytest.mark.corpus


def sdk(*names: str) -> list[Path]:
    return [corpus_path("eforms_sdk_examples", name) for name in names]


def ingest(engine: Engine, paths: list[Path]) -> None:
    ingest_documents(engine, itertools.chain.from_iterable(documents_from_file(p) for p in paths))


def get_history(engine: Engine, ident: str, lang: str = "fr") -> dict[str, Any]:
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        assert proc is not None, f"no procedure for {ident}"
        return history(session, proc, lang=lang)


def by_field(version: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["field"]: change for change in version["changes"]}


@pytest.mark.parametrize("folder", ["", "sdk-1.0.0"])
@pytest.mark.parametrize("order", [1, -1])
def test_open_dates_pair_gives_two_versions(engine: Engine, folder: str, order: int) -> None:
    names = [f"{folder}/{name}".lstrip("/") for name in ("cn_24_open.xml", "change-cn_24_open_dates.xml")][::order]
    ingest(engine, sdk(*names))
    h = get_history(engine, "c4c415ee-ac08-4465-8fa6-57568cf69462")
    assert [v["kind"] for v in h["versions"]] == ["initial", "change"]
    v2 = h["versions"][1]
    changes = by_field(v2)
    assert set(changes) == {"tender_deadline", "opening_date"}
    assert (changes["tender_deadline"]["old"], changes["tender_deadline"]["new"]) == (
        "2020-04-03T12:00+01:00",
        "2020-06-12T12:00+01:00",
    )
    assert (changes["opening_date"]["old"], changes["opening_date"]["new"]) == (
        "2020-04-03T14:00+01:00",
        "2020-06-12T14:00+01:00",
    )
    assert v2["reason"]["code"] == "update-add"
    assert v2["reason"]["label"] == "Mise à jour d’informations"
    assert v2["reason"]["text"].startswith("Due to Covid-19")
    assert v2["announced"] is False
    if not folder:
        assert [d["section"] for d in v2["descriptions"]] == ["LOT-0000", "LOT-0000"]
    text = render_text(h)
    assert "motif : Mise à jour d’informations (update-add) — Due to Covid-19" in text


def test_cumbria_change_gives_descriptions_reason_and_documents(engine: Engine) -> None:
    ingest(engine, sdk("cn_24_cumbria.xml", "change-cn_24_cumbria_suppliers.xml"))
    h = get_history(engine, "6bc75979-ce6c-46eb-81a6-eee543697dec", lang="en")
    assert len(h["versions"]) == 2
    v2 = h["versions"][1]
    assert v2["reason"] == {
        "code": "cor-buy",
        "label": "Buyer correction",
        "text": "Change number of suppliers envisaged.",
    }
    assert [d["text"] for d in v2["descriptions"]] == [
        "Short description modified",
        "Description of the procurement modified",
    ]
    documents = by_field(v2)["documents"]
    assert documents["new"]["date"] == "2020-04-14"
    assert documents["text"].startswith("Procurement documents changed: on 2020-04-14")


def test_void_change_cancels_the_procedure(engine: Engine) -> None:
    ingest(engine, sdk("change-cn_24_void.xml", "cn_24_minimal.xml"))
    h = get_history(engine, "f42be27e-09cf-4f0e-a745-63ec689631e6")
    assert [v["kind"] for v in h["versions"]] == ["initial", "cancellation"]
    status = by_field(h["versions"][1])["status"]
    assert (status["old"], status["new"]) == ("open", "cancelled")
    assert h["versions"][1]["reason"]["code"] == "cancel"


def test_polish_change_reports_the_announced_deadline(engine: Engine) -> None:
    ingest(engine, [corpus_path("ted_eforms_real", "ted_rdf_pipeline_samples", "sdkv1.10_sub17_740039-2023.xml")])
    h = get_history(engine, "740039-2023", lang="en")
    (version,) = h["versions"]
    assert version["announced"] is True
    announced = [c for c in version["changes"] if c.get("announced")]
    deadline = next(c for c in announced if c["field"] == "tender_deadline")
    assert (deadline["old"], deadline["new"]) == ("2023-12-08T12:30+01:00", "2023-12-12T12:30+01:00")
    assert "announced in the text only" in deadline["text"]


def test_award_after_the_call_shows_winner_and_value(engine: Engine) -> None:
    ingest(engine, sdk("cn_24_FRA_comments.xml", "can_24_FRA_comments.xml"))
    h = get_history(
        engine, "da4d46e9-ee3b-4e48-b3a2-4ea8e7fb6a2a" if False else "e3cdabf1-e057-47a5-9210-b1f6fc757228"
    )
    award = h["versions"][-1]
    assert award["kind"] == "award"
    fields = {c["field"] for c in award["changes"]}
    assert {"status", "award_winner", "award_value"} <= fields


def eforms_files() -> list[Path]:
    corpus = shared_dir() / "corpus"
    return sorted([*corpus.glob("eforms_sdk_examples/**/*.xml"), *corpus.glob("ted_eforms_real/**/*.xml")])


def test_every_eforms_file_ingests_without_quarantine(sqlite_engine: Engine) -> None:
    files = eforms_files()
    assert len(files) >= 40
    ingest(sqlite_engine, files)
    with session_scope(sqlite_engine) as session:
        assert session.execute(select(Quarantine)).scalars().all() == []
