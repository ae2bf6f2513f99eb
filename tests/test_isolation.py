"""Per-record isolation (issue 10): a hostile record mixed with the three good records of 20-157376 never sinks
them, never hangs, and is quarantined with its reason (or stored without the value it could not bound); a
storage failure rolls back that record alone; ``tracker quarantine --retry`` reads a fixed record again."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import corpus_path
from tracker import store
from tracker.db import session_scope
from tracker.history import find_procedure, history
from tracker.models import Notice, Quarantine
from tracker.parse.jsonrecords import loads_bounded, records_of_bytes
from tracker.pipeline import ingest_documents, retry_quarantined
from tracker.reader import documents_from_file
from tracker.values import clean_text, parse_amount, to_json

pytestmark = pytest.mark.corpus

CHAIN = "chain_20-157376_rectif_21-6545_rectif_21-8404.json"


def good_records() -> list[dict[str, Any]]:
    return json.loads(corpus_path("boamp_ods_api", "chains", CHAIN).read_text())["results"]


def _base() -> dict[str, Any]:
    base = copy.deepcopy(good_records()[0])
    base["idweb"], base["id"] = "20-999999", "20_999999"
    base["gestion"] = base["gestion"].replace("20-157376", "20-999999")
    return base


def _with_donnees(change: Any) -> str:
    base = _base()
    donnees = json.loads(base["donnees"])
    change(donnees)
    base["donnees"] = json.dumps(donnees)
    return json.dumps(base)


def _amount(literal: str) -> str:
    def change(d: dict[str, Any]) -> None:
        d["OBJET"]["CARACTERISTIQUES"]["VALEUR_TOTALE"]["#text"] = literal
        d["OBJET"]["LOTS"]["LOT"]["VALEUR"]["#text"] = literal

    return _with_donnees(change)


def _title(text: str) -> str:
    def change(d: dict[str, Any]) -> None:
        d["OBJET"]["TITRE_MARCHE"] = text
        d["IDENTITE"]["DENOMINATION"] = text

    return _with_donnees(change)


def _outer(extra: str) -> str:
    return json.dumps(_base())[:-1] + f', "extra_field": {extra}}}'


def _raw(mutate: Any) -> str:
    base = _base()
    mutate(base)
    return json.dumps(base)


HOSTILE: dict[str, Any] = {
    **{f"amount {lit[:12]}": (lambda lit=lit: _amount(lit)) for lit in ("1e23", "Infinity", "sNaN", "NaN", "1e999")},
    "amount 1e999999999": lambda: _amount("1e999999999"),
    "amount 5000 digits": lambda: _amount("1" * 5000),
    "donnees nested 100000 deep": lambda: _raw(lambda r: r.update(donnees='{"A":' * 100_000 + "1" + "}" * 100_000)),
    "donnees with NaN number": lambda: _raw(lambda r: r.update(donnees=r["donnees"][:-1] + ', "X": NaN}')),
    "NUL in the title and buyer": lambda: _title("Fourniture\x00 de \x1b[2Jgaz"),
    "lone surrogate": lambda: _title("caf\ud800e"),
    "long procedure uuid": lambda: _raw(lambda r: r.update(contractfolderid="a" * 500)),
    "long idweb locator": lambda: _raw(lambda r: r.update(idweb="2" * 5000)),
    "outer 5000-digit integer": lambda: _outer("1" * 5000),
    "outer 1e999": lambda: _outer("1e999"),
    "outer NaN": lambda: _outer("NaN"),
    "outer nested 900 deep": lambda: _outer("[" * 900 + "]" * 900),
    "outer nested 5000 deep": lambda: _outer("[" * 5000 + "]" * 5000),
    "not an object": lambda: '"just a string"',
    "gestion not JSON": lambda: _raw(lambda r: r.update(gestion="{not json")),
}


def _file(tmp_path: Path, hostile: str) -> Path:
    good = [json.dumps(r) for r in good_records()]
    path = tmp_path / "mixed.json"
    path.write_text('{"total_count": 4, "results": [' + ",".join([good[0], hostile, good[1], good[2]]) + "]}")
    return path


def _counts(engine: Any) -> tuple[list[str], list[str]]:
    with session_scope(engine) as session:
        notices = list(session.execute(select(Notice.notice_id)).scalars())
        reasons = list(session.execute(select(Quarantine.reason)).scalars())
    return notices, reasons


def _good_history(engine: Any) -> list[str]:
    with session_scope(engine) as session:
        proc = find_procedure(session, "20-157376")
        assert proc is not None
        return [v["notice_id"] for v in history(session, proc)["versions"]]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_record_never_sinks_the_good_ones(engine, tmp_path, name):
    path = _file(tmp_path, HOSTILE[name]())
    started = time.monotonic()
    stats = ingest_documents(engine, documents_from_file(path))
    assert time.monotonic() - started < 20
    assert stats.documents == 4
    notices, reasons = _counts(engine)
    assert {"20-157376", "21-6545", "21-8404"} <= set(notices)
    assert _good_history(engine) == ["20-157376", "21-6545", "21-8404"]
    if "20-999999" in notices:  # stored: whatever it could not bound is left out, never a wrong value
        assert not reasons
        with session_scope(engine) as session:
            record = session.execute(select(Notice.record).where(Notice.notice_id == "20-999999")).scalar_one()
        text = json.dumps(record)
        assert "\\u0000" not in text and "\\ud800" not in text and "\\u001b" not in text
        for value in (
            record["fields"].get("estimated_value"),
            *(v.get("estimated_value") for v in record["lots"].values()),
        ):
            assert value is None or value == 320000
    else:
        assert len(reasons) == 1 and reasons[0]


def test_stored_texts_lose_nul_and_controls(engine, tmp_path):
    ingest_documents(engine, documents_from_file(_file(tmp_path, _title("Fourniture\x00 de \x1b[2Jgaz"))))
    with session_scope(engine) as session:
        proc = find_procedure(session, "20-999999")
        assert proc is not None and proc.title == "Fourniture de [2Jgaz"


def test_a_storage_failure_rolls_back_that_record_alone(engine, tmp_path, monkeypatch):
    real = store._notice_row

    def failing(snap, *rest):  # a storage bug for one notice only
        if snap.notice_id == "21-6545":
            raise ValueError("column refused the value")
        return real(snap, *rest)

    monkeypatch.setattr(store, "_notice_row", failing)
    stats = ingest_documents(engine, documents_from_file(corpus_path("boamp_ods_api", "chains", CHAIN)))
    notices, reasons = _counts(engine)
    assert sorted(notices) == ["20-157376", "21-8404"]
    assert stats.quarantined == 1 and reasons == ["could not be stored: ValueError: column refused the value"]
    monkeypatch.setattr(store, "_notice_row", real)  # the code is fixed: the record is read again
    assert retry_quarantined(engine) == (1, 0)
    assert _good_history(engine) == ["20-157376", "21-6545", "21-8404"]
    assert _counts(engine)[1] == []


def test_quarantine_retry_command(tracker_cli, tmp_path, monkeypatch):
    path = _file(tmp_path, _raw(lambda r: r.update(gestion="{not json")))
    assert "1 quarantined" in tracker_cli("ingest", str(path)).output
    listed = tracker_cli("quarantine").output
    assert "mixed.json#20-999999" in listed and "gestion is not valid JSON" in listed
    assert "0 record(s) read and stored, 1 still quarantined" in tracker_cli("quarantine", "--retry").output
    from tracker.parse import boamp

    real = boamp._json_field
    monkeypatch.setattr(boamp, "_json_field", lambda v, what: {} if v == "{not json" else real(v, what=what))
    assert "1 record(s) read and stored, 0 still quarantined" in tracker_cli("quarantine", "--retry").output
    assert "nothing quarantined" in tracker_cli("quarantine").output
    assert "20-999999" in tracker_cli("history", "20-999999").output


def test_reingest_reads_a_quarantined_record_again(sqlite_engine, tmp_path, monkeypatch):
    path = _file(tmp_path, _raw(lambda r: r.update(gestion="{not json")))
    assert ingest_documents(sqlite_engine, documents_from_file(path)).quarantined == 1
    from tracker.parse import boamp

    real = boamp._json_field
    monkeypatch.setattr(boamp, "_json_field", lambda v, what: {} if v == "{not json" else real(v, what=what))
    again = ingest_documents(sqlite_engine, documents_from_file(path))
    assert (again.stored, again.unchanged) == (1, 3)
    assert "20-999999" in _counts(sqlite_engine)[0] and _counts(sqlite_engine)[1] == []


def test_folder_source_with_a_hostile_file_never_stops_run(tracker_cli, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _file(inbox, _outer("1e999")).rename(inbox / "a.json")
    (inbox / "b.json").write_text(_outer("[" * 5000 + "]" * 5000))
    (inbox / "c.json").write_text(_amount("1e999999999"))
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(
        f"version: 1\nsources:\n  - name: inbox\n    kind: folder\n    every: 1m\n    options: {{path: '{inbox}'}}\n"
    )
    started = time.monotonic()
    for _ in range(2):  # and again at the next start
        result = tracker_cli("run", "--once")
        assert result.exit_code == 0, result.output
        assert "inbox:" in result.output and "FAILED" not in result.output
    assert time.monotonic() - started < 30
    assert "21-8404" in tracker_cli("history", "20-157376").output


# ------------------------------------------------------------------ the bounds themselves


@pytest.mark.parametrize(
    "literal", ["1e23", "Infinity", "-Infinity", "sNaN", "NaN", "1e999999999", "1" * 5000, "1e999", "-1e999", "inf"]
)
def test_amounts_are_bounded_before_conversion(literal):
    started = time.monotonic()
    assert parse_amount(literal) is None
    assert time.monotonic() - started < 0.1


def test_sane_amounts_still_read():
    assert parse_amount("320000.00") == 320000
    assert parse_amount("1 250 000,50") == parse_amount("1250000.50")
    assert parse_amount(12) == 12 and parse_amount(10**20) is None and parse_amount(float("inf")) is None


def test_to_json_never_converts_an_unbounded_decimal():
    from decimal import Decimal

    assert to_json(Decimal("Infinity")) == "Infinity"
    assert to_json(Decimal("1e999999999")) == "1E+999999999"


def test_clean_text():
    assert clean_text("a\x00b\x07c\td\ne\u200ef\ud800") == "abc\td\ne\u200ef"
    assert clean_text("x" * 10, 4) == "xxxx"


def test_loads_bounded_keeps_refused_numbers_as_text():
    assert loads_bounded('{"a": NaN, "b": 1e999, "c": 1.5, "d": 12}') == {"a": "NaN", "b": "1e999", "c": 1.5, "d": 12}
    assert loads_bounded("1" * 5000) == "1" * 5000


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 1 << 20])
def test_split_records_whatever_the_chunks(size):
    records = [{"a": 'x\\"]}', "b": [1, {"c": "["}]}, "plain", 3, [], {"results": [9]}]
    text = json.dumps({"total_count": 5, "results": records, "after": [1]}).encode()
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    from tracker.parse.jsonrecords import split_records

    assert [json.loads(r.raw) for r in split_records(chunks, max_record=1 << 20)] == records
    assert [json.loads(r.raw) for r in records_of_bytes(json.dumps(records).encode(), max_record=1 << 20)] == records


def test_a_record_over_the_size_limit_is_quarantined(sqlite_engine, tmp_path):
    path = _file(tmp_path, _raw(lambda r: r.update(objet="x" * 200_000)))
    stats = ingest_documents(sqlite_engine, documents_from_file(path, max_document=100_000))
    assert (stats.stored, stats.quarantined) == (3, 1)
    assert "larger than 100000 bytes" in _counts(sqlite_engine)[1][0]


def test_database_counts_documents(sqlite_engine, tmp_path):
    ingest_documents(sqlite_engine, documents_from_file(_file(tmp_path, _outer("NaN"))))
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Quarantine)) == 1
        assert session.scalar(select(Quarantine.document_id)) is not None  # the raw record is kept, to retry
