"""Consolidation rules, on hand-made snapshot records."""

from __future__ import annotations

import itertools

from tracker.consolidate import consolidate, merge_moment
from tracker.render import change_text


def rec(notice_id, kind, published, **kw):
    base = {
        "source": "boamp",
        "notice_id": notice_id,
        "kind": kind,
        "published": published,
        "title": "T",
        "buyer": "B",
        "cpv": [],
        "fields": {},
        "lots": {},
        "restatement": kind in ("initial", "change"),
        "amendments": [],
        "extra": {},
    }
    return base | kw


def am(field, old, new, **kw):
    return {"field": field, "old": old, "new": new, "lot": None, "section": None, "evidence": ""} | kw


INITIAL = rec("20-1", "initial", "2020-12-25", fields={"tender_deadline": "2021-01-27T12:00+01:00"})
RECTIF = rec("21-1", "rectificatif", "2021-01-17", amendments=[am("tender_deadline", "2021-01-27", "2021-02-03")])
CANCEL = rec("21-2", "cancellation", "2021-01-20", reason="Infructueux")


def test_a_day_only_correction_keeps_the_known_time():
    assert merge_moment("2021-01-27T12:00+01:00", "2021-01-27", "2021-02-03") == "2021-02-03T12:00+01:00"
    assert merge_moment("2021-01-27T12:00+01:00", "2021-01-20", "2021-02-03") == "2021-02-03"
    assert merge_moment(None, None, "2021-02-03T10:00+01:00") == "2021-02-03T10:00+01:00"


def test_rectificatif_applies_to_the_consolidated_state():
    versions = [v for _, v in consolidate([INITIAL, RECTIF, CANCEL])]
    assert [v.kind for v in versions] == ["initial", "rectificatif", "cancellation"]
    assert versions[1].state["fields"]["tender_deadline"] == "2021-02-03T12:00+01:00"
    assert versions[1].changes[0] | {} == {
        "field": "tender_deadline",
        "lot": None,
        "old": "2021-01-27",
        "new": "2021-02-03",
    }
    assert versions[2].changes[0]["new"] == "cancelled"
    assert versions[2].state["fields"]["tender_deadline"] == "2021-02-03T12:00+01:00"


def test_order_of_the_input_does_not_matter():
    expected = [v for _, v in consolidate([INITIAL, RECTIF, CANCEL])]
    for perm in itertools.permutations([INITIAL, RECTIF, CANCEL]):
        assert [v for _, v in consolidate(list(perm))] == expected


def test_restatement_diff_reports_lots_and_values():
    v1 = rec(
        "a", "initial", "2024-01-01", lots={"LOT-1": {"title": "A", "estimated_value": 100}, "LOT-2": {"title": "B"}}
    )
    v2 = rec(
        "b", "change", "2024-01-02", lots={"LOT-1": {"title": "A", "estimated_value": 150}, "LOT-3": {"title": "C"}}
    )
    _, version = consolidate([v1, v2])[1]
    assert version is not None
    summary = {(c["field"], c["lot"], c["old"], c["new"]) for c in version.changes}
    assert summary == {
        ("lots", "LOT-3", None, "LOT-3"),
        ("lots", "LOT-2", "LOT-2", None),
        ("estimated_value", "LOT-1", 100, 150),
    }
    texts = [change_text(c) for c in version.changes]
    assert "Valeur estimée (LOT-1) : 100 € → 150 €" in texts


def test_identical_restatement_is_not_a_version():
    again = rec("20-2", "initial", "2020-12-26", fields=INITIAL["fields"])
    assert consolidate([INITIAL, again])[1][1] is None


def test_rectificatif_before_its_original_is_versioned_alone():
    ((_, only),) = consolidate([RECTIF])
    assert only is not None and only.changes[0]["new"] == "2021-02-03"
