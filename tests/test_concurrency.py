"""Concurrent use of one database (issue 10 point 7), with real processes: two ``ingest`` of the same file at once,
of different files at once, and two first runs on an empty database, on SQLite and PostgreSQL, end with the
histories of one ingest; nothing crashes, nothing is lost or stored twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import ROOT, corpus_path
from tests.shifted import CHAIN
from tracker.db import make_engine, session_scope
from tracker.history import find_procedure, history
from tracker.models import Document, Notice, Quarantine, Version

pytestmark = pytest.mark.corpus


def _url(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    from tests.conftest import _reset_postgres

    url = request.getfixturevalue("postgres_url")
    _reset_postgres(url)  # empty: the first runs race the migration
    return str(url)


def _at_once(url: str, tmp_path: Path, *file_lists: list[Path]) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    env = dict(os.environ, TRACKER_DATABASE_URL=url, TRACKER_CONFIG_DIR=str(config))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tracker", "ingest", *map(str, files), "--batch-size", "1"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for files in file_lists
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]


def _state(url: str) -> tuple[list[tuple[str, list[str], list[dict[str, object]]]], tuple[int, int, int, int]]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        proc = find_procedure(session, "20-157376")
        assert proc is not None
        data = history(session, proc)
        versions = [(v["notice_id"], [c["field"] for c in v["changes"]], v["changes"]) for v in data["versions"]]
        counts = tuple(
            session.scalar(select(func.count()).select_from(m)) or 0 for m in (Document, Notice, Version, Quarantine)
        )
    engine.dispose()
    return versions, counts  # type: ignore[return-value]


def _split(tmp_path: Path) -> tuple[Path, Path, Path]:
    whole = corpus_path("boamp_ods_api", "chains", CHAIN)
    records = json.loads(whole.read_text())["results"]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"results": [records[0], records[2]]}))
    second.write_text(json.dumps({"results": [records[1]]}))
    return whole, first, second


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _reference(tmp_path: Path) -> tuple[object, object]:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    whole, _, _ = _split(tmp_path)
    _at_once(url, tmp_path, [whole])
    return _state(url)


def test_two_ingests_of_the_same_file_at_once_on_an_empty_database(request, kind, tmp_path):
    expected = _reference(tmp_path)
    url = _url(request, kind, tmp_path)
    whole, _, _ = _split(tmp_path)
    _at_once(url, tmp_path, [whole], [whole], [whole])
    assert _state(url) == expected


def test_ingests_of_different_files_at_once(request, kind, tmp_path):
    expected = _reference(tmp_path)
    url = _url(request, kind, tmp_path)
    _, first, second = _split(tmp_path)
    _at_once(url, tmp_path, [second], [first], [first, second])
    assert _state(url) == expected
