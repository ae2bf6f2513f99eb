"""The ``tracker`` command. Domain errors become messages here, and only here."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, make_url

from tracker import __version__
from tracker.commands.output import output
from tracker.commands.views import register as register_views
from tracker.config import SourcesConfig, load_sources
from tracker.db import ensure_schema, has_tables, make_engine, session_scope, upgrade
from tracker.documents import Document
from tracker.exceptions import TrackerError
from tracker.history import find_procedure, history, render_text, safe
from tracker.logs import configure as configure_logging
from tracker.match import settle_long_lived
from tracker.outbox import Notifier
from tracker.parse.base import ParsedItem
from tracker.parse.boamp import IDWEB_RE
from tracker.pipeline import ingest_documents, reparse_documents, retry_quarantined, unnotified
from tracker.poll import PollReport, poll_source, source_states
from tracker.reader import documents_from_file, iter_files
from tracker.service import Embedded
from tracker.settings import get_settings
from tracker.sources.http import make_client
from tracker.store import IngestStats, database_counts, normalise_key
from tracker.subscribers import Subscriber, load_subscribers
from tracker.terminal import inert_block

if TYPE_CHECKING:
    from sqlmodel import Session

    from tracker.models import Delivery

err = output(stderr=True)  # never wraps what is not a terminal


class Context:
    def __init__(self, database_url: str | None, config_dir: Path | None) -> None:
        self.settings = get_settings()
        self.database_url = database_url or self.settings.database_url
        self.config_dir = config_dir or self.settings.config_dir
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        return self._engine

    def ready_engine(self) -> Engine:
        """The engine, with the schema migrated to the newest version (run automatically)."""
        ensure_schema(self.engine)
        return self.engine

    def existing_engine(self) -> Engine:
        """The engine of a database that exists and holds tracker's tables, migrated when it is older: a command
        that only reads never creates a database (a mistyped URL or working folder would look empty)."""
        url = make_url(self.database_url)
        shown = url.render_as_string(hide_password=True)
        hint = "`tracker ingest PATH` or `tracker run` fills one; --database-url or TRACKER_DATABASE_URL picks another"
        path = url.database if url.get_backend_name() == "sqlite" else None
        if path and path != ":memory:" and not path.startswith("file:") and not Path(path).exists():
            raise click.ClickException(f"no database at {path} ({shown}): {hint}")
        if not has_tables(self.engine):
            raise click.ClickException(f"the database {shown} holds no tracker data yet: {hint}")
        return self.ready_engine()


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker")
@click.option("--database-url", envvar="TRACKER_DATABASE_URL", help="SQLAlchemy URL (default: sqlite:///tracker.db).")
@click.option(
    "--config",
    "config_dir",
    type=click.Path(path_type=Path),
    envvar="TRACKER_CONFIG_DIR",
    help="Configuration folder (default: ./config).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, config_dir: Path | None, verbose: bool) -> None:
    """Track amendments to public procurement notices."""
    configure_logging(logging.DEBUG if verbose else get_settings().log_level)  # secrets masked in every record
    ctx.obj = Context(database_url, config_dir)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Migrate the database schema to the newest version."""
    upgrade(ctx.engine)
    click.echo(f"database at the newest schema ({ctx.engine.url.render_as_string(hide_password=True)})")


def _skipped(bad: list[str], reason: str) -> None:
    bad.append(reason)
    err.print(f"[red]skipped[/red] {escape(safe(reason))}", markup=True, highlight=False)


def _files(paths: tuple[Path, ...], bad: list[str]) -> list[Path]:
    """The files to read under these paths; a path that does not exist is skipped like an unreadable file."""
    files: list[Path] = []
    for path in paths:
        try:
            files.extend(iter_files([path]))
        except (TrackerError, OSError) as exc:
            _skipped(bad, str(exc) if isinstance(exc, TrackerError) else f"{path}: cannot read ({exc.strerror})")
    return files


def _documents(files: list[Path], source: str, bad: list[str]) -> Iterator[Document | ParsedItem]:
    for path in files:
        try:
            yield from documents_from_file(path, source=source)
        except TrackerError as exc:
            _skipped(bad, str(exc))
        except OSError as exc:  # no permission, a file gone or a disk error while reading
            _skipped(bad, f"{path}: cannot read ({exc.strerror or exc})")


def _count(files: list[Path]) -> int | None:
    """Records to come, for the progress bar (None when unknown without reading everything)."""
    try:
        return _count_all(files)
    except OSError:  # the reading stage names the file that cannot be read
        return None


def _count_all(files: list[Path]) -> int | None:
    total = 0
    for path in files:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        elif path.stat().st_size > 8_000_000:  # counting would read it whole: unknown (memory stays bounded)
            return None
        else:
            with path.open("rb") as fh:
                head = fh.read(64)
            total += 1 if head.lstrip().startswith(b"<") else _json_count(path)
    return total


def _json_count(path: Path) -> int:
    try:
        data: Any = json.loads(path.read_bytes())
    except ValueError:
        return 1
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return len(data["results"])
    return len(data) if isinstance(data, list) else 1


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", default="boamp", show_default=True, help="Source name recorded for these documents.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@pass_ctx
def ingest(ctx: Context, paths: tuple[Path, ...], source: str, batch_size: int) -> None:
    """Load notices from files or folders (ODS JSON/JSONL, DILA XML, eForms XML).

    Whatever cannot be read is set aside and everything else is stored: a path that does not exist, a file that
    cannot be read or is of no known format is skipped (named on stderr); a bad record inside a good file is
    quarantined (`tracker quarantine` lists it with the reason, `tracker quarantine --retry` reads it again).

    Exit status: 0 when every record of every file was stored or was stored already; 1 when anything was
    skipped or quarantined, whatever its kind (the summary counts both); 2 on a usage error.
    """
    bad: list[str] = []
    files = _files(paths, bad)
    if bad and not files:
        sys.exit(1)  # nothing to read: each path was named as skipped, no database is made for nothing
    engine = ctx.ready_engine()
    notifier = _notifier(ctx)
    total = _count(files)
    with _progress("ingest") as bar:
        task = bar.add_task("ingest", total=total)
        stats = ingest_documents(
            engine,
            _documents(files, source, bad),
            batch_size=batch_size,
            progress=lambda n: bar.advance(task, n),
            on_versions=notifier,
        )
    if notifier is not None:
        _send_owed(engine, notifier)
    quarantined = _summary(stats, files=len(files), bad_files=len(bad))
    if bad or quarantined:
        sys.exit(1)


def _subscribers(ctx: Context) -> list[Subscriber]:
    try:
        return load_subscribers(ctx.config_dir)
    except TrackerError as exc:
        raise click.ClickException(str(exc)) from exc


def _notifier(ctx: Context) -> Notifier | None:
    """The notification stage in this process, when subscribers are configured."""
    subscribers = _subscribers(ctx)
    if not subscribers:
        return None
    return Notifier(ctx.ready_engine(), subscribers, clock=lambda: datetime.now(UTC))


def _send_owed(engine: Engine, notifier: Notifier) -> None:
    """News an earlier command owed and never sent (it was killed between storing and notifying), and
    deliveries that have come due: ``ingest`` sends them as ``run`` does."""
    while ids := unnotified(engine, now=datetime.now(UTC), older_than=None, limit=1000):
        notifier(ids)
        if len(ids) < 1000:
            break
    notifier.sweep()


def _summary(stats: IngestStats, *, files: int, bad_files: int) -> int:
    """Print the ingest's summary; return how many records are quarantined (new ones and ones read again that
    still cannot be read: every record neither stored nor stored already)."""
    quarantined = stats.documents - stats.stored - stats.unchanged
    click.echo(
        f"{files} file(s), {stats.documents} record(s): {stats.stored} stored, {stats.unchanged} already stored, "
        f"{quarantined} quarantined; {stats.notices} notice(s) in {len(stats.procedures)} procedure(s); "
        f"{stats.linked} linked to an earlier notice; versions: {stats.versions_created} created, "
        f"{stats.versions_updated} updated"
        + (f"; {bad_files} file(s) skipped (named above: unreadable or of no known format)" if bad_files else "")
    )
    if quarantined:
        click.echo(
            f"{quarantined} record(s) quarantined: `tracker quarantine` lists them with the reason, "
            "`tracker quarantine --retry` reads them again after an upgrade"
        )
    return quarantined


def _progress(label: str) -> Progress:
    """A progress bar on stderr, shown only on a terminal."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@cli.command()
@click.option("--source", help="Only the documents of this source (default: every source).")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@pass_ctx
def reparse(ctx: Context, source: str | None, batch_size: int) -> None:
    """Re-derive every stored notice from its kept raw document with today's parsers.

    Run it after an upgrade that reads documents differently (BOAMP date-times became the buyer's wall
    time): versions stored before get the new reading, and subscribers are told the corrections owed to
    them (a date still ahead that now reads otherwise), as by ingest. Progress goes to stderr.
    """
    engine = ctx.existing_engine()
    notifier = _notifier(ctx)
    with _progress("reparse") as bar:
        task = bar.add_task("reparse", total=None)

        def show(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if not err.is_terminal:
                err.print(f"reparse: {done}/{total} document(s)", highlight=False)

        stats = reparse_documents(engine, source=source, batch_size=batch_size, progress=show, on_versions=notifier)
    click.echo(
        f"{stats.documents} document(s) re-read: {stats.stored} stored, {stats.quarantined} quarantined; "
        f"{stats.notices} notice(s) in {len(stats.procedures)} procedure(s); versions: "
        f"{stats.versions_created} created, {stats.versions_updated} updated"
    )


@cli.command("history")
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the history JSON contract).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@pass_ctx
def history_cmd(ctx: Context, ident: str, as_json: bool, lang: str) -> None:
    """Show every version of a procedure and what changed, by any identifier of its notices."""
    engine = ctx.existing_engine()
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        if proc is None:
            raise click.ClickException(f"no procedure known by {ident!r}")
        data = history(session, proc, lang=lang)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(data, lang=lang))


@cli.command("quarantine")
@click.option("--limit", default=50, show_default=True)
@click.option("--retry", is_flag=True, help="Read every quarantined record again (after an upgrade that fixes it).")
@pass_ctx
def quarantine_cmd(ctx: Context, limit: int, retry: bool) -> None:
    """List records that could not be read, with the reason; --retry reads them again."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Quarantine

    engine = ctx.existing_engine()
    if retry:
        read, left = retry_quarantined(engine, on_versions=_notifier(ctx))
        click.echo(f"{read} record(s) read and stored, {left} still quarantined")
        return
    with session_scope(engine) as session:
        rows = session.execute(select(Quarantine).order_by(col(Quarantine.id).desc()).limit(limit)).scalars().all()
        for q in rows:
            click.echo(f"{q.created_at:%Y-%m-%d %H:%M}  {safe(q.locator)}\n    {safe(q.reason)}")
        if not rows:
            click.echo("nothing quarantined")


# ------------------------------------------------------------------ the service (issue: event-driven pipeline)


def _sources(ctx: Context) -> SourcesConfig:
    try:
        return load_sources(ctx.config_dir)
    except TrackerError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _embedded(ctx: Context) -> Iterator[Embedded]:
    settings = ctx.settings
    sources, notifier, engine = _sources(ctx), _notifier(ctx), ctx.ready_engine()
    service = Embedded(
        engine,
        sources,
        make_client(user_agent=settings.user_agent, timeout=settings.http_timeout),
        on_versions=notifier,
    )
    try:
        yield service
    finally:
        service.close()


def _report_line(report: PollReport) -> str:
    state = "ok" if report.ok else f"FAILED: {safe(report.error)}"
    return f"{report.name}: {report.fetched} fetched, {len(report.new_ids)} new, {report.steps} step(s) — {state}"


_MEANWHILE = "`tracker ingest PATH` reads local files meanwhile"


def _watch_line(report: PollReport, next_at: datetime) -> str:
    """A poll's report with what comes next: the next poll, the retry of a source that could not be reached."""
    when = _when(next_at)
    if report.ok:
        return f"{_report_line(report)}; next poll at {when}"
    if report.stopped:
        return f"{_report_line(report)}; the next poll, at {when}, resumes where this one stopped"
    return f"{_report_line(report)}; retrying at {when} ({_MEANWHILE})"


@cli.command()
@click.option("--once", is_flag=True, help="One poll of every configured source, then exit.")
@pass_ctx
def run(ctx: Context, once: bool) -> None:
    """Watch the configured sources: poll on schedule, process in-process (embedded default)."""
    with _embedded(ctx) as service:
        if not service.sources.enabled:
            raise click.ClickException(f"no source configured in {ctx.config_dir / 'sources.yaml'}")
        if once:
            reports = service.run_once()
            for report in reports:
                click.echo(_report_line(report))
            failed = [r.name for r in reports if not r.ok and not r.stopped]
            if failed:
                err.print(f"{', '.join(failed)}: not polled; `tracker run` tries again on schedule; {_MEANWHILE}")
            if all(not r.ok for r in reports):
                sys.exit(1)
            return
        settle_long_lived()  # subscribers and their index live as long as this process
        names = ", ".join(cfg.name for cfg in service.sources.enabled)
        database = ctx.engine.url.render_as_string(hide_password=True)
        err.print(f"watching {names} (database {database}): each now, then on its schedule; Ctrl-C stops")
        for cfg in service.sources.enabled:
            first = service.next_poll(cfg, None)
            if first > datetime.now(UTC) + timedelta(seconds=1):
                err.print(f"{cfg.name}: failing lately (circuit open): first poll at {_when(first)}; {_MEANWHILE}")

        def on_report(report: PollReport, next_at: datetime) -> None:
            click.echo(_watch_line(report, next_at))
            if isinstance(service.on_versions, Notifier):
                service.on_versions.sweep()  # retries and digests that have come due

        service.run_forever(on_report=on_report)


@cli.command()
@click.argument("name")
@pass_ctx
def poll(ctx: Context, name: str) -> None:
    """One poll of one source, printing what it found."""
    with _embedded(ctx) as service:
        try:
            cfg = service.sources.get(name)
        except TrackerError as exc:
            raise click.ClickException(str(exc)) from exc
        report = service.poll(
            cfg, progress=lambda r: err.print(f"  step {r.steps}: {r.fetched} fetched", highlight=False)
        )
        click.echo(_report_line(report))
        for line in _new_notices(ctx, report.new_ids):
            click.echo(f"  {line}")
        if not report.ok:
            sys.exit(1)


def _new_notices(ctx: Context, document_ids: list[int]) -> list[str]:
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Notice

    if not document_ids:
        return []
    with session_scope(ctx.engine) as session:
        rows = session.execute(
            select(col(Notice.notice_id), col(Notice.kind), col(Notice.record)).where(
                col(Notice.document_id).in_(document_ids[:500])
            )
        ).all()
    return [f"{nid:<14} {kind:<13} {safe((rec or {}).get('title') or '')[:90]}" for nid, kind, rec in rows]


@cli.command()
@click.argument("name")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First publication day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last publication day (default: today).")
@pass_ctx
def backfill(ctx: Context, name: str, since: datetime, until: datetime | None) -> None:
    """Load a range of past publications; interrupt it at will, run it again to resume."""
    with _embedded(ctx) as service:
        try:
            cfg = service.sources.get(name)
        except TrackerError as exc:
            raise click.ClickException(str(exc)) from exc
        if "since" not in type(cfg.options).model_fields:
            raise click.ClickException(f"source {name!r} ({cfg.kind}) has no publication dates to backfill")
        job = cfg.model_copy(
            update={"name": f"{cfg.name}-backfill", "options": cfg.options.model_copy(update={"since": since.date()})}
        )
        last = (until or datetime.now(UTC)).date().isoformat()

        def beyond(cursor: dict[str, Any]) -> bool:
            return str(cursor.get("day", "")) > last

        def show(report: PollReport) -> None:
            day = report.cursor.get("day") if report.cursor else None
            err.print(f"  {report.fetched} fetched, {len(report.new_ids)} new (at {day or '…'})", highlight=False)

        report = poll_source(
            service.engine,
            job,
            client=service.client,
            on_new=service.handle_new,
            progress=lambda r: show(r),
            should_stop=beyond,
        )
        click.echo(_report_line(report) + f"; resume point {report.cursor}")
        if not report.ok:
            sys.exit(1)


@cli.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Each source's last success, last error and cursor; what the database holds."""
    from rich.table import Table

    engine = ctx.existing_engine()
    table = Table("source", "kind", "last success", "failures", "cursor")
    errors: list[str] = []
    with session_scope(engine) as session:
        for st in source_states(session):
            success = f"{st.last_success_at:%Y-%m-%d %H:%M}" if st.last_success_at else "never"
            table.add_row(st.name, st.kind, success, str(st.consecutive_failures), json.dumps(st.cursor)[:60])
            if st.last_error_at:
                errors.append(f"{st.name}: last error {st.last_error_at:%Y-%m-%d %H:%M}: {safe(st.last_error)[:300]}")
        counts = database_counts(session)
    output().print(table)
    for line in errors:
        click.echo(line)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


# ------------------------------------------------------------------ subscribers and deliveries


@cli.group()
def subscribers() -> None:
    """Who gets notified of what (config/subscribers*.yaml)."""


@subscribers.command("check")
@pass_ctx
def subscribers_check(ctx: Context) -> None:
    """Validate every subscriber file; list the subscribers with their (masked) channels.

    Warns on a ``follow`` entry of no known identifier form; fails when the configuration folder is missing.
    """
    if not ctx.config_dir.is_dir():
        raise click.ClickException(f"no configuration folder {ctx.config_dir} (--config or TRACKER_CONFIG_DIR)")
    subs = _subscribers(ctx)
    for sub in subs:
        scope = ", ".join([*(f"follow {f}" for f in sub.follow), *(f"profile {i}" for i in range(len(sub.profiles)))])
        click.echo(f"{sub.name} [{sub.language}] {scope or '—'}; changes: {', '.join(sub.changes)}")
        for url in sub.masked_urls():
            click.echo(f"    {safe(url)}")
        for entry in sub.follow:
            if not known_identifier(entry):
                err.print(
                    f"warning: {sub.name}: follow {safe(entry)!r} is no known identifier form ({_FORMS}); it "
                    "follows only a procedure one of whose notices carries exactly this value",
                    markup=False,
                )
    click.echo(f"{len(subs)} subscriber(s) valid in {ctx.config_dir}")


_FORMS = "BOAMP idweb 20-157376, eForms notice or procedure UUID, TED publication number 41387-2024"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TED_NUMBER = re.compile(r"\d{1,8}-(?:19|20)\d{2}")


def known_identifier(value: str) -> bool:
    """Whether ``value`` has the form of an identifier notices carry: a BOAMP idweb (``20-157376``, a DILA flux
    id), a UUID (an eForms notice id, with or without its version ``-01``, or a procedure id), a TED publication
    number (``41387-2024``, ``00041387-2024``, ``2024/S 015-041387``)."""
    return bool(
        IDWEB_RE.match(value.strip())
        or _UUID.fullmatch(normalise_key("notice_id", value)[1])
        or _TED_NUMBER.fullmatch(normalise_key("ted_pub", value)[1])
    )


def _parse_since(value: str) -> timedelta:
    m = re.fullmatch(r"(\d+)\s*([dhw])", value.strip())
    if not m:
        raise click.BadParameter("use a number of days, hours or weeks: 30d, 12h, 2w")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" else timedelta(weeks=n)


@subscribers.command("test")
@click.argument("name")
@click.option("--since", default="30d", show_default=True, help="How far back to replay: 30d, 12h, 2w.")
@pass_ctx
def subscribers_test(ctx: Context, name: str, since: str) -> None:
    """Replay stored history: print, per channel, exactly what NAME would have been sent. Sends nothing."""
    from tracker.outbox import replay

    subs = {s.name: s for s in _subscribers(ctx)}
    if name not in subs:
        raise click.ClickException(f"no subscriber named {name!r} (known: {', '.join(sorted(subs)) or 'none'})")
    cutoff = (datetime.now(UTC) - _parse_since(since)).date()
    count = 0
    for channel, message in replay(ctx.existing_engine(), subs[name], published_since=cutoff):
        count += 1
        click.echo(f"--- {safe(channel)} [{message.format}] {safe(message.title)}")
        click.echo(inert_block(message.body))
    click.echo(f"{count} message(s) would have been sent to {name} since {cutoff}")


@cli.command("notify-test")
@click.argument("name")
@pass_ctx
def notify_test(ctx: Context, name: str) -> None:
    """Send a sample notification to every channel of subscriber NAME."""
    from tracker.notify.dispatch import send_sample

    subs = {s.name: s for s in _subscribers(ctx)}
    if name not in subs:
        raise click.ClickException(f"no subscriber named {name!r}")
    failed = 0
    for label, result in send_sample(subs[name]):
        click.echo(f"{safe(label)}: {'sent' if result.ok else f'FAILED: {safe(result.error)}'}")
        failed += not result.ok
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--failed", is_flag=True, help="Only failed and dead deliveries.")
@click.option("--retry", "retry_id", type=int, help="Send delivery ID again now.")
@click.option("--limit", default=50, show_default=True)
@pass_ctx
def deliveries(ctx: Context, failed: bool, retry_id: int | None, limit: int) -> None:
    """List notifications sent, pending, failed and dead; retry one."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Delivery
    from tracker.outbox import deliver, retry

    engine = ctx.existing_engine()
    if retry_id is not None:
        now = datetime.now(UTC)
        if not retry(engine, retry_id, now=now):
            raise click.ClickException(f"no delivery {retry_id} to retry (unknown or already sent)")
        status = deliver(engine, retry_id, _subscribers(ctx), now=now)
        click.echo(f"delivery {retry_id}: {status}")
        return
    with session_scope(engine) as session:
        stmt = select(Delivery).order_by(col(Delivery.id).desc()).limit(limit)
        if failed:
            stmt = stmt.where(col(Delivery.status).in_(("failed", "dead")))
        rows = session.execute(stmt).scalars().all()
        labels = _version_labels(session, [v for d in rows for v in _delivery_versions(d)])
        for d in rows:
            click.echo(_delivery_lines(d, labels))
        if not rows:
            click.echo("no deliveries")


def _delivery_versions(delivery: Delivery) -> list[int]:
    """The versions a delivery tells: its own, or each of its digest's."""
    if delivery.version_id is not None:
        return [delivery.version_id]
    return [int(item["version_id"]) for item in (delivery.payload or {}).get("items", []) if "version_id" in item]


def _version_labels(session: Session, version_ids: list[int]) -> dict[int, str]:
    """``20-157376 v2 (BOAMP 21-6545)`` per version id: the procedure, the version and the notice that made it."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Notice, Procedure, Version

    labels: dict[int, str] = {}
    ids = list(dict.fromkeys(version_ids))
    for start in range(0, len(ids), 500):
        stmt = (
            select(
                col(Version.id),
                col(Version.number),
                col(Procedure.display_id),
                col(Notice.source),
                col(Notice.notice_id),
            )
            .join(Procedure, col(Procedure.id) == col(Version.procedure_id))
            .join(Notice, col(Notice.id) == col(Version.notice_pk))
            .where(col(Version.id).in_(ids[start : start + 500]))
        )
        for vid, number, procedure, source, notice in session.execute(stmt):
            labels[vid] = f"{safe(procedure)} v{number} ({safe(source).upper()} {safe(notice)})"
    return labels


def _when(moment: datetime | None) -> str:
    """A stored time as the local wall time with its offset, to the minute."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone().isoformat(sep=" ", timespec="minutes")


def _delivery_lines(d: Delivery, labels: dict[int, str]) -> str:
    """One delivery: status, times, attempts, who, then what it tells (procedure, version, notice), then the
    last error."""
    if d.status == "sent":
        when = f"sent {_when(d.sent_at)}"
    elif d.status in ("pending", "failed", "sending"):
        when = f"next attempt {_when(d.next_attempt_at)}"
    else:
        when = "given up"
    head = (
        f"{d.id:>6} {d.status:<8} created {_when(d.created_at)}  {when}  attempts {d.attempts}  "
        f"{safe(d.subscriber)} → {safe(d.channel_label)}"
    )
    versions = _delivery_versions(d)
    told = ", ".join(labels.get(v, f"version {v}") for v in versions[:20])
    more = f", and {len(versions) - 20} more" if len(versions) > 20 else ""
    what = f"digest due {safe(d.digest_key)}: {told}{more}" if d.digest_key else told
    error = f"\n         last error: {safe(d.last_error)[:300]}" if d.last_error else ""
    return f"{head}\n         {what or '—'}{error}"


register_views(cli)  # procedures, upcoming, changes, calendar, serve (tracker.commands.views)


def main() -> None:
    try:
        cli(prog_name="tracker")
    except TrackerError as exc:  # pragma: no cover - last resort; commands translate their own errors
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
