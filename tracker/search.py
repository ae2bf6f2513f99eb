"""Finding procedures: full-text search with filters, upcoming deadlines per lot, the feed of typed changes.

The views read two tables of their own (migration 0006), written by :func:`index_procedures` in the versioning
transaction (``tracker.pipeline.version``) from the procedure's versions, so they never disagree with the
history:

* ``procedure_search``: one row per procedure. ``body`` is its title, buyer, description and identifiers
  through :func:`~tracker.vocabulary.normalize_text` (lower case, accents and punctuation removed), so a search
  is accent- and case-insensitive on both databases alike; ``facets`` are tokens for the filters (``qc72`` for
  each CPV prefix, ``qd56`` for a département, ``qsboamp`` for a source, ``qb<word>`` for a buyer's words).
  Both are indexed by the database's own full-text index: SQLite FTS5 (``procedure_fts``), PostgreSQL a
  generated ``tsvector`` with a GIN index. A search is an index lookup, never a scan.
* ``procedure_deadline``: every deadline (tenders, requests, questions, opening) per lot in the latest version,
  with the value it had before it last moved and a ``sequence`` that counts its moves, derived from the
  versions: the calendar's SEQUENCE needs no state of its own.

A procedure deleted (merged into another) loses its rows through a trigger on ``procedure``.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
)
from sqlmodel import Session, col

from tracker.db import among, bulk_insert, dialect_name
from tracker.events import ProcedureInfo, procedure_info
from tracker.history import history
from tracker.models import AwareDateTime, Identifier, Notice, Procedure, Version
from tracker.render import change_text
from tracker.store import normalise_key
from tracker.values import PARIS, from_json, to_json
from tracker.vocabulary import normalize_cpv, normalize_department, normalize_text

if TYPE_CHECKING:
    from tracker.store import StoredNotice
    from tracker.subscribers import Subscriber
    from tracker.versioning import VersionPlan

Executor = Session | Connection

#: the deadlines a bidder acts on, in the order a page lists them
DEADLINE_FIELDS: Final = ("tender_deadline", "request_deadline", "questions_deadline", "opening_date", "site_visit")
#: kinds of version that amend a procedure (an award or a restated initial notice does not)
AMENDING_KINDS: Final = ("rectificatif", "change", "cancellation")
STATUS_CHOICES: Final = ("open", "cancelled", "awarded")
_DESCRIPTION_LIMIT: Final = 4000
_CHUNK: Final = 500

metadata = MetaData()

SEARCH = Table(
    "procedure_search",
    metadata,
    Column("procedure_id", Integer, primary_key=True, autoincrement=False),
    Column("display_id", String(80), nullable=False),
    Column("title", Text),
    Column("buyer", Text),
    Column("body", Text, nullable=False),
    Column("facets", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("first_published", Date),
    Column("last_published", Date),
    Column("last_amended", Date),
    Column("amendments", Integer, nullable=False),
    Column("info", JSON, nullable=False),
)

DEADLINES = Table(
    "procedure_deadline",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("procedure_id", Integer, nullable=False),
    Column("lot", String(120), nullable=False),
    Column("lot_title", Text),
    Column("field", String(40), nullable=False),
    Column("value", String(40), nullable=False),
    Column("at", AwareDateTime(), nullable=False),
    Column("all_day", Boolean, nullable=False),
    Column("previous", String(40)),
    Column("sequence", Integer, nullable=False),
    Column("notice_id", String(80)),
    Column("change_text", Text),
    Column("reason", Text),
    Column("cancelled", Boolean, nullable=False),
)

SECRETS = Table(
    "view_secret",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(128), nullable=False),
)

#: every table the views add, the FTS5 one and its shadow tables included (not SQLModel tables)
INDEX_TABLES: Final = frozenset(
    {"procedure_search", "procedure_deadline", "view_secret"}
    | {f"procedure_fts{s}" for s in ("", "_config", "_data", "_docsize", "_idx", "_content")}
)

# ---------------------------------------------------------------- writing the index


@dataclass(frozen=True, slots=True)
class ProcedureView:
    """What the index reads of one procedure: its row, its identifiers and its live versions in order, each as
    ``(procedure_id, kind, published, state, changes, notice_id, notice record)``."""

    procedure_id: int
    display_id: str
    title: str | None
    buyer: str | None
    identifiers: list[str]
    rows: list[tuple[Any, ...]]


def index_procedures(
    db: Executor, procedure_ids: Iterable[int], *, views: Mapping[int, ProcedureView] | None = None
) -> None:
    """(Re)write the search row and the deadlines of these procedures from their current versions.

    ``views``: procedures whose versions the caller has in hand (the pipeline, right after planning them),
    indexed without reading them back; the others are read from the database."""
    ids = sorted(set(procedure_ids))
    known = views or {}
    unknown = [i for i in ids if i not in known]
    for start in range(0, len(unknown), _CHUNK):
        _write_views(db, _load_views(db, unknown[start : start + _CHUNK]))
    given = [known[i] for i in ids if i in known]
    for start in range(0, len(given), _CHUNK):
        _write_views(db, given[start : start + _CHUNK])


def reindex_all(db: Executor) -> int:
    """Every procedure's rows (at migration, or to repair); returns the number of procedures."""
    ids = list(db.execute(select(col(Procedure.id))).scalars())
    index_procedures(db, [i for i in ids if i is not None])
    return len(ids)


def _load_views(db: Executor, ids: list[int]) -> list[ProcedureView]:
    procs = db.execute(
        select(col(Procedure.id), col(Procedure.display_id), col(Procedure.title), col(Procedure.buyer)).where(
            among(db, col(Procedure.id), ids)
        )
    ).all()
    idents: dict[int, list[str]] = {}
    for proc_id, value in db.execute(
        select(col(Identifier.procedure_id), col(Identifier.value))
        .where(among(db, col(Identifier.procedure_id), ids))
        .order_by(col(Identifier.id))
    ):
        idents.setdefault(proc_id, []).append(value)
    versions: dict[int, list[Any]] = {}
    for row in db.execute(
        select(
            col(Version.procedure_id),
            col(Version.kind),
            col(Version.published),
            col(Version.state),
            col(Version.changes),
            col(Notice.notice_id),
            col(Notice.record),
        )
        .join(Notice, col(Notice.id) == col(Version.notice_pk))
        .where(among(db, col(Version.procedure_id), ids), col(Version.superseded_at).is_(None))
        .order_by(col(Version.procedure_id), col(Version.number))
    ):
        versions.setdefault(row[0], []).append(tuple(row))
    return [
        ProcedureView(proc_id, display_id, title, buyer, idents.get(proc_id, []), versions.get(proc_id, []))
        for proc_id, display_id, title, buyer in procs
        if proc_id is not None
    ]


def _write_views(db: Executor, views: list[ProcedureView]) -> None:
    ids = [v.procedure_id for v in views]
    if not ids:
        return
    search_rows, deadline_rows = [], []  # made first: PostgreSQL meanwhile stores the rows written behind
    for view in views:
        search_rows.append(
            _search_row(view.procedure_id, view.display_id, view.title, view.buyer, view.identifiers, view.rows)
        )
        deadline_rows += _deadline_rows(view.procedure_id, view.rows)
    conn = db.connection() if isinstance(db, Session) else db
    full_text = dialect_name(db) == "sqlite" and not _fts_trigger(conn)
    db.execute(delete(SEARCH).where(among(db, SEARCH.c.procedure_id, ids)))
    db.execute(delete(DEADLINES).where(among(db, DEADLINES.c.procedure_id, ids)))
    bulk_insert(conn, SEARCH, search_rows, behind=True)
    if full_text:  # the full-text rows of the rows just written, in one statement (migration 0007)
        rows = [{"rowid": r["procedure_id"], "body": r["body"], "facets": r["facets"]} for r in search_rows]
        bulk_insert(conn, _FTS_ROWS, rows)
    bulk_insert(conn, DEADLINES, deadline_rows, behind=True)


def _fts_trigger(conn: Connection) -> bool:
    """Whether the schema still has the insert trigger that wrote the full-text rows (before migration 0007,
    as when migration 0006 indexes the procedures already stored): the rows must then not be written twice."""
    found = conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'procedure_search_ai'"))
    return found.first() is not None


def _search_row(
    proc_id: int, display_id: str, title: str | None, buyer: str | None, identifiers: list[str], rows: list[Any]
) -> dict[str, Any]:
    records = [row[6] or {} for row in rows]
    state = rows[-1][3] if rows else {"title": title, "buyer": buyer, "cpv": [], "fields": {}, "lots": {}}
    info = _info(records, state, identifiers, display_id)
    amending = [row for row in rows if row[1] in AMENDING_KINDS]  # a rectificatif alone amends one unseen
    published = [row[2] for row in rows if row[2] is not None]
    body = " ".join(
        [info.title or title or "", info.buyer or buyer or "", info.description or "", display_id, *identifiers]
    )
    return {
        "procedure_id": proc_id,
        "display_id": display_id,
        "title": info.title or title,
        "buyer": info.buyer or buyer,
        "body": _indexable(normalize_text(body)),
        "facets": _indexable(" ".join(_facet_tokens(info))),
        "status": str((state.get("fields") or {}).get("status") or "open"),
        "first_published": min(published) if published else None,
        "last_published": max(published) if published else None,
        "last_amended": max((r[2] for r in amending if r[2] is not None), default=None),
        "amendments": len(amending),
        "info": _info_json(info),
    }


def _info(records: list[dict[str, Any]], state: dict[str, Any], identifiers: list[str], display: str) -> ProcedureInfo:
    """The matching facets the notification stage uses (``tracker.events.procedure_info``), the description cut
    to a size an index row can hold."""
    info = procedure_info(records, state, identifiers, display)
    return replace(info, description=info.description[:_DESCRIPTION_LIMIT]) if info.description else info


def _info_json(info: ProcedureInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in ProcedureInfo.__slots__}


def info_of(data: dict[str, Any]) -> ProcedureInfo:
    return ProcedureInfo(**{k: v for k, v in data.items() if k in ProcedureInfo.__slots__})


def _cpv_digits(code: str) -> str:
    digits = code.split("-", 1)[0].strip()
    return digits.rstrip("0") if digits.isdigit() else ""


#: the longest word a PostgreSQL search vector holds (bytes); ``to_tsvector`` skipped longer ones, and a vector
#: made of the row's words (migration 0008) refuses them
LONGEST_WORD = 2047


def _indexable(words: str) -> str:
    """Space-separated words without those too long to index (a pasted blob of letters: never searched for)."""
    if len(words) <= LONGEST_WORD:
        return words
    return " ".join(w for w in words.split(" ") if len(w.encode()) <= LONGEST_WORD)


def _department_token(code: str) -> str:
    """``qd`` and the département's code folded to letters and digits, as every facet token is (the search vector
    is made of the row's words split on spaces)."""
    return "qd" + normalize_text(normalize_department(code)).replace(" ", "")


def _facet_tokens(info: ProcedureInfo) -> list[str]:
    tokens: list[str] = []
    for code in info.cpv:
        digits = _cpv_digits(code)
        tokens += [f"qc{digits[:n]}" for n in range(2, len(digits) + 1)]
    tokens += [_department_token(d) for d in info.departments if d]
    tokens += [f"qs{normalize_text(s).replace(' ', '')}" for s in info.sources if s]
    tokens += [f"qb{word}" for word in normalize_text(info.buyer or "").split()]
    return list(dict.fromkeys(tokens))


def _moment(value: Any) -> tuple[datetime, bool] | None:
    """A deadline's instant (UTC) and whether it is a whole day; a day counts until its end, in Paris."""
    parsed = from_json(value)
    if isinstance(parsed, datetime):
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=PARIS)).astimezone(UTC), False
    if isinstance(parsed, date):
        return datetime.combine(parsed, time(23, 59), tzinfo=PARIS).astimezone(UTC), True
    return None


def _deadlines_of(state: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(field, lot) → value in one state; a lot's value only where it differs from the procedure's."""
    fields = state.get("fields") or {}
    found = {(f, ""): fields[f] for f in DEADLINE_FIELDS if fields.get(f) is not None}
    for lot, values in (state.get("lots") or {}).items():
        for f in DEADLINE_FIELDS:
            value = (values or {}).get(f)
            if value is not None and value != fields.get(f):
                found[(f, str(lot))] = value
    return found


@dataclass(slots=True)
class _Track:
    value: Any
    previous: Any = None
    sequence: int = 0
    notice_id: str | None = None
    change_text: str | None = None
    reason: str | None = None


def _deadline_rows(proc_id: int, rows: list[Any]) -> list[dict[str, Any]]:
    tracks: dict[tuple[str, str], _Track] = {}
    for _, _, _, state, changes, notice_id, record in rows:
        for key, value in _deadlines_of(state).items():
            track = tracks.get(key)
            if track is None:
                tracks[key] = _Track(value=value, notice_id=notice_id)
            elif track.value != value:
                change = next((c for c in changes if (c.get("field"), c.get("lot") or "") == key), None)
                tracks[key] = _Track(
                    value=value,
                    previous=track.value,
                    sequence=track.sequence + 1,
                    notice_id=notice_id,
                    change_text=change_text(change) if change else None,
                    reason=(record or {}).get("reason"),
                )
    if not rows:
        return []
    latest = rows[-1][3]
    cancelled = (latest.get("fields") or {}).get("status") == "cancelled"
    result = []
    for (field, lot), track in tracks.items():
        moment = _moment(track.value)
        if (field, lot) not in _deadlines_of(latest) or moment is None:
            continue
        result.append(
            {
                "procedure_id": proc_id,
                "lot": lot,
                "lot_title": ((latest.get("lots") or {}).get(lot) or {}).get("title") if lot else None,
                "field": field,
                "value": str(to_json(track.value))[:40],
                "at": moment[0],
                "all_day": moment[1],
                "previous": str(to_json(track.previous))[:40] if track.previous is not None else None,
                "sequence": track.sequence,
                "notice_id": track.notice_id,
                "change_text": track.change_text,
                "reason": track.reason,
                "cancelled": cancelled,
            }
        )
    return result


# ---------------------------------------------------------------- durations and dates

_DURATION = re.compile(r"(\d+)\s*([dhw])")


def parse_duration(value: str) -> timedelta:
    """``14d``, ``12h``, ``2w`` (a bare number is days)."""
    value = value.strip().lower()
    if value.isdigit():
        return timedelta(days=int(value))
    m = _DURATION.fullmatch(value)
    if not m:
        raise ValueError(f"not a duration: {value!r} (use 14d, 12h or 2w)")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" else timedelta(weeks=n)


def parse_since(value: str, *, now: datetime) -> date:
    """A day (``2026-01-31``) or a duration back from now (``7d``, ``12h``, ``2w``): the first day it covers."""
    value = value.strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return (now - parse_duration(value)).astimezone(PARIS).date()
    except ValueError:
        raise ValueError(f"not a date or a duration: {value!r} (use 2026-01-31, 7d, 12h or 2w)") from None


# ---------------------------------------------------------------- searching


@dataclass(frozen=True, slots=True)
class Filters:
    text: str = ""
    buyer: str = ""
    cpv: str = ""
    dept: str = ""
    status: str = ""
    amended_since: date | None = None
    deadline_within: timedelta | None = None
    source: str = ""
    limit: int = 50

    def tokens(self) -> list[str]:
        """The full-text terms: the words of the text (each a prefix), then the facet tokens of the filters."""
        terms = [f"{w}*" for w in normalize_text(self.text).split()]
        terms += [f"qb{w}" for w in normalize_text(self.buyer).split()]
        if self.cpv.strip():
            terms.append(f"qc{normalize_cpv(self.cpv)}")
        if self.dept.strip():
            terms.append(_department_token(self.dept))
        if self.source.strip():
            terms.append(f"qs{normalize_text(self.source).replace(' ', '')}")
        return terms


_FTS = table("procedure_fts", column("rowid"))
_FTS_ROWS = table("procedure_fts", column("rowid"), column("body"), column("facets"))


def _matching(db: Executor, terms: list[str]) -> Any:
    """The search rows whose text and facets hold every term, newest procedure first. SQLite drives the query
    from the FTS5 index read backwards by rowid (no sort: it stops at the limit); PostgreSQL's GIN index."""
    if dialect_name(db) == "sqlite":
        query = " AND ".join(f'"{t[:-1]}"*' if t.endswith("*") else f'"{t}"' for t in terms)
        match = text("procedure_fts MATCH :q").bindparams(q=query)
        joined = SEARCH.join(_FTS, _FTS.c.rowid == SEARCH.c.procedure_id)
        return select(SEARCH).select_from(joined).where(match).order_by(_FTS.c.rowid.desc())
    query = " & ".join(f"{t[:-1]}:*" if t.endswith("*") else t for t in terms)
    tsv = literal_column("tsv").op("@@")(func.to_tsquery("simple", query))
    return select(SEARCH).where(tsv).order_by(SEARCH.c.procedure_id.desc())


def search(db: Executor, filters: Filters, *, now: datetime) -> list[dict[str, Any]]:
    """Procedures matching every filter, the one stored last first."""
    terms = filters.tokens()
    stmt = _matching(db, terms) if terms else select(SEARCH).order_by(SEARCH.c.procedure_id.desc())
    if filters.status:
        stmt = stmt.where(SEARCH.c.status == filters.status)
    if filters.amended_since is not None:
        stmt = stmt.where(SEARCH.c.last_amended >= filters.amended_since)
    if filters.deadline_within is not None:
        soon = exists().where(
            DEADLINES.c.procedure_id == SEARCH.c.procedure_id,
            DEADLINES.c.at >= now,
            DEADLINES.c.at <= now + filters.deadline_within,
            DEADLINES.c.cancelled.is_(False),
        )
        stmt = stmt.where(soon)
    rows = db.execute(stmt.limit(filters.limit)).mappings().all()
    return [_procedure_item(row) for row in rows]


def _procedure_item(row: Any) -> dict[str, Any]:
    info = row["info"] or {}
    return {
        "id": row["display_id"],
        "title": row["title"],
        "buyer": row["buyer"],
        "status": row["status"],
        "published": row["first_published"].isoformat() if row["first_published"] else None,
        "last_published": row["last_published"].isoformat() if row["last_published"] else None,
        "last_amended": row["last_amended"].isoformat() if row["last_amended"] else None,
        "amendments": row["amendments"],
        "cpv": info.get("cpv") or [],
        "departments": info.get("departments") or [],
        "sources": info.get("sources") or [],
    }


# ---------------------------------------------------------------- scope of a subscriber

Scope = Callable[[dict[str, Any]], bool]


def scope_of(subscriber: Subscriber) -> Scope:
    """Whether a procedure (its ``info`` facets) is one the subscriber follows or one of its profiles matches."""
    from tracker.match import Facets, profile_matches

    follow = {f.strip().lower() for f in subscriber.follow}

    def in_scope(info: dict[str, Any]) -> bool:
        ids = {str(i).lower() for i in [info.get("id"), *(info.get("identifiers") or [])]}
        if follow & ids:
            return True
        if not subscriber.profiles:
            return False
        facets = Facets.of(info_of(info))
        return any(profile_matches(p, facets) for p in subscriber.profiles)

    return in_scope


# ---------------------------------------------------------------- deadlines


def deadline_item(row: Any) -> dict[str, Any]:
    return {
        "procedure": row["display_id"],
        "title": row["title"],
        "buyer": row["buyer"],
        "lot": row["lot"] or None,
        "lot_title": row["lot_title"],
        "field": row["field"],
        "value": row["value"],
        "at": row["at"].isoformat(),
        "all_day": row["all_day"],
        "previous": row["previous"],
        "moved": row["previous"] is not None,
        "sequence": row["sequence"],
        "notice_id": row["notice_id"],
        "change": row["change_text"],
        "reason": row["reason"],
        "cancelled": row["cancelled"],
    }


def _deadline_select() -> Any:
    return select(
        DEADLINES,
        SEARCH.c.display_id,
        SEARCH.c.title,
        SEARCH.c.buyer,
        SEARCH.c.info,
        SEARCH.c.status,
    ).join(SEARCH, SEARCH.c.procedure_id == DEADLINES.c.procedure_id)


def upcoming(
    db: Executor, *, now: datetime, days: int = 14, scope: Scope | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Every deadline per lot from now to ``days`` ahead, soonest first; cancelled procedures left out."""
    stmt = (
        _deadline_select()
        .where(DEADLINES.c.at >= now, DEADLINES.c.at <= now + timedelta(days=days), DEADLINES.c.cancelled.is_(False))
        .order_by(DEADLINES.c.at, DEADLINES.c.id)
    )
    if scope is None:
        stmt = stmt.limit(limit)
    found = []
    for row in db.execute(stmt).mappings():
        if scope is None or scope(row["info"] or {}):
            found.append(deadline_item(row))
            if len(found) >= limit:
                break
    return found


def deadlines_for(db: Executor, scope: Scope, *, since: datetime) -> list[dict[str, Any]]:
    """Every deadline at or after ``since`` (cancelled ones too) of the procedures in ``scope``: a calendar."""
    stmt = _deadline_select().where(DEADLINES.c.at >= since).order_by(DEADLINES.c.at, DEADLINES.c.id)
    return [deadline_item(row) for row in db.execute(stmt).mappings() if scope(row["info"] or {})]


def procedure_deadlines(db: Executor, procedure_id: int) -> list[dict[str, Any]]:
    stmt = _deadline_select().where(DEADLINES.c.procedure_id == procedure_id).order_by(DEADLINES.c.at)
    return [deadline_item(row) for row in db.execute(stmt).mappings()]


# ---------------------------------------------------------------- the changes feed


@dataclass(frozen=True, slots=True)
class ChangesPage:
    items: list[dict[str, Any]]
    cursor: int | None  # pass it back to get the next page; None when this page is the last


def changes(
    db: Session,
    *,
    since: date,
    cursor: int | None = None,
    limit: int = 100,
    scope: Scope | None = None,
    lang: str = "fr",
    newest_first: bool = False,
) -> ChangesPage:
    """Versions published since ``since`` with typed changes, in the order they were stored (``cursor``: the
    last version id seen; ``newest_first`` reads backwards, for feeds). Each item is the version exactly as
    ``tracker.history.history`` gives it, with its procedure."""
    stmt = (
        select(col(Version.id), col(Version.procedure_id), col(Version.number), SEARCH.c.info)
        .join(SEARCH, SEARCH.c.procedure_id == col(Version.procedure_id))
        .where(col(Version.superseded_at).is_(None), col(Version.published) >= since, col(Version.kind) != "initial")
        .order_by(col(Version.id).desc() if newest_first else col(Version.id))
    )
    if cursor is not None:
        stmt = stmt.where(col(Version.id) < cursor if newest_first else col(Version.id) > cursor)
    items: list[dict[str, Any]] = []
    histories: dict[int, dict[str, Any]] = {}
    cap, fetched, last = limit * 4 + 50, 0, None
    for version_id, procedure_id, number, info in db.execute(stmt.limit(cap)):
        fetched, last = fetched + 1, version_id
        if scope is not None and not scope(info or {}):
            continue
        data = histories.get(procedure_id) or histories.setdefault(procedure_id, _history_of(db, procedure_id, lang))
        version = next((v for v in data["versions"] if v["n"] == number), None)
        if version is None or not (version["changes"] or version.get("corrections")):
            continue
        proc = data["procedure"]
        items.append({"procedure": {"id": proc["id"], "title": proc["title"], "buyer": proc["buyer"]}} | version)
        if len(items) >= limit:
            return ChangesPage(items, version_id)
    return ChangesPage(items, last if fetched == cap else None)  # a full batch read: there may be more


def _history_of(db: Session, procedure_id: int, lang: str) -> dict[str, Any]:
    proc = db.get(Procedure, procedure_id)
    return history(db, proc, lang=lang) if proc is not None else {"procedure": {}, "versions": []}


def recently_amended(db: Executor, *, limit: int = 20) -> list[dict[str, Any]]:
    stmt = (
        select(SEARCH)
        .where(SEARCH.c.last_amended.is_not(None))
        .order_by(SEARCH.c.last_amended.desc(), SEARCH.c.procedure_id.desc())
        .limit(limit)
    )
    return [_procedure_item(row) for row in db.execute(stmt).mappings()]


def search_row(db: Executor, procedure_id: int) -> dict[str, Any] | None:
    row = db.execute(select(SEARCH).where(SEARCH.c.procedure_id == procedure_id)).mappings().first()
    return _procedure_item(row) | {"info": row["info"]} if row else None


# ---------------------------------------------------------------- calendar tokens


def _secret(db: Executor) -> str:
    value = db.execute(select(SECRETS.c.value).where(SECRETS.c.name == "calendar")).scalar_one_or_none()
    if value is None:
        value = secrets.token_hex(32)
        db.execute(insert(SECRETS).values(name="calendar", value=value))
    return str(value)


def calendar_token(db: Executor, subscriber: str) -> str:
    """The unguessable token of one subscriber's calendar URL (a keyed hash of the name; the key is made once)."""
    key = _secret(db).encode()
    return hmac.new(key, f"calendar\n{subscriber}".encode(), "sha256").hexdigest()[:40]


def token_matches(db: Executor, subscriber: str, given: str) -> bool:
    return hmac.compare_digest(calendar_token(db, subscriber).encode(), given.encode())


def views_of(plan: VersionPlan, notices: Iterable[StoredNotice]) -> dict[int, ProcedureView]:
    """The procedures a version plan leaves with live versions, as the index reads them: no read back."""
    identifiers: dict[int, list[str]] = {}
    for notice in notices:
        record = notice.record
        pairs = list(record.get("identifiers") or []) + list(record.get("links") or [])
        identifiers.setdefault(notice.procedure_id, []).extend(
            normalise_key(str(scheme), str(value))[1] for scheme, value in pairs
        )
    views: dict[int, ProcedureView] = {}
    for proc in plan.procedures:
        pid = proc["pid"]
        rows = [
            (
                pid,
                version.kind,
                date.fromisoformat(version.published) if version.published else None,
                version.state,
                version.changes,
                version.notice_id,
                record,
            )
            for record, version in plan.live.get(pid, [])
        ]
        views[pid] = ProcedureView(
            pid,
            proc["display_id"],
            proc["title"],
            proc["buyer"],
            list(dict.fromkeys(identifiers.get(pid, []))),
            rows,
        )
    return views
