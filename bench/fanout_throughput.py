"""Fan-out throughput: delivery rows written per second when a version reaches many subscribers.

    .venv/bin/python bench/fanout_throughput.py [--subscribers 1000 10000] [--database URL]

The 20-157376 chain (original and two rectificatifs) is ingested from the corpus; ``--subscribers`` generated
subscribers follow it, every third on a daily digest and every second with two channels. For each size, on a
fresh database (a temporary SQLite file, or the PostgreSQL URL given, whose tables are dropped first), it
times ``tracker.outbox.fan_out``:

* v2: every delivery row inserted (immediate rows and new digests);
* v3: immediate rows inserted, the version added to every pending digest;
* v2 again: nothing to write (the idempotent re-run a redelivered task makes).

In the same run it times the row-at-a-time way the outbox used before (a SELECT, then an INSERT and a flush
per row, each label from apprise) on v2, for the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, select  # noqa: E402
from sqlmodel import SQLModel, col  # noqa: E402

from tracker.db import ensure_schema, make_engine, session_scope  # noqa: E402
from tracker.match import Matcher  # noqa: E402
from tracker.models import Delivery  # noqa: E402
from tracker.notify.dispatch import mask_url  # noqa: E402
from tracker.outbox import _append_to_digest, _rows_for, fan_out, version_event  # noqa: E402
from tracker.pipeline import ingest_documents  # noqa: E402
from tracker.reader import documents_from_file  # noqa: E402
from tracker.subscribers import Subscriber  # noqa: E402

SHARED = Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared")
CHAIN = SHARED / "corpus" / "boamp_ods_api" / "chains" / "chain_20-157376_rectif_21-6545_rectif_21-8404.json"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def subscribers(count: int) -> list[Subscriber]:
    urls = ["json://hooks.example.org/tracker", "mailto://ao:secret@smtp.example.org?to=ao@example.org"]
    return [
        Subscriber.model_validate(
            {
                "name": f"s{i:06d}",
                "urls": urls[: 1 + i % 2],
                "follow": ["20-157376"],
                **({"delivery": {"mode": "digest", "digest": "daily"}} if i % 3 == 0 else {}),
            }
        )
        for i in range(count)
    ]


def fresh_engine(url: str | None, folder: Path, name: str) -> Engine:
    engine = make_engine(url or f"sqlite:///{folder / name}.db")
    if url:
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    ensure_schema(engine)
    ingest_documents(engine, documents_from_file(CHAIN))
    return engine


def row_at_a_time(engine: Engine, version_id: int, subs: list[Subscriber], matcher: Matcher) -> None:
    """The outbox's former fan-out: a SELECT, then an INSERT and a flush per row, each label from apprise."""
    with session_scope(engine) as session:
        event = version_event(session, version_id)
        if event is None:
            raise SystemExit(f"version {version_id} is missing")
        for match in matcher.match(event):
            for url in match.subscriber.urls:
                mask_url.__wrapped__(url)  # each label from apprise, uncached, as before
            for row in _rows_for(match, event, NOW):
                query = select(Delivery).where(col(Delivery.dedup_key) == row["dedup_key"])
                existing = session.execute(query).scalar_one_or_none()
                if existing is None:
                    session.add(Delivery(**row))
                    session.flush()
                else:
                    _append_to_digest(existing, row)


def timed(label: str, rows: int, call: Any) -> float:
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    print(f"  {label:<48} {seconds:7.2f} s  {rows / seconds:>9,.0f} rows/s")
    return seconds


def measure(count: int, database: str | None, folder: Path) -> None:
    subs = subscribers(count)
    matcher = Matcher(subs)  # workers keep theirs between versions
    rows = sum(len(s.urls) for s in subs)
    engine = fresh_engine(database, folder, f"batched{count}")
    print(f"\n{count:,} subscribers, {rows:,} channels, on {engine.dialect.name}")
    mask_url.cache_clear()
    batched = timed("fan_out v2 (insert every row)", rows, lambda: fan_out(engine, 2, subs, now=NOW, matcher=matcher))
    timed(
        "fan_out v3 (insert, and append to digests)", rows, lambda: fan_out(engine, 3, subs, now=NOW, matcher=matcher)
    )
    timed("fan_out v2 again (nothing to write)", rows, lambda: fan_out(engine, 2, subs, now=NOW, matcher=matcher))
    engine.dispose()
    naive_engine = fresh_engine(database, folder, f"naive{count}")
    naive = timed("row at a time, v2 (the former way)", rows, lambda: row_at_a_time(naive_engine, 2, subs, matcher))
    naive_engine.dispose()
    print(f"  ratio on v2: {naive / batched:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--database", help="PostgreSQL URL (its tables are dropped); default: temporary SQLite")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        for count in args.subscribers:
            measure(count, args.database, Path(folder))


if __name__ == "__main__":
    main()
