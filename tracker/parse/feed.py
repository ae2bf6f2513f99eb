"""Feed items (RSS/Atom, as JSON from the ``feed`` source) to snapshots.

A feed item is a notice known by its id (or link); a changed title, summary or date under the same id
is a new publication of that notice, so its versions show what moved.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from tracker.exceptions import ParseError
from tracker.notice import NoticeSnapshot
from tracker.parse import frtext


def snapshot_from_feed_item(source: str, item: dict[str, Any]) -> NoticeSnapshot:
    ident = item.get("id") or item.get("link")
    if not isinstance(ident, str) or not ident.strip():
        raise ParseError("feed item has neither id nor link")
    notice_id = ident.strip() if len(ident) <= 80 else hashlib.sha256(ident.encode()).hexdigest()[:40]
    published = _day(item.get("published") or item.get("updated"))
    summary = item.get("summary") if isinstance(item.get("summary"), str) else None
    snap = NoticeSnapshot(
        source=source,
        notice_id=notice_id,
        kind="initial",
        published=published,
        identifiers=[("url", item["link"])] if isinstance(item.get("link"), str) else [],
        title=item.get("title") if isinstance(item.get("title"), str) else None,
        buyer=item.get("author") if isinstance(item.get("author"), str) else None,
        description=summary,
        url=item.get("link") if isinstance(item.get("link"), str) else None,
    )
    if isinstance(item.get("link"), str):
        snap.fields["documents_url"] = item["link"]
    if summary:
        deadline = _deadline(summary)
        if deadline is not None:
            snap.fields["tender_deadline"] = deadline
    return snap


def _deadline(text: str) -> Any:
    """A summary that names the deadline: "Date limite de réponse : 24/02/2026 12:00"."""
    for moment in frtext.find_moments(text):
        before = text[max(0, moment.start - 80) : moment.start]
        if frtext.field_for_label(before) == "tender_deadline":
            return moment.value
    return None


def _day(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
