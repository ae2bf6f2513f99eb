"""One TED Search API v3 result (one notice's fields) to a lightweight :class:`~tracker.notice.NoticeSnapshot`.

The search gives a few fields per notice until its XML is fetched: identity (publication number, BT-701, BT-04,
BT-757), title, buyer, CPV, the tender and request deadlines per lot, and the change section (BT-758, BT-140,
BT-762, BT-141, BT-13716, BT-718/719). The XML, read by the eForms parser under the same notice id (the unpadded
publication number), replaces this snapshot. Until then the deadlines are statements applied onto the procedure's
state (not a restatement: what the search does not show is not dropped). Values TED gives as one list per notice are
tied to lots only when the lists line up with ``identifier-lot`` one to one; otherwise they are kept out of the lots
(never guessed).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Final

from tracker.exceptions import ParseError
from tracker.notice import Amendment, NoticeSnapshot
from tracker.values import combine_date_time, parse_iso

_PUBLICATION_NUMBER = re.compile(r"^0*(\d{1,8})-(\d{4})$")
_UUID_VERSION = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:-\d{2})?$"
)
_LANGS: Final = ("fra", "FRA", "eng", "ENG")
_AWARD_TYPES: Final = ("can-", "veat")
_SECTIONS: Final = {"tender_deadline": "BT-131 (TED search)", "request_deadline": "BT-1311 (TED search)"}


_MAX_DEPTH = 6


def _strings(value: Any, depth: int = 0) -> list[str]:
    """A field's values as strings: a scalar, a list, or a {language: value(s)} mapping (French first).

    A search field is at most a list of language mappings of lists: anything nested deeper holds no value."""
    if depth > _MAX_DEPTH:
        return []
    if isinstance(value, dict):
        ordered = [value[k] for k in _LANGS if k in value] + [v for k, v in value.items() if k not in _LANGS]
        return [s for item in ordered for s in _strings(item, depth + 1)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item, depth + 1)]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        return [text] if text else []
    return []


def _first(value: Any) -> str | None:
    found = _strings(value)
    return found[0] if found else None


def _unpad(value: str) -> str | None:
    m = _PUBLICATION_NUMBER.match(value.strip())
    return f"{int(m.group(1))}-{m.group(2)}" if m else None


def _link(reference: str) -> tuple[str, str] | None:
    m = _UUID_VERSION.match(reference.strip())
    if m:
        return ("notice_id", m.group(1).lower())
    number = _unpad(reference)
    return ("ted_pub", number) if number else None


def _kind(notice: dict[str, Any]) -> str:
    codes = {c.lower() for c in _strings(notice.get("change-reason-code"))}
    if "cancel" in codes:
        return "cancellation"
    if codes or _strings(notice.get("change-notice-version-identifier")):
        return "change"
    notice_type = (_first(notice.get("notice-type")) or "").lower()
    if notice_type.startswith(_AWARD_TYPES) and notice_type != "can-modif":
        return "award"
    return "initial" if notice_type.startswith(("cn-", "pin-", "qu-sy", "subco")) else "other"


def _aligned(lots: list[str | None], notice: dict[str, Any], date_key: str, time_key: str) -> dict[str | None, Any]:
    days, times = _strings(notice.get(date_key)), _strings(notice.get(time_key))
    if not days or len(days) != len(lots):
        return {}
    times = times if len(times) == len(days) else [None] * len(days)  # type: ignore[list-item]
    out: dict[str | None, Any] = {}
    for lot, day, at in zip(lots, days, times, strict=True):
        moment = combine_date_time(day, at)
        if moment is not None:
            out[lot] = moment
    return out


def _lots(notice: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    """Deadlines per lot; without lot identifiers, one value the whole notice shares is the procedure's."""
    lots = list(dict.fromkeys(_strings(notice.get("identifier-lot"))))
    out: dict[str | None, dict[str, Any]] = {}
    for name, date_key, time_key in (
        ("tender_deadline", "deadline-receipt-tender-date-lot", "deadline-receipt-tender-time-lot"),
        ("request_deadline", "deadline-receipt-request-date-lot", "deadline-receipt-request-time-lot"),
    ):
        if lots:
            values = _aligned(list(lots), notice, date_key, time_key)
        else:
            days, times = set(_strings(notice.get(date_key))), set(_strings(notice.get(time_key)))
            shared = {date_key: list(days), time_key: list(times)} if len(days) == 1 and len(times) <= 1 else {}
            values = _aligned([None], shared, date_key, time_key)
        for lot, moment in values.items():
            out.setdefault(lot, {})[name] = moment
    return out


def _extra(notice: dict[str, Any]) -> dict[str, Any]:
    sections = _strings(notice.get("change-previous-notice-section-identifier"))
    texts = _strings(notice.get("change-description"))
    descriptions = [
        {"section": sections[i], "text": text} if len(sections) == len(texts) else {"text": text}
        for i, text in enumerate(texts)
    ]
    flags = [f.lower() for f in _strings(notice.get("change-procurement-documents"))]
    changed_on = parse_iso(_first(notice.get("change-procurement-documents-date")) or "")
    extra: dict[str, Any] = {
        "lightweight": True,
        "reason_code": _first(notice.get("change-reason-code")),
        "change_descriptions": descriptions,
        "notice_version": _first(notice.get("notice-version")),
        "subtype": _first(notice.get("notice-subtype")),
        "notice_type": _first(notice.get("notice-type")),
        "documents_changed": ("true" in flags) if flags else None,
        "documents_change_date": changed_on.isoformat() if changed_on else None,
    }
    return {k: v for k, v in extra.items() if v is not None and v != []}


def _published(notice: dict[str, Any]) -> date | None:
    moment = parse_iso(_first(notice.get("publication-date")) or "")
    return moment.date() if isinstance(moment, datetime) else moment


def _amendments(lots: dict[str | None, dict[str, Any]]) -> list[Amendment]:
    """The deadlines the search shows, as statements: applied onto what the procedure already says (a day keeps
    the time already known for it), never a restatement that would drop what the search does not show."""
    return [
        Amendment(field=name, new=value, lot=lot, section=_SECTIONS[name])
        for lot, values in lots.items()
        for name, value in values.items()
    ]


def snapshot_from_search_result(notice: Any, *, source: str = "ted") -> NoticeSnapshot:
    """One search result → a lightweight snapshot: what the search shows of the notice, as statements."""
    if not isinstance(notice, dict):
        raise ParseError("TED search result is not a JSON object")
    number = _unpad(_first(notice.get("publication-number")) or "")
    if not number:
        raise ParseError("TED search result without a publication number")
    uuid = _first(notice.get("notice-identifier"))
    folder = _first(notice.get("procedure-identifier"))
    identifiers = [("ted_pub", number)]
    identifiers += [("notice_id", uuid)] if uuid else []
    identifiers += [("procedure_uuid", folder)] if folder else []
    links = [link for link in map(_link, _strings(notice.get("change-notice-version-identifier"))) if link]
    kind = _kind(notice)
    status = {"cancellation": "cancelled", "award": "awarded"}.get(kind, "open")
    return NoticeSnapshot(
        source=source,
        notice_id=number,
        kind=kind,
        published=_published(notice),
        identifiers=identifiers,
        links=list(dict.fromkeys(links)),
        title=_first(notice.get("notice-title")),
        buyer=_first(notice.get("buyer-name")),
        cpv=list(dict.fromkeys(_strings(notice.get("classification-cpv")))),
        url=f"https://ted.europa.eu/en/notice/-/detail/{number}",
        fields={"status": status},
        restatement=False,
        amendments=_amendments(_lots(notice)) if kind != "cancellation" else [],
        reason=_first(notice.get("change-reason-description")),
        extra=_extra(notice),
    )
