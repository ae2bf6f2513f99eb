"""Server time of the views on a large database: search, upcoming deadlines, a procedure page.

    .venv/bin/python bench/views_latency.py [--procedures 1000000] [--database URL] [--requests 200]

The corpus's ODS records (the 500, the 20 and the chains) are ingested into a fresh database (a temporary SQLite
file, or the PostgreSQL URL given, in a private schema dropped at the end), then **replicated directly in the
database** up to ``--procedures``: each copy of the ~510 corpus procedures gets new row ids and suffixed
identifiers (``20-157376-r17``) and is written with bulk multi-row INSERTs of procedures, notices, identifiers,
versions, search rows and deadlines (SQLite's FTS5 index is filled by its triggers, PostgreSQL's tsvector is a
generated column). Going through ingest would take hours. Copies keep a notice record cut to what the pages
read (url, reason, title) and their deadlines are spread over the four years before and the 60 days after now,
so "upcoming" has a realistic number of deadlines in its window.

Then requests go to the app in this process (httpx's ASGI transport) and the ``Server-Timing`` header each
response carries (the time spent in the app, template rendering included) is collected: p50 and p95 of a mix
of searches (words, words with filters, facets only), ``/`` (the upcoming deadlines and recently amended
procedures; ``/api/upcoming`` too) and procedure pages of random replicated procedures.
Bounded in time: replication is a few minutes per million procedures on SQLite; ``--procedures 100000`` is a
quick run. Target: p95 ≤ 100 ms for search and upcoming, ≤ 50 ms for a procedure page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, create_engine, func, insert, select, text  # noqa: E402

from tracker.db import make_engine, upgrade  # noqa: E402
from tracker.models import Identifier, Notice, Procedure, Version  # noqa: E402
from tracker.pipeline import ingest_documents  # noqa: E402
from tracker.reader import documents_from_file  # noqa: E402
from tracker.search import DEADLINES, SEARCH  # noqa: E402
from tracker.web.app import WebConfig, create_app  # noqa: E402

SHARED = Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared")
ODS = SHARED / "corpus" / "boamp_ods_api"
CHUNK = 2000

SEARCHES = [
    {"q": "informatique"},
    {"q": "maintenance"},
    {"q": "morbihan energies"},
    {"q": "hébergement données"},
    {"q": "informatique", "amended_since": "2015-01-01"},
    {"q": "travaux", "dept": "44"},
    {"cpv": "72"},
    {"q": "fourniture", "deadline_within": "14d"},
    {"buyer": "nantes"},
    {"q": "plateforme", "status": "open"},
]


def _ingest_corpus(engine: Engine) -> None:
    files = [ODS / "gigalis_500_reconstructed_as_v21_results.json", *sorted((ODS / "chains").glob("*.json"))]
    files.append(ODS / "ods_v21_response_2006_legacy_v110_20records__BOAMP_favoris.json")
    for path in files:
        ingest_documents(engine, documents_from_file(path))


def _rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def _max_id(engine: Engine, column: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(column))).scalar() or 0) + 1


def replicate(engine: Engine, target: int, *, seed: int = 13) -> int:
    """Copies of every stored procedure until ``target`` procedures exist; returns the count."""
    rnd = random.Random(seed)
    procs = _rows(engine, Procedure.__table__)
    notices = _rows(engine, Notice.__table__)
    idents = _rows(engine, Identifier.__table__)
    versions = _rows(engine, Version.__table__)
    searches = _rows(engine, SEARCH)
    deadlines = _rows(engine, DEADLINES)
    strides = {
        "p": _max_id(engine, Procedure.__table__.c.id),
        "n": _max_id(engine, Notice.__table__.c.id),
        "i": _max_id(engine, Identifier.__table__.c.id),
        "v": _max_id(engine, Version.__table__.c.id),
        "d": _max_id(engine, DEADLINES.c.id),
    }
    copies = max(0, (target - len(procs)) // len(procs))
    now = datetime.now(UTC)
    started = time.perf_counter()
    buffers: dict[Any, list[dict[str, Any]]] = {}

    def add(table: Any, row: dict[str, Any]) -> None:
        buffers.setdefault(table, []).append(row)

    def flush() -> None:
        with engine.begin() as conn:
            for table in (
                Procedure.__table__,
                Notice.__table__,
                Identifier.__table__,
                Version.__table__,
                SEARCH,
                DEADLINES,
            ):
                rows = buffers.pop(table, [])
                for start in range(0, len(rows), CHUNK):
                    conn.execute(insert(table), rows[start : start + CHUNK])

    for k in range(1, copies + 1):
        suffix = f"-r{k}"
        for p in procs:
            add(Procedure.__table__, p | {"id": p["id"] + k * strides["p"], "display_id": p["display_id"] + suffix})
        for n in notices:
            rec = n["record"] or {}
            small = {key: rec.get(key) for key in ("url", "reason", "title", "source", "notice_id")}
            add(
                Notice.__table__,
                n
                | {
                    "id": n["id"] + k * strides["n"],
                    "notice_id": n["notice_id"] + suffix,
                    "procedure_id": n["procedure_id"] + k * strides["p"],
                    "record": small,
                },
            )
        for i in idents:
            add(
                Identifier.__table__,
                i
                | {
                    "id": i["id"] + k * strides["i"],
                    "value": (i["value"] + suffix)[:120],
                    "procedure_id": i["procedure_id"] + k * strides["p"],
                    "notice_pk": i["notice_pk"] + k * strides["n"] if i["notice_pk"] else None,
                },
            )
        for v in versions:
            add(
                Version.__table__,
                v
                | {
                    "id": v["id"] + k * strides["v"],
                    "procedure_id": v["procedure_id"] + k * strides["p"],
                    "notice_pk": v["notice_pk"] + k * strides["n"],
                },
            )
        for s in searches:
            info = (s["info"] or {}) | {"id": s["display_id"] + suffix}
            add(
                SEARCH,
                s
                | {
                    "procedure_id": s["procedure_id"] + k * strides["p"],
                    "display_id": s["display_id"] + suffix,
                    "body": f"{s['body']} r{k}",
                    "info": info,
                },
            )
        for d in deadlines:
            at = now + timedelta(days=rnd.uniform(-1400, 60))
            add(
                DEADLINES,
                d
                | {
                    "id": d["id"] + k * strides["d"],
                    "procedure_id": d["procedure_id"] + k * strides["p"],
                    "at": at,
                    "value": at.isoformat(timespec="minutes"),
                },
            )
        if k % 40 == 0 or k == copies:
            flush()
            done = (k + 1) * len(procs)
            print(f"  replicated {done:,} procedures ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
        return int(conn.execute(select(func.count()).select_from(Procedure.__table__)).scalar() or 0)


def _timings(app: Any, urls: list[str]) -> list[float]:
    async def go() -> list[float]:
        found = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            for url in urls:
                response = await http.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
                found.append(float(response.headers["server-timing"].split("dur=")[1]))
        return found

    return asyncio.run(go())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(engine: Engine, requests: int, total: int) -> dict[str, tuple[float, float]]:
    rnd = random.Random(7)
    app = create_app(engine, WebConfig(subscribers=[]))
    with engine.connect() as conn:
        ids = list(conn.execute(select(SEARCH.c.display_id).limit(200_000)).scalars())
    searches = ["/api/procedures?" + httpx.QueryParams(SEARCHES[n % len(SEARCHES)]).__str__() for n in range(requests)]
    pages = [f"/procedures/{rnd.choice(ids)}" for _ in range(requests)]
    cases = {
        "search (/api/procedures)": searches,
        "search page (/search)": [u.replace("/api/procedures", "/search") for u in searches],
        "upcoming (/api/upcoming)": ["/api/upcoming?days=14"] * max(20, requests // 4),
        "upcoming page (/)": ["/"] * max(20, requests // 4),
        "procedure page": pages,
    }
    results = {}
    for name, urls in cases.items():
        _timings(app, urls[:5])  # warm
        times = _timings(app, urls)
        results[name] = (statistics.median(times), _pct(times, 0.95))
        print(f"  {name:<28} p50 {results[name][0]:7.1f} ms   p95 {results[name][1]:7.1f} ms", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=1_000_000)
    parser.add_argument("--database", help="a PostgreSQL URL (a private schema is used); default: a SQLite file")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.database:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.database)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.database else "?"
            url = f"{args.database}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{Path(tmp) / 'views.db'}"
        engine = make_engine(url)
        try:
            upgrade(engine)
            _ingest_corpus(engine)
            started = time.perf_counter()
            total = replicate(engine, args.procedures)
            print(f"{engine.dialect.name}: {total:,} procedures ({time.perf_counter() - started:.0f} s)")
            for name, (p50, p95) in measure(engine, args.requests, total).items():
                print(f"{engine.dialect.name}  {name:<28} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
