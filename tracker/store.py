"""Persistence use-cases. The only module that writes notice, procedure and version rows.

``ingest_batch`` stores a batch of parsed documents in one transaction:

1. every raw document is kept once, by content hash (a document seen before is skipped: re-ingesting
   the same input changes nothing);
2. a document that could not be parsed goes to quarantine with its reason;
3. each notice joins the procedure found through any of its identifiers or links (procedures meeting
   through a notice are merged); a link to a notice not seen yet is kept as a placeholder identifier, so
   the original, arriving later, lands in the same procedure. A ContractFolderID (``procedure_uuid``) is no
   proof alone: it joins a procedure only when the buyers agree (``tracker.linking.may_merge``) or another
   identifier or link (a BT-758 reference) reaches the same procedure; otherwise the notice stays apart,
   the collision is logged and the ContractFolderID stays the first procedure's;
4. the procedures touched are returned (``IngestStats.procedures``): the pipeline then plans their versions
   (``tracker.versioning``, pure) and :func:`write_versions` writes the plan. Version rows are keyed by
   notice, updated in place, and never deleted.

Idempotency is guarded by the unique constraints of ``tracker.models``.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, text, update
from sqlmodel import Session, col

from tracker.codec import pack, unpack
from tracker.db import among, bulk_insert
from tracker.documents import Document
from tracker.linking import (
    GUARDED_SCHEMES,
    REFERENCE_SCHEME,
    Buyers,
    buyers,
    collision_message,
    is_placeholder,
    may_merge,
)
from tracker.models import Document as DocumentRow
from tracker.models import Identifier, Notice, Procedure, Quarantine, Version
from tracker.notice import ChangeDict, NoticeRecord, NoticeSnapshot, snapshot_record
from tracker.parse.base import ParsedItem
from tracker.parse.platform import consultation_key
from tracker.values import clean_text

if TYPE_CHECKING:
    from tracker.versioning import VersionPlan

log = logging.getLogger(__name__)

#: identifier schemes that identify one notice or one procedure, and so may link and merge
LINKING_SCHEMES = frozenset({"idweb", "notice_id", "procedure_uuid", "ted_pub", "consultation", "buyer_ref"})
_CHUNK = 500
#: pending procedure ids (not stored yet) start here, above any stored id
_PENDING = 1 << 62


@dataclass(frozen=True, slots=True)
class StoredNotice:
    """A notice row, as the versioning stage reads it."""

    pk: int
    procedure_id: int
    record: NoticeRecord


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version row, as the versioning stage reads it."""

    id: int
    notice_pk: int
    procedure_id: int
    number: int
    content_hash: str
    superseded: bool
    notified: bool
    revision: int
    told: list[ChangeDict] | None
    corrections: list[dict[str, Any]] | None


@dataclass(slots=True)
class IngestStats:
    documents: int = 0
    stored: int = 0
    unchanged: int = 0
    quarantined: int = 0
    notices: int = 0
    linked: int = 0
    versions_created: int = 0
    versions_updated: int = 0
    procedures: set[int] = field(default_factory=set)
    #: ids of versions created or changed by this batch: the follow-up (fan-out) work
    version_ids: list[int] = field(default_factory=list)
    #: the records of the notices this call wrote, by notice pk: versioning reads them from here, not back
    records: dict[int, NoticeRecord] = field(default_factory=dict, repr=False)
    #: the procedure of each notice this call wrote (by pk), and the procedures it created: a procedure created
    #: in this transaction holds only notices written by it, and no version yet (nothing to read back)
    notice_procedures: dict[int, int] = field(default_factory=dict, repr=False)
    created: set[int] = field(default_factory=set, repr=False)

    def add(self, other: IngestStats) -> None:
        for name in ("documents", "stored", "unchanged", "quarantined", "notices", "linked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.versions_created += other.versions_created
        self.versions_updated += other.versions_updated
        self.procedures |= other.procedures
        self.version_ids += other.version_ids


#: TED publication numbers: ``41387-2024``, ``00041387-2024``, and the OJ S form ``2024/S 015-041387``
_TED_PUB = re.compile(r"^0*(\d{1,8})-(\d{4})$")
_TED_OJS = re.compile(r"^(\d{4})\s*/\s*S\s*\d{1,3}\s*-\s*0*(\d{1,8})$", re.I)
#: an eForms notice id with its version (BT-757) appended: ``UUID-01``
_UUID_VERSION = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-\d{2}$")


def normalise_key(scheme: str, value: str) -> tuple[str, str]:
    """One spelling per identifier: UUIDs lower-case, a notice id without its version, a TED publication
    number unpadded (``00041387-2024`` and ``2024/S 015-041387`` are ``41387-2024``)."""
    value = value.strip()
    if scheme == REFERENCE_SCHEME:  # spaces collapsed, the case kept (it is shown as the buyer wrote it)
        value = " ".join(value.split())
    if scheme in ("procedure_uuid", "notice_id"):
        value = value.lower()
    if scheme == "notice_id" and (m := _UUID_VERSION.match(value)):
        value = m.group(1)
    if scheme == "ted_pub":
        if m := _TED_PUB.match(value):
            value = f"{int(m.group(1))}-{m.group(2)}"
        elif m := _TED_OJS.match(value):
            value = f"{int(m.group(2))}-{m.group(1)}"
    return scheme, value


def _table(model: Any) -> Table:
    """The Core table of a model: bulk statements on it skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]], *, behind: bool = False) -> list[int]:
    """Insert rows of one shape and return their ids, in the order of the rows.

    The ids are chosen first, then the rows go in by :func:`tracker.db.bulk_insert` (COPY, or one prepared
    ``INSERT`` run by ``executemany``): a multi-row ``INSERT … RETURNING`` of thousands of parameters costs more
    to build and parse than to run. PostgreSQL draws the ids from the table's sequence in one query. SQLite
    (one writer at a time) continues from the largest id, as it would itself; should another process have
    taken those ids in the meantime, the primary key refuses the rows and the pipeline runs the batch again
    (``IntegrityError``), so no id is ever shared. ``behind``: see :func:`tracker.db.bulk_insert`; the ids are then
    drawn on another connection, without waiting for this one's writes.
    """
    if not rows:
        return []
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        sequence = f"nextval(pg_get_serial_sequence('{table.name}', 'id'))"
        draw = text(f"SELECT {sequence} FROM generate_series(1, :n)")
        if behind:  # a sequence is outside transactions: drawn on another connection, not after the writes behind
            with conn.engine.connect() as other:
                ids = list(other.execute(draw, {"n": len(rows)}).scalars())
                other.commit()
        else:
            ids = list(conn.execute(draw, {"n": len(rows)}).scalars())
    else:
        start = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1
        ids = list(range(start, start + len(rows)))
    bulk_insert(conn, table, [dict(row, id=pk) for row, pk in zip(rows, ids, strict=True)], behind=behind)
    return ids


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ------------------------------------------------------------------ documents and quarantine


def _existing_shas(session: Session, model: Any, shas: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(shas):
        found.update(session.execute(select(model.sha256).where(among(session, model.sha256, chunk))).scalars())
    return found


def _store_documents(session: Session, items: list[ParsedItem], now: datetime) -> dict[str, int]:
    rows = [
        {
            "sha256": it.document.sha256,
            "source": it.document.source,
            "locator": it.document.locator,
            "media_type": it.document.media_type,
            "size": len(it.document.content),
            "content": it.packed if it.packed is not None else pack(it.document.content),
            "fetched_at": now,
            "processed_at": now,
        }
        for it in items
    ]
    ids = insert_rows(session, _table(DocumentRow), rows, behind=True)
    return {it.document.sha256: pk for it, pk in zip(items, ids, strict=True)}


def quarantine(session: Session, items: list[ParsedItem], now: datetime) -> int:
    """Quarantine records with their reason; their raw documents are kept (a document row, processed, with no
    notice) so ``tracker quarantine --retry`` can read them again once the code is fixed. Return how many
    records were newly quarantined; a record quarantined already gets its latest reason."""
    if not items:
        return 0
    shas = list(dict.fromkeys(it.document.sha256 for it in items))
    doc_ids = _document_ids(session, shas)
    missing = list({it.document.sha256: it for it in items if it.document.sha256 not in doc_ids}.values())
    doc_ids.update(_store_documents(session, missing, now))
    known = _existing_shas(session, Quarantine, shas)
    rows, seen, again = [], set(known), []
    for it in items:
        sha = it.document.sha256
        reason = clean_text(it.error or "unknown error", 2000)
        if sha in seen:
            again.append({"sha": sha, "reason": reason, "did": doc_ids.get(sha)})
            continue
        seen.add(sha)
        excerpt = clean_text(it.document.content[:300].decode("utf-8", errors="replace"))
        rows.append(
            {
                "sha256": sha,
                "document_id": doc_ids.get(sha),
                "source": clean_text(it.document.source, 64),
                "locator": clean_text(it.document.locator, 2000),
                "reason": reason,
                "excerpt": excerpt,
                "created_at": now,
            }
        )
    if rows:
        session.execute(insert(Quarantine), rows)
    if again:
        stmt = (
            update(Quarantine)
            .where(col(Quarantine.sha256) == bindparam("sha"))
            .values(reason=bindparam("reason"), document_id=bindparam("did"))
        )
        session.connection().execute(stmt, again)
    return len(rows)


def _document_ids(session: Session, shas: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(shas):
        stmt = select(col(DocumentRow.sha256), col(DocumentRow.id)).where(
            among(session, col(DocumentRow.sha256), chunk)
        )
        found.update({sha: pk for sha, pk in session.execute(stmt)})  # noqa: C416 - rows, not pairs
    return found


def quarantined_documents(session: Session, shas: list[str]) -> dict[str, int]:
    """Among these content hashes, those of documents kept in quarantine: their document ids."""
    found: dict[str, int] = {}
    for chunk in _chunks(shas):
        stmt = select(col(Quarantine.sha256), col(Quarantine.document_id)).where(
            among(session, col(Quarantine.sha256), chunk), col(Quarantine.document_id).is_not(None)
        )
        found.update({sha: pk for sha, pk in session.execute(stmt) if pk is not None})
    return found


def release(session: Session, document_ids: list[int]) -> None:
    """These documents were read at last: out of quarantine."""
    for chunk in _chunks(document_ids):
        session.execute(delete(Quarantine).where(among(session, col(Quarantine.document_id), chunk)))


def quarantined_ids(session: Session) -> list[int]:
    """The ids of the kept documents of quarantined records, oldest first: what ``tracker quarantine --retry``
    reads again."""
    stmt = select(col(Quarantine.document_id)).where(col(Quarantine.document_id).is_not(None))
    return [pk for pk in session.execute(stmt.order_by(col(Quarantine.id))).scalars() if pk is not None]


# ------------------------------------------------------------------ linking


class _Linker:
    """Maps identifier keys to procedures for one batch, creating and merging procedures as needed.

    A procedure the batch needs is first a *pending* id (above every stored id, in order of need, so the
    smallest id still wins a merge as it would one by one); :meth:`create` inserts the pending procedures
    that survived the batch's merges with one multi-row ``INSERT … RETURNING`` per chunk."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.proc_of: dict[tuple[str, str], int] = {}  # key -> procedure (resolve() it: merges are lazy)
        self.owner: dict[tuple[str, str], int | None] = {}  # key -> notice pk (None: placeholder)
        self.new_keys: dict[tuple[str, str], int | None] = {}
        self.claimed: dict[tuple[str, str], int] = {}  # placeholder keys now owned by a notice
        self.touched: set[int] = set()
        self.merged: dict[int, int] = {}
        self.pending: dict[int, str] = {}  # pending procedure id -> display id
        self.real: dict[int, int] = {}  # pending id -> stored id, once created
        self.buyers: dict[int, Buyers] = {}  # procedure -> the buyers of its notices (stored ones once read)
        self.read: set[int] = set()  # stored procedures whose notices' buyers were read
        self.sources: dict[int, set[str]] = {}  # procedure -> the sources of its notices (read with the buyers)
        self.created: set[int] = set()  # procedures inserted by this batch (stored ids)

    def resolve(self, proc: int) -> int:
        path = []
        while proc in self.merged:
            path.append(proc)
            proc = self.merged[proc]
        for p in path:  # path compression: later lookups are one step
            self.merged[p] = proc
        return self.real.get(proc, proc)

    def prefetch(self, keys: set[tuple[str, str]]) -> None:
        # by value alone (ix_identifier_value), the scheme checked here: a row-value IN list plans worse
        values = sorted({value for _, value in keys})
        for chunk in _chunks(values):
            stmt = select(
                col(Identifier.scheme), col(Identifier.value), col(Identifier.procedure_id), col(Identifier.notice_pk)
            ).where(among(self.session, col(Identifier.value), chunk))
            for scheme, value, proc, notice_pk in self.session.execute(stmt):
                if (scheme, value) in keys:
                    self.proc_of[(scheme, value)] = proc
                    self.owner[(scheme, value)] = notice_pk

    def prefetch_buyers(self, notices: Iterable[list[tuple[str, str]]]) -> None:
        """Read, in one query per chunk, the buyers of the stored procedures a notice's ContractFolderID
        alone (none of its other keys) would join it to."""
        wanted: set[int] = set()
        for keys in notices:
            others = {self.proc_of[k] for k in keys if k[0] not in GUARDED_SCHEMES and k in self.proc_of}
            wanted |= {self.proc_of[k] for k in keys if k[0] in GUARDED_SCHEMES and k in self.proc_of} - others
        self._read_buyers(wanted)

    def _read_buyers(self, procs: set[int]) -> None:
        n = _table(Notice)
        todo = sorted(p for p in procs if p < _PENDING and p not in self.read)
        for chunk in _chunks(todo):
            stmt = select(
                n.c.procedure_id, n.c.source, n.c.notice_id, n.c.record["buyer"], n.c.record[("extra", "buyer_ids")]
            )
            for proc, source, notice_id, name, ids in self.session.execute(
                stmt.where(among(self.session, n.c.procedure_id, chunk))
            ):
                found = buyers(name, ids if isinstance(ids, list) else (), notice_id)
                self.note_buyers(proc, found, source)
        self.read.update(todo)

    def buyers_of(self, proc: int) -> Buyers:
        self._read_buyers({proc})  # read already, as a rule (prefetch_buyers)
        return self.buyers.get(proc, Buyers())

    def note_buyers(self, proc: int, found: Buyers, source: str | None = None) -> None:
        self.buyers[proc] = self.buyers.get(proc, Buyers()) | found
        if source:
            self.sources.setdefault(proc, set()).add(source)

    def admit(
        self, own: list[tuple[str, str]], links: list[tuple[str, str]], notice: Buyers, snap: NoticeSnapshot
    ) -> list[tuple[str, str]]:
        """``own`` without a guarded key (a ContractFolderID, a buyer's internal reference) that would join the
        notice to a procedure none of its other identifiers or links reaches, unless the buyers agree. A
        ContractFolderID collision is logged. An internal reference also never joins a procedure that already
        has a notice of this source when the notice identifies itself otherwise: a buyer relaunching a procedure
        after it was declared unsuccessful often keeps its reference, and that is a new procedure."""
        others = {
            self.resolve(self.proc_of[k]) for k in own + links if k[0] not in GUARDED_SCHEMES and k in self.proc_of
        }
        identified = any(k[0] not in GUARDED_SCHEMES for k in own)
        kept = []
        for key in own:
            proc = self.resolve(self.proc_of[key]) if key[0] in GUARDED_SCHEMES and key in self.proc_of else None
            if proc is None or proc in others:
                kept.append(key)
                continue
            known = self.buyers_of(proc)
            relaunch = key[0] == REFERENCE_SCHEME and identified and snap.source in self.sources.get(proc, ())
            if may_merge(known, notice) and not relaunch:
                kept.append(key)
                continue
            if key[0] == REFERENCE_SCHEME:  # buyers share short references all the time: no warning
                continue
            shown = self.pending.get(proc, f"#{proc}")
            log.warning("%s", collision_message(key[1], snap.notice_id, notice, shown, known))
        return kept

    def procedure_for(self, keys: list[tuple[str, str]], display_id: str) -> int:
        procs = sorted({self.resolve(self.proc_of[k]) for k in keys if k in self.proc_of})
        if not procs:
            proc = _PENDING + len(self.pending)
            self.pending[proc] = display_id
        else:
            proc = procs[0]
            for other in procs[1:]:
                self._merge(other, into=proc)
        self.touched.add(proc)
        return proc

    def _merge(self, other: int, *, into: int) -> None:
        if other not in self.pending:  # a stored procedure: its rows move (a pending one has none yet)
            for model in (Notice, Identifier, Version):
                self.session.execute(update(model).where(col(model.procedure_id) == other).values(procedure_id=into))
            self.session.execute(delete(Procedure).where(col(Procedure.id) == other))
        self.merged[other] = into
        self.touched.discard(other)
        if other in self.buyers:
            self.note_buyers(into, self.buyers.pop(other))

    def claim(self, keys: list[tuple[str, str]], proc: int, notice_pk: int | None) -> None:
        for key in keys:
            if key not in self.proc_of:
                self.new_keys[key] = notice_pk
                self.owner[key] = notice_pk
            elif notice_pk is not None and self.owner.get(key) is None:
                if key in self.new_keys:
                    self.new_keys[key] = notice_pk
                else:
                    self.claimed[key] = notice_pk
                self.owner[key] = notice_pk
            self.proc_of[key] = proc

    def settle(self, rows: list[dict[str, Any]]) -> None:
        """Insert the pending procedures no merge absorbed and point ``rows`` (notice rows), every key and the
        touched set at stored ids. Merges are then forgotten: SQLite may give a new procedure the id of one
        merged away, which must not be chased."""
        alive = [p for p in self.pending if p not in self.merged]
        for chunk in _chunks(alive, 1000):
            self.real.update(self._insert_procedures(chunk))
        self.created |= {self.real[p] for p in alive}
        for row in rows:
            row["procedure_id"] = self.resolve(row["procedure_id"])
        self.proc_of = {k: self.resolve(p) for k, p in self.proc_of.items()}
        self.touched = {self.resolve(p) for p in self.touched}
        self.merged.clear()
        self.real.clear()
        self.pending.clear()

    def _insert_procedures(self, pending: Sequence[int]) -> dict[int, int]:
        """Pending id -> stored id."""
        values = [{"display_id": self.pending[p], "updated_at": self.now} for p in pending]
        return dict(zip(pending, insert_rows(self.session, _table(Procedure), values), strict=True))

    def flush(self) -> None:
        rows = [
            {"scheme": s, "value": v, "procedure_id": self.proc_of[(s, v)], "notice_pk": pk}
            for (s, v), pk in self.new_keys.items()
            if len(s) <= 20 and len(v) <= 120  # the columns' lengths: a longer key identifies nothing
        ]
        for chunk in _chunks(rows, 1000):
            bulk_insert(self.session.connection(), _table(Identifier), chunk, behind=True)
        if self.claimed:
            stmt = (
                update(Identifier)
                .where(col(Identifier.scheme) == bindparam("s"), col(Identifier.value) == bindparam("v"))
                .values(notice_pk=bindparam("pk"))
            )
            self.session.connection().execute(
                stmt, [{"s": s, "v": v, "pk": pk} for (s, v), pk in self.claimed.items()]
            )


def _keys(snap: NoticeSnapshot) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    own = [
        normalise_key(s, v)
        for s, v in snap.identifiers
        if s in LINKING_SCHEMES and not (s == REFERENCE_SCHEME and is_placeholder(v))
    ] + _platform_keys(snap)
    links = [normalise_key(s, v) for s, v in snap.links if s in LINKING_SCHEMES]
    return list(dict.fromkeys(own)), [k for k in dict.fromkeys(links) if k not in own]


def _platform_keys(snap: NoticeSnapshot) -> list[tuple[str, str]]:
    """The buyer-platform consultation a notice's documents or submission address names (``…?refConsultation=…
    &orgAcronyme=…``): the notice and the platform's page are one procedure."""
    holders = [snap.fields, *snap.lots.values()]
    urls = {h.get(name) for h in holders for name in ("documents_url", "submission_url") if h.get(name)}
    keys = (consultation_key(str(url)) for url in urls)
    return [("consultation", key) for key in sorted({k for k in keys if k})]


# ------------------------------------------------------------------ notices


def _existing_notices(
    session: Session, entries: list[tuple[NoticeSnapshot, int]]
) -> tuple[dict[tuple[str, str], int], set[int]]:
    """The pks of notices already stored (re-published), and the procedures they were in."""
    keys = {(s.source, s.notice_id) for s, _ in entries}
    sources = sorted({source for source, _ in keys})
    existing: dict[tuple[str, str], tuple[int, int]] = {}
    for chunk in _chunks(sorted({nid for _, nid in keys})):
        # both columns of uq_notice_source_notice_id as plain IN lists: an index scan, unlike a row-value IN
        stmt = select(col(Notice.source), col(Notice.notice_id), col(Notice.id), col(Notice.procedure_id)).where(
            among(session, col(Notice.source), sources), among(session, col(Notice.notice_id), chunk)
        )
        existing.update({(src, nid): (pk, proc) for src, nid, pk, proc in session.execute(stmt) if (src, nid) in keys})
    return existing_pks(existing), {proc for _, proc in existing.values()}


def existing_pks(existing: dict[tuple[str, str], tuple[int, int]]) -> dict[tuple[str, str], int]:
    return {k: pk for k, (pk, _) in existing.items()}


def _notice_row(
    snap: NoticeSnapshot, proc: int, doc_id: int, now: datetime, record: NoticeRecord | None = None
) -> dict[str, Any]:
    return {
        "source": snap.source,
        "notice_id": snap.notice_id,
        "kind": snap.kind,
        "published": snap.published,
        "procedure_id": proc,
        "document_id": doc_id,
        "record": record if record is not None else snapshot_record(snap),
        "received_at": now,
    }


# ------------------------------------------------------------------ versions


def versioning_inputs(
    session: Session,
    procedure_ids: Iterable[int],
    *,
    records: dict[int, NoticeRecord] | None = None,
    written: IngestStats | None = None,
) -> tuple[list[StoredNotice], list[StoredVersion]]:
    """The notices and stored versions of these procedures, locked for the rebuild (PostgreSQL: one rebuild of
    a procedure at a time; SQLite has one writer). ``records``: notice records the caller has just written,
    taken from there instead of read back. ``written``: what the caller's store call wrote in this transaction;
    the procedures it created are not read back at all (nobody else sees them before the commit)."""
    known = records or {}
    created = written.created if written is not None else set()
    notices: list[StoredNotice] = []
    if created and written is not None:
        notices += [
            StoredNotice(pk=pk, procedure_id=proc, record=known[pk] if pk in known else written.records[pk])
            for pk, proc in written.notice_procedures.items()
            if proc in created
        ]
    procs = sorted(set(procedure_ids) - created)
    for chunk in _chunks(procs):
        session.execute(
            select(col(Procedure.id))
            .where(among(session, col(Procedure.id), chunk))
            .order_by(col(Procedure.id))
            .with_for_update()
        )
    versions: list[StoredVersion] = []
    conn, n = session.connection(), _table(Notice)
    for chunk in _chunks(procs):
        rows = conn.execute(select(n.c.id, n.c.procedure_id).where(among(conn, n.c.procedure_id, chunk))).all()
        missing = [pk for pk, _ in rows if pk not in known]
        read: dict[int, NoticeRecord] = {}
        for part in _chunks(missing):
            read.update(
                (pk, record)
                for pk, record in conn.execute(select(n.c.id, n.c.record).where(among(conn, n.c.id, part)))
            )
        notices += [
            StoredNotice(pk=pk, procedure_id=proc, record=known[pk] if pk in known else read[pk]) for pk, proc in rows
        ]
        versions += [
            StoredVersion(
                id=row.id,
                notice_pk=row.notice_pk,
                procedure_id=row.procedure_id,
                number=row.number,
                content_hash=row.content_hash,
                superseded=row.superseded_at is not None,
                notified=row.notified_at is not None,
                revision=row.revision,
                told=row.told,
                corrections=row.corrections,
            )
            for row in session.execute(
                select(
                    col(Version.id),
                    col(Version.notice_pk),
                    col(Version.procedure_id),
                    col(Version.number),
                    col(Version.content_hash),
                    col(Version.superseded_at),
                    col(Version.notified_at),
                    col(Version.revision),
                    col(Version.told),
                    col(Version.corrections),
                ).where(among(session, col(Version.procedure_id), chunk))
            )
        ]
    return notices, versions


def stored_documents(session: Session, shas: list[str]) -> set[str]:
    """The content hashes among these stored already as documents (a quarantined one is read again)."""
    known = _existing_shas(session, DocumentRow, shas)
    return known - set(quarantined_documents(session, list(known))) if known else known


def write_versions(
    session: Session, plan: VersionPlan, *, now: datetime, notified: bool = False
) -> tuple[int, int, list[int]]:
    """Write a version plan's versions; return (created, updated, ids of versions created, changed or owing a
    correction). The procedures' own columns are :func:`update_procedures`' (written last, so PostgreSQL stores
    the batch's rows meanwhile).

    No version row is ever deleted: superseded ones are marked."""
    ids: list[int] = []
    conn = session.connection()
    if plan.superseded:
        for chunk in _chunks(plan.superseded):
            session.execute(
                update(Version)
                .where(among(session, col(Version.id), chunk))
                .values(superseded_at=now, updated_at=now, notified_at=func.coalesce(col(Version.notified_at), now))
            )
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in plan.updates:
        by_columns[tuple(sorted(k for k in row if k != "vid"))].append(row)
    for columns, rows in by_columns.items():
        stmt = update(Version).where(col(Version.id) == bindparam("vid")).values({k: bindparam(k) for k in columns})
        conn.execute(stmt, rows)
    ids += [u["vid"] for u in plan.updates if "content_hash" in u or u.get("notified_at", 0) is None]
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)  # a Core executemany takes one shape
    for row in plan.inserts:
        told = {"notified_at": now, "told": row["changes"]} if notified else {}
        by_keys[tuple(row) + tuple(told)].append({"corrections": None, **row, **told})
    inserted: list[int] = []
    for rows in by_keys.values():
        inserted += insert_rows(session, _table(Version), rows, behind=True)  # while the views are made
    updated = sum(1 for u in plan.updates if "content_hash" in u)
    return len(plan.inserts), updated, list(dict.fromkeys(inserted + ids))


def update_procedures(session: Session, plan: VersionPlan) -> None:
    """The display id, title and buyer of the planned procedures, from their versions."""
    conn = session.connection()
    if plan.procedures and conn.dialect.name == "postgresql":
        _update_procedures_pg(conn, plan.procedures)
    elif plan.procedures:
        stmt = (
            update(Procedure)
            .where(col(Procedure.id) == bindparam("pid"))
            .values(
                display_id=bindparam("display_id"),
                title=bindparam("title"),
                buyer=bindparam("buyer"),
                updated_at=bindparam("updated_at"),
            )
        )
        conn.execute(stmt, plan.procedures)


_UPDATE_PROCEDURES_PG = text(
    "UPDATE procedure AS p SET display_id = v.display_id, title = v.title, buyer = v.buyer, updated_at = v.at"
    " FROM unnest(CAST(:pid AS integer[]), CAST(:display_id AS varchar[]), CAST(:title AS varchar[]),"
    " CAST(:buyer AS varchar[]), CAST(:at AS timestamptz[])) AS v(pid, display_id, title, buyer, at)"
    " WHERE p.id = v.pid"
)


def _update_procedures_pg(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The procedures' display id, title and buyer after their versions were planned, in one statement (an array
    per column; a thousand statements cost the server and the driver several times more). The last row of a
    procedure wins, as it would one statement at a time."""
    last = {row["pid"]: row for row in rows}
    columns = {"pid": "pid", "display_id": "display_id", "title": "title", "buyer": "buyer", "at": "updated_at"}
    conn.execute(_UPDATE_PROCEDURES_PG, {name: [row[key] for row in last.values()] for name, key in columns.items()})


# ------------------------------------------------------------------ the batch


def ingest_batch(session: Session, items: list[ParsedItem], *, now: datetime) -> IngestStats:
    """Store a batch of parsed documents; see the module docstring. The caller commits."""
    stats = IngestStats(documents=len(items))
    known = _existing_shas(session, DocumentRow, [it.document.sha256 for it in items])
    held = quarantined_documents(session, list(known)) if known else {}  # read again: maybe readable now
    fresh: list[ParsedItem] = []
    seen: set[str] = set()
    for it in items:
        sha = it.document.sha256
        if (sha in known and sha not in held) or sha in seen:
            stats.unchanged += 1
            continue
        seen.add(sha)
        fresh.append(it)
    failed = [it for it in fresh if it.error is not None or not it.snapshots]
    for it in failed:
        it.error = it.error or "no notice found in document"
    stats.quarantined = quarantine(session, failed, now)
    good = [it for it in fresh if it.error is None]
    doc_ids = _store_documents(session, [it for it in good if it.document.sha256 not in held], now)
    doc_ids.update(held)
    release(session, [held[it.document.sha256] for it in good if it.document.sha256 in held])
    stats.stored = len(good)
    entries = [(snap, doc_ids[it.document.sha256]) for it in good for snap in it.snapshots]
    made = {id(snap): rec for it in good if it.records for snap, rec in zip(it.snapshots, it.records, strict=True)}
    _link_and_store(session, entries, stats, now, records=made)
    return stats


def _link_and_store(
    session: Session,
    entries: list[tuple[NoticeSnapshot, int]],
    stats: IngestStats,
    now: datetime,
    *,
    records: dict[int, NoticeRecord] | None = None,
) -> None:
    """``records``: the stored records of snapshots (by ``id``) that the parsing process made already."""
    if not entries:
        return
    # one notice published twice in a batch (a corrected record): the later document wins
    entries = list({(snap.source, snap.notice_id): (snap, doc_id) for snap, doc_id in entries}.values())
    linker = _Linker(session, now)
    keys_of = {id(snap): _keys(snap) for snap, _ in entries}  # once per notice: platform keys parse URLs
    all_keys = {k for own_links in keys_of.values() for part in own_links for k in part}
    linker.prefetch(all_keys)
    linker.prefetch_buyers(own + links for own, links in keys_of.values())
    existing, left = _existing_notices(session, entries)
    linker.touched |= left
    new_rows: list[tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]]] = []
    refreshed: list[dict[str, Any]] = []
    for snap, doc_id in entries:
        own, links = keys_of[id(snap)]
        buyer = buyers(snap.buyer, snap.extra.get("buyer_ids") or (), snap.notice_id)
        own = linker.admit(own, links, buyer, snap)  # a ContractFolderID or a reference alone: same buyer only
        proc = linker.procedure_for(own + links, snap.notice_id)
        linker.note_buyers(proc, buyer, snap.source)
        row = _notice_row(snap, proc, doc_id, now, (records or {}).get(id(snap)))
        pk = existing.get((snap.source, snap.notice_id))
        if pk is None:
            new_rows.append((row, own, links))
            linker.claim(own + links, proc, None)  # provisional; owned once the pk is known
        else:
            refreshed.append(row | {"nid": pk})
            linker.claim(own, proc, pk)
            linker.claim(links, proc, None)
    linker.settle([r for r, _, _ in new_rows] + refreshed)
    notice_ids = insert_rows(session, _table(Notice), [r for r, _, _ in new_rows], behind=True)
    for (row, _own, _links), pk in zip(new_rows, notice_ids, strict=True):
        existing[(row["source"], row["notice_id"])] = pk
    for row, own, _links in new_rows:
        pk = existing[(row["source"], row["notice_id"])]
        linker.claim(own, row["procedure_id"], pk)
        stats.records[pk] = row["record"]
        stats.notice_procedures[pk] = row["procedure_id"]
    for row in refreshed:
        stats.records[row["nid"]] = row["record"]
        stats.notice_procedures[row["nid"]] = row["procedure_id"]
    if refreshed:
        stmt = (
            update(Notice)
            .where(col(Notice.id) == bindparam("nid"))
            .values({k: bindparam(k) for k in refreshed[0] if k != "nid"})
        )
        session.connection().execute(stmt, refreshed)
    linker.flush()
    stats.notices += len(entries)
    stats.linked += sum(1 for snap, _ in entries if any(linker.owner.get(k) for k in keys_of[id(snap)][1]))
    stats.procedures |= linker.touched
    stats.created |= linker.created


# ------------------------------------------------------------------ one document at a time (workers, pollers)


def save_documents(session: Session, documents: list[Document], *, now: datetime) -> list[int]:
    """Keep new raw documents, not yet processed; return the ids of those that were new."""
    known = _existing_shas(session, DocumentRow, [d.sha256 for d in documents])
    fresh: dict[str, Document] = {}
    for doc in documents:
        if doc.sha256 not in known:
            fresh.setdefault(doc.sha256, doc)
    rows = [
        {
            "sha256": sha,
            "source": d.source,
            "locator": d.locator,
            "media_type": d.media_type,
            "size": len(d.content),
            "content": pack(d.content),
            "fetched_at": now,
            "processed_at": None,
        }
        for sha, d in fresh.items()
    ]
    ids: list[int] = []
    for chunk in _chunks(rows, 200):
        ids += list(session.execute(insert(DocumentRow).returning(col(DocumentRow.id)), list(chunk)).scalars())
    return ids


def load_document(session: Session, document_id: int) -> tuple[Document, bool] | None:
    """The raw document and whether it was processed already."""
    row = session.get(DocumentRow, document_id)
    if row is None:
        return None
    raw = Document(row.source, row.locator, unpack(row.content), row.media_type)
    return raw, row.processed_at is not None


def mark_notified(session: Session, version_ids: list[int], *, now: datetime) -> None:
    """These versions went through fan-out (or there is nobody to notify): no fan-out is owed any more."""
    for chunk in _chunks(version_ids, 500):
        session.execute(
            update(Version)
            .where(among(session, col(Version.id), chunk), col(Version.notified_at).is_(None))
            .values(notified_at=now, told=col(Version.changes))
        )


def unnotified_versions(session: Session, *, created_before: datetime | None, limit: int = 1000) -> list[int]:
    """Versions whose fan-out is still owed (made before a time, if given), oldest first."""
    stmt = select(col(Version.id)).where(col(Version.notified_at).is_(None))
    if created_before is not None:
        stmt = stmt.where(col(Version.created_at) < created_before)
    return list(session.execute(stmt.order_by(col(Version.id)).limit(limit)).scalars())


def stranded_documents(session: Session, *, saved_before: datetime | None, limit: int = 1000) -> list[int]:
    """Documents still not processed (saved before a time, if given), oldest first."""
    stmt = select(col(DocumentRow.id)).where(col(DocumentRow.processed_at).is_(None))
    if saved_before is not None:
        stmt = stmt.where(col(DocumentRow.fetched_at) < saved_before)
    return list(session.execute(stmt.order_by(col(DocumentRow.id)).limit(limit)).scalars())


def store_parsed(session: Session, document_id: int, item: ParsedItem, *, now: datetime) -> IngestStats:
    """Store what the parser made of a saved document; mark it processed (idempotent by that mark)."""
    stats = IngestStats(documents=1)
    if item.error is not None or not item.snapshots:
        item.error = item.error or "no notice found in document"
        stats.quarantined = quarantine(session, [item], now)
        session.execute(
            update(Quarantine).where(col(Quarantine.sha256) == item.document.sha256).values(document_id=document_id)
        )
    else:
        stats.stored = 1
        _link_and_store(session, [(snap, document_id) for snap in item.snapshots], stats, now)
    session.execute(update(DocumentRow).where(col(DocumentRow.id) == document_id).values(processed_at=now))
    return stats


def store_parsed_many(session: Session, items: list[tuple[int, ParsedItem]], *, now: datetime) -> IngestStats:
    """:func:`store_parsed` for many saved documents in one pass (one link-and-rebuild for them all)."""
    stats = IngestStats(documents=len(items))
    failed = [(doc_id, it) for doc_id, it in items if it.error is not None or not it.snapshots]
    for _, it in failed:
        it.error = it.error or "no notice found in document"
    if failed:
        stats.quarantined = quarantine(session, [it for _, it in failed], now)
        session.connection().execute(
            update(Quarantine).where(col(Quarantine.sha256) == bindparam("sha")).values(document_id=bindparam("did")),
            [{"sha": it.document.sha256, "did": doc_id} for doc_id, it in failed],
        )
    good = [(doc_id, it) for doc_id, it in items if it.error is None]
    stats.stored = len(good)
    release(session, [doc_id for doc_id, _ in good])  # a quarantined document read at last
    _link_and_store(session, [(snap, doc_id) for doc_id, it in good for snap in it.snapshots], stats, now)
    ids = [doc_id for doc_id, _ in items]
    session.execute(update(DocumentRow).where(among(session, col(DocumentRow.id), ids)).values(processed_at=now))
    return stats


def unprocessed(session: Session, document_ids: list[int]) -> list[tuple[int, Document]]:
    """The raw documents among these that no one has processed yet."""
    rows = session.execute(
        select(DocumentRow).where(col(DocumentRow.id).in_(document_ids), col(DocumentRow.processed_at).is_(None))
    ).scalars()
    return [(r.id, Document(r.source, r.locator, unpack(r.content), r.media_type)) for r in rows]


def versions_of_documents(session: Session, document_ids: list[int]) -> list[int]:
    """:func:`versions_of_document` for many documents."""
    stmt = (
        select(col(Version.id))
        .join(Notice, col(Notice.id) == col(Version.notice_pk))
        .where(col(Notice.document_id).in_(document_ids))
        .order_by(col(Version.id))
    )
    return list(session.execute(stmt).scalars())


def versions_of_document(session: Session, document_id: int) -> list[int]:
    """Every version made by the notices of a document, old or new: the follow-up work, from database state."""
    stmt = (
        select(col(Version.id))
        .join(Notice, col(Notice.id) == col(Version.notice_pk))
        .where(col(Notice.document_id) == document_id)
        .order_by(col(Version.id))
    )
    return list(session.execute(stmt).scalars())


def database_counts(session: Session) -> dict[str, int]:
    """What the database holds, for ``tracker status``."""
    from sqlalchemy import func

    from tracker.models import Delivery

    counts = {
        "documents": session.scalar(select(func.count()).select_from(DocumentRow)) or 0,
        "unprocessed": session.scalar(select(func.count()).where(col(DocumentRow.processed_at).is_(None))) or 0,
        "notices": session.scalar(select(func.count()).select_from(Notice)) or 0,
        "procedures": session.scalar(select(func.count()).select_from(Procedure)) or 0,
        "versions": session.scalar(select(func.count()).select_from(Version)) or 0,
        "versions not yet notified": session.scalar(select(func.count()).where(col(Version.notified_at).is_(None)))
        or 0,
        "quarantined": session.scalar(select(func.count()).select_from(Quarantine)) or 0,
    }
    for status, n in session.execute(select(col(Delivery.status), func.count()).group_by(col(Delivery.status))):
        counts[f"deliveries {status}"] = n
    return counts


# ------------------------------------------------------------------ re-deriving stored notices (tracker reparse)


def documents_by_procedure(session: Session, *, source: str | None = None) -> list[list[int]]:
    """The documents the stored notices were read from, grouped by procedure (ids ascending in a group), so a
    procedure's notices are re-read together. A document whose notices are in several procedures goes with the
    first. Superseded documents (a later one holds the same notices) and quarantined ones are not listed."""
    stmt = select(col(Notice.procedure_id), col(Notice.document_id)).distinct()
    if source is not None:
        stmt = stmt.join(DocumentRow, col(DocumentRow.id) == col(Notice.document_id)).where(
            col(DocumentRow.source) == source
        )
    groups: dict[int, list[int]] = defaultdict(list)
    seen: set[int] = set()
    for proc, doc_id in session.execute(stmt.order_by(col(Notice.procedure_id), col(Notice.document_id))):
        if doc_id not in seen:
            seen.add(doc_id)
            groups[proc].append(doc_id)
    return list(groups.values())


def load_documents(session: Session, document_ids: Sequence[int]) -> list[tuple[int, Document]]:
    """The raw documents kept under these ids, in the order of the ids."""
    found: dict[int, Document] = {}
    for chunk in _chunks(list(document_ids)):
        stmt = select(
            col(DocumentRow.id),
            col(DocumentRow.source),
            col(DocumentRow.locator),
            col(DocumentRow.content),
            col(DocumentRow.media_type),
        ).where(col(DocumentRow.id).in_(chunk))
        for doc_id, source, locator, content, media_type in session.execute(stmt):
            found[doc_id] = Document(source, locator, unpack(content), media_type)
    return [(doc_id, found[doc_id]) for doc_id in document_ids if doc_id in found]
