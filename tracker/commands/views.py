"""The commands that look at what is stored: ``procedures``, ``upcoming``, ``changes``, ``calendar``, ``serve``.

Registered on the ``tracker`` group by :func:`register` (``tracker.cli``). Output that is not a terminal is
plain lines, never wrapped; ``--json`` prints what the JSON API serves.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import click
from sqlalchemy import Engine

from tracker.db import session_scope
from tracker.exceptions import TrackerError
from tracker.history import safe
from tracker.render import field_label
from tracker.search import (
    STATUS_CHOICES,
    Filters,
    Scope,
    changes,
    deadlines_for,
    parse_duration,
    parse_since,
    scope_of,
    search,
    upcoming,
)
from tracker.values import render_value


class _Context(Protocol):
    config_dir: Path

    def existing_engine(self) -> Engine: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _since(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_since(value, now=_now())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _duration(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _scope(ctx: _Context, name: str | None) -> Scope | None:
    if name is None:
        return None
    from tracker.subscribers import load_subscribers

    try:
        subs = {s.name: s for s in load_subscribers(ctx.config_dir)}
    except TrackerError as exc:
        raise click.ClickException(str(exc)) from exc
    if name not in subs:
        raise click.ClickException(f"no subscriber named {name!r} (known: {', '.join(sorted(subs)) or 'none'})")
    return scope_of(subs[name])


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command("procedures")
@click.argument("text", required=False, default="")
@click.option("--buyer", default="", help="Words of the buyer's name.")
@click.option("--cpv", default="", help="CPV code or prefix (72, 722, 72000000-5).")
@click.option("--dept", default="", help="Département (56, 2A, 971).")
@click.option("--status", type=click.Choice(STATUS_CHOICES), help="The procedure's status now.")
@click.option("--amended-since", help="Amended since a day or a duration back: 2026-01-31, 7d.")
@click.option("--deadline-within", help="A deadline between now and this far ahead: 14d.")
@click.option("--source", default="", help="boamp, ted, …")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (what /api/procedures serves).")
@click.pass_obj
def procedures_cmd(ctx: _Context, /, text: str, as_json: bool, **options: Any) -> None:
    """Search procedures by words of their title, buyer, description or identifiers (accents and case ignored)."""
    filters = Filters(
        text=text,
        buyer=options["buyer"],
        cpv=options["cpv"],
        dept=options["dept"],
        status=options["status"] or "",
        amended_since=_since(options["amended_since"]),
        deadline_within=_duration(options["deadline_within"]),
        source=options["source"],
        limit=options["limit"],
    )
    try:
        with session_scope(ctx.existing_engine()) as session:
            found = search(session, filters, now=_now())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _dump(found)
        return
    for p in found:
        amended = f"amended {p['last_amended']} ({p['amendments']})" if p["last_amended"] else "not amended"
        line = f"{safe(p['id']):<14} {p['last_published'] or '?':<10} {p['status']:<10} {amended:<26}"
        click.echo(f"{line} {safe(p['buyer'] or '?')} — {safe(p['title'] or '?')}")
    click.echo(
        f"{len(found)} procedure(s)" + (" (limit reached: --limit N for more)" if len(found) == filters.limit else "")
    )


@click.command("upcoming")
@click.option("--days", default=14, show_default=True, type=click.IntRange(0, 3650))
@click.option("--subscriber", help="Only the procedures this subscriber follows or matches.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def upcoming_cmd(ctx: _Context, days: int, subscriber: str | None, as_json: bool) -> None:
    """Every deadline of the coming days, per lot; the ones that moved show their old value."""
    scope = _scope(ctx, subscriber)
    with session_scope(ctx.existing_engine()) as session:
        found = upcoming(session, now=_now(), days=days, scope=scope)
    if as_json:
        _dump(found)
        return
    for d in found:
        moved = f"  (moved, was {render_value(d['previous'])})" if d["moved"] else ""
        lot = f" lot {safe(d['lot'])}" if d["lot"] else ""
        click.echo(
            f"{render_value(d['value']):<16} {field_label(d['field'])}{lot}{moved}\n"
            f"    {safe(d['procedure'])}  {safe(d['buyer'] or '?')} — {safe(d['title'] or '?')}"
        )
    click.echo(f"{len(found)} deadline(s) in the next {days} day(s)")


@click.command("changes")
@click.option("--since", "since_text", default="7d", show_default=True, help="A day or a duration: 2026-01-31, 2d.")
@click.option("--subscriber", help="Only the procedures this subscriber follows or matches.")
@click.option("--cursor", type=int, help="Continue after this cursor (printed at the end of a full page).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (what /api/changes serves).")
@click.pass_obj
def changes_cmd(
    ctx: _Context, since_text: str, subscriber: str | None, cursor: int | None, limit: int, lang: str, as_json: bool
) -> None:
    """The feed of typed changes published since a day, version by version, as ``history`` tells them."""
    since = _since(since_text)
    scope = _scope(ctx, subscriber)
    with session_scope(ctx.existing_engine()) as session:
        page = changes(session, since=since, cursor=cursor, limit=limit, scope=scope, lang=lang)
    if as_json:
        _dump({"since": since.isoformat(), "items": page.items, "cursor": page.cursor})
        return
    for item in page.items:
        proc = item["procedure"]
        click.echo(
            f"{item['published'] or '?':<10} {safe(proc['id'])} v{item['n']} ({item['kind']}, "
            f"{item['source'].upper()} {safe(item['notice_id'])})  {safe(proc['buyer'] or '?')} — "
            f"{safe(proc['title'] or '?')}"
        )
        for c in [*item["changes"], *item.get("corrections", [])]:
            click.echo(f"    {safe(c['text'])}")
    click.echo(f"{len(page.items)} version(s) with changes since {since}")
    if page.cursor is not None:
        click.echo(f"more: --cursor {page.cursor}")


@click.command("calendar")
@click.argument("name")
@click.option("--url", "show_url", is_flag=True, help="Print the calendar's subscription URL (with its token).")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True, help="Where `tracker serve` is.")
@click.pass_obj
def calendar_cmd(ctx: _Context, name: str, show_url: bool, base_url: str) -> None:
    """Print subscriber NAME's deadlines as an iCalendar file: tracker calendar NAME > deadlines.ics"""
    from tracker.calendar import build_calendar
    from tracker.search import calendar_token

    scope = _scope(ctx, name)
    assert scope is not None  # noqa: S101  (a name was given)
    now = _now()
    with session_scope(ctx.existing_engine()) as session:
        if show_url:
            click.echo(f"{base_url.rstrip('/')}/calendar/{name}.ics?token={calendar_token(session, name)}")
            return
        items = deadlines_for(session, scope, since=now - timedelta(days=30))
    sys.stdout.buffer.write(build_calendar(name, items, now=now, base_url=base_url))
    sys.stdout.buffer.flush()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (elsewhere needs --token).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--token", envvar="TRACKER_WEB_TOKEN", help="Required on a non-loopback address (TRACKER_WEB_TOKEN).")
@click.pass_obj
def serve_cmd(ctx: _Context, host: str, port: int, token: str | None) -> None:
    """Serve the timeline pages, the JSON API, the feeds and the calendars."""
    from tracker.web.app import WebConfig, create_app, is_loopback, run

    if not is_loopback(host) and not token:
        raise click.ClickException(f"binding {host} needs a token: --token or TRACKER_WEB_TOKEN")
    engine = ctx.existing_engine()
    config = WebConfig(config_dir=ctx.config_dir, token=token, require_token=not is_loopback(host) or bool(token))
    click.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    run(create_app(engine, config), host=host, port=port)


def register(group: click.Group) -> None:
    for command in (procedures_cmd, upcoming_cmd, changes_cmd, calendar_cmd, serve_cmd):
        group.add_command(command)
