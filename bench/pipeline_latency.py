"""Pipeline latency: fetched -> stored-and-diffed, for single publications and for a TED day (4,300).

Measures, as the issue asks, in embedded mode (SQLite file, and PostgreSQL in a private schema) and with
one real Celery worker (PostgreSQL + Redis):

* idle latency of single publications, one at a time: p50 / p95 / p99 / max of t1 - t0, where t0 is taken
  when the raw bytes are in hand, just before ``save_documents`` (committed alone), and t1 when the version
  rows of the document are committed and visible (embedded: ``process_document`` returned after its commit;
  worker: the benchmark, polling the database every 5 ms, sees the document processed -- ``processed_at``
  is set in the same transaction as the notices and versions, so it is visible exactly when they are);
* the time to drain a batch (default 4,300 publications, a TED day) saved in pages of 100 as a poll would,
  each page one transaction, processed as pages arrive (embedded: ``process_documents`` after each page
  commit, as ``tracker.service.Embedded`` does; worker: each page's ids enqueued as
  ``tracker.process_documents`` with the page's ids after its commit, as the poller does), from the first
  fetch to the last version committed.

Publications are the 500 real ODS records (plus the chain files) replicated under fresh idwebs, the
approach of ``bench/ingest_throughput.py`` (its functions are loaded from that file). The idle sample mixes
initial notices and follow-ups (rectificatifs, awards) whose original is already stored. Before measuring,
each database is preloaded with ``--preload`` replicated records (not timed), so it is not empty.

Targets: p99 <= 1 s idle; batch drained in <= 30 s.

    .venv/bin/python bench/pipeline_latency.py [--skip-worker] [--skip-postgres] [--count 200] [--batch 4300]
        [--preload 5000] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--redis-url redis://127.0.0.1:6379] [--redis-db N] [--skip-embedded]

The report of the issue was produced by ``.venv/bin/python bench/pipeline_latency.py`` (the defaults) on a shared
2-CPU machine (run-to-run spread about +-30 %): idle p99 of 14-30 ms in every mode (met); batch drained in
27-40 s embedded and 47-69 s with one worker (missed), most of it spent in ``versions_of_document`` (a scan of
the notice table: no index on ``notice.document_id``, so it grows with the database) and in processing one
document per transaction (one Celery task per document, plus a fan-out task per version, in worker mode).
The per-stage breakdown printed under "Notes" (embedded mode) shows where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, func, select, text  # noqa: E402

from tracker import pipeline, store  # noqa: E402
from tracker.db import make_engine, session_scope, upgrade  # noqa: E402
from tracker.documents import Document  # noqa: E402
from tracker.models import Document as DocumentRow  # noqa: E402
from tracker.models import Notice, Quarantine, Version  # noqa: E402
from tracker.pipeline import ingest_documents, process_document, process_documents  # noqa: E402
from tracker.reader import documents_from_file  # noqa: E402
from tracker.store import save_documents  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379"
PAGE = 100
IDLE_PER_GENERATION = 50
TARGET_P99 = 1.0
TARGET_DRAIN = 30.0
WORKER_START_TIMEOUT = 60.0
NOTABLE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Exception")


def _load_ingest_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_ingest_throughput", ROOT / "bench" / "ingest_throughput.py")
    assert spec is not None and spec.loader is not None  # noqa: S101
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def now() -> datetime:
    return datetime.now(UTC)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# ------------------------------------------------------------------ the publications


@dataclass(frozen=True)
class Publication:
    doc: Document
    idweb: str
    kind: str  # "initial" or "follow-up" (rectificatif / award / linked notice whose original is stored)


@dataclass
class Corpus:
    preload: list[Document]
    idle: list[Publication]
    batch: list[Document]
    warmup: list[Document]  # a few initial notices of their own generation: warm-up and worker probes


def build_corpus(preload: int, count: int, batch: int, tmp: Path) -> Corpus:
    """Replicated real records: preload, idle-sample, batch and warm-up generations, all with distinct idwebs."""
    bench = _load_ingest_bench()
    base: list[dict[str, Any]] = bench.base_records()
    n = len(base)
    pre_gens = -(-preload // n) if preload else 0
    idle_gens = -(-count // IDLE_PER_GENERATION) if count else 0
    batch_gens = -(-batch // n) if batch else 0
    total_gens = pre_gens + idle_gens + batch_gens + 1
    data = tmp / "records.jsonl"
    bench.replicate(base, total_gens, data)
    docs = [d for d in documents_from_file(data) if isinstance(d, Document)]
    gens = [docs[g * n : (g + 1) * n] for g in range(total_gens)]

    # the base records that follow an original of the corpus (chains are replicated with their records)
    ids = {r["idweb"] for r in base}
    index = {r["idweb"]: i for i, r in enumerate(base)}

    def order(i: int) -> tuple[str, str]:
        return base[i].get("dateparution") or "", base[i]["idweb"]

    follow = sorted(
        (i for i, r in enumerate(base) if r.get("annonce_lie") and all(x in ids for x in r["annonce_lie"])), key=order
    )
    followers = set(follow)
    originals = sorted({index[x] for i in follow for x in base[i]["annonce_lie"]} - followers, key=order)
    fillers = [i for i, r in enumerate(base) if not r.get("annonce_lie") and i not in originals]

    idle: list[Publication] = []
    for k, g in enumerate(gens[pre_gens : pre_gens + idle_gens]):
        want = min(IDLE_PER_GENERATION, count - k * IDLE_PER_GENERATION)
        n_fill = max(0, want - len(originals) - len(follow))
        plan = [(i, "initial") for i in originals + fillers[:n_fill]] + [(i, "follow-up") for i in follow]
        for i, kind in plan[:want]:  # originals always come before their follow-ups
            idle.append(Publication(g[i], orjson.loads(g[i].content)["idweb"], kind))
    return Corpus(
        preload=[d for g in gens[:pre_gens] for d in g][:preload],
        idle=idle,
        batch=[d for g in gens[pre_gens + idle_gens : -1] for d in g][:batch],
        warmup=[gens[-1][i] for i in fillers[:3]],
    )


# ------------------------------------------------------------------ timing breakdown (embedded mode)


@dataclass
class Breakdown:
    """Seconds spent in each stage of processing, summed over documents (embedded mode only)."""

    totals: Counter[str] = field(default_factory=Counter)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        patches = [
            (pipeline, "load_document", "load"),
            (pipeline, "parse_item", "parse"),
            (pipeline, "versions_of_document", "versions_of_document"),
            (store, "_link_and_store", "link+store"),
            (pipeline, "version", "rebuild"),  # versioning: plan and write the versions, index the views
        ]
        saved = []
        for module, name, label in patches:
            original = getattr(module, name)
            saved.append((module, name, original))
            setattr(module, name, self._timed(original, label))
        try:
            yield
        finally:
            for module, name, original in saved:
                setattr(module, name, original)

    def _timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.totals[label] += time.perf_counter() - start

        return wrapper

    def report(self, total_process: float, total_save: float, n: int) -> str:
        link = self.totals["link+store"]
        parts = {
            "save+commit": total_save,
            "load": self.totals["load"],
            "parse": self.totals["parse"],
            "link+store notice": link,
            "rebuild versions": self.totals["rebuild"],
            "versions_of_document": self.totals["versions_of_document"],
        }
        parts["commit+other"] = total_process - sum(v for k, v in parts.items() if k != "save+commit")
        whole = total_save + total_process
        return "  ".join(f"{k} {1000 * v / n:.2f} ms ({100 * v / whole:.0f}%)" for k, v in parts.items())


# ------------------------------------------------------------------ results


@dataclass
class IdleResult:
    latencies: list[float]
    kinds: list[str]
    with_versions: int
    note: str = ""

    def stat(self, q: float, kind: str | None = None) -> float:
        xs = [x for x, k in zip(self.latencies, self.kinds, strict=True) if kind is None or k == kind]
        return percentile(xs, q)


@dataclass
class BatchResult:
    publications: int
    seconds: float
    processed: int
    with_versions: int
    versions: int
    quarantined: int
    doc_latencies: list[float]
    note: str = ""


@dataclass
class ModeResult:
    name: str
    idle: IdleResult | None = None
    batch: BatchResult | None = None
    error: str | None = None


def count_outcomes(engine: Engine, ids: list[int]) -> tuple[int, int, int, int]:
    """(processed documents, documents with a version, versions, quarantined) among these document ids."""
    processed = with_versions = versions = quarantined = 0
    with session_scope(engine) as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            processed += session.scalar(
                select(func.count()).where(DocumentRow.id.in_(chunk), DocumentRow.processed_at.is_not(None))  # type: ignore[union-attr,attr-defined]
            )
            rows = session.execute(
                select(Notice.document_id, func.count(Version.id))
                .join(Version, Version.notice_pk == Notice.id)
                .where(Notice.document_id.in_(chunk))  # type: ignore[attr-defined]
                .group_by(Notice.document_id)
            ).all()
            with_versions += len(rows)
            versions += sum(c for _, c in rows)
            quarantined += session.scalar(select(func.count()).where(Quarantine.document_id.in_(chunk)))  # type: ignore[union-attr]
    return processed, with_versions, versions, quarantined


def preload(engine: Engine, docs: list[Document]) -> None:
    if docs:
        start = time.perf_counter()
        stats = ingest_documents(engine, docs, batch_size=1000)
        print(
            f"    preloaded {stats.stored} documents ({stats.versions_created} versions) "
            f"in {time.perf_counter() - start:.1f} s",
            flush=True,
        )


def save_one(engine: Engine, docs: list[Document]) -> list[int]:
    with session_scope(engine) as session:
        return save_documents(session, docs, now=now())


# ------------------------------------------------------------------ embedded mode


def run_embedded(result: ModeResult, url: str, corpus: Corpus) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        preload(engine, corpus.preload)
        for doc in corpus.warmup:  # warm-up (imports, connection pool, caches): not measured
            process_document(engine, save_one(engine, [doc])[0])
        if corpus.idle:
            result.idle = embedded_idle(engine, corpus.idle)
        if corpus.batch:
            result.batch = embedded_batch(engine, corpus.batch)
    finally:
        engine.dispose()


def embedded_idle(engine: Engine, sample: list[Publication]) -> IdleResult:
    latencies: list[float] = []
    ids: list[int] = []
    save_total = process_total = 0.0
    breakdown = Breakdown()
    with breakdown.installed():
        for pub in sample:
            t0 = time.perf_counter()
            new = save_one(engine, [pub.doc])
            t_saved = time.perf_counter()
            process_document(engine, new[0])
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            save_total += t_saved - t0
            process_total += t1 - t_saved
            ids += new
    processed, with_versions, _, quarantined = count_outcomes(engine, ids)
    note = f"per publication: {breakdown.report(process_total, save_total, len(sample))}"
    if processed != len(sample):
        note += f"; only {processed}/{len(sample)} processed"
    if quarantined:
        note += f"; {quarantined} quarantined"
    return IdleResult(latencies, [p.kind for p in sample], with_versions, note)


def embedded_batch(engine: Engine, docs: list[Document]) -> BatchResult:
    pages = [docs[i : i + PAGE] for i in range(0, len(docs), PAGE)]
    ids: list[int] = []
    doc_latencies: list[float] = []
    save_total = process_total = 0.0
    breakdown = Breakdown()
    with breakdown.installed():
        start = time.perf_counter()
        for page in pages:
            fetched = time.perf_counter()
            new = save_one(engine, page)
            saved = time.perf_counter()
            process_documents(engine, new)
            done = time.perf_counter()
            save_total += saved - fetched
            process_total += done - saved
            doc_latencies += [done - fetched] * len(new)
            ids += new
        seconds = time.perf_counter() - start
    processed, with_versions, versions, quarantined = count_outcomes(engine, ids)
    note = f"per publication: {breakdown.report(process_total, save_total, len(docs))}"
    return BatchResult(len(docs), seconds, processed, with_versions, versions, quarantined, doc_latencies, note)


# ------------------------------------------------------------------ PostgreSQL private schemas


@contextlib.contextmanager
def private_schema(base_url: str) -> Iterator[str]:
    """A fresh schema, dropped on exit; yields the URL whose search_path is that schema."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in base_url else "?"
        try:
            yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


# ------------------------------------------------------------------ one worker mode


class Worker:
    """A real ``celery -A workers worker --pool=solo --concurrency=1 -Q tracker`` subprocess."""

    def __init__(self, database_url: str, redis_url: str, config_dir: Path, log: Path) -> None:
        celery_bin = Path(sys.executable).parent / "celery"
        cmd = [str(celery_bin)] if celery_bin.exists() else [sys.executable, "-m", "celery"]
        self.cmd = [
            *cmd,
            "-A",
            "workers",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            "tracker",
            "-l",
            "warning",
        ]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")},
            "TRACKER_DATABASE_URL": database_url,
            "TRACKER_REDIS_URL": redis_url,
            "TRACKER_CONFIG_DIR": str(config_dir),
        }
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self._fh, stderr=subprocess.STDOUT)

    def output(self) -> str:
        if not self._fh.closed:
            self._fh.flush()
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with code {self.proc.returncode}:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # warm shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._fh.close()


LOCK_KEY = "pipeline-latency-bench:owner"


def other_clients(client: Any, db: int) -> list[str]:
    """Connections to this Redis database other than this client's own (another worker, beat or test)."""
    me = str(client.client_id())
    return [
        f"{c['addr']} {c.get('name') or ''} last cmd {c['cmd']}"
        for c in client.client_list()
        if int(c["db"]) == db and str(c["id"]) != me
    ]


def claim_redis_db(redis_base: str, wanted: int | None) -> int:
    """A Redis database for this run: the one asked for (flushed), or the first empty one nobody is connected to
    among 9..1 (tests/test_workers_e2e.py uses 10-15), claimed with a marker key so a concurrent run skips it."""
    import redis

    for db in [wanted] if wanted is not None else range(9, 0, -1):
        client = redis.Redis.from_url(f"{redis_base}/{db}")
        try:
            if wanted is not None:
                client.flushdb()
            elif client.dbsize() or other_clients(client, db):
                continue
            if client.set(LOCK_KEY, str(os.getpid()), nx=True):
                return int(db)
        finally:
            client.close()
    raise RuntimeError("no empty, unused Redis database among 9..1; pass --redis-db")


class WorkerBench:
    def __init__(self, engine: Engine, redis_url: str, worker: Worker) -> None:
        import redis
        from celery import Celery

        self.engine = engine
        self.worker = worker
        self.redis = redis.Redis.from_url(redis_url)
        self.client = Celery("pipeline-latency-bench", broker=redis_url)
        self.client.conf.broker_connection_retry_on_startup = True
        self.conn = engine.connect()  # one connection for the 5 ms polls (no pool checkout per poll)

    def close(self) -> None:
        self.conn.close()
        self.client.close()
        self.redis.close()

    def enqueue(self, ids: list[int]) -> None:
        """As the poller does (workers/tasks.py poll_source): one task for a page's documents."""
        if len(ids) == 1:
            self.client.send_task("tracker.process_document", args=[ids[0]], queue="tracker")
        else:
            self.client.send_task("tracker.process_documents", args=[ids], queue="tracker")

    def processed(self, document_id: int) -> bool:
        """Whether the document's processing is committed (versions are committed in the same transaction)."""
        stmt = select(DocumentRow.processed_at.is_not(None)).where(DocumentRow.id == document_id)  # type: ignore[union-attr,arg-type]
        done = bool(self.conn.execute(stmt).scalar())
        self.conn.rollback()  # end the read transaction: the next poll sees new commits
        return done

    def queue_idle(self) -> bool:
        """Nothing waiting in the queue and nothing taken but not yet acknowledged (acks_late)."""
        return self.redis.llen("tracker") == 0 and self.redis.hlen("unacked") == 0

    def diagnosis(self) -> str:
        db = int(self.redis.connection_pool.connection_kwargs.get("db", 0))
        others = other_clients(self.redis, db)
        return (
            f"queue length {self.redis.llen('tracker')}, unacked {self.redis.hlen('unacked')}; "
            f"{len(others)} connections to Redis db {db} besides this one: {others}\nworker output:\n"
            f"{self.worker.output()}"
        )

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.005) -> None:
        deadline = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > deadline:
                self.worker.check_alive()
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; {self.diagnosis()}")
            time.sleep(interval)

    def wait_ready(self, probe: list[Document]) -> float:
        """Process a few real documents through the worker (also warms it up); return seconds to ready."""
        start = time.perf_counter()
        for doc in probe:
            ids = save_one(self.engine, [doc])
            self.enqueue(ids)

            def ready(i: int = ids[0]) -> bool:
                self.worker.check_alive()
                return self.processed(i)

            self.wait(ready, WORKER_START_TIMEOUT, "the worker to process a probe task", interval=0.05)
        self.wait(self.queue_idle, WORKER_START_TIMEOUT, "the queue to drain after the probes")
        return time.perf_counter() - start

    def idle(self, sample: list[Publication]) -> IdleResult:
        latencies: list[float] = []
        ids: list[int] = []
        for pub in sample:
            t0 = time.perf_counter()
            new = save_one(self.engine, [pub.doc])
            self.enqueue(new)
            while not self.processed(new[0]):
                time.sleep(0.005)
                if time.perf_counter() - t0 > 60:
                    self.worker.check_alive()
                    raise TimeoutError(f"document {new[0]} not processed after 60 s; {self.diagnosis()}")
            latencies.append(time.perf_counter() - t0)
            ids += new
            self.wait(self.queue_idle, 60, "the fan-out tasks to finish")  # idle system before the next one
        _, with_versions, _, quarantined = count_outcomes(self.engine, ids)
        note = "t1 seen by polling every 5 ms; the worker's fan_out_version tasks finish before the next publication"
        if quarantined:
            note += f"; {quarantined} quarantined"
        return IdleResult(latencies, [p.kind for p in sample], with_versions, note)

    def batch(self, docs: list[Document]) -> BatchResult:
        with session_scope(self.engine) as session:
            floor = session.scalar(select(func.max(DocumentRow.id))) or 0
        pages = [docs[i : i + PAGE] for i in range(0, len(docs), PAGE)]
        fetched_at: dict[int, float] = {}
        done_at: dict[int, float] = {}
        stop = threading.Event()

        def watch() -> None:  # when each document's processing became visible
            with self.engine.connect() as conn:
                while True:
                    finished = stop.is_set()
                    rows = conn.execute(
                        select(DocumentRow.id).where(DocumentRow.id > floor, DocumentRow.processed_at.is_not(None))  # type: ignore[union-attr,operator]
                    ).scalars()
                    conn.rollback()
                    seen = time.perf_counter()
                    for document_id in rows:
                        done_at.setdefault(document_id, seen)
                    if finished:
                        return
                    time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        start = time.perf_counter()
        watcher.start()
        ids: list[int] = []
        try:
            for page in pages:
                fetched = time.perf_counter()
                new = save_one(self.engine, page)
                self.enqueue(new)
                fetched_at.update(dict.fromkeys(new, fetched))
                ids += new
            saved = time.perf_counter() - start
            deadline = start + 600
            report = start + 10
            while len(done_at) < len(ids):
                if time.perf_counter() > report:
                    report += 10
                    elapsed = time.perf_counter() - start
                    print(f"      {elapsed:4.0f} s: {len(done_at)}/{len(ids)} processed", flush=True)
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"only {len(done_at)}/{len(ids)} processed after 600 s; {self.diagnosis()}")
                self.worker.check_alive()
                time.sleep(0.05)
        finally:
            stop.set()
            watcher.join(timeout=30)
        seconds = max(done_at[i] for i in ids) - start
        self.wait(self.queue_idle, 600, "the fan-out tasks to drain", interval=0.05)
        drained = time.perf_counter() - start
        processed, with_versions, versions, quarantined = count_outcomes(self.engine, ids)
        note = (
            f"all pages saved and enqueued after {saved:.1f} s; queue fully drained (fan-out tasks included) "
            f"after {drained:.1f} s; completion seen by polling every 20 ms"
        )
        latencies = [done_at[i] - fetched_at[i] for i in ids]
        return BatchResult(len(docs), seconds, processed, with_versions, versions, quarantined, latencies, note)


def run_worker(result: ModeResult, pg_url: str, redis_base: str, redis_db: int | None, corpus: Corpus) -> None:
    import redis

    db = claim_redis_db(redis_base, redis_db)
    redis_url = f"{redis_base}/{db}"
    admin = redis.Redis.from_url(redis_url)
    tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-worker-"))
    worker: Worker | None = None
    bench: WorkerBench | None = None
    engine: Engine | None = None
    try:
        (tmp / "config").mkdir()
        (tmp / "config" / "sources.yaml").write_text("version: 1\nsources: []\n")
        (tmp / "config" / "subscribers.yaml").write_text("version: 1\nsubscribers: []\n")
        with private_schema(pg_url) as url:
            engine = make_engine(url)
            try:
                upgrade(engine)
                preload(engine, corpus.preload)
                print(f"    starting worker (Redis db {db}) ...", flush=True)
                worker = Worker(url, redis_url, tmp / "config", tmp / "worker.log")
                bench = WorkerBench(engine, redis_url, worker)
                ready = bench.wait_ready(corpus.warmup)
                print(f"    worker ready and warmed up after {ready:.1f} s: {' '.join(worker.cmd[1:])}", flush=True)
                if corpus.idle:
                    result.idle = bench.idle(corpus.idle)
                if corpus.batch:
                    result.batch = bench.batch(corpus.batch)
            finally:
                if bench is not None:
                    bench.close()
                if worker is not None:
                    worker.stop()
                    notable = [line for line in worker.output().splitlines() if NOTABLE.search(line)]
                    print(
                        f"    worker stopped (exit code {worker.proc.returncode}); {len(notable)} warning/error lines"
                    )
                    for line in notable[:40]:
                        print(f"      {line}")
                engine.dispose()
    finally:
        admin.flushdb()
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


# ------------------------------------------------------------------ report


def ms(x: float) -> str:
    return f"{1000 * x:8.1f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_summary(results: list[ModeResult], args: argparse.Namespace, corpus: Corpus) -> None:
    kinds = Counter(p.kind for p in corpus.idle)
    print()
    print("=" * 118)
    print(f"command: .venv/bin/python bench/pipeline_latency.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"Idle latency, fetched -> stored-and-diffed ({len(corpus.idle)} single publications: "
        f"{kinds['initial']} initial, {kinds['follow-up']} follow-ups of a stored original; "
        f"{len(corpus.preload)} records preloaded)"
    )
    print(
        f"{'mode':<34} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'p99 init':>8} {'p99 f-up':>8} {'w/ version':>10}  target p99 <= 1 s"
    )
    for r in results:
        if r.idle is None:
            if r.error:
                print(f"{r.name:<34} FAILED: {r.error.splitlines()[0]}")
            continue
        i = r.idle
        print(
            f"{r.name:<34} {ms(i.stat(0.5))} {ms(i.stat(0.95))} {ms(i.stat(0.99))} {ms(max(i.latencies))} "
            f"{ms(i.stat(0.99, 'initial'))} {ms(i.stat(0.99, 'follow-up'))} "
            f"{i.with_versions:>5}/{len(i.latencies):<4}  {verdict(i.stat(0.99) <= TARGET_P99)}"
        )
    print()
    print(f"Batch drain: {args.batch} publications saved in pages of {PAGE}, processed as pages arrive")
    print(
        f"{'mode':<34} {'seconds':>8} {'pub/s':>8} {'doc p50':>8} {'doc p99':>8} "
        f"{'processed':>10} {'versions':>9} {'quar.':>5}  target <= 30 s"
    )
    for r in results:
        if r.batch is None:
            if r.error and r.idle is not None:
                print(f"{r.name:<34} FAILED: {r.error.splitlines()[0]}")
            continue
        b = r.batch
        print(
            f"{r.name:<34} {b.seconds:8.1f} {b.publications / b.seconds:8.0f} "
            f"{percentile(b.doc_latencies, 0.5):8.2f} {percentile(b.doc_latencies, 0.99):8.2f} "
            f"{b.processed:>5}/{b.publications:<4} {b.versions:>9} {b.quarantined:>5}  "
            f"{verdict(b.seconds <= TARGET_DRAIN and b.processed == b.publications)}"
        )
    print("  (doc p50/p99: seconds from a publication's page being fetched to its versions being committed)")
    print()
    print("Notes")
    for r in results:
        if r.idle is not None and r.idle.note:
            print(f"  {r.name}, idle: {r.idle.note}")
        if r.batch is not None and r.batch.note:
            print(f"  {r.name}, batch: {r.batch.note}")
        if r.error:
            print(f"  {r.name}: FAILED\n{r.error}")
    print("=" * 118)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="single publications for the idle latency")
    parser.add_argument("--batch", type=int, default=4300, help="publications in the batch (a TED day)")
    parser.add_argument("--preload", type=int, default=5000, help="records stored before measuring (not timed)")
    parser.add_argument("--skip-worker", action="store_true", help="embedded mode only")
    parser.add_argument("--skip-postgres", action="store_true", help="no PostgreSQL (embedded SQLite only)")
    parser.add_argument("--skip-embedded", action="store_true", help="one worker mode only")
    parser.add_argument("--database-url", default=PG_URL, help="PostgreSQL URL; a private schema is made in it")
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis server, without a database number")
    parser.add_argument(
        "--redis-db", type=int, help="Redis database to use (flushed); default: first empty, unused one of 9..1"
    )
    args = parser.parse_args()

    results: list[ModeResult] = []
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmpdir:
        tmp = Path(tmpdir)
        corpus = build_corpus(args.preload, args.count, args.batch, tmp)
        print(
            f"corpus: {len(corpus.preload)} preload, {len(corpus.idle)} idle sample, {len(corpus.batch)} batch "
            f"(real ODS records replicated under fresh idwebs)",
            flush=True,
        )
        modes: list[tuple[str, Callable[[ModeResult], None]]] = []
        if not args.skip_embedded:
            modes.append(("embedded, SQLite", lambda r: run_embedded(r, f"sqlite:///{tmp / 'bench.db'}", corpus)))
        if not args.skip_embedded and not args.skip_postgres:

            def embedded_pg(result: ModeResult) -> None:
                with private_schema(args.database_url) as url:
                    run_embedded(result, url, corpus)

            modes.append(("embedded, PostgreSQL", embedded_pg))
        if not args.skip_worker and not args.skip_postgres:
            modes.append(
                (
                    "one worker (PostgreSQL + Redis)",
                    lambda r: run_worker(r, args.database_url, args.redis_url, args.redis_db, corpus),
                )
            )
        for name, run in modes:
            print(f"{name} ...", flush=True)
            start = time.perf_counter()
            result = ModeResult(name)
            results.append(result)
            try:
                run(result)
            except Exception as exc:  # reported with the others; the phases measured before it are kept
                result.error = f"{type(exc).__name__}: {exc}"
            print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
        print_summary(results, args, corpus)


if __name__ == "__main__":
    main()
