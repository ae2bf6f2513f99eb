"""Bounded memory (issue 10 point 4): a 200 MB JSON export is ingested in a child process whose peak stays under
500 MB; a 1 KB YAML anchor bomb is refused in under a second; a 1 MB title is cut in delivery rows and messages."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import ROOT
from tests.hookserver import HookServer
from tests.shifted import shifted_records, weeks_to
from tracker.db import make_engine, session_scope
from tracker.exceptions import ConfigError
from tracker.models import Delivery
from tracker.subscribers import load_subscribers

pytestmark = pytest.mark.corpus

BOMB = (
    "version: 1\n"
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else ', '.join(['lol'] * 9)}]\n" for i in range(10))
    + "subscribers: *l9\n"
)

_CHILD = """
import resource, sys
from tracker.cli import cli
def _own_peak_kib():
    # the peak of this process's own memory: ru_maxrss would also count the parent's at fork (Linux keeps it)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    print("PEAK_KB", _own_peak_kib(), file=sys.stderr)
"""


def _big_export(path: Path, size: int) -> int:
    """A ``{"results": [...]}`` export of distinct notices, each carrying 60 KB of text, ``size`` bytes at least."""
    base = shifted_records(0)[0]
    padding = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 1100)[:60_000]
    count = 0
    with path.open("w") as fh:
        fh.write('{"total_count": 0, "results": [\n')
        while fh.tell() < size:
            record = copy.copy(base)
            record["idweb"] = f"26-{count + 1}"
            record["id"] = f"26_{count + 1}"
            record["descripteur_libelle"] = [padding]
            fh.write(("," if count else "") + json.dumps(record) + "\n")
            count += 1
        fh.write("]}\n")
    return count


def test_ingesting_a_200_mb_export_stays_under_500_mb(tmp_path):
    path = tmp_path / "export.json"
    count = _big_export(path, 200 * 1024 * 1024)
    env = dict(os.environ, TRACKER_DATABASE_URL=f"sqlite:///{tmp_path / 'big.db'}", TRACKER_CONFIG_DIR=str(tmp_path))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, "ingest", str(path), "--batch-size", "200"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{count} record(s): {count} stored" in done.stdout
    peak_mb = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0]) / 1024
    print(f"200 MB export, {count} records: peak {peak_mb:.0f} MB in {elapsed:.1f} s")
    assert peak_mb < 500


def test_a_yaml_anchor_bomb_is_refused_in_under_a_second(tmp_path):
    assert len(BOMB) < 1024
    (tmp_path / "subscribers.yaml").write_text(BOMB)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="expands to more than"):
        load_subscribers(tmp_path)
    assert time.monotonic() - started < 1


def test_deeply_nested_yaml_is_a_clear_error(tmp_path):
    (tmp_path / "subscribers.yaml").write_text("version: 1\nsubscribers: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError):
        load_subscribers(tmp_path)


def test_a_1_mb_title_is_cut_in_deliveries_and_messages(tracker_cli, tmp_path):
    days = weeks_to(datetime(2021, 1, 21).date(), datetime.now(UTC).date())
    records = shifted_records(days)
    huge = "Fourniture " + "x" * 1_000_000
    for record in records:
        donnees = json.loads(record["donnees"])
        if "OBJET" in donnees:
            donnees["OBJET"]["TITRE_MARCHE"] = huge
        record["donnees"], record["objet"] = json.dumps(donnees), huge
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"results": records}))
    with HookServer() as hooks:
        config = tmp_path / "config"
        config.mkdir()
        subscriber = f'  - name: tout\n    urls: ["json://{hooks.address}/all"]\n    profiles: [{{}}]\n'
        (config / "subscribers.yaml").write_text("version: 1\nsubscribers:\n" + subscriber)
        assert tracker_cli("ingest", str(path)).exit_code == 0
        requests = hooks.wait_for(3)
        assert max(len(r.body) for r in requests) < 100_000
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with session_scope(engine) as session:
        payloads = list(session.execute(select(Delivery.payload)).scalars())
    engine.dispose()
    assert payloads and max(len(json.dumps(p)) for p in payloads) < 20_000
