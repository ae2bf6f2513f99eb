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

import ipaddress
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Final, Generic, Literal, TypeAlias, TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx
from pydantic import AfterValidator, Field

from tracker import __version__
from tracker.exceptions import PermanentError, TransientError
from tracker.logs import looks_like_token, mask_text, mask_url
from tracker.sources.base import Source, SourceOptions

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"tracker/{__version__} (+https://github.com/tracker-project/tracker)"

QueryParams: TypeAlias = Mapping[str, str | int | float]
Sleep: TypeAlias = Callable[[float], None]
Random: TypeAlias = Callable[[], float]
T = TypeVar("T")

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
    """``url`` with its userinfo, every query value and token-like path segments masked (:func:`mask_url`)."""
    return mask_url(url)


def _secrets_of(url: httpx.URL) -> list[str]:
    """Every part of ``url`` that :func:`redact_url` hides: a server echoing one must not show it."""
    values = [value for _key, value in url.params.multi_items() if len(value) >= 3]
    values += [part for part in url.path.split("/") if looks_like_token(part)]
    values += [part for part in (url.username, url.password) if part]
    return sorted(set(values), key=len, reverse=True)


def _scrub(text: str, url: httpx.URL) -> str:
    for secret in _secrets_of(url):
        text = text.replace(secret, "***")
    return mask_text(text)


# ------------------------------------------------------------------ outbound safety

Resolver: TypeAlias = Callable[[str, int], list[str]]
"""``(host, port) -> IP addresses``: the system's DNS by default, a fake one in tests."""
Route: TypeAlias = Callable[[str, int], tuple[str, int]]
"""``(checked IP, port) -> where to dial``: the identity by default; tests map every address to loopback."""

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedDestinationError(PermanentError):
    """A URL that comes from data leads to an address tracker must not reach (or to a scheme it never fetches)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _identity_route(address: str, port: int) -> tuple[str, int]:
    return address, port


def blocked_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public Internet address (loopback, private…), or None when it is one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL, "unique-local"),
        (address.is_private, "private"),
        (address.is_multicast, "multicast"),
        (not address.is_global, "reserved"),
    )
    return next((kind for blocked, kind in checks if blocked), None)


_UNIQUE_LOCAL: Final = ipaddress.IPv6Network("fc00::/7")


@dataclass(frozen=True)
class AllowList:
    """Addresses and host names that URLs taken from data may reach although they are not public.

    Entries are networks (``10.1.0.0/16``), addresses (``192.168.1.20``), host names (``intranet.example``) or
    domain suffixes (``.intranet.example``: every name below it).
    """

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        suffixes: list[str] = []
        for entry in entries:
            text = entry.strip().lower()
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if not re.fullmatch(r"\.?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", text):
                raise ValueError(f"not a network, an address or a host name: {entry!r}")
            (suffixes.append(text) if text.startswith(".") else hosts.add(text))
        return cls(tuple(networks), frozenset(hosts), tuple(suffixes))

    def admits_host(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(name.endswith(suffix) for suffix in self.suffixes)

    def admits_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


NO_ALLOW: Final = AllowList()

Origin: TypeAlias = tuple[str, int]  # (lower-case host, port)


@dataclass(frozen=True)
class Destination:
    """What the request being sent may reach: the operator's own origins as configured, the rest if public."""

    trusted: frozenset[Origin] = frozenset()
    allow: AllowList = NO_ALLOW


ANYWHERE_PUBLIC: Final = Destination()
"""No configured origin, no allow-list: only public addresses."""
_DESTINATION: ContextVar[Destination] = ContextVar("tracker_destination", default=ANYWHERE_PUBLIC)


def origin_of(url: str | httpx.URL) -> Origin | None:
    """``(host, port)`` of an http(s) URL, the port made explicit; None for any other URL."""
    try:
        parsed = httpx.URL(str(url))
    except httpx.InvalidURL:
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    return parsed.host.lower(), parsed.port or (443 if parsed.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_destination(url: httpx.URL, destination: Destination) -> None:
    """Refuse what can be refused before any lookup: other schemes, and literal addresses that are not public."""
    if url.scheme not in ("http", "https"):
        raise BlockedDestinationError(f"{redact_url(url)}: only http and https URLs are fetched")
    origin = origin_of(url)
    literal = _literal(url.host)
    if origin in destination.trusted or literal is None:
        return
    kind = blocked_kind(literal)
    if kind is not None and not destination.allow.admits_address(literal):
        raise BlockedDestinationError(f"{redact_url(url)}: {literal} is a {kind} address (not in outbound.allow)")


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves each host once, refuses addresses that are not public, and connects to the address it checked.

    The check is made on the very address the socket is opened to, so a DNS answer that changes between a
    check and the connection cannot slip through; redirects open new connections and are checked the same way.
    The operator's configured origins (see :class:`Destination`) are connected to as configured.
    """

    def __init__(self, resolver: Resolver = system_resolver, route: Route = _identity_route) -> None:
        self.resolver = resolver
        self.route = route
        self.inner = httpcore.SyncBackend()

    def _addresses(self, host: str, port: int) -> list[str]:
        destination = _DESTINATION.get()
        literal = _literal(host)
        try:
            found = [str(literal)] if literal is not None else self.resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if (host.lower(), port) in destination.trusted or destination.allow.admits_host(host):
            return found
        allowed, refused = [], []
        for text in found:
            address = ipaddress.ip_address(text)
            kind = blocked_kind(address)
            if kind is None or destination.allow.admits_address(address):
                allowed.append(text)
            else:
                refused.append(f"{text} ({kind})")
        if not allowed:
            shown = ", ".join(refused) or "no address"
            raise BlockedDestinationError(f"{host}:{port} resolves to {shown}: refused (not in outbound.allow)")
        return allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self._addresses(host, port):
            dial_host, dial_port = self.route(address, port)
            try:
                stream = self.inner.connect_tcp(dial_host, dial_port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            _watch_socket(stream)
            return stream
        raise failure or httpcore.ConnectError(f"cannot connect to {host}:{port}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise BlockedDestinationError("unix sockets are never connected to")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a :class:`GuardedBackend`; no proxy from the environment."""

    def __init__(self, *, resolver: Resolver = system_resolver, route: Route = _identity_route) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(resolver, route),
        )


@contextmanager
def _destination(destination: Destination) -> Iterator[None]:
    token = _DESTINATION.set(destination)
    try:
        yield
    finally:
        _DESTINATION.reset(token)


# ------------------------------------------------------------------ bounded time


class DeadlineExceededError(TransientError):
    """A request ran past its total deadline, or a poll past its budget; the poll resumes from its cursor."""


class StoppedError(TransientError):
    """A stop was asked for (SIGINT/SIGTERM) while a request was under way."""


@dataclass(frozen=True)
class Bounds:
    """The outer limits every request of this thread honours: a monotonic deadline, a stop event."""

    deadline: float | None = None
    stop: threading.Event | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


_UNBOUNDED: Final = Bounds()
_BOUNDS: ContextVar[Bounds] = ContextVar("tracker_bounds", default=_UNBOUNDED)


@contextmanager
def bounded(seconds: float | None = None, *, stop: threading.Event | None = None) -> Iterator[Bounds]:
    """Within this block no request runs past ``seconds`` from now, and every request ends soon after ``stop``.

    Nested blocks keep the tighter deadline; the blocks are per thread (a context variable).
    """
    outer = _BOUNDS.get()
    deadline = None if seconds is None else time.monotonic() + seconds
    if outer.deadline is not None:
        deadline = outer.deadline if deadline is None else min(deadline, outer.deadline)
    bounds = Bounds(deadline, stop or outer.stop)
    token = _BOUNDS.set(bounds)
    try:
        yield bounds
    finally:
        _BOUNDS.reset(token)


def current_bounds() -> Bounds:
    return _BOUNDS.get()


def check_bounds(what: str) -> None:
    """Raise when a stop was asked for or the outer deadline has passed."""
    bounds = _BOUNDS.get()
    if bounds.stop is not None and bounds.stop.is_set():
        raise StoppedError(f"{what}: stopped")
    remaining = bounds.remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceededError(f"{what}: time budget exhausted")


def pause(seconds: float) -> None:
    """Sleep, but wake up when a stop is asked for (the default ``sleep`` of :func:`get`)."""
    stop = _BOUNDS.get().stop
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


class _Watch:
    """Ends one request at its deadline or at a stop: shuts its sockets down, so a blocked read returns at once."""

    _TICK = 0.1

    def __init__(self, deadline: float | None, stop: threading.Event | None, limit: float | None = None) -> None:
        self.deadline = deadline
        self.limit = limit
        self.stop = stop
        self.fired: str | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if deadline is not None or stop is not None:
            self._thread = threading.Thread(target=self._run, name="tracker-http-watch", daemon=True)
            self._thread.start()

    def add(self, sock: object) -> None:
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def _reason(self) -> str | None:
        if self.stop is not None and self.stop.is_set():
            return "stopped"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "deadline"
        return None

    def _run(self) -> None:
        while not self._done.is_set():
            reason = self._reason()
            if reason is not None:
                with self._lock:
                    self.fired = reason
                    sockets = list(self._sockets)
                for sock in sockets:
                    _shutdown(sock)
                return
            left = self._TICK if self.deadline is None else min(self._TICK, self.deadline - time.monotonic())
            self._done.wait(max(left, 0.0))

    def check(self, shown: str) -> None:
        """Raise when this request's time is up (between chunks, and after a failure the watch caused)."""
        reason = self.fired or self._reason()
        if reason == "stopped":
            raise StoppedError(f"{shown}: stopped")
        if reason == "deadline":
            if self.limit is not None:
                raise DeadlineExceededError(f"{shown}: gave up after its total deadline of {self.limit:g} s")
            raise DeadlineExceededError(f"{shown}: gave up, the poll's time budget is exhausted")

    def close(self) -> None:
        self._done.set()


def _shutdown(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_WATCH: ContextVar[_Watch | None] = ContextVar("tracker_watch", default=None)


def _watch_socket(stream: httpcore.NetworkStream) -> None:
    watch = _WATCH.get()
    if watch is not None:
        watch.add(stream.get_extra_info("socket"))


def _new_watch(shown: str, deadline: float | None) -> _Watch:
    """A :class:`_Watch` for one request: its own total ``deadline`` (seconds) within the outer bounds."""
    bounds = _BOUNDS.get()
    check_bounds(shown)
    until = None if deadline is None else time.monotonic() + deadline
    if bounds.deadline is not None and (until is None or bounds.deadline < until):
        return _Watch(bounds.deadline, bounds.stop)  # the outer budget ends first: its message
    return _Watch(until, bounds.stop, deadline)


@contextmanager
def _sending(watch: _Watch, destination: Destination, shown: str) -> Iterator[None]:
    """While a request is sent: its destination rules and its watch are the current ones; a failure the watch
    caused (a socket it shut down) is reported as the deadline or the stop it was."""
    token = _WATCH.set(watch)
    try:
        with _destination(destination):
            yield
    except (httpx.HTTPError, _Retry, OSError):
        watch.check(shown)
        raise
    finally:
        _WATCH.reset(token)


def _watch_response(response: httpx.Response) -> None:
    """A reused keep-alive connection was not opened under this request's watch: hand it its socket too."""
    stream = response.extensions.get("network_stream")
    watch = _WATCH.get()
    if watch is not None and stream is not None:
        watch.add(stream.get_extra_info("socket"))


def _check_request(request: httpx.Request) -> None:
    """Event hook run for every request, redirects included: the scheme and literal addresses are checked."""
    check_destination(request.url, _DESTINATION.get())


# ------------------------------------------------------------------ client and policy


def make_client(
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver = system_resolver,
    route: Route = _identity_route,
) -> httpx.Client:
    """An :class:`httpx.Client` with explicit timeouts, our User-Agent, bounded and checked redirects.

    Unless a ``transport`` is given, connections go through a :class:`GuardedTransport` (``resolver`` and
    ``route`` are injectable for tests); every request, redirects included, has its scheme and literal address
    checked by an event hook. No proxy or ``.netrc`` is taken from the environment.
    """
    return httpx.Client(
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=5,
        transport=transport or GuardedTransport(resolver=resolver, route=route),
        trust_env=False,
        event_hooks={"request": [_check_request]},
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


def _read_capped(response: httpx.Response, max_bytes: int, shown: str, watch: _Watch | None = None) -> bytes:
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
        if watch is not None:
            watch.check(shown)
    if watch is not None:  # a body cut by the watch may look complete
        watch.check(shown)
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
            remaining = current_bounds().remaining()
            if remaining is not None and delay >= remaining:
                raise DeadlineExceededError(f"{retry.reason}; no time left to retry in {delay:.1f} s") from retry
            log.warning("%s; retry %d/%d in %.1f s", retry.reason, number, policy.attempts - 1, delay)
            sleep(delay)
            check_bounds(retry.reason)
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
    deadline: float | None = None,
    destination: Destination = ANYWHERE_PUBLIC,
    sleep: Sleep = pause,
    rng: Random = random.random,
    method: str = "GET",
    content: bytes | None = None,
) -> httpx.Response:
    """GET ``url`` and return the fully read response (status 2xx or 304), retrying as the module says.

    ``method`` and ``content`` send another idempotent request the same way (the TED search is a POST).

    The returned response holds the decoded body; ``Content-Encoding`` no longer applies to it.
    ``timeout`` overrides the client's per-read timeout for this request; ``deadline`` bounds each attempt as a
    whole (connect, headers, body), and the outer :func:`bounded` block bounds all of them. ``destination`` names
    the operator's configured origins (fetched as configured) and the allow-list; any other address that is not
    public is refused with :class:`BlockedDestinationError`.
    """
    full, shown = _shown(url, params)
    check_destination(full, destination)
    per_request: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT

    def attempt() -> httpx.Response:
        watch = _new_watch(shown, deadline)
        try:
            with (
                _sending(watch, destination, shown),
                _transport_errors(shown),
                client.stream(method, full, headers=headers, content=content, timeout=per_request) as response,
            ):
                _watch_response(response)
                body = _read_capped(response, max_bytes, shown, watch)
        finally:
            watch.close()
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


def _watched_chunks(chunks: Iterator[bytes], watch: _Watch, shown: str) -> Iterator[bytes]:
    for chunk in chunks:
        watch.check(shown)
        yield chunk
    watch.check(shown)


def stream_lines(
    client: httpx.Client,
    url: str,
    *,
    params: QueryParams | None = None,
    max_line_bytes: int,
    policy: RetryPolicy = DEFAULT_POLICY,
    timeout: float | None = None,
    deadline: float | None = None,
    destination: Destination = ANYWHERE_PUBLIC,
    sleep: Sleep = pause,
    rng: Random = random.random,
) -> Iterator[bytes]:
    """Stream the non-empty lines of a large response (JSON Lines exports), each capped in size.

    Opening the stream is retried like :func:`get`; a failure mid-stream raises
    :class:`TransientError` (the export is restarted from the beginning next time). ``deadline`` bounds the
    whole stream (None: only the outer :func:`bounded` block and the per-read timeout do).
    """
    full, shown = _shown(url, params)
    check_destination(full, destination)
    per_request: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
    watch = _new_watch(shown, deadline)

    def attempt() -> httpx.Response:
        with _sending(watch, destination, shown), _transport_errors(shown):
            response = client.send(client.build_request("GET", full, timeout=per_request), stream=True)
            _watch_response(response)
        if response.status_code < 300:
            return response
        try:
            with _sending(watch, destination, shown), _transport_errors(shown):
                body = _read_capped(response, max_line_bytes, shown, watch)
        finally:
            response.close()
        return _check_status(_buffered(response, body), shown, policy)

    try:
        response = _retrying(attempt, policy=policy, sleep=sleep, rng=rng)
        try:
            yield from _split_lines(_watched_chunks(response.iter_bytes(), watch, shown), max_line_bytes, shown)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            watch.check(shown)
            raise TransientError(f"{shown}: stream interrupted ({type(exc).__name__})") from exc
        finally:
            response.close()
    finally:
        watch.close()


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
    deadline: float = Field(
        120.0, gt=0, le=3600, description="total time of one request (connect, headers, body), in seconds"
    )


HttpOptionsT = TypeVar("HttpOptionsT", bound=HttpOptions)


def configured_origins(options: SourceOptions) -> frozenset[Origin]:
    """The origins of every http(s) URL among a source's options: the operator's choice, fetched as configured."""
    origins: set[Origin] = set()
    for name in type(options).model_fields:
        value = getattr(options, name)
        for item in value if isinstance(value, list | tuple) else (value,):
            origin = origin_of(item) if isinstance(item, str) and "://" in item else None
            if origin is not None:
                origins.add(origin)
    return frozenset(origins)


class HttpSource(Source[HttpOptionsT], Generic[HttpOptionsT]):
    """A source that talks HTTP through :func:`get`; retry policy, sleep and randomness are injectable.

    Outbound safety comes with it: the origins of the URLs in its options are the operator's (fetched as
    configured, a local mirror included); any other URL, one taken from data, is fetched only when it leads to a
    public address or to one ``allow`` names, and redirects are checked the same way. Subclasses fetch through
    :meth:`get` (or :func:`get`/:func:`stream_lines` with ``destination=self.destination``).
    """

    def __init__(
        self,
        name: str,
        options: HttpOptionsT,
        client: httpx.Client,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Sleep = pause,
        rng: Random = random.random,
        allow: AllowList = NO_ALLOW,
    ) -> None:
        super().__init__(name, options, client)
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self.destination = Destination(configured_origins(options), allow)

    def allow(self, allow: AllowList) -> None:
        """Let URLs taken from data reach what ``allow`` names (the configuration's ``outbound.allow``)."""
        self.destination = Destination(self.destination.trusted, allow)

    def get(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        content: bytes | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """A request through this source's guard, limits and retry policy (``max_bytes``: the options' by default)."""
        return get(
            self.client,
            url,
            params=params,
            headers=headers,
            method=method,
            content=content,
            max_bytes=self.options.max_bytes if max_bytes is None else max_bytes,
            policy=self.policy,
            timeout=self.options.timeout,
            deadline=self.options.deadline,
            destination=self.destination,
            sleep=self.sleep,
            rng=self.rng,
        )
