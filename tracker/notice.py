"""The canonical notice model, independent of the source.

A parser turns one raw document into one :class:`NoticeSnapshot`: what *this publication* says about
a procedure. Consolidation (``tracker.consolidate``) then folds the snapshots of one procedure, in
publication order, into consolidated states and typed changes.

Typed values inside ``fields`` and ``lots`` are Python objects:

* ``datetime`` (always timezone-aware) when the source gives a time, ``date`` when it gives only a day;
* ``Decimal`` for amounts;
* ``str`` for URLs, durations (ISO 8601, ``"P48M"``) and the status.

``tracker.values`` converts them to and from their JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final, NotRequired, TypedDict

from tracker.values import to_json

#: Fields tracked per procedure and per lot (issue "canonical procedure model", point 3).
DATE_FIELDS: Final = (
    "tender_deadline",
    "request_deadline",
    "questions_deadline",
    "opening_date",
    "start_date",
    "end_date",
    "site_visit",
)
VALUE_FIELDS: Final = ("estimated_value", "max_value")
OTHER_FIELDS: Final = ("duration", "documents_url", "submission_url", "status", "offer_validity")
#: what a result notice gives per lot: the winners' names (a list) and the amounts awarded (a list, same order)
AWARD_FIELDS: Final = ("award_winner", "award_value")
TRACKED_FIELDS: Final = DATE_FIELDS + VALUE_FIELDS + OTHER_FIELDS + AWARD_FIELDS

#: changes that are events, not part of a state: the procurement documents changed (eForms BT-718/BT-719,
#: ``{"date": …, "url": …}``), two sources publishing one procedure disagreeing on a date
EVENT_FIELDS: Final = ("documents", "sources_disagree")

#: Descriptive fields of the procedure itself; a change to them is a change too.
DESCRIPTIVE_FIELDS: Final = ("title", "buyer", "cpv")

#: Field names that may appear in a change, beyond the tracked ones.
CHANGE_FIELDS: Final = TRACKED_FIELDS + DESCRIPTIVE_FIELDS + EVENT_FIELDS + ("lots", "text")


class NoticeKind(StrEnum):
    """What a publication is, for the procedure's history."""

    INITIAL = "initial"  # a notice that opens the procedure (avis de marché, contract notice, PIN)
    RECTIFICATIF = "rectificatif"  # states amendments to an earlier notice (BOAMP avis rectificatif)
    CHANGE = "change"  # restates the procedure with changes (eForms change notice, BOAMP modification)
    CANCELLATION = "cancellation"
    AWARD = "award"
    OTHER = "other"


class Status(StrEnum):
    """The state of a procedure or a lot."""

    OPEN = "open"
    CANCELLED = "cancelled"  # cancelled, "déclarée sans suite"
    UNSUCCESSFUL = "unsuccessful"  # "infructueux": no acceptable tender
    AWARDED = "awarded"
    CLOSED = "closed"
    UNKNOWN = "unknown"


KINDS: Final = tuple(k.value for k in NoticeKind)

STATUSES: Final = tuple(s.value for s in Status)

#: Identifier schemes. A procedure is found by any (scheme, value) of any of its notices.
SCHEMES: Final = ("idweb", "notice_id", "procedure_uuid", "buyer_ref", "ted_pub", "url", "consultation")


@dataclass(frozen=True, slots=True)
class Amendment:
    """One statement of an amendment notice: "section X: read NEW instead of OLD".

    ``field`` is a name of :data:`TRACKED_FIELDS` when the statement could be typed, or ``"text"``
    when it could not (then ``old``/``new`` are the texts, and nothing is lost). ``old`` may be
    ``None`` when the notice gives only the new value.
    """

    field: str
    new: Any
    old: Any = None
    lot: str | None = None
    section: str | None = None
    evidence: str = ""
    #: True for a change a free text announces while the structured data still says otherwise (an eForms
    #: description announcing a new deadline): reported, flagged, never taken as a typed fact
    announced: bool = False


class ChangeDict(TypedDict):
    """One change of a version, as stored and in the history JSON (without its rendered ``text``)."""

    field: str
    lot: str | None
    old: Any
    new: Any
    section: NotRequired[str]
    evidence: NotRequired[str]
    announced: NotRequired[bool]
    correction: NotRequired[bool]


class State(TypedDict):
    """A procedure's consolidated state after one of its notices (JSON-ready)."""

    title: str | None
    buyer: str | None
    cpv: list[str]
    fields: dict[str, Any]
    lots: dict[str, dict[str, Any]]


class AmendmentRecord(TypedDict):
    """An :class:`Amendment` as stored on the notice row."""

    field: str
    old: Any
    new: Any
    lot: str | None
    section: str | None
    evidence: str
    announced: NotRequired[bool]


class NoticeRecord(TypedDict):
    """A snapshot as stored on the notice row (JSON-ready): what consolidation reads."""

    source: str
    notice_id: str
    kind: str
    published: str | None
    identifiers: list[list[str]]
    links: list[list[str]]
    title: str | None
    buyer: str | None
    description: str | None
    cpv: list[str]
    departments: list[str]
    nuts: list[str]
    family: str | None
    url: str | None
    fields: dict[str, Any]
    lots: dict[str, dict[str, Any]]
    restatement: bool
    amendments: list[AmendmentRecord]
    reason: str | None
    extra: dict[str, Any]


@dataclass(slots=True)
class NoticeSnapshot:
    """What one publication says about one procedure."""

    source: str  # "boamp", "ted", ...
    notice_id: str  # idweb for BOAMP, publication number or notice UUID for TED
    kind: str  # one of KINDS
    published: date | None
    #: own identifiers, as (scheme, value)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    #: identifiers of the notices this one amends, awards or cancels (its predecessors)
    links: list[tuple[str, str]] = field(default_factory=list)
    title: str | None = None
    buyer: str | None = None
    description: str | None = None
    cpv: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    nuts: list[str] = field(default_factory=list)
    family: str | None = None
    url: str | None = None
    #: procedure-level typed values, keys from TRACKED_FIELDS
    fields: dict[str, Any] = field(default_factory=dict)
    #: lot id -> {"title": str, <tracked field>: value}
    lots: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: True when the notice restates the whole procedure (an initial notice, an eForms change notice);
    #: False when it only states amendments (a BOAMP rectificatif) or a result.
    restatement: bool = True
    amendments: list[Amendment] = field(default_factory=list)
    #: the reason the buyer gives for the change, if any
    reason: str | None = None
    #: source-specific details kept for display and matching, never needed to rebuild a state
    extra: dict[str, Any] = field(default_factory=dict)

    def all_identifiers(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys(self.identifiers))


def snapshot_record(snap: NoticeSnapshot) -> NoticeRecord:
    """The JSON-ready form of a snapshot, as stored on the notice row."""
    return {
        "source": snap.source,
        "notice_id": snap.notice_id,
        "kind": snap.kind,
        "published": snap.published.isoformat() if snap.published else None,
        "identifiers": [list(i) for i in snap.identifiers],
        "links": [list(i) for i in snap.links],
        "title": snap.title,
        "buyer": snap.buyer,
        "description": snap.description,
        "cpv": snap.cpv,
        "departments": snap.departments,
        "nuts": snap.nuts,
        "family": snap.family,
        "url": snap.url,
        "fields": to_json(snap.fields),
        "lots": to_json(snap.lots),
        "restatement": snap.restatement,
        "amendments": [_amendment_record(a) for a in snap.amendments],
        "reason": snap.reason,
        "extra": to_json(snap.extra),
    }


def _amendment_record(a: Amendment) -> AmendmentRecord:
    record = AmendmentRecord(
        field=a.field, old=to_json(a.old), new=to_json(a.new), lot=a.lot, section=a.section, evidence=a.evidence
    )
    if a.announced:
        record["announced"] = True
    return record
