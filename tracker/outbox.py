"""The outbox: who hears about a version, on which channel, exactly once.

``fan_out`` matches a version against the subscribers and writes one delivery row per (subscriber, channel,
version) — or adds the version to the subscriber's pending digest — under the unique ``dedup_key``: running
it twice writes nothing new. ``deliver`` sends one row:

1. it takes a lease (status ``sending``, attempts + 1) and commits, *then* sends;
2. it marks the row ``sent``; a failure is retried with exponential backoff, and after
   :data:`MAX_ATTEMPTS` the row is ``dead`` (visible in ``tracker deliveries --failed``).

A crash between sending and marking leaves a ``sending`` row whose lease expires: it is sent once more,
so a crash costs at most one duplicate. Channel URLs (they hold secrets) never reach the database: a row
names its channel by a hash and a masked label, and the URL is looked up in the configuration at send time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from tracker.db import session_scope
from tracker.events import VersionEvent, procedure_info
from tracker.history import correction_change, version_descriptions
from tracker.match import Match, Matcher
from tracker.models import Delivery, Identifier, Notice, Procedure, Version
from tracker.news import is_news
from tracker.notice import ChangeDict
from tracker.notify.dispatch import mask_url, send
from tracker.notify.render import Message, render_digests, render_messages
from tracker.settings import get_settings
from tracker.store import mark_notified
from tracker.subscribers import Subscriber

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=5)


def channel_id(subscriber: Subscriber, url: str) -> str:
    return hashlib.sha256(f"{subscriber.name}\n{url}".encode()).hexdigest()[:16]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# ------------------------------------------------------------------ events from the database


def version_event(session: Session, version_id: int) -> VersionEvent | None:
    """Everything the match and render stages need about one version, from the database."""
    version = session.get(Version, version_id)
    if version is None or version.superseded_at is not None:
        return None  # gone, or superseded by a later reading of the notices: nothing to tell
    procedure = session.get(Procedure, version.procedure_id)
    notice = session.get(Notice, version.notice_pk)
    if procedure is None or notice is None:
        return None
    identifiers = list(
        session.execute(select(col(Identifier.value)).where(col(Identifier.procedure_id) == procedure.id)).scalars()
    )
    rows = session.execute(
        select(col(Version.number), col(Version.state), col(Notice.record))
        .join(Notice, col(Notice.id) == col(Version.notice_pk))
        .where(
            col(Version.procedure_id) == procedure.id,
            col(Version.number) <= version.number,
            col(Version.superseded_at).is_(None),
        )
        .order_by(col(Version.number))
    ).all()
    records = [rec for _, _, rec in rows]
    current = procedure_info(records, version.state, identifiers, procedure.display_id)
    previous = None
    if len(rows) > 1:
        previous = procedure_info(records[:-1], rows[-2][1], identifiers, procedure.display_id)
    return VersionEvent(
        version_id=version_id,
        procedure=current,
        number=version.number,
        notice_id=notice.notice_id,
        source=notice.source,
        kind=version.kind,
        published=version.published.isoformat() if version.published else None,
        url=notice.record.get("url"),
        reason=notice.record.get("reason"),
        changes=_event_changes(version),
        previous=previous,
        revision=version.revision,
        reason_code=(notice.record.get("extra") or {}).get("reason_code"),
        descriptions=version_descriptions(notice.record),
    )


def _event_changes(version: Version) -> list[ChangeDict]:
    """A version's changes; once notified, a new revision tells only its corrections."""
    corrections: list[ChangeDict] = [correction_change(fact) for fact in version.corrections or []]
    if version.revision > 0:
        return corrections
    return cast(list[ChangeDict], list(version.changes)) + corrections


# ------------------------------------------------------------------ fan-out


#: texts longer than this are cut (with "…") in delivery rows and in the messages sent: a 1 MB title is not
#: copied into every delivery row, nor into a webhook; matching reads the whole texts
MAX_TEXT = 1000


def capped(value: Any, limit: int = MAX_TEXT) -> Any:
    """``value`` with every text in it cut to ``limit`` characters."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, list):
        return [capped(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: capped(v, limit) for k, v in value.items()}
    return value


def capped_event(event: VersionEvent) -> VersionEvent:
    """The event with its texts cut for a message (:data:`MAX_TEXT`)."""
    procedure = dataclasses.replace(
        event.procedure,
        title=capped(event.procedure.title),
        buyer=capped(event.procedure.buyer),
        description=capped(event.procedure.description, 2 * MAX_TEXT),
        identifiers=event.procedure.identifiers[:50],
    )
    return dataclasses.replace(
        event,
        procedure=procedure,
        previous=None
        if event.previous is None
        else dataclasses.replace(event.previous, title=capped(event.previous.title)),
        reason=capped(event.reason),
        changes=capped(event.changes),
        descriptions=capped(event.descriptions),
    )


def _rows_for(match: Match, event: VersionEvent, now: datetime) -> list[dict[str, Any]]:
    subscriber = match.subscriber
    item = {
        "version_id": event.version_id,
        "changes": capped(match.changes),
        "reasons": match.reasons,
        "critical": match.critical,
    }
    immediate = subscriber.delivery.is_immediate(critical=match.critical)
    due = now if immediate else subscriber.delivery.next_digest(now)
    digest_key = None if immediate else due.isoformat()
    rows = []
    for url in subscriber.urls:
        channel = channel_id(subscriber, url)
        vkey = f"{event.version_id}.{event.revision}" if event.revision else str(event.version_id)
        key = f"v:{vkey}:{subscriber.name}:{channel}" if immediate else (f"d:{digest_key}:{subscriber.name}:{channel}")
        rows.append(
            {
                "dedup_key": key,
                "subscriber": subscriber.name,
                "channel": channel,
                "channel_label": mask_url(url),
                "version_id": event.version_id if immediate else None,
                "digest_key": digest_key,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
                "payload": {"items": [item]},
                "created_at": now,
            }
        )
    return rows


FAN_OUT_CHUNK = 500  # delivery rows written per statement


def _append_to_digest(existing: Delivery, row: dict[str, Any]) -> int | None:
    """Add this version to an existing pending digest; None if already there, or the row is not a digest."""
    if existing.digest_key is None or existing.status != "pending":
        return None
    items = list(existing.payload.get("items", []))
    new = row["payload"]["items"][0]
    if any(i["version_id"] == new["version_id"] for i in items):
        return None
    existing.payload = {"items": [*items, new]}
    return existing.id


def _existing(session: Session, keys: list[str]) -> dict[str, Delivery]:
    found = session.execute(select(Delivery).where(col(Delivery.dedup_key).in_(keys))).scalars()
    return {d.dedup_key: d for d in found}


def _write(session: Session, rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert the deliveries, or add their version to existing pending digests: per row, its id, or None when
    there was nothing to write. One SELECT and one INSERT … ON CONFLICT DO NOTHING for the lot; a row a
    concurrent fan-out inserted in between is then treated as existing."""
    existing = _existing(session, [r["dedup_key"] for r in rows])
    fresh = [r for r in rows if r["dedup_key"] not in existing]
    inserted: dict[str, int] = {}
    if fresh:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        table: Table = Delivery.__table__  # type: ignore[attr-defined]  # SQLModel leaves it undeclared
        stmt = (
            insert(table).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.dedup_key, table.c.id)
        )
        # executemany with RETURNING: SQLAlchemy batches the rows into multi-row INSERTs ("insertmanyvalues")
        inserted = {key: id_ for key, id_ in session.execute(stmt, fresh)}  # noqa: C416 - dict() takes a Result for a mapping
        raced = [r["dedup_key"] for r in fresh if r["dedup_key"] not in inserted]
        if raced:
            existing.update(_existing(session, raced))
    ids: list[int | None] = []
    for row in rows:
        key = row["dedup_key"]
        ids.append(inserted[key] if key in inserted else _append_to_digest(existing[key], row))
    return ids


def fan_out(
    engine: Engine,
    version_id: int,
    subscribers: Iterable[Subscriber],
    *,
    now: datetime,
    matcher: Matcher | None = None,
    news_window: timedelta | None = None,
) -> list[int]:
    """Write the deliveries a version calls for; return the ids due now (idempotent). A version that is no news
    (``tracker.news``: published before the window, ``TRACKER_NEWS_WINDOW_DAYS``, and no deadline ahead) is
    recorded as told, without a delivery."""
    matcher = matcher or Matcher(subscribers)
    due: list[int] = []
    with session_scope(engine) as session:
        event = version_event(session, version_id)
        if event is None:
            return []
        if not _news(session, version_id, now, news_window):
            mark_notified(session, [version_id], now=now)
            return []
        rows = [row for match in matcher.match(event) for row in _rows_for(match, event, now)]
        for start in range(0, len(rows), FAN_OUT_CHUNK):
            chunk = rows[start : start + FAN_OUT_CHUNK]
            for row, delivery_id in zip(chunk, _write(session, chunk), strict=True):
                if delivery_id is not None and row["next_attempt_at"] <= now:
                    due.append(delivery_id)
        # deliveries of this version written by an earlier, interrupted run are due too
        due += list(
            session.execute(
                select(col(Delivery.id)).where(
                    col(Delivery.version_id) == version_id, col(Delivery.status) == "pending"
                )
            ).scalars()
        )
        mark_notified(session, [version_id], now=now)  # with the rows: both, or neither
    return list(dict.fromkeys(due))


def _news(session: Session, version_id: int, now: datetime, window: timedelta | None) -> bool:
    version = session.get(Version, version_id)  # loaded by version_event: no second query
    if version is None:
        return False
    if window is None:
        window = timedelta(days=get_settings().news_window_days)
    return is_news(published=version.published, state=version.state, now=now, window=window, revision=version.revision)


# ------------------------------------------------------------------ delivery


def _take_lease(engine: Engine, delivery_id: int, now: datetime, force: bool) -> Delivery | None:
    with session_scope(engine) as session:
        stmt = select(Delivery).where(col(Delivery.id) == delivery_id).with_for_update()
        delivery: Delivery | None = session.execute(stmt).scalar_one_or_none()
        if delivery is None or delivery.status == "sent" or (delivery.status == "dead" and not force):
            return None
        if not force and delivery.next_attempt_at > now:
            return None  # not due, or another worker holds the lease
        delivery.status = "sending"
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        session.flush()
        session.expunge(delivery)
        return delivery


def _messages(engine: Engine, delivery: Delivery, subscriber: Subscriber) -> dict[str, Message] | None:
    pairs: list[tuple[VersionEvent, Match]] = []
    with session_scope(engine) as session:
        for item in delivery.payload.get("items", []):
            event = version_event(session, item["version_id"])
            if event is not None:
                match = Match(subscriber, item["changes"], item["reasons"], item["critical"])
                pairs.append((capped_event(event), match))
    if not pairs:
        return None
    lang = subscriber.language
    if delivery.digest_key is None and len(pairs) == 1:
        return render_messages(pairs[0][0], pairs[0][1], lang=lang)
    return render_digests(pairs, lang=lang)


def _finish(engine: Engine, delivery_id: int, *, now: datetime, error: str | None, dead: bool = False) -> str:
    with session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return "gone"
        if error is None:
            delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
        else:
            delivery.last_error = error[:2000]
            dead = dead or delivery.attempts >= MAX_ATTEMPTS
            delivery.status = "dead" if dead else "failed"
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        return delivery.status


def deliver(
    engine: Engine, delivery_id: int, subscribers: Iterable[Subscriber], *, now: datetime, force: bool = False
) -> str:
    """Send one delivery if it is due; return its status afterwards."""
    delivery = _take_lease(engine, delivery_id, now, force)
    if delivery is None:
        return "skipped"
    by_name = {s.name: s for s in subscribers}
    subscriber = by_name.get(delivery.subscriber)
    url = (
        next((u for u in subscriber.urls if channel_id(subscriber, u) == delivery.channel), None)
        if subscriber
        else None
    )
    if subscriber is None or url is None:
        return _finish(engine, delivery_id, now=now, error="subscriber or channel no longer configured", dead=True)
    messages = _messages(engine, delivery, subscriber)
    if messages is None:
        return _finish(engine, delivery_id, now=now, error="nothing left to send (versions gone)", dead=True)
    result = send(url, messages)
    if not result.ok:
        log.warning("delivery %s to %s failed: %s", delivery_id, delivery.channel_label, result.error)
    return _finish(engine, delivery_id, now=now, error=None if result.ok else result.error or "send failed")


def due_deliveries(engine: Engine, *, now: datetime, limit: int = 500) -> list[int]:
    """Pending digests whose hour has come, failed deliveries to retry, expired leases."""
    with session_scope(engine) as session:
        stmt = (
            select(col(Delivery.id))
            .where(
                or_(col(Delivery.status).in_(("pending", "failed", "sending"))),
                col(Delivery.next_attempt_at) <= now,
            )
            .order_by(col(Delivery.next_attempt_at))
            .limit(limit)
        )
        return list(session.execute(stmt).scalars())


def retry(engine: Engine, delivery_id: int, *, now: datetime) -> bool:
    """Make a failed or dead delivery due again (``tracker deliveries --retry ID``)."""
    with session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status == "sent":
            return False
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
        return True


class Notifier:
    """The embedded mode's notification stage: fan out and deliver in this process."""

    def __init__(self, engine: Engine, subscribers: list[Subscriber], *, clock: Any) -> None:
        self.engine, self.subscribers, self.clock = engine, subscribers, clock
        self.matcher = Matcher(subscribers)

    def __call__(self, version_ids: list[int]) -> None:
        for version_id in version_ids:
            for delivery_id in fan_out(
                self.engine, version_id, self.subscribers, now=self.clock(), matcher=self.matcher
            ):
                deliver(self.engine, delivery_id, self.subscribers, now=self.clock())

    def sweep(self) -> int:
        ids = due_deliveries(self.engine, now=self.clock())
        for delivery_id in ids:
            deliver(self.engine, delivery_id, self.subscribers, now=self.clock())
        return len(ids)


def replay(engine: Engine, subscriber: Subscriber, *, published_since: Any) -> Iterable[tuple[str, Message]]:
    """What ``subscriber`` would have been sent for the versions published since a day: (channel, message)."""
    matcher = Matcher([subscriber])
    with session_scope(engine) as session:
        ids = list(
            session.execute(
                select(col(Version.id)).where(col(Version.published) >= published_since).order_by(col(Version.id))
            ).scalars()
        )
        pairs = []
        for version_id in ids:
            event = version_event(session, version_id)
            if event is not None:
                pairs += [(event, m) for m in matcher.match(event)]
    from tracker.notify.dispatch import channel_format

    for event, match in pairs:
        messages = render_messages(capped_event(event), match, lang=subscriber.language)
        for url in subscriber.urls:
            fmt = channel_format(url)
            yield mask_url(url), messages.get(fmt) or messages["text"]
