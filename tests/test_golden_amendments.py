"""Scoring the statement reader on the golden set of real amendment statements (tests/golden/).

Every entry's statement is read with :func:`tracker.parse.statements.read_statement`; its typed amendments
(``field != "text"``) are compared with the labelled changes as ``(field, lot, old, new)`` in JSON form.
Precision is over all non-eForms entries; recall is split into dates and the other typed fields. The
eForms change texts are scored apart (announced changes, not in the thresholds). ``-s`` prints the figures
and every mistake.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tracker.notice import DATE_FIELDS, TRACKED_FIELDS
from tracker.parse.statements import Statement, StatementForm, read_statement
from tracker.values import to_json

GOLDEN = Path(__file__).parent / "golden" / "amendments.jsonl"
MIN_ENTRIES = 300
PRECISION = 0.99
DATE_RECALL = 0.90
OTHER_RECALL = 0.80

Change = tuple[str, str | None, Any, Any]


def load() -> list[dict[str, Any]]:
    with GOLDEN.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def is_eforms(entry: dict[str, Any]) -> bool:
    return entry["origin"].get("format") == "eforms"


def statement_of(entry: dict[str, Any]) -> Statement:
    raw = dict(entry["statement"])
    raw["form"] = StatementForm(raw["form"])
    return Statement(**raw)


def expected_of(entry: dict[str, Any]) -> list[Change]:
    return [(c["field"], c["lot"], c["old"], c["new"]) for c in entry["expected"]]


@dataclass
class Outcome:
    entry: dict[str, Any]
    predicted: list[Change]
    amendments: int

    @property
    def expected(self) -> list[Change]:
        return expected_of(self.entry)


def read(entry: dict[str, Any]) -> Outcome:
    amendments = read_statement(statement_of(entry), zone=ZoneInfo(entry["zone"]))
    typed = [(a.field, a.lot, to_json(a.old), to_json(a.new)) for a in amendments if a.field != "text"]
    return Outcome(entry, typed, len(amendments))


@dataclass
class Score:
    predicted: int = 0
    correct: int = 0
    dates: int = 0
    dates_found: int = 0
    others: int = 0
    others_found: int = 0
    mistakes: list[tuple[str, list[Change], list[Change]]] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        expected, predicted = outcome.expected, outcome.predicted
        self.predicted += len(predicted)
        self.correct += sum(1 for p in predicted if p in expected)
        for change in expected:
            found = change in predicted
            if change[0] in DATE_FIELDS:
                self.dates, self.dates_found = self.dates + 1, self.dates_found + found
            else:
                self.others, self.others_found = self.others + 1, self.others_found + found
        if sorted(map(repr, expected)) != sorted(map(repr, predicted)):
            self.mistakes.append((outcome.entry["id"], expected, predicted))

    @staticmethod
    def ratio(num: int, den: int) -> float:
        return num / den if den else 1.0

    @property
    def precision(self) -> float:
        return self.ratio(self.correct, self.predicted)

    @property
    def date_recall(self) -> float:
        return self.ratio(self.dates_found, self.dates)

    @property
    def other_recall(self) -> float:
        return self.ratio(self.others_found, self.others)


def score(outcomes: Iterable[Outcome]) -> Score:
    result = Score()
    for outcome in outcomes:
        result.add(outcome)
    return result


def report(title: str, s: Score) -> None:
    print(f"\n{title}")
    print(f"  precision     {s.correct:4d} / {s.predicted:4d} = {s.precision:.3f}")
    print(f"  date recall   {s.dates_found:4d} / {s.dates:4d} = {s.date_recall:.3f}")
    print(f"  other recall  {s.others_found:4d} / {s.others:4d} = {s.other_recall:.3f}")
    for ident, expected, got in s.mistakes:
        print(f"  MISTAKE {ident}\n    expected {expected}\n    got      {got}")


# ------------------------------------------------------------------ the file itself


def test_golden_file_is_well_formed():
    entries = load()
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert sum(1 for e in entries if not is_eforms(e)) >= MIN_ENTRIES
    assert sum(1 for e in entries if is_eforms(e)) <= 20
    for e in entries:
        statement_of(e)
        ZoneInfo(e["zone"])
        assert e["origin"]["file"], e["id"]
        for change in e["expected"]:
            assert set(change) == {"field", "lot", "old", "new"}, e["id"]
            assert change["field"] in TRACKED_FIELDS, e["id"]
            assert change["new"] is not None, e["id"]
            if change["field"] == "status":
                assert change["new"] in {"cancelled", "unsuccessful"}, e["id"]


# ------------------------------------------------------------------ the reader against it


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [read(e) for e in load()]


def test_no_statement_vanishes(outcomes):
    empty = [o.entry["id"] for o in outcomes if o.amendments == 0]
    assert not empty, f"read_statement returned nothing for {empty}"


def test_reader_scores_on_real_statements(outcomes):
    boamp = score(o for o in outcomes if not is_eforms(o.entry))
    eforms = score(o for o in outcomes if is_eforms(o.entry))
    report("BOAMP statements (thresholds apply)", boamp)
    report("eForms change texts (announced changes, scored apart)", eforms)
    assert boamp.precision >= PRECISION
    assert boamp.date_recall >= DATE_RECALL
    assert boamp.other_recall >= OTHER_RECALL
