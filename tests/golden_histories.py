"""Golden histories: the history JSON of every corpus chain, flux, DILA and eForms file.

Each case ingests a few corpus files into a fresh database and renders the history JSON of every procedure
they make. The expected output lives in ``tests/golden/histories/<case>.json`` and is reviewed as a diff in
the commit that changes it. Regenerate every file with::

    .venv/bin/python -m tests.golden_histories

(``--check`` compares without writing and lists the cases that differ.)
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from tests import ROOT, shared_dir
from tracker.db import make_engine, session_scope, upgrade
from tracker.history import history
from tracker.models import Procedure
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file

GOLDEN = ROOT / "tests" / "golden" / "histories"

#: eForms notices that belong together (an original and its change notice); every other file stands alone
EFORMS_PAIRS = (
    ("cn_24_open.xml", "change-cn_24_open_dates.xml"),
    ("cn_24_cumbria.xml", "change-cn_24_cumbria_suppliers.xml"),
    ("cn_24_minimal.xml", "change-cn_24_void.xml"),
    ("cn_24_FRA_comments.xml", "INVALID_change-cn_24_FRA_comments.xml"),
    ("pin-buyer_24.xml", "pin-buyer_24_published.xml"),
    ("sdk-1.0.0/cn_24_open.xml", "sdk-1.0.0/change-cn_24_open_dates.xml"),
)


def _stem(path: str) -> str:
    return Path(path).stem.replace("/", "_")


def cases() -> dict[str, list[str]]:
    """Case name -> corpus files (relative to the corpus folder), in ingestion order."""
    corpus = shared_dir() / "corpus"
    found: dict[str, list[str]] = {}
    for path in sorted((corpus / "boamp_ods_api" / "chains").glob("*.json")):
        found[f"chain_{path.stem.split('_')[1]}"] = [f"boamp_ods_api/chains/{path.name}"]
    for folder in ("boamp_dila_flux_2026", "boamp_dila_xml", "boamp_dila_api_legacy_json", "boamp_ods_eforms_era"):
        for path in sorted((corpus / folder).glob("*")):
            if path.suffix in (".xml", ".json") and "census" not in path.name:
                found[f"{folder}_{path.stem}"] = [f"{folder}/{path.name}"]
    paired = {name for pair in EFORMS_PAIRS for name in pair}
    for pair in EFORMS_PAIRS:
        found[f"eforms_{_stem(pair[0].replace('/', '_'))}_pair"] = [f"eforms_sdk_examples/{name}" for name in pair]
    for path in sorted((corpus / "eforms_sdk_examples").glob("*.xml")):
        if path.name not in paired:
            found[f"eforms_{path.stem}"] = [f"eforms_sdk_examples/{path.name}"]
    for path in sorted((corpus / "ted_eforms_real").rglob("*.xml")):
        found[f"ted_{path.stem}"] = [str(path.relative_to(corpus))]
    return found


def render_case(files: list[str]) -> dict[str, Any]:
    """The history JSON of every procedure the files make, by procedure id."""
    corpus = shared_dir() / "corpus"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'golden.db'}")
        upgrade(engine)
        for name in files:
            ingest_documents(engine, documents_from_file(corpus / name))
        with session_scope(engine) as session:
            procedures = session.execute(select(Procedure).order_by(col(Procedure.id))).scalars().all()
            out = {p.display_id: history(session, p) for p in procedures}
        engine.dispose()
    return {"files": files, "procedures": out}


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def _run(write: bool) -> Iterator[str]:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, files in cases().items():
        text = dumps(render_case(files))
        path = GOLDEN / f"{name}.json"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        yield name
        if write:
            path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    check = "--check" in sys.argv[1:]
    changed = list(_run(write=not check))
    for name in changed:
        print(("differs: " if check else "written: ") + name)
    print(f"{len(changed)} of {len(cases())} golden histories {'differ' if check else 'rewritten'}")
    sys.exit(1 if check and changed else 0)
