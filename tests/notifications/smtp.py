"""A real SMTP server for the delivery tests: aiosmtpd on localhost, answering as scripted.

Each message's answer is the next entry of ``script`` or else ``answer`` (a reply
line, or a function of the envelope returning one).  Besides reply lines
(``"250 OK"``, ``"421 …"``, ``"550 …"``) there are two behaviours:

* ``DROP``: the server closes the connection after receiving the message's
  data, without answering (the client cannot know whether it was taken);
* ``BLOCK``: the server records the message and never answers (until
  ``release()`` or the server stops), for killing the sender mid-send.

Every message whose data arrived is recorded in ``received`` with the answer it
got, so a test can tell what was accepted from what was merely seen.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

OK = "250 OK"
TRY_LATER = "421 4.3.0 try later"
NO_MAILBOX = "550 5.1.1 mailbox unavailable"
DROP = "drop"
BLOCK = "block"

Answer = str | Callable[[Envelope], str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    answer: str
    tls: bool = False                 # the session was encrypted (STARTTLS or implicit TLS)
    authenticated: bool = False
    auth_data: Any = None

    @property
    def accepted(self) -> bool:
        return self.answer.startswith("250")

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class ScriptedHandler:
    def __init__(self) -> None:
        self.answer: Answer = OK
        self.script: deque[Answer] = deque()
        self.received: list[Received] = []
        self.blocked = threading.Event()     # a BLOCK answer is being held
        self._release = threading.Event()
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        with self._lock:
            answer = self.script.popleft() if self.script else self.answer
        if callable(answer):
            answer = answer(envelope)
        raw = envelope.original_content or b""
        assert isinstance(raw, bytes)
        with self._lock:
            self.received.append(Received(
                str(envelope.mail_from), tuple(envelope.rcpt_tos), raw, answer,
                tls=session.ssl is not None   # STARTTLS, or TLS from the first byte:
                or server.transport.get_extra_info("ssl_object") is not None,
                authenticated=bool(session.authenticated),
                auth_data=session.auth_data))
        if answer == DROP:
            server.transport.close()
            return "421 4.4.2 connection dropped"   # written to a closed transport: never seen
        if answer == BLOCK:
            self.blocked.set()
            for _ in range(36000):                   # an hour, or until released
                if self._release.is_set():
                    break
                await asyncio.sleep(0.1)
            return "451 4.3.0 released"
        return answer

    def release(self) -> None:
        self._release.set()


class SmtpServer:
    """``with SmtpServer() as smtp:`` a started server; ``smtp.port`` to send to."""

    def __init__(self, port: int | None = None, **smtp_kwargs: Any) -> None:
        self.port = port or free_port()
        self.handler = ScriptedHandler()
        self._kwargs = smtp_kwargs
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      server_hostname="smtp.test", **self._kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.handler.release()
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what arrived ----------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.handler.received if r.accepted]

    def script(self, *answers: Answer) -> None:
        """The answers to the next messages, in order; then ``answer`` again."""
        self.handler.script.extend(answers)

    @property
    def answer(self) -> Answer:
        return self.handler.answer

    @answer.setter
    def answer(self, value: Answer) -> None:
        self.handler.answer = value
