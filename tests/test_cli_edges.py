"""The rough edges a newcomer meets with the command line (issue 13, scope 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

#: every command that only reads what is stored, with the arguments it needs
READ_ONLY = [
    ["history", "20-157376"],
    ["history", "20-157376", "--json"],
    ["status"],
    ["deliveries"],
    ["deliveries", "--failed"],
    ["quarantine"],
    ["procedures", "informatique"],
    ["upcoming"],
    ["changes", "--since", "2d"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_never_creates_a_database(tracker_cli, tmp_path, args):
    result = tracker_cli(*args)
    assert result.exit_code == 1, result.output
    assert f"no database at {tmp_path / 'cli.db'}" in result.output
    assert "tracker ingest PATH" in result.output
    assert not (tmp_path / "cli.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_file_is_not_taken_for_tracker_data(tracker_cli, tmp_path):
    (tmp_path / "cli.db").write_bytes(b"")
    result = tracker_cli("history", "20-157376")
    assert result.exit_code == 1 and "holds no tracker data yet" in result.output


def test_a_read_only_command_reads_a_database_made_by_upgrade(tracker_cli):
    assert tracker_cli("db", "upgrade").exit_code == 0
    assert tracker_cli("status").exit_code == 0
    assert "no deliveries" in tracker_cli("deliveries").output
    assert "nothing quarantined" in tracker_cli("quarantine").output


FOLLOWS = [
    "20-157376",
    "41387-2024",
    "00041387-2024",
    "2024/S 015-041387",
    "d6b7c9a0-1f2e-4a3b-9c8d-7e6f5a4b3c2d",
    "D6B7C9A0-1F2E-4A3B-9C8D-7E6F5A4B3C2D-01",
    "informatique",
    "DCE 2024/12",
]


def test_subscribers_check_warns_on_a_follow_entry_of_no_known_form(tracker_cli, tmp_path):
    (tmp_path / "config").mkdir()
    follows = ", ".join(f'"{f}"' for f in FOLLOWS)
    (tmp_path / "config" / "subscribers.yaml").write_text(
        f'version: 1\nsubscribers:\n  - name: equipe\n    urls: ["json://127.0.0.1:9/x"]\n    follow: [{follows}]\n'
    )
    result = tracker_cli("subscribers", "check")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    assert "follow 'informatique' is no known identifier form" in warnings[0]
    assert "follow 'DCE 2024/12' is no known identifier form" in warnings[1]
    assert "1 subscriber(s) valid" in result.stdout


def test_subscribers_check_fails_on_a_missing_config_folder(tracker_cli, tmp_path):
    result = tracker_cli("--config", str(tmp_path / "nowhere"), "subscribers", "check")
    assert result.exit_code == 1
    assert f"no configuration folder {tmp_path / 'nowhere'}" in result.output
    assert tracker_cli("subscribers", "check").exit_code == 1  # the default folder is missing as well


def _deep(tmp_path: Path) -> Path:
    """A folder whose path is far longer than a terminal's 80 columns."""
    folder = tmp_path.joinpath(*(f"dossier-de-consultation-{i:02d}" for i in range(8)))
    folder.mkdir(parents=True)
    assert len(str(folder)) > 200
    return folder


def test_output_that_is_no_terminal_is_never_wrapped(tracker_cli, tmp_path):
    bad = _deep(tmp_path) / "notes-de-la-reunion-de-lancement.txt"
    bad.write_text("hello")
    result = tracker_cli("ingest", str(bad))
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and str(bad) in skipped[0] and "unrecognised format" in skipped[0]


def test_the_status_table_is_as_wide_as_its_rows_when_piped(tracker_cli, tmp_path):
    from tracker.db import make_engine, session_scope
    from tracker.models import SourceState

    assert tracker_cli("db", "upgrade").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    cursor = {"day": "2026-11-02", "folder": str(_deep(tmp_path))}
    with session_scope(engine) as session:
        session.add(SourceState(name="dossiers-partages-du-service-achats", kind="folder", cursor=cursor))
    engine.dispose()
    result = tracker_cli("status")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "dossiers-partages-du-service-achats" in line)
    assert json.dumps(cursor)[:60] in row and "never" in row and len(row) > 120


def test_a_warning_stays_on_one_line(tracker_cli, tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "subscribers.yaml").write_text(
        'version: 1\nsubscribers:\n  - name: equipe\n    urls: ["json://127.0.0.1:9/x"]\n    follow: ["marché-x"]\n'
    )
    stderr = tracker_cli("subscribers", "check").stderr.splitlines()
    assert len(stderr) == 1 and stderr[0].endswith("carries exactly this value"), stderr
