"""What the notification stage receives: one new version of one procedure, with its changes.

Built by ``tracker.store`` from database rows; consumed by the pure ``tracker.match`` and
``tracker.notify.render`` stages. JSON-friendly: every value is a str, number, list, dict or None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracker.notice import ChangeDict


@dataclass(frozen=True, slots=True)
class ProcedureInfo:
    id: str  # the procedure's display id (first idweb / procedure UUID)
    identifiers: list[str]  # every identifier value of every notice of the procedure
    title: str | None
    buyer: str | None
    description: str | None = None
    cpv: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)  # French départements, "56", "2A"
    nuts: list[str] = field(default_factory=list)  # "FRH04"
    sources: list[str] = field(default_factory=list)  # "boamp", "ted"
    family: str | None = None  # BOAMP famille: JOUE, FNS, MAPA, …


@dataclass(frozen=True, slots=True)
class VersionEvent:
    """Version ``number`` of a procedure; ``changes`` are the history-JSON change dicts (without "text")."""

    version_id: int  # database id of the version row: the delivery key
    procedure: ProcedureInfo
    number: int
    notice_id: str
    source: str
    kind: str  # initial | rectificatif | change | cancellation | award | other
    published: str | None  # YYYY-MM-DD
    url: str | None  # link to the source notice
    reason: str | None  # the buyer's stated reason for the change
    changes: list[ChangeDict]
    #: the procedure's matching facets before this version (None for v1), to detect entering/leaving a profile
    previous: ProcedureInfo | None = None
    #: bumped when this version carries a correction after it was notified: a new delivery key
    revision: int = 0
    #: the eForms BT-140 reason code (its label is rendered per language), and what the notice says it changed
    reason_code: str | None = None
    descriptions: list[dict[str, str]] = field(default_factory=list)


def procedure_info(
    records: list[dict[str, Any]], state: dict[str, Any], identifiers: list[str], display: str
) -> ProcedureInfo:
    """A procedure's matching facets after ``records`` (its notices so far) made ``state``."""

    def union(key: str) -> list[str]:
        return list(dict.fromkeys(v for rec in records for v in rec.get(key) or []))

    families = [rec.get("family") for rec in records if rec.get("family")]
    return ProcedureInfo(
        id=display,
        identifiers=identifiers,
        title=state.get("title"),
        buyer=state.get("buyer"),
        description=next((rec.get("description") for rec in reversed(records) if rec.get("description")), None),
        cpv=list(state.get("cpv") or union("cpv")),
        departments=union("departments"),
        nuts=union("nuts"),
        sources=list(dict.fromkeys(rec.get("source", "") for rec in records)),
        family=families[-1] if families else None,
    )
