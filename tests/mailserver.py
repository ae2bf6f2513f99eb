"""A local SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, every message kept parsed.

Usage::

    with MailServer() as smtp:
        send(f"mailto://127.0.0.1:{smtp.port}?from=tracker@example.org&to=ao@example.org", ...)
        message = smtp.wait_for(1)[0]          # email.message.EmailMessage
        assert message["Subject"] == "…"

``MailServer(auth=("user", "password"))`` advertises AUTH LOGIN/PLAIN over plain SMTP (no TLS) and refuses
any other credentials, which lets a test exercise both a successful login and a refused one.
"""

from __future__ import annotations

import asyncio
import email.policy
import threading
import time
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class _Collector:
    """aiosmtpd handler: parse each DATA payload into an EmailMessage."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.received = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        message = BytesParser(policy=email.policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        with self.received:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
            self.received.notify_all()
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


class _FreePortController(Controller):
    """A Controller listening on port 0: the kernel picks a free port, read back once the server is bound."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd leaves it unannotated


class MailServer:
    """An SMTP server on 127.0.0.1 collecting messages; a context manager (or call start()/stop())."""

    host = "127.0.0.1"

    def __init__(self, *, auth: tuple[str, str] | None = None) -> None:
        self._collector = _Collector()
        smtp_options: dict[str, Any] = {}
        if auth is not None:
            smtp_options = {"authenticator": _Authenticator(*auth), "auth_require_tls": False}
        # server_hostname avoids a reverse DNS lookup (socket.getfqdn) at every connection
        self._controller = _FreePortController(
            self._collector, hostname=self.host, port=0, server_hostname="localhost", **smtp_options
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._collector.received:
            return list(self._collector.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) of each message, in order."""
        with self._collector.received:
            return list(self._collector.envelopes)

    def url(self, *, sender: str = "tracker@example.org", to: str = "ao@example.org", auth: str = "") -> str:
        """An apprise URL for plain (non-TLS) SMTP to this server; ``auth`` is ``"user:password"`` or empty."""
        userinfo = f"{auth}@" if auth else ""
        return f"mailto://{userinfo}{self.host}:{self.port}?from={sender}&to={to}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived; return them all (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._collector.received:
            while len(self._collector.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} message(s), got {len(self._collector.messages)}")
                self._collector.received.wait(remaining)
            return list(self._collector.messages)

    def clear(self) -> None:
        with self._collector.received:
            self._collector.messages.clear()
            self._collector.envelopes.clear()

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
