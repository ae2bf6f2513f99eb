"""Ingest throughput: the 500 real ODS records replicated under fresh idwebs to N records.

Rectificatif and award chains are replicated with them (their ``annonce_lie``/``annonces_anterieures`` and
``gestion`` are rewritten to the fresh ids), so linking and consolidation do real work.

    .venv/bin/python bench/ingest_throughput.py [--records 50000] [--postgres] [--database-url URL]

Prints records/s for the whole run (parse + store + link + version), the peak memory of the process, the
re-ingest speed, and a **floor** measured in the same run on the same database: the same records read, parsed,
hashed, compressed and inserted into one plain table of the ``document`` + ``notice`` columns, with orjson and
batched ``executemany``, no linking and no versioning. The real ingest's share of the floor is printed.

SQLite by default; ``--postgres`` runs on PostgreSQL (``--postgres-url``) in a private schema dropped after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402

from tracker.codec import pack  # noqa: E402
from tracker.db import make_engine, upgrade  # noqa: E402
from tracker.documents import Document  # noqa: E402
from tracker.notice import snapshot_record  # noqa: E402
from tracker.parse import parse_item  # noqa: E402
from tracker.pipeline import ingest_documents  # noqa: E402
from tracker.reader import documents_from_file  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FLOOR_COLUMNS = (
    "sha256 VARCHAR(64) NOT NULL, source VARCHAR(64) NOT NULL, locator TEXT NOT NULL, "
    "media_type VARCHAR(80) NOT NULL, "
    "size INTEGER NOT NULL, content {blob} NOT NULL, fetched_at {ts} NOT NULL, processed_at {ts}, "
    "notice_source VARCHAR(64) NOT NULL, notice_id VARCHAR(80) NOT NULL, kind VARCHAR(20) NOT NULL, "
    "published {ts}, record TEXT NOT NULL, received_at {ts} NOT NULL"
)

SHARED = Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared")
SOURCE = SHARED / "corpus" / "boamp_ods_api" / "gigalis_500_reconstructed_as_v21_results.json"
CHAINS = SHARED / "corpus" / "boamp_ods_api" / "chains"


def base_records() -> list[dict]:
    records = {r["idweb"]: r for r in json.loads(SOURCE.read_text())["results"]}
    for path in sorted(CHAINS.glob("*.json")):
        for r in json.loads(path.read_text())["results"]:
            records.setdefault(r["idweb"], r)
    return list(records.values())


_ORG = re.compile(r"(orgAcronyme=[\w-]+)")


def replicate(records: list[dict], copies: int, out: Path) -> int:
    """Write ``copies`` generations of the records to a JSONL file; every idweb made fresh per generation."""
    count = 0
    with out.open("wb") as fh:
        for gen in range(copies):
            for r in records:
                fresh = dict(r)
                old = r["idweb"]
                mapping = {}

                def new_id(idweb: str, gen: int = gen) -> str:
                    y, _, n = idweb.partition("-")
                    return f"{y}-{int(n) + (gen + 1) * 200_000}" if n.isdigit() else f"{idweb}G{gen}"

                for text_field in ("gestion", "donnees", "annonces_anterieures"):
                    value = r.get(text_field)
                    if isinstance(value, str):
                        # a generation's consultations are its own: platform links must not merge generations
                        value = _ORG.sub(rf"\g<1>g{gen}", value)
                        for idweb in [old, *(r.get("annonce_lie") or [])]:
                            mapping[idweb] = new_id(idweb)
                            value = value.replace(f'"{idweb}"', f'"{mapping[idweb]}"')
                        fresh[text_field] = value
                fresh["idweb"] = new_id(old)
                fresh["id"] = fresh["idweb"].replace("-", "_")
                fresh["annonce_lie"] = [new_id(x) for x in r.get("annonce_lie") or []] or None
                fresh["url_avis"] = None
                fh.write(orjson.dumps(fresh) + b"\n")
                count += 1
    return count


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def private_schema(url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search path is a fresh schema, dropped on exit."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _floor_rows(batch: list[Document], now: datetime) -> list[tuple[Any, ...]]:
    rows = []
    for item in (parse_item(doc) for doc in batch):
        doc = item.document
        content = pack(doc.content)  # as the store keeps it
        for snap in item.snapshots:
            record = orjson.dumps(snapshot_record(snap)).decode()
            rows.append(
                (doc.sha256, doc.source, doc.locator, doc.media_type, len(doc.content), content, now, now,
                 snap.source, snap.notice_id, snap.kind, snap.published, record, now)
            )  # fmt: skip
    return rows


def floor(engine: Engine, data: Path, batch_size: int) -> tuple[int, float]:
    """Read, parse, hash, compress and insert the records with no linking nor versioning: (rows, seconds)."""
    sqlite = engine.dialect.name == "sqlite"
    columns = FLOOR_COLUMNS.format(blob="BLOB" if sqlite else "BYTEA", ts="TEXT" if sqlite else "TIMESTAMPTZ")
    mark = "?" if sqlite else "%s"
    insert = f"INSERT INTO bench_floor ({_floor_names()}) VALUES ({', '.join([mark] * 14)})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(f"CREATE TABLE bench_floor (id {'INTEGER' if sqlite else 'SERIAL'} PRIMARY KEY, {columns})")
        cur.execute("CREATE UNIQUE INDEX ix_bench_floor_sha ON bench_floor (sha256)")
        raw.commit()
        start, count, batch = time.perf_counter(), 0, []
        for doc in documents_from_file(data):
            if not isinstance(doc, Document):
                continue  # a line that is not JSON: the real ingest quarantines it, the floor skips it
            batch.append(doc)
            if len(batch) == batch_size:
                count += _floor_batch(raw, cur, insert, batch, sqlite)
                batch = []
        count += _floor_batch(raw, cur, insert, batch, sqlite)
        elapsed = time.perf_counter() - start
        cur.execute("DROP TABLE bench_floor")
        raw.commit()
    finally:
        raw.close()
    return count, elapsed


def _floor_names() -> str:
    return ", ".join(part.split()[0] for part in FLOOR_COLUMNS.split(", "))


def _floor_batch(raw: Any, cur: Any, insert: str, batch: list[Document], sqlite: bool) -> int:
    now: Any = datetime.now(UTC)
    rows = _floor_rows(batch, now.isoformat() if sqlite else now)
    cur.executemany(insert, rows)
    raw.commit()
    return len(batch)


def run(url: str, data: Path, n: int, batch_size: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    start = time.perf_counter()
    done = 0

    def progress(k: int) -> None:
        nonlocal done
        done += k
        if done % 10_000 < k:
            print(f"  {done:>7} records  {done / (time.perf_counter() - start):7.0f} records/s", flush=True)

    stats = ingest_documents(engine, documents_from_file(data), batch_size=batch_size, progress=progress)
    elapsed = time.perf_counter() - start
    rate = stats.documents / elapsed
    print(
        f"ingested {stats.documents} records in {elapsed:.1f} s: {rate:.0f} records/s; "
        f"stored {stats.stored}, quarantined {stats.quarantined}, linked {stats.linked}, "
        f"versions {stats.versions_created}; peak RSS {peak_mb():.0f} MB"
    )
    t0 = time.perf_counter()
    again = ingest_documents(engine, documents_from_file(data), batch_size=batch_size)
    t1 = time.perf_counter() - t0
    print(
        f"re-ingest of the same input: {again.unchanged} unchanged, {again.stored} stored, "
        f"{again.documents / t1:.0f} records/s"
    )
    rows, seconds = floor(engine, data, batch_size)
    print(
        f"floor (read, parse, hash, compress, executemany into one plain table; no linking, no versions): "
        f"{rows} records in {seconds:.1f} s: {rows / seconds:.0f} records/s; "
        f"ingest is {rate / (rows / seconds):.0%} of the floor; peak RSS {peak_mb():.0f} MB"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--postgres", action="store_true", help="run on PostgreSQL, in a private schema")
    parser.add_argument("--postgres-url", default=PG_URL)
    parser.add_argument("--database-url", help="run on this database as it is (the floor table is dropped after)")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    base = base_records()
    copies = max(1, -(-args.records // len(base)))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.jsonl"
        n = replicate(base, copies, data)
        size = data.stat().st_size / 1e6
        engine_name = "postgresql" if args.postgres else (args.database_url or "sqlite").split(":")[0]
        print(f"{n} records ({len(base)} real records x {copies}), {size:.0f} MB JSONL, {engine_name}")
        if args.postgres:
            with private_schema(args.postgres_url) as url:
                run(url, data, n, args.batch_size)
        else:
            run(args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}", data, n, args.batch_size)


if __name__ == "__main__":
    main()
