"""The living calendar: parsed back with icalendar; UIDs stable, SEQUENCE raised, cancellations marked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from tests.viewdata import cancellation_of, shifted_records, write_records
from tracker.calendar import build_calendar, event_uid
from tracker.db import session_scope
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.search import deadlines_for, scope_of
from tracker.subscribers import Subscriber

pytestmark = pytest.mark.corpus

NOW = datetime.now(UTC)
SUB = Subscriber(name="ao", urls=("json://127.0.0.1:9/x",), follow=("20-157376", "17-31381"))


def _calendar(engine) -> dict[str, dict]:
    with session_scope(engine) as s:
        items = deadlines_for(s, scope_of(SUB), since=NOW - timedelta(days=1))
    cal = Calendar.from_ical(build_calendar("ao", items, now=NOW))
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def _ingest(engine, path) -> None:
    ingest_documents(engine, documents_from_file(path))


def test_moving_a_deadline_keeps_the_uid_and_raises_the_sequence(engine, tmp_path):
    paths = write_records(tmp_path, shifted_records("20-157376", ahead=3), "c")
    _ingest(engine, paths[0])
    uid = event_uid("20-157376", "tender_deadline", None)
    first = _calendar(engine)[uid]
    assert int(first["SEQUENCE"]) == 0 and str(first["STATUS"]) == "CONFIRMED"
    start = first.decoded("DTSTART")
    assert start.date() == (NOW + timedelta(days=3)).date()
    alarm = first.walk("VALARM")[0]
    assert alarm.decoded("TRIGGER") == timedelta(days=-1)
    _ingest(engine, paths[1])
    moved = _calendar(engine)[uid]
    assert int(moved["SEQUENCE"]) == 1
    new_start = moved.decoded("DTSTART")
    day = new_start.date() if isinstance(new_start, datetime) else new_start
    assert day == (NOW + timedelta(days=10)).date()
    assert "+7 jours" in str(moved["DESCRIPTION"]) and "21-6545" in str(moved["DESCRIPTION"])
    _ingest(engine, paths[2])
    events = _calendar(engine)
    assert int(events[uid]["SEQUENCE"]) == 1  # the opening moved, not the tender deadline again
    assert int(events[event_uid("20-157376", "opening_date", None)]["SEQUENCE"]) == 1


def test_cancelling_marks_every_event_cancelled(engine, tmp_path):
    records = shifted_records("17-31381", ahead=4)
    paths = write_records(tmp_path, [*records, cancellation_of(records[0], idweb="17-99001")], "c")
    for path in paths[:2]:
        _ingest(engine, path)
    before = {uid: e for uid, e in _calendar(engine).items() if uid.startswith("17-31381")}
    assert before and all(str(e["STATUS"]) == "CONFIRMED" for e in before.values())
    _ingest(engine, paths[2])
    after = {uid: e for uid, e in _calendar(engine).items() if uid.startswith("17-31381")}
    assert set(after) == set(before)
    for uid, event in after.items():
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == int(before[uid]["SEQUENCE"]) + 1
        assert "Procédure annulée" in str(event["DESCRIPTION"])


def test_cli_calendar_writes_a_valid_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tracker.cli import cli

    db = tmp_path / "cli.db"
    config = tmp_path / "config"
    config.mkdir()
    (config / "subscribers.yaml").write_text(
        'version: 1\nsubscribers:\n  - name: ao\n    urls: ["json://127.0.0.1:9/x"]\n    follow: ["20-157376"]\n',
        encoding="utf-8",
    )
    paths = write_records(tmp_path / "c", shifted_records("20-157376", ahead=3), "c")
    runner = CliRunner()
    base = ["--database-url", f"sqlite:///{db}", "--config", str(config)]
    assert runner.invoke(cli, [*base, "ingest", *map(str, paths)]).exit_code == 0
    done = runner.invoke(cli, [*base, "calendar", "ao"], catch_exceptions=False)
    assert done.exit_code == 0
    cal = Calendar.from_ical(done.stdout_bytes)
    assert {str(e["UID"]) for e in cal.walk("VEVENT")} >= {event_uid("20-157376", "tender_deadline", None)}
    url = runner.invoke(cli, [*base, "calendar", "ao", "--url"]).output
    assert "/calendar/ao.ics?token=" in url and len(url.split("token=")[1].strip()) >= 32
    for command in (["upcoming", "--json"], ["changes", "--since", "30d", "--json"], ["procedures", "--json"]):
        out = runner.invoke(cli, [*base, *command], catch_exceptions=False)
        assert out.exit_code == 0, out.output
    upcoming = runner.invoke(cli, [*base, "upcoming", "--days", "30"]).output
    assert "moved, was" in upcoming and date.today().year > 2000
