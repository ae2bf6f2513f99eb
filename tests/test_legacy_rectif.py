"""The January-2021 rectificatif CSV rebuilt into statements and OpenDataSoft records (tests/legacy_rectif.py)."""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests import corpus_path
from tests.legacy_rectif import COL, CSV_FILE, records_from_csv, statements_from_csv, unwrap
from tracker.db import session_scope
from tracker.history import find_procedure, history
from tracker.parse.boamp import parse_ods_record
from tracker.parse.statements import Statement, StatementForm
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file

WRAP = '<?xml version="1.0" encoding="UTF-16"?>\n<{0} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{1}</{0}>'
FAMILY_JOUE = "D_09_01_01_02_01_03_Rectif_Annonceanterieur_Reference_Typeavis_Famille_Joue"


def wrap(tag: str, text: str) -> str:
    return WRAP.format(tag, text)


# ------------------------------------------------------------------ unwrapping


@pytest.mark.parametrize("marker", ["", "CF_NIV_SUIV", "<NA>", "None", "[]", "True", "False", "  "])
def test_absence_markers_are_no_text(marker):
    assert unwrap(marker) is None


def test_xml_wrapped_value_is_unwrapped_with_its_entities():
    assert unwrap(wrap("LIRE", "Lots 1 &amp; 2 : 12/03/2021 à 12h")) == "Lots 1 & 2 : 12/03/2021 à 12h"


def test_inner_paragraphs_are_kept_as_text():
    value = wrap("LIRE", "<P>Premier alinéa.</P><P>Second   alinéa.</P>")
    assert unwrap(value) == "Premier alinéa. Second alinéa."


def test_empty_wrapped_element_is_no_text():
    assert unwrap('<?xml version="1.0" encoding="UTF-16"?>\n<LIRE xmlns:xsi="x" />') is None


def test_malformed_wrapped_value_falls_back_to_the_single_element():
    assert unwrap(wrap("LIRE", "a < b &amp; c")) == "a < b & c"


def test_plain_value_is_kept_with_whitespace_normalised():
    assert unwrap("https://x.fr/?a=1&b=2\n suite") == "https://x.fr/?a=1&b=2 suite"


# ------------------------------------------------------------------ a small file of our own


def _row(idweb: str, original: str, published: str, **cells: str) -> dict[str, str]:
    row = {COL["idweb"]: idweb, COL["original"]: original, FAMILY_JOUE: "True"}
    row[COL["e_published"]] = published
    row[COL["date_init"]] = row[COL["date_lire"]] = "False"
    row.update({COL[k]: v for k, v in cells.items()})
    return row


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = sorted({c for row in rows for c in row}, key=lambda c: (c != COL["idweb"], c))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """21-100 (two modifications and a text, repeated for two publication references), 21-200 (a DATE block
    whose values were lost, and an addition)."""
    deadline = {"rub": "IV.2.2)", "txt_init": "2021-01-15T12:00:00+01:00", "lire": "2021-01-29T12:00:00+01:00"}
    opening = {
        "rub": "IV.2.7)",
        "mention": wrap("APRES_MENTION", "Modalités d'ouverture des offres"),
        "lot": wrap("LOT", "2"),
        "texte_init": wrap("INIT", "15/01/2021 à 14h"),
        "texte_lire": wrap("LIRE", "29/01/2021 à 14h"),
    }
    info = {"info": "Visite obligatoire le 20/01/2021."}
    rows = [
        _row("21-100", "20-900", "2020-12-14 23:00:00", **deadline, **info),
        _row("21-100", "20-900", "2020-12-14 23:00:00", **opening, **info),
        _row("21-100", "20-900", "", **deadline, **info),
        _row("21-100", "20-900", "", **opening, **info),
        _row("21-200", "20-901", "2020-12-20 23:00:00", rub="IV.2.2", date_init="True", date_lire="True"),
        _row("21-200", "20-901", "2020-12-20 23:00:00", rub="VI.3", add="Nouvelle adresse : https://x.fr"),
    ]
    return _write(tmp_path / "rectif.csv", rows)


def test_statements_of_a_small_file(small_csv):
    got = statements_from_csv(small_csv)
    assert [(idweb, row) for idweb, row, _ in got] == [
        ("21-100", 1),
        ("21-100", 2),
        ("21-100", 1),
        ("21-200", 5),
        ("21-200", 6),
    ]
    assert got[0][2] == Statement(
        StatementForm.BEFORE_AFTER, section="IV.2.2)", old="2021-01-15T12:00:00+01:00", new="2021-01-29T12:00:00+01:00"
    )
    assert got[1][2] == Statement(
        StatementForm.BEFORE_AFTER,
        section="IV.2.7)",
        label="Modalités d'ouverture des offres",
        lot="2",
        old="15/01/2021 à 14h",
        new="29/01/2021 à 14h",
    )
    assert got[2][2] == Statement(StatementForm.FREE_TEXT, new="Visite obligatoire le 20/01/2021.")
    assert got[3][2] == Statement(StatementForm.BEFORE_AFTER, section="IV.2.2", structured="date")
    assert got[4][2] == Statement(StatementForm.ADDED, section="VI.3", new="Nouvelle adresse : https://x.fr")


def test_records_of_a_small_file(small_csv):
    first, second = records_from_csv(small_csv)
    assert (first["idweb"], first["annonce_lie"], first["famille"]) == ("21-100", ["20-900"], "JOUE")
    rectif = json.loads(first["donnees"])["RECTIF"]
    assert rectif["ANNONCE_ANTERIEUR"]["REFERENCE"]["IDWEB"] == "20-900"
    assert rectif["ANNONCE_ANTERIEUR"]["REFERENCE_PUBLICATION"] == {
        "PUBLICATION_ELECTRONIQUE": {"DATE_PUBLICATION": "2020-12-15"}
    }
    assert rectif["MODIFICATION"] == [
        {"RUB_INIT": "IV.2.2)", "TXT_INIT": "2021-01-15T12:00:00+01:00", "LIRE": "2021-01-29T12:00:00+01:00"},
        {
            "RUB_INIT": "IV.2.7)",
            "LOT": "2",
            "APRES_MENTION": "Modalités d'ouverture des offres",
            "TEXTE": {"INIT": "15/01/2021 à 14h", "LIRE": "29/01/2021 à 14h"},
        },
    ]
    assert rectif["INFO_COMPLEMENTAIRE"] == "Visite obligatoire le 20/01/2021."
    lost_date, added = json.loads(second["donnees"])["RECTIF"]["MODIFICATION"]
    assert lost_date == {"RUB_INIT": "IV.2.2"}
    assert added == {"RUB_INIT": "VI.3", "AJOUTER": "Nouvelle adresse : https://x.fr"}
    snap = parse_ods_record(first)
    assert (snap.kind, snap.links, snap.family) == ("rectificatif", [("idweb", "20-900")], "JOUE")


# ------------------------------------------------------------------ the real file


@pytest.fixture(scope="module")
def real_csv() -> Path:
    return corpus_path("boamp_legacy_rectif_text", CSV_FILE)


@pytest.mark.corpus
def test_real_file_counts(real_csv):
    with real_csv.open(encoding="utf-8", newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == 2004
    records = records_from_csv(real_csv)
    assert len(records) == len({r["idweb"] for r in records}) == 841
    got = statements_from_csv(real_csv)
    forms = Counter((s.form.value, s.structured) for _, _, s in got)
    assert forms == {
        ("before_after", None): 755,
        ("before_after", "date"): 409,
        ("free_text", None): 67,
        ("added", None): 57,
        ("removed", None): 4,
        ("before_after", "cpv"): 1,
    }
    assert all(s.new is None and s.old is None for _, _, s in got if s.structured == "date")
    assert not any("<?xml" in (s.old or "") + (s.new or "") + (s.label or "") + (s.lot or "") for _, _, s in got)


@pytest.mark.corpus
def test_real_record_rebuilt_as_the_published_one(real_csv):
    """21-8404 is also in the ODS chain file: its rebuilt RECTIF block is the published one."""
    rebuilt = next(r for r in records_from_csv(real_csv) if r["idweb"] == "21-8404")
    chain = corpus_path("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json")
    published = next(r for r in json.loads(chain.read_text())["results"] if r["idweb"] == "21-8404")
    real_rectif = json.loads(published["donnees"])["RECTIF"]
    assert json.loads(rebuilt["donnees"])["RECTIF"] == real_rectif
    snap = parse_ods_record(rebuilt)
    assert snap.kind == "rectificatif"
    assert snap.links == [("idweb", "20-157376")]


@pytest.mark.corpus
def test_rebuilt_records_are_ingested_onto_their_original(engine: Engine, real_csv, tmp_path):
    chain = corpus_path("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json")
    originals = (d for d in documents_from_file(chain) if d.locator.endswith("#20-157376"))
    rebuilt = tmp_path / "rebuilt.json"
    rebuilt.write_text(json.dumps([r for r in records_from_csv(real_csv) if r["idweb"] in ("21-6545", "21-8404")]))
    ingest_documents(engine, itertools.chain(originals, documents_from_file(rebuilt)))
    with session_scope(engine) as session:
        proc = find_procedure(session, "21-8404")
        assert proc is not None
        h = history(session, proc)
    # 21-6545's DATE block lost its values in the CSV: whether it makes a version is not asserted here
    assert h["versions"][0]["notice_id"] == "20-157376"
    assert h["versions"][-1]["notice_id"] == "21-8404"
    opening = [c for c in h["versions"][-1]["changes"] if c["field"] == "opening_date"]
    assert [(c["old"], c["new"]) for c in opening] == [("2021-01-27T14:00+01:00", "2021-02-03T14:00+01:00")]
