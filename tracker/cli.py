"""The ``tracker`` command. Domain errors become messages here, and only here."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from tracker import __version__
from tracker.db import ensure_schema, make_engine, session_scope, upgrade
from tracker.exceptions import TrackerError
from tracker.history import find_procedure, history, render_text
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file, iter_files
from tracker.settings import get_settings
from tracker.store import IngestStats, ParsedItem, RawDocument

err = Console(stderr=True, highlight=False)


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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
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


def _documents(files: list[Path], source: str, bad: list[str]) -> Iterator[RawDocument | ParsedItem]:
    for path in files:
        try:
            yield from documents_from_file(path, source=source)
        except TrackerError as exc:
            bad.append(str(exc))
            err.print(f"[red]skipped[/red] {exc}", markup=True, highlight=False)


def _count(files: list[Path]) -> int | None:
    """Records to come, for the progress bar (None when unknown without reading everything)."""
    total = 0
    for path in files:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        elif path.stat().st_size > 200_000_000:
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
    """Load notices from files or folders (ODS JSON/JSONL, DILA XML, eForms XML)."""
    try:
        files = list(iter_files(list(paths)))
    except TrackerError as exc:
        raise click.ClickException(str(exc)) from exc
    engine = ctx.ready_engine()
    bad: list[str] = []
    total = _count(files)
    with Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("ingest", total=total)
        stats = ingest_documents(
            engine,
            _documents(files, source, bad),
            batch_size=batch_size,
            progress=lambda n: bar.advance(task, n),
            on_versions=_notifier(ctx),
        )
    _summary(stats, files=len(files), bad_files=len(bad))
    if bad and stats.documents == 0:
        sys.exit(1)


def _notifier(ctx: Context) -> Any:
    """The notification hook; filled in by the notification stage when subscribers are configured."""
    return None


def _summary(stats: IngestStats, *, files: int, bad_files: int) -> None:
    click.echo(
        f"{files} file(s), {stats.documents} record(s): {stats.stored} stored, {stats.unchanged} already stored, "
        f"{stats.quarantined} quarantined; {stats.notices} notice(s) in {len(stats.procedures)} procedure(s); "
        f"{stats.linked} linked to an earlier notice; versions: {stats.versions_created} created, "
        f"{stats.versions_updated} updated" + (f"; {bad_files} file(s) unreadable" if bad_files else "")
    )


@cli.command("history")
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the history JSON contract).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@pass_ctx
def history_cmd(ctx: Context, ident: str, as_json: bool, lang: str) -> None:
    """Show every version of a procedure and what changed, by any identifier of its notices."""
    engine = ctx.ready_engine()
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
@pass_ctx
def quarantine_cmd(ctx: Context, limit: int) -> None:
    """List records that could not be read, with the reason."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Quarantine

    engine = ctx.ready_engine()
    with session_scope(engine) as session:
        rows = session.execute(select(Quarantine).order_by(col(Quarantine.id).desc()).limit(limit)).scalars().all()
        for q in rows:
            click.echo(f"{q.created_at:%Y-%m-%d %H:%M}  {q.locator}\n    {q.reason}")
        if not rows:
            click.echo("nothing quarantined")


def main() -> None:
    try:
        cli(prog_name="tracker")
    except TrackerError as exc:  # pragma: no cover - last resort; commands translate their own errors
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
