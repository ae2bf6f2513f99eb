"""The command line, as a user runs it."""

from __future__ import annotations

import json

import pytest

from tests import corpus_path


@pytest.mark.corpus
def test_ingest_then_history_prints_the_life_of_the_procedure(tracker_cli):
    path = corpus_path("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json")
    result = tracker_cli("ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "3 record(s): 3 stored" in result.output
    assert "2 linked to an earlier notice" in result.output
    result = tracker_cli("history", "21-8404")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("20-157376  Morbihan Energies — ")
    assert lines[1:] == [
        "v1  2020-12-25  avis de marché          BOAMP 20-157376",
        "v2  2021-01-17  avis rectificatif       BOAMP 21-6545",
        "    Date limite de réception des offres : 27/01/2021 → 03/02/2021 (+7 jours)",
        "v3  2021-01-21  avis rectificatif       BOAMP 21-8404",
        "    Ouverture des offres : 27/01/2021 14:00 → 03/02/2021 14:00 (+7 jours)",
    ]
    data = json.loads(tracker_cli("history", "20-157376", "--json", "--lang", "en").output)
    assert data["versions"][1]["changes"][0]["text"].startswith("Tender submission deadline: 2021-01-27")
    again = tracker_cli("ingest", str(path))
    assert "0 stored, 3 already stored" in again.output


def test_unknown_procedure_is_a_clear_error(tracker_cli):
    assert tracker_cli("db", "upgrade").exit_code == 0
    result = tracker_cli("history", "99-1")
    assert result.exit_code != 0
    assert "no procedure known by '99-1'" in result.output


def test_bad_file_names_the_file_and_keeps_going(tracker_cli, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    good = tmp_path / "one.json"
    good.write_text(json.dumps({"results": [{"idweb": "not-an-id"}]}))
    result = tracker_cli("ingest", str(bad), str(good))
    assert result.exit_code == 1  # something could not be read (see tests/test_cli_edges.py)
    assert "notes.txt" in result.output and "unrecognised format" in result.output
    assert "1 quarantined" in result.output and "`tracker quarantine` lists them" in result.output
    listed = tracker_cli("quarantine")
    assert "one.json#not-an-id" in listed.output and "no valid idweb" in listed.output


def test_missing_path_is_an_error(tracker_cli, tmp_path):
    result = tracker_cli("ingest", str(tmp_path / "nope.json"))
    assert result.exit_code != 0 and "no such file or folder" in result.output


def test_db_upgrade(tracker_cli):
    result = tracker_cli("db", "upgrade")
    assert result.exit_code == 0 and "newest schema" in result.output
