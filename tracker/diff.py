"""DIFF stage: typed changes between two consolidated states. Pure; the only importer of deepdiff.

A state is JSON-ready::

    {"title": str|None, "buyer": str|None, "cpv": [str],
     "fields": {field: json value}, "lots": {lot id: {"title": str, field: json value}}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from tracker.notice import TRACKED_FIELDS, ChangeDict, State

_SEP = "\x1f"
_ORDER = {name: i for i, name in enumerate(("title", "buyer", "cpv", "lots", *TRACKED_FIELDS, "text"))}


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: Any
    new: Any
    lot: str | None = None
    section: str | None = None
    evidence: str = ""

    def as_dict(self) -> ChangeDict:
        out: ChangeDict = {"field": self.field, "lot": self.lot, "old": self.old, "new": self.new}
        if self.section:
            out["section"] = self.section
        if self.evidence:
            out["evidence"] = self.evidence
        return out


def _flatten(state: State, lots: set[str]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for field, value in (state.get("fields") or {}).items():
        flat[f"{_SEP}{field}"] = value
    for lot, data in (state.get("lots") or {}).items():
        if lot not in lots:
            continue
        for field, value in data.items():
            flat[f"{lot}{_SEP}{field}"] = value
    return flat


def _split(key: str) -> tuple[str | None, str]:
    lot, _, field = key.partition(_SEP)
    return (lot or None), field


def diff_states(old: State, new: State, *, evidence: str = "") -> list[Change]:
    """Changes from ``old`` to ``new``: descriptive fields, lots added/removed, then every typed field."""
    changes: list[Change] = []
    for key in ("title", "buyer"):
        if new.get(key) and old.get(key) != new.get(key) and old.get(key):
            changes.append(Change(field=key, old=old.get(key), new=new.get(key), evidence=evidence))
    if new.get("cpv") and old.get("cpv") and list(old["cpv"]) != list(new["cpv"]):
        changes.append(Change(field="cpv", old=list(old["cpv"]), new=list(new["cpv"]), evidence=evidence))
    old_lots, new_lots = set(old.get("lots") or {}), set(new.get("lots") or {})
    changes += [
        Change(field="lots", old=None, new=lot, lot=lot, evidence=evidence) for lot in sorted(new_lots - old_lots)
    ]
    changes += [
        Change(field="lots", old=lot, new=None, lot=lot, evidence=evidence) for lot in sorted(old_lots - new_lots)
    ]
    common = old_lots & new_lots
    report = DeepDiff(_flatten(old, common), _flatten(new, common), view="tree")
    for items in report.values():
        for item in items:
            path = item.path(output_format="list")
            if not path:
                continue
            lot, field = _split(str(path[0]))
            t1 = item.t1 if len(path) == 1 else old_value(old, lot, field)
            t2 = item.t2 if len(path) == 1 else old_value(new, lot, field)
            t1 = None if _is_missing(t1) else t1
            t2 = None if _is_missing(t2) else t2
            if t1 != t2:
                changes.append(Change(field=field, old=t1, new=t2, lot=lot, evidence=evidence))
    return sort_changes(list({(c.field, c.lot): c for c in changes}.values()))


def old_value(state: State, lot: str | None, field: str) -> Any:
    holder = (state.get("lots") or {}).get(lot, {}) if lot else state.get("fields") or {}
    return holder.get(field)


def _is_missing(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"


def sort_changes(changes: list[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (c.lot is not None, c.lot or "", _ORDER.get(c.field, 99)))
