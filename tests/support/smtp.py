"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd, keeping every envelope it accepted.

`SmtpSink(refuse={"addr": 550})` answers RCPT for chosen addresses with that code (4xx or 5xx), or
with a whole reply (`{"addr": "554 5.7.1 Relay access denied"}`);
`delay` slows each DATA down (to catch a sender in the middle of a batch); `pipelining=False` stops it
offering PIPELINING (RFC 2920), which it offers as most servers do (aiosmtpd reads pipelined commands but
does not say so by itself).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope and parsed content."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> Message:
        """The parsed RFC 5322 message."""
        return email.message_from_bytes(self.data, policy=email.policy.default)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.sink.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        code = self.sink.refuse.get(address.lower())
        if isinstance(code, str):
            return code
        if code:
            return f"{code} {'5.1.1 no such user' if code >= 500 else '4.2.1 try again later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        with self.sink.lock:
            self.sink.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


class SmtpSink:
    """Start with `start()`, read `received`, stop with `stop()` (or use as a context manager)."""

    def __init__(self, refuse: dict[str, int | str] | None = None, delay: float = 0.0, pipelining: bool = True) -> None:
        self.port = free_port()
        self.delay = delay
        self.pipelining = pipelining
        self.refuse = {k.lower(): v for k, v in (refuse or {}).items()}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """The MECHMOOC_SMTP_URL that reaches this sink."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        """Listen on 127.0.0.1."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()

    def to(self, address: str) -> list[Received]:
        """Messages accepted for `address`."""
        with self.lock:
            return [r for r in self.received if address.lower() in (a.lower() for a in r.recipients)]

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
