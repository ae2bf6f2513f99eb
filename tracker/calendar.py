"""A subscriber's living calendar: one event per deadline per lot, written and validated with ``icalendar``.

Calendar apps refresh a subscribed URL and update the events they already hold by UID and SEQUENCE, so:

* the UID names the procedure, the deadline and the lot, never a value: it stays when the deadline moves;
* SEQUENCE is the number of times the deadline moved (derived from the versions, ``tracker.search``), plus one
  once the procedure is cancelled, when the event gets STATUS:CANCELLED;
* the description tells the last change and its reason; an alarm rings the day before.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Final

from icalendar import Alarm, Calendar, Event

from tracker.render import field_label
from tracker.values import from_json

PRODID: Final = "-//tracker//procurement deadlines//FR"
_UID_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


def event_uid(procedure: str, field: str, lot: str | None) -> str:
    """Stable across moves: the procedure, the deadline and the lot."""
    parts = [procedure, field, lot or "all"]
    return "-".join(_UID_UNSAFE.sub("_", p) for p in parts) + "@tracker"


def _start(item: dict[str, Any]) -> date | datetime:
    value = from_json(item["value"])
    if item["all_day"] and isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    return datetime.fromisoformat(item["at"])


def _description(item: dict[str, Any], base_url: str | None) -> str:
    lines = [f"{item['procedure']} — {item.get('buyer') or '?'}", item.get("title") or ""]
    if item.get("lot"):
        lines.append(f"Lot {item['lot']}" + (f" : {item['lot_title']}" if item.get("lot_title") else ""))
    if item.get("change"):
        lines.append(f"Modifié ({item.get('notice_id')}) : {item['change']}")
    elif item.get("previous"):
        lines.append(f"Auparavant : {item['previous']}")
    if item.get("reason"):
        lines.append(f"Motif : {item['reason']}")
    if item.get("cancelled"):
        lines.append("Procédure annulée")
    if base_url:
        lines.append(f"{base_url.rstrip('/')}/procedures/{item['procedure']}")
    return "\n".join(line for line in lines if line)


def make_event(item: dict[str, Any], *, now: datetime, base_url: str | None = None) -> Event:
    event = Event()
    event.add("uid", event_uid(item["procedure"], item["field"], item.get("lot")))
    event.add("sequence", int(item["sequence"]) + (1 if item.get("cancelled") else 0))
    event.add("dtstamp", now)
    start = _start(item)
    event.add("dtstart", start)
    if isinstance(start, datetime):
        event.add("dtend", start + timedelta(minutes=30))
    else:
        event.add("dtend", start + timedelta(days=1))
    lot = f" (lot {item['lot']})" if item.get("lot") else ""
    event.add("summary", f"{field_label(item['field'])}{lot} — {item.get('title') or item['procedure']}")
    event.add("description", _description(item, base_url))
    event.add("status", "CANCELLED" if item.get("cancelled") else "CONFIRMED")
    if item.get("moved"):
        event.add("categories", ["modifié"])
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", timedelta(days=-1))
    alarm.add("description", f"Demain : {field_label(item['field'])}{lot} — {item['procedure']}")
    event.add_component(alarm)
    return event


def build_calendar(name: str, items: list[dict[str, Any]], *, now: datetime, base_url: str | None = None) -> bytes:
    """The calendar of one subscriber, checked by parsing it back."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"tracker — {name}")
    for item in items:
        cal.add_component(make_event(item, now=now, base_url=base_url))
    data: bytes = cal.to_ical()
    parsed = Calendar.from_ical(data)  # validation: what we write reads back, event for event
    if len(parsed.walk("VEVENT")) != len(items):
        raise ValueError("calendar did not read back")
    return data
