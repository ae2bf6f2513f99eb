"""Polite, robust HTTP shared by every HTTP source: size caps, retries, quotas, circuit breaker.

Error policy of :func:`get` (and :func:`stream_lines`):

==========================================  ============================================================
condition                                   outcome
==========================================  ============================================================
2xx, 304                                    returned
5xx, 408, timeout, connection error,        retried with exponential backoff and jitter, then
truncated or undecodable body               :class:`TransientError`
5xx/408/429 with ``Retry-After``, 429 with  waits as asked when the wait is at most ``policy.max_wait``;
the OpenDataSoft quota body                 otherwise :class:`RateLimitedError` at once (says when)
other 4xx, redirect loops, bad URL          :class:`HttpStatusError` / :class:`PermanentError`, no retry
body larger than ``max_bytes``              :class:`PermanentError`
==========================================  ============================================================

Secrets never reach a message or a log line: every URL goes through :func:`redact_url`, and text
echoed from a server is scrubbed of the URL's secret values.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Generic, Literal, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import AfterValidator, Field

from tracker import __version__
from tracker.exceptions import PermanentError, TransientError
from tracker.sources.base import Source, SourceOptions

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"tracker/{__version__} (+https://github.com/tracker-project/tracker)"

QueryParams: TypeAlias = Mapping[str, str | int | float]
Sleep: TypeAlias = Callable[[float], None]
Random: TypeAlias = Callable[[], float]
T = TypeVar("T")

_SECRET_PARAM = re.compile(r"key|token|secret|pass|sig|auth|session|credential", re.IGNORECASE)
_ERROR_TEXT_CHARS = 200


class HttpStatusError(PermanentError):
    """The server answered with a status that retrying will not change (4xx other than 408/429)."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimitedError(TransientError):
    """The server asked us to wait longer than ``policy.max_wait``: poll again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# ------------------------------------------------------------------ secrets


def redact_url(url: str | httpx.URL) -> str:
    """``url`` without its password and with the values of secret-looking query parameters masked."""
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(_SECRET_PARAM.search(key) for key, _ in pairs):
        masked = [(key, "***" if _SECRET_PARAM.search(key) else value) for key, value in pairs]
        query = urlencode(masked, safe="*")
    else:
        query = parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets_of(url: httpx.URL) -> list[str]:
    values = [value for key, value in url.params.multi_items() if _SECRET_PARAM.search(key) and value]
    if url.password:
        values.append(url.password)
    return values


def _scrub(text: str, url: httpx.URL) -> str:
    for secret in _secrets_of(url):
        text = text.replace(secret, "***")
    return text


# ------------------------------------------------------------------ client and policy


def make_client(
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An :class:`httpx.Client` with explicit timeouts, our User-Agent and bounded redirects."""
    return httpx.Client(
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=5,
        transport=transport,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How hard :func:`get` tries. Delays are in seconds."""

    attempts: int = 4  # total tries, the first included
    base_delay: float = 1.0  # first backoff; doubles on every retry
    max_delay: float = 60.0  # longest backoff
    max_wait: float = 300.0  # longest server-requested wait (Retry-After, quota reset) we sleep through
    jitter: float = 0.5  # backoff is multiplied by a random factor in [1 - jitter, 1 + jitter]

    def backoff(self, attempt: int, rng: Random) -> float:
        """Delay before retry number ``attempt`` (1 = first retry)."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return max(0.0, delay * (1 - self.jitter + 2 * self.jitter * rng()))


DEFAULT_POLICY = RetryPolicy()


# ------------------------------------------------------------------ one attempt


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying (after ``wait`` seconds if the server said)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


@contextmanager
def _transport_errors(shown: str) -> Iterator[None]:
    """Translate httpx's exceptions: retryable ones to :class:`_Retry`, the rest to PermanentError."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise _Retry(f"{shown}: timed out ({type(exc).__name__})") from exc
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.TooManyRedirects, httpx.InvalidURL) as exc:
        raise PermanentError(f"{shown}: {type(exc).__name__}: {exc}") from exc
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise _Retry(f"{shown}: {type(exc).__name__}: {exc}") from exc


def _read_capped(response: httpx.Response, max_bytes: int, shown: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PermanentError(f"{shown}: response larger than {max_bytes} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PermanentError(f"{shown}: response larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _buffered(response: httpx.Response, body: bytes) -> httpx.Response:
    """A plain response holding the (already decoded) ``body``; encoding headers no longer apply."""
    headers = [
        (key, value)
        for key, value in response.headers.multi_items()
        if key.lower() not in {"content-encoding", "transfer-encoding", "content-length"}
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        instant = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _server_now(headers: httpx.Headers) -> datetime:
    """The server's clock from its ``Date`` header, else ours: waits are relative to the server."""
    return _http_date(headers.get("date")) or datetime.now(UTC)


def _parse_instant(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds asked by ``Retry-After`` (delta-seconds or HTTP date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, (when - _server_now(headers)).total_seconds())


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _quota_reset(response: httpx.Response) -> datetime | None:
    """When an OpenDataSoft quota resets: the 429 body's ``reset_time``, else ``X-RateLimit-Reset``."""
    reset = _parse_instant(_json_object(response.content).get("reset_time"))
    header = response.headers.get("x-ratelimit-reset", "")
    if reset is None and header.isdigit():
        reset = _parse_instant(int(header))
    return reset


def _error_text(response: httpx.Response) -> str:
    """A short, scrubbed explanation from an error body (OpenDataSoft's ``message``/``error``)."""
    data = _json_object(response.content)
    text = data.get("message") or data.get("error") or ""
    if not isinstance(text, str):
        return ""
    return _scrub(text, response.request.url)[:_ERROR_TEXT_CHARS]


def _server_wait(response: httpx.Response, shown: str, policy: RetryPolicy) -> float | None:
    """The wait the server asked for; RateLimitedError when it is longer than ``policy.max_wait``."""
    wait = _retry_after(response.headers)
    reset = _quota_reset(response) if response.status_code == 429 and wait is None else None
    if reset is not None:
        wait = max(0.0, (reset - _server_now(response.headers)).total_seconds())
    if wait is None or wait <= policy.max_wait:
        return wait
    if reset is not None:
        detail = _error_text(response) or "quota exceeded"
        in_ = timedelta(seconds=int(wait))
        message = f"{shown}: HTTP 429, {detail}; quota resets at {reset.isoformat()} (in {in_})"
    else:
        message = f"{shown}: HTTP {response.status_code}, server asks to retry after {wait:.0f} s"
    raise RateLimitedError(message, retry_after=wait)


def _check_status(response: httpx.Response, shown: str, policy: RetryPolicy) -> httpx.Response:
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return response
    if status >= 500 or status in (408, 429):
        raise _Retry(f"{shown}: HTTP {status}", _server_wait(response, shown, policy))
    detail = _error_text(response)
    message = f"{shown}: HTTP {status}" + (f": {detail}" if detail else "")
    raise HttpStatusError(message, status_code=status)


def _retrying(attempt: Callable[[], T], *, policy: RetryPolicy, sleep: Sleep, rng: Random) -> T:
    """Call ``attempt`` until it returns, retrying on :class:`_Retry` as ``policy`` allows."""
    for number in range(1, policy.attempts + 1):
        try:
            return attempt()
        except _Retry as retry:
            if number == policy.attempts:
                message = f"{retry.reason} (gave up after {number} attempts)"
                raise TransientError(message) from retry.__cause__
            delay = retry.wait if retry.wait is not None else policy.backoff(number, rng)
            log.warning("%s; retry %d/%d in %.1f s", retry.reason, number, policy.attempts - 1, delay)
            sleep(delay)
    raise AssertionError("RetryPolicy.attempts must be at least 1")


def _shown(url: str, params: QueryParams | None) -> tuple[httpx.URL, str]:
    try:
        full = httpx.URL(url)
        if params:  # merged with the URL's own query (``httpx.URL(url, params=…)`` would replace it)
            full = full.copy_merge_params(dict(params))
    except httpx.InvalidURL as exc:
        raise PermanentError(f"invalid URL {redact_url(url)}: {exc}") from exc
    return full, redact_url(full)


# ------------------------------------------------------------------ public helpers


def get(
    client: httpx.Client,
    url: str,
    *,
    params: QueryParams | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int,
    policy: RetryPolicy = DEFAULT_POLICY,
    timeout: float | None = None,
    sleep: Sleep = time.sleep,
    rng: Random = random.random,
) -> httpx.Response:
    """GET ``url`` and return the fully read response (status 2xx or 304), retrying as the module says.

    The returned response holds the decoded body; ``Content-Encoding`` no longer applies to it.
    ``timeout`` overrides the client's timeout for this request.
    """
    full, shown = _shown(url, params)
    per_request: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT

    def attempt() -> httpx.Response:
        with _transport_errors(shown), client.stream("GET", full, headers=headers, timeout=per_request) as response:
            body = _read_capped(response, max_bytes, shown)
        return _check_status(_buffered(response, body), shown, policy)

    return _retrying(attempt, policy=policy, sleep=sleep, rng=rng)


def _split_lines(chunks: Iterator[bytes], max_line_bytes: int, shown: str) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())
        if len(pending) > max_line_bytes:
            raise PermanentError(f"{shown}: line longer than {max_line_bytes} bytes")
    if pending.strip():
        yield pending


def stream_lines(
    client: httpx.Client,
    url: str,
    *,
    params: QueryParams | None = None,
    max_line_bytes: int,
    policy: RetryPolicy = DEFAULT_POLICY,
    timeout: float | None = None,
    sleep: Sleep = time.sleep,
    rng: Random = random.random,
) -> Iterator[bytes]:
    """Stream the non-empty lines of a large response (JSON Lines exports), each capped in size.

    Opening the stream is retried like :func:`get`; a failure mid-stream raises
    :class:`TransientError` (the export is restarted from the beginning next time).
    """
    full, shown = _shown(url, params)
    per_request: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT

    def attempt() -> httpx.Response:
        with _transport_errors(shown):
            response = client.send(client.build_request("GET", full, timeout=per_request), stream=True)
        if response.status_code < 300:
            return response
        try:
            with _transport_errors(shown):
                body = _read_capped(response, max_line_bytes, shown)
        finally:
            response.close()
        return _check_status(_buffered(response, body), shown, policy)

    response = _retrying(attempt, policy=policy, sleep=sleep, rng=rng)
    try:
        yield from _split_lines(response.iter_bytes(), max_line_bytes, shown)
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise TransientError(f"{shown}: stream interrupted ({type(exc).__name__})") from exc
    finally:
        response.close()


# ------------------------------------------------------------------ circuit breaker


@dataclass
class CircuitBreaker:
    """Stop hammering a source that keeps failing.

    ``closed``: calls go through. After ``threshold`` consecutive failures the breaker is ``open``:
    calls are refused until ``cooldown`` has passed. Then it is ``half_open``: one probe goes
    through; success closes it, failure opens it again for another cooldown. The state is plain
    data (:meth:`to_dict` / :meth:`from_dict`) so the caller can persist it next to the cursor.
    """

    name: str
    threshold: int = 5
    cooldown: timedelta = timedelta(minutes=15)
    failures: int = 0
    opened_at: datetime | None = None

    def state(self, now: datetime) -> Literal["closed", "open", "half_open"]:
        if self.opened_at is None:
            return "closed"
        return "half_open" if now >= self.opened_at + self.cooldown else "open"

    def check(self, now: datetime) -> None:
        """Raise :class:`TransientError` while the breaker is open; in ``half_open`` let a probe through."""
        if self.opened_at is not None and now < self.opened_at + self.cooldown:
            until = self.opened_at + self.cooldown
            raise TransientError(
                f"source {self.name!r}: circuit open after {self.failures} consecutive failures, "
                f"next try after {until.isoformat()}"
            )

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def record_failure(self, now: datetime) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now

    def to_dict(self) -> dict[str, Any]:
        opened = self.opened_at.isoformat() if self.opened_at else None
        return {"failures": self.failures, "opened_at": opened}

    @classmethod
    def from_dict(
        cls,
        name: str,
        data: Mapping[str, Any],
        *,
        threshold: int = 5,
        cooldown: timedelta = timedelta(minutes=15),
    ) -> CircuitBreaker:
        opened = data.get("opened_at")
        return cls(
            name=name,
            threshold=threshold,
            cooldown=cooldown,
            failures=int(data.get("failures", 0)),
            opened_at=datetime.fromisoformat(opened) if isinstance(opened, str) else None,
        )


# ------------------------------------------------------------------ HTTP source base


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/") if not parts.query else value


HttpUrlStr = Annotated[str, AfterValidator(_check_http_url)]
"""An absolute http(s) URL, kept as written (minus a trailing slash)."""


class HttpOptions(SourceOptions):
    """Options every HTTP source has."""

    max_bytes: int = Field(50_000_000, ge=1024, description="largest response accepted, in bytes")
    timeout: float = Field(30.0, gt=0, le=600, description="connect/read timeout per request, in seconds")


HttpOptionsT = TypeVar("HttpOptionsT", bound=HttpOptions)


class HttpSource(Source[HttpOptionsT], Generic[HttpOptionsT]):
    """A source that talks HTTP through :func:`get`; retry policy, sleep and randomness are injectable."""

    def __init__(
        self,
        name: str,
        options: HttpOptionsT,
        client: httpx.Client,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Sleep = time.sleep,
        rng: Random = random.random,
    ) -> None:
        super().__init__(name, options, client)
        self.policy = policy
        self.sleep = sleep
        self.rng = rng

    def get(
        self, url: str, *, params: QueryParams | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return get(
            self.client,
            url,
            params=params,
            headers=headers,
            max_bytes=self.options.max_bytes,
            policy=self.policy,
            timeout=self.options.timeout,
            sleep=self.sleep,
            rng=self.rng,
        )
