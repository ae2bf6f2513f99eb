"""Deliver one message to one apprise URL. The only module that imports apprise.

What each channel gets (``render_messages`` gives every format; :func:`send` picks one per URL):

* ``json://``, ``form://``, ``xml://`` (and ``jsons``…): the JSON message, as the ``message`` string of
  apprise's own envelope ``{"version": "1.0", "title", "message", "attachments", "type"}``; apprise's
  webhook plugins always wrap the body, so receivers ``json.loads(envelope["message"])``.
* ``mailto://``, ``mailtos://``: the HTML message, the title as subject. Apprise's e-mail plugin takes one
  body; given HTML it sends multipart/alternative with a text/plain part it derives from the HTML.
* ``slack://``: the markdown message; apprise converts CommonMark to Slack mrkdwn (``**b**`` → ``*b*``,
  ``[label](url)`` → ``<url|label>``, ``\\<`` → ``&lt;``).
* ``workflows://`` (Microsoft Teams through Power Automate): the markdown message in an Adaptive Card
  TextBlock. ``msteams://`` is not in apprise 2.2 (Microsoft retired the Office 365 connectors).
* anything else: the service's own format (``?format=`` in the URL wins).

Secrets: URLs are shown through :func:`mask_url` (apprise's privacy mode, plus header and key-like query
values). While apprise works on a URL, a filter on the ``apprise`` logger rewrites every record, removing
that URL's secret parts, so they reach no log handler, no :class:`SendResult` and no exception message.

Timeouts: each socket connect and read is bounded by ``timeout`` (unless the URL sets ``cto``/``rto``), and
the whole call by ``4 × timeout``, so a dead channel cannot hang a worker.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import apprise

from tracker import logs
from tracker.events import ProcedureInfo, VersionEvent
from tracker.match import Match
from tracker.notice import ChangeDict
from tracker.notify.render import Message, render_messages

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

    from tracker.subscribers import Subscriber

DEFAULT_TIMEOUT: Final = 10.0  # seconds, for each connect and each read

#: apprise's generic webhooks: they get the machine-readable JSON message
WEBHOOK_SCHEMES: Final = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})

_ASSET: Final = apprise.AppriseAsset(
    app_id="tracker",
    app_desc="tracker: amendments to public procurement notices",
    storage_mode="memory",  # no apprise cache files on the workers' disks
)

_FORMATS: Final = {
    "text": apprise.NotifyFormat.TEXT,
    "html": apprise.NotifyFormat.HTML,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "json": apprise.NotifyFormat.TEXT,  # the JSON string travels as an opaque text body
}


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str | None = None  # what apprise reported, secrets removed


# ---------------------------------------------------------------- secrets


_SECRET_KEY: Final = re.compile(r"token|key|secret|pass|auth|sig|pwd", re.IGNORECASE)
_PARTS: Final = re.compile(r"[/:@?&=#;,+ ]+")


def _hostname_like(host: str) -> bool:
    return host == "localhost" or "." in host or ":" in host


#: apprise's generic defaults, left out of masked URLs for readability
_DEFAULT_PARAMS: Final = {("overflow", "upstream"), ("retry", "0"), ("wait", "0.5"), ("optional", "no")}


def _mask_query(url: str) -> str:
    """Hide header values (``+Name=value``) and key-like parameters apprise's privacy mode may show."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [
        (k, "****" if k.startswith("+") or _SECRET_KEY.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if (k, v) not in _DEFAULT_PARAMS
    ]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="*@/:")))


def _mask_unloadable(url: str) -> str:
    """A URL apprise cannot load: keep the scheme and a host name, hide everything else."""
    scheme, found, rest = url.partition("://")
    if not found or not scheme.isalnum():
        return "****"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return f"{scheme}://****"
    shown = f"{scheme}://"
    if "@" in parts.netloc:
        shown += "****@"
    shown += host if _hostname_like(host) else "****"
    if port is not None and _hostname_like(host):
        shown += f":{port}"
    if parts.path.strip("/"):
        shown += "/****"
    if parts.query or parts.fragment:
        shown += "?****"
    return shown if rest else f"{scheme}://"


def _components(url: str) -> set[str]:
    body = url.partition("://")[2]
    found = {p for p in _PARTS.split(body) + _PARTS.split(unquote(body)) if len(p) >= 3}
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found |= {password, unquote(password)}
    return found


def _secrets(url: str, public: str | None) -> list[str]:
    """The parts of ``url`` not shown in its masked form (all but a host name when ``public`` is None)."""
    if public is None:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        public = f"{url.partition('://')[0]}://{host if _hostname_like(host) else ''}"
    shown = unquote(public)
    secrets = {s for s in _components(url) if s not in shown}
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:  # always secret, whatever the masked form looks like
        secrets |= {password, unquote(password)}
    return sorted(secrets, key=len, reverse=True)


_URL: Final = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*")


def _scrub(text: str, secrets: list[str]) -> str:
    """Remove the secrets; reduce any URL in the text to its scheme and host (apprise's own log masking
    shows the first and last characters of a password)."""
    text = _URL.sub(lambda m: _mask_unloadable(m.group()), text)
    for secret in secrets:
        text = text.replace(secret, "****")
    return text


class _ScrubFilter(logging.Filter):
    """Rewrites apprise log records without the secrets of the URL being worked on."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = _scrub(text, self.secrets), ()
        return True


@contextmanager
def _scrubbed_logs(secrets: list[str]) -> Iterator[None]:
    log = logging.getLogger(apprise.LOGGER_NAME)
    scrub = _ScrubFilter(secrets)
    log.addFilter(scrub)
    try:
        yield
    finally:
        log.removeFilter(scrub)


def _instantiate(url: str) -> NotifyBase | None:
    with _scrubbed_logs(_secrets(url, None)):
        return apprise.Apprise.instantiate(url, asset=_ASSET)


def _privacy_url(plugin: NotifyBase) -> str:
    return str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]  # apprise leaves url() unannotated


@functools.lru_cache(maxsize=65_536)  # every delivery row is labelled; loading a URL in apprise takes ~0.3 ms
def mask_url(url: str) -> str:
    """``mailto://user:****@smtp.example.org/…``: apprise's privacy URL; hidden parts if apprise cannot load it."""
    plugin = _instantiate(url)
    if plugin is None:
        return _mask_unloadable(url)
    # apprise hides what it knows to be secret; the structural mask of the logs hides the rest (a token in a
    # webhook's path, any query value), since the label is stored and printed
    return logs.mask_url(_mask_query(_privacy_url(plugin)))


def check_url(url: str) -> str | None:
    """None when apprise can load ``url``; else why not, with the URL masked."""
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        plugin = _instantiate(url)
    if plugin is not None:
        return None
    reasons = [line for line in captured.getvalue().splitlines() if line.strip()]
    detail = _scrub("; ".join(dict.fromkeys(reasons)), _secrets(url, None))
    return f"apprise cannot use {_mask_unloadable(url)}" + (f": {detail}" if detail else "")


# ---------------------------------------------------------------- sending


def channel_format(url: str) -> str:
    """The message format :func:`send` picks for this URL: json, html, markdown or text."""
    plugin = _instantiate(url)
    return "text" if plugin is None else _format_for(url, plugin)


def _format_for(url: str, plugin: NotifyBase) -> str:
    if url.partition("://")[0].lower() in WEBHOOK_SCHEMES:
        return "json"
    return str(plugin.resolve_format(None).value)


def _apply_timeouts(plugin: NotifyBase, url: str, timeout: float) -> None:
    try:
        given = {k for k, _ in parse_qsl(urlsplit(url).query)}
    except ValueError:
        given = set()
    if "cto" not in given:
        plugin.socket_connect_timeout = timeout
    if "rto" not in given:
        plugin.socket_read_timeout = timeout


def _pick(message_by_format: Mapping[str, Message], fmt: str) -> Message:
    for candidate in (fmt, "text"):
        if candidate in message_by_format:
            return message_by_format[candidate]
    if not message_by_format:
        raise ValueError("no message to send")
    return next(iter(message_by_format.values()))


def send(url: str, message_by_format: Mapping[str, Message], *, timeout: float = DEFAULT_TIMEOUT) -> SendResult:
    """Send the right format of a message to one apprise URL; never raises for a delivery failure."""
    plugin = _instantiate(url)
    if plugin is None:
        return SendResult(False, check_url(url) or f"apprise cannot use {_mask_unloadable(url)}")
    secrets = _secrets(url, _mask_query(_privacy_url(plugin)))
    message = _pick(message_by_format, _format_for(url, plugin))
    _apply_timeouts(plugin, url, timeout)
    with _scrubbed_logs(secrets):
        try:
            ok, problems = _notify(plugin, message, timeout)
        except Exception as exc:  # apprise refusing its input must not escape with a secret in it
            return SendResult(False, _scrub(f"{type(exc).__name__}: {exc}", secrets))
    return SendResult(True) if ok else SendResult(False, _scrub(problems, secrets))


def _notify(plugin: NotifyBase, message: Message, timeout: float) -> tuple[bool, str]:
    sender = apprise.Apprise(asset=_ASSET)
    sender.add(plugin)
    with sender.notify(
        body=message.body,
        title=message.title,
        body_format=_FORMATS[message.format],
        timeout=4 * timeout,
        log_level=logging.WARNING,
    ) as result:
        if result:
            return True, ""
        problems = "; ".join(dict.fromkeys(entry.message for entry in result.logs()))
        return False, problems or f"{plugin.service_name}: {result.status.name.lower()}"


# ---------------------------------------------------------------- tracker notify-test

SAMPLE_CHANGE: Final[ChangeDict] = {
    "field": "tender_deadline",
    "lot": None,
    "old": "2026-02-17T12:00+01:00",
    "new": "2026-02-24T12:00+01:00",
    "evidence": "La date limite de réception des offres est reportée au 24 février 2026 à 12h00.",
}


def sample_event() -> VersionEvent:
    """A made-up amendment: the tender deadline moved from 17/02/2026 12:00 to 24/02/2026 12:00 (+7 jours)."""
    procedure = ProcedureInfo(
        id="00-000000",
        identifiers=["00-000000"],
        title="[TEST] Message d'essai de tracker — travaux de voirie",
        buyer="Commune d'Exemple",
        cpv=["45233140"],
        departments=["56"],
        sources=["boamp"],
    )
    return VersionEvent(
        version_id=0,
        procedure=procedure,
        number=2,
        notice_id="00-000001",
        source="boamp",
        kind="rectificatif",
        published="2026-02-10",
        url="https://www.boamp.fr/",
        reason="Message d'essai envoyé par « tracker notify-test ».",
        changes=[SAMPLE_CHANGE.copy()],
    )


def send_sample(subscriber: Subscriber, *, timeout: float = DEFAULT_TIMEOUT) -> list[tuple[str, SendResult]]:
    """Send the sample amendment to each of the subscriber's URLs: ``[(masked URL, result), …]``."""
    event = sample_event()
    match = Match(subscriber, event.changes, ["test", "deadline_moved"], critical=False)
    messages = render_messages(event, match, lang=subscriber.language)
    return [(mask_url(url), send(url, messages, timeout=timeout)) for url in subscriber.urls]
