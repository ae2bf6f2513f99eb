"""Ingest throughput: the 500 real ODS records replicated under fresh idwebs to N records.

Rectificatif and award chains are replicated with them (their ``annonce_lie``/``annonces_anterieures`` and
``gestion`` are rewritten to the fresh ids), so linking and consolidation do real work.

    .venv/bin/python bench/ingest_throughput.py [--records 50000] [--database-url URL]

Prints records/s for the whole run (parse + store + link + version) and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.db import make_engine, upgrade  # noqa: E402
from tracker.pipeline import ingest_documents  # noqa: E402
from tracker.reader import documents_from_file  # noqa: E402

SHARED = Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared")
SOURCE = SHARED / "corpus" / "boamp_ods_api" / "gigalis_500_reconstructed_as_v21_results.json"
CHAINS = SHARED / "corpus" / "boamp_ods_api" / "chains"


def base_records() -> list[dict]:
    records = {r["idweb"]: r for r in json.loads(SOURCE.read_text())["results"]}
    for path in sorted(CHAINS.glob("*.json")):
        for r in json.loads(path.read_text())["results"]:
            records.setdefault(r["idweb"], r)
    return list(records.values())


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--database-url")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    base = base_records()
    copies = max(1, -(-args.records // len(base)))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.jsonl"
        n = replicate(base, copies, data)
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        size = data.stat().st_size / 1e6
        print(f"{n} records ({len(base)} real records x {copies}), {size:.0f} MB JSONL, {url.split(':')[0]}")
        start = time.perf_counter()
        done = 0

        def progress(k: int) -> None:
            nonlocal done
            done += k
            if done % 10_000 < k:
                print(f"  {done:>7} records  {done / (time.perf_counter() - start):7.0f} records/s", flush=True)

        stats = ingest_documents(engine, documents_from_file(data), batch_size=args.batch_size, progress=progress)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"ingested {stats.documents} records in {elapsed:.1f} s: {stats.documents / elapsed:.0f} records/s; "
            f"stored {stats.stored}, quarantined {stats.quarantined}, linked {stats.linked}, "
            f"versions {stats.versions_created}; peak RSS {peak:.0f} MB"
        )
        t0 = time.perf_counter()
        again = ingest_documents(engine, documents_from_file(data), batch_size=args.batch_size)
        t1 = time.perf_counter() - t0
        print(
            f"re-ingest of the same input: {again.unchanged} unchanged, {again.stored} stored, "
            f"{again.documents / t1:.0f} records/s"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
