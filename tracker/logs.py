"""Logging set-up, and masking of secrets by their structure, for every logger.

A URL's secrets are found by where they sit, not by a list of parameter names:

* the userinfo (``user:password@``) is replaced by ``***@``;
* every query value is replaced by ``***`` (the names stay, so a message still says what was asked);
* a path segment that looks like a token (long, letters mixed with digits, or very long) becomes ``***``;
* ``Bearer``/``Basic`` credentials and ``password=``-style pairs outside URLs are masked too.

:func:`configure` installs one stderr handler whose :class:`MaskingFilter` rewrites every record, whichever
logger it comes from (httpx, httpcore, apprise, celery included), and puts the same filter on those loggers.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Final
from urllib.parse import urlsplit, urlunsplit

MASK: Final = "***"

#: loggers of the libraries that see URLs: their records are masked even when a handler of their own is added
LIBRARY_LOGGERS: Final = ("httpx", "httpcore", "apprise", "urllib3", "celery", "kombu")

_URL: Final = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s\"'<>`]+")
_EXTENSION: Final = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_TOKEN_CHARS: Final = re.compile(r"^[A-Za-z0-9_~+=%.-]+$")
_AUTH_SCHEME: Final = re.compile(r"\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
_SECRET_PAIR: Final = re.compile(
    r"\b([A-Za-z_-]*(?:password|passwd|pwd|secret|token|apikey|api_key)[A-Za-z_-]*)(\s*[=:]\s*)"
    r"(?!\*\*\*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)",
    re.IGNORECASE,
)


def looks_like_token(segment: str) -> bool:
    """A path segment that may be a credential: long and random-looking (letters and digits), or very long."""
    stem = _EXTENSION.sub("", segment)
    if not _TOKEN_CHARS.match(stem):
        return False
    has_digit = any(c.isdigit() for c in stem)
    has_letter = any(c.isalpha() for c in stem)
    return (len(stem) >= 16 and has_digit and has_letter) or len(stem) >= 32


def _mask_path(path: str) -> str:
    return "/".join(MASK if looks_like_token(part) else part for part in path.split("/"))


def _mask_pair(pair: str) -> str:
    name, equals, _value = pair.partition("=")
    return f"{name}={MASK}" if equals else (MASK if pair else pair)


def mask_url(url: object) -> str:
    """``url`` with its userinfo, every query value and token-like path segments masked."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return text.partition("://")[0] + "://" + MASK if "://" in text else MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = "&".join(_mask_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, _mask_path(parts.path), query, MASK if parts.fragment else ""))


def _mask_found_url(match: re.Match[str]) -> str:
    found = match.group()
    trail = ""
    while found and found[-1] in ".,;:!?)]}":  # sentence punctuation after a URL is not part of it
        found, trail = found[:-1], found[-1] + trail
    return mask_url(found) + trail


def mask_text(text: str) -> str:
    """Every URL in ``text`` masked (:func:`mask_url`), and credentials written outside URLs."""
    text = _URL.sub(_mask_found_url, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


class MaskingFilter(logging.Filter):
    """Rewrites a record's message, arguments and traceback with :func:`mask_text`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_tracker_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep what can be shown
            message = str(record.msg)
        record.msg, record.args = mask_text(message), ()
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        record._tracker_masked = True
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_FILTER: Final = MaskingFilter()
_HANDLER_NAME: Final = "tracker"


def level_of(name: str | int) -> int:
    """A level from ``TRACKER_LOG_LEVEL`` (``debug``, ``INFO``, ``30``…); unknown names are WARNING."""
    if isinstance(name, int):
        return name
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text)
    return level if isinstance(level, int) else logging.WARNING


def protect(logger: logging.Logger) -> None:
    """Put the masking filter on ``logger`` and on each of its handlers (idempotent)."""
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    for handler in logger.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def configure(level: str | int = logging.WARNING) -> None:
    """One masked stderr handler on the root logger at ``level``; library loggers masked as well."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level_of(level))
    protect(root)
    for name in LIBRARY_LOGGERS:
        protect(logging.getLogger(name))
