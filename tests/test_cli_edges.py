"""The rough edges a newcomer meets with the command line (issue 13, scope 5)."""

from __future__ import annotations

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
