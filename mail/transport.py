"""Where mails go: an SMTP server (several reused connections, STARTTLS/TLS/auth), or the local Maildir outbox."""

from __future__ import annotations

import asyncio
import mailbox
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, SMTPProtocol, normalize_message_line_endings
from aiosmtplib.response import SMTPResponse
from aiosmtplib.typing import SMTPStatus

from server.floor.errors import SettingsError


@dataclass(frozen=True)
class Envelope:
    """One mail as the transport sees it: the outbox row id, return path, recipient and bytes."""

    mail_id: int
    sender: str
    recipient: str
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """What the receiving server said: accepted, or a temporary or permanent refusal; `code` is the SMTP
    reply code when the server answered (None: no connection), `stage` the command it refused
    (`mail`, `rcpt`, `data`; empty otherwise)."""

    mail_id: int
    accepted: bool
    permanent: bool
    detail: str
    code: int | None = None
    stage: str = ""


@dataclass(frozen=True)
class SmtpTarget:
    """The parts of MECHMOOC_SMTP_URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False
    validate_certs: bool = True
    timeout: float = 60.0


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://[user:pass@]host:port[?starttls=1][&verify=0][&timeout=S]` or `smtps://...` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise SettingsError(f"MECHMOOC_SMTP_URL must be smtp:// or smtps://host:port, not {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=implicit,
        start_tls=query.get("starttls", "0") in {"1", "true", "yes"},
        validate_certs=query.get("verify", "1") not in {"0", "false", "no"},
        timeout=float(query.get("timeout", "60")),
    )


# An address that needs no parsing or quoting on an SMTP command line: ASCII, no spaces, brackets or
# line breaks. Ours always are (VERP return paths; recipients checked when the mail was queued).
_PLAIN = re.compile(r"[!#-;=?-~]+@[A-Za-z0-9.-]+")


# What the sender awaits before a mail may be accepted: the previous answer on the connection is durable.
Gate = Callable[[], Awaitable[None]]


async def _open_gate(gate: Gate | None) -> None:
    if gate is not None:
        await gate()


def _wire(data: bytes) -> bytes:
    """The body as it goes after DATA: CRLF line ends, leading dots doubled, the terminator; aiosmtplib's
    `execute_data_command` does this with two regular expressions, skipped here when there is nothing to change
    (our stored mails already have CRLF line ends: counting is ~50x cheaper than the substitutions)."""
    crs = data.count(b"\r")
    if crs != data.count(b"\n") or crs != data.count(b"\r\n") or not data.endswith(b"\r\n"):
        data = normalize_message_line_endings(data)
    if data.startswith(b".") or b"\n." in data:
        data = PERIOD_REGEX.sub(b"..", data)
    return data + b".\r\n"


async def _reply(protocol: SMTPProtocol, timeout: float | None) -> SMTPResponse:
    """The server's next reply. aiosmtplib's `read_response` hands over one reply per read, and the protocol
    drops what arrives while a parsed reply waits to be picked up; its `wait_for` wakes the reader only on
    the loop's second turn, when the next reply to pipelined commands may already have come and gone. So
    the replies already received are parsed from the buffer, and the waiter is awaited directly: the reader
    runs on the next turn, before the connection is read again."""
    reply = protocol._read_response_from_buffer()
    if reply is not None:
        return reply
    waiter = protocol._response_waiter
    if waiter is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    protocol._response_pending = True
    try:
        async with asyncio.timeout(timeout):
            return await waiter
    except TimeoutError as error:
        raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from error
    finally:
        protocol._response_pending = False
        protocol._response_waiter = None if protocol.transport is None else waiter.get_loop().create_future()


async def _exchange(client: aiosmtplib.SMTP, envelope: Envelope, options: bytes, gate: Gate | None) -> str:
    """MAIL, RCPT and DATA (in one write when the server offers PIPELINING, RFC 2920), then after the server's
    354 `gate`, then the body and its terminator. Refusals raise as aiosmtplib's `sendmail` does."""
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    commands = (
        b"MAIL FROM:<" + envelope.sender.encode() + b">" + options + b"\r\n",
        b"RCPT TO:<" + envelope.recipient.encode() + b">\r\n",
        b"DATA\r\n",
    )
    pipelined = client.supports_extension("pipelining")
    message = _wire(envelope.data)
    try:
        async with protocol._command_lock:
            if pipelined:
                protocol._response_pending = True
                protocol.write(b"".join(commands))
            replies: list[SMTPResponse] = []
            for command, expected in zip(commands, _EXPECTED, strict=True):
                if not pipelined:
                    protocol._response_pending = True
                    protocol.write(command)
                replies.append(await _reply(protocol, client.timeout))
                if not pipelined and replies[-1].code not in expected:
                    break  # one at a time: nothing more was said
            refusal = _refused(replies, envelope)
            if refusal is not None:
                if len(replies) == 3 and replies[2].code == SMTPStatus.start_input:
                    client.close()  # DATA opened after a refusal (a broken server): no body may follow
                raise refusal
            try:
                await _open_gate(gate)
            except BaseException:
                # No terminator may follow (the mail must not be accepted): drop the connection.
                client.close()
                raise
            protocol._response_pending = True
            protocol.write(message)
            response = await _reply(protocol, client.timeout)
            if response.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPDataError(response.code, response.message)
            return response.message
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise


def _unsafe(address: str) -> bool:
    return not address.isprintable() or any(char in address for char in "<>\r\n")


_EXPECTED = ((SMTPStatus.completed,), (SMTPStatus.completed, SMTPStatus.will_forward), (SMTPStatus.start_input,))


def _refused(replies: list[SMTPResponse], envelope: Envelope) -> Exception | None:
    """The first refusal among the replies to MAIL, RCPT and DATA, as the exception `sendmail` raises."""
    mail, *rest = replies
    if mail.code not in _EXPECTED[0]:
        return aiosmtplib.SMTPSenderRefused(mail.code, mail.message, envelope.sender)
    if rest and rest[0].code not in _EXPECTED[1]:
        refused = aiosmtplib.SMTPRecipientRefused(rest[0].code, rest[0].message, envelope.recipient)
        return aiosmtplib.SMTPRecipientsRefused([refused])
    if len(rest) == 2 and rest[1].code not in _EXPECTED[2]:
        return aiosmtplib.SMTPDataError(rest[1].code, rest[1].message)
    return None


async def _transaction(client: aiosmtplib.SMTP, envelope: Envelope, gate: Gate | None = None) -> str:
    """One mail transaction at the command level: what `sendmail` does for one recipient, without
    parsing both addresses three times (a third of its cost) and with its three commands in one write
    where the server allows. `gate` is awaited after DATA's 354 and before the body: the server cannot
    accept the mail sooner."""
    if client.is_ehlo_or_helo_needed:  # no STARTTLS or login on connect: EHLO not yet said
        await client.ehlo()
    options = b" SIZE=%d" % len(envelope.data) if client.supports_extension("size") else b""
    try:
        return await _exchange(client, envelope, options, gate)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        try:
            await client.rset()
        except (ConnectionError, aiosmtplib.SMTPResponseException):
            pass
        raise


def _refusal(mail_id: int, code: int, message: str, stage: str) -> Outcome:
    detail = f"{code} {message}".strip()
    return Outcome(mail_id, accepted=False, permanent=500 <= code < 600, detail=detail, code=code, stage=stage)


class SmtpPool:
    """A few SMTP connections kept open across rounds; each sends its share of a round in turn."""

    def __init__(self, target: SmtpTarget, connections: int) -> None:
        self.target = target
        self.clients: list[aiosmtplib.SMTP | None] = [None] * max(1, connections)

    async def _client(self, index: int) -> aiosmtplib.SMTP:
        client = self.clients[index]
        if client is not None and client.is_connected:
            return client
        t = self.target
        client = aiosmtplib.SMTP(
            hostname=t.host,
            port=t.port,
            use_tls=t.use_tls,
            start_tls=t.start_tls,
            validate_certs=t.validate_certs,
            username=t.username,
            password=t.password,
            timeout=t.timeout,
        )
        await client.connect()
        self.clients[index] = client
        return client

    async def _send_share(self, index: int, share: list[Envelope], gate: Gate | None = None) -> list[Outcome]:
        outcomes = []
        for envelope in share:
            outcomes.append(await self._send_one(index, envelope, gate))
        return outcomes

    async def _send_one(self, index: int, envelope: Envelope, gate: Gate | None = None) -> Outcome:
        # An address goes on a command line as it is (aiosmtplib's `sendmail` too): a line break or a
        # bracket in it would say another command. Addresses are checked when they come in; this holds anyway.
        if _unsafe(envelope.recipient):
            return _refusal(envelope.mail_id, 553, "the address has characters SMTP cannot carry", "rcpt")
        if _unsafe(envelope.sender):
            return _refusal(envelope.mail_id, 553, "the return path has characters SMTP cannot carry", "mail")
        try:
            client = await self._client(index)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # Connecting, STARTTLS or login failed: a server or settings problem, never the mail's fault.
            await self._drop(index)
            return Outcome(envelope.mail_id, accepted=False, permanent=False, detail=f"connection: {error}")
        try:
            if _PLAIN.fullmatch(envelope.sender) and _PLAIN.fullmatch(envelope.recipient):
                response = await _transaction(client, envelope, gate)
            else:
                # Anything else (an internationalised address, say) takes aiosmtplib's careful path,
                # the gate passed before it begins.
                await _open_gate(gate)
                utf8 = not (envelope.sender + envelope.recipient).isascii()
                _, response = await client.sendmail(
                    envelope.sender, [envelope.recipient], envelope.data, mail_options=["SMTPUTF8"] if utf8 else []
                )
            return Outcome(envelope.mail_id, accepted=True, permanent=False, detail=response[:500])
        except (aiosmtplib.SMTPNotSupported, ValueError) as error:
            # The server cannot take this address (no SMTPUTF8), or it cannot go on a command line.
            return Outcome(envelope.mail_id, accepted=False, permanent=True, detail=f"not sent: {error}")
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0]
            return _refusal(envelope.mail_id, refused.code, refused.message, "rcpt")
        except aiosmtplib.SMTPResponseException as error:
            if error.code < 400:
                await self._drop(index)
                return Outcome(envelope.mail_id, False, False, f"{error.code} {error.message}")
            # Which command was refused matters: only a refusal of the recipient is a bounce (mail.bounces).
            stage = (
                "mail"
                if isinstance(error, aiosmtplib.SMTPSenderRefused)
                else "data"
                if isinstance(error, aiosmtplib.SMTPDataError)
                else ""
            )
            return _refusal(envelope.mail_id, error.code, error.message, stage)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # The connection is gone (or never came): temporary, retried later on a fresh connection.
            await self._drop(index)
            return Outcome(envelope.mail_id, accepted=False, permanent=False, detail=f"connection: {error}")

    async def _drop(self, index: int) -> None:
        client, self.clients[index] = self.clients[index], None
        if client is not None:
            client.close()

    @property
    def lanes(self) -> int:
        """How many mails can be on their way at once (one per connection)."""
        return len(self.clients)

    async def send_on(self, lane: int, envelopes: list[Envelope], gate: Gate | None = None) -> list[Outcome]:
        """Send `envelopes` one after the other on connection `lane`; one Outcome each. Before the server can
        accept each one (after DATA's 354, before the body), `gate` is awaited."""
        return await self._send_share(lane, envelopes, gate)

    async def close(self) -> None:
        """Say QUIT on every open connection."""
        for index, client in enumerate(self.clients):
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
            self.clients[index] = None


class MaildirOutbox:
    """The local outbox used when no SMTP server is configured: a Maildir in the data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.box = mailbox.Maildir(str(path), create=True)

    lanes = 1

    async def send_on(self, lane: int, envelopes: list[Envelope], gate: Gate | None = None) -> list[Outcome]:
        """The same as `send` (a Maildir has one lane), `gate` awaited first."""
        await _open_gate(gate)
        return await self.send(envelopes)

    async def send(self, envelopes: list[Envelope]) -> list[Outcome]:
        """File each mail with its envelope as Return-Path and Delivered-To headers."""
        outcomes = []
        for envelope in envelopes:
            head = f"Return-Path: <{envelope.sender}>\r\nDelivered-To: {envelope.recipient}\r\n".encode()
            key = self.box.add(head + envelope.data)
            outcomes.append(Outcome(envelope.mail_id, accepted=True, permanent=False, detail=f"maildir {key}"))
        return outcomes

    async def close(self) -> None:
        """Nothing to close."""


def outbox_path(data_dir: Path) -> Path:
    """Where the local outbox Maildir lives."""
    return data_dir / "outbox"


def local_outbox(data_dir: Path, limit: int = 100) -> list[tuple[str, mailbox.MaildirMessage]]:
    """The newest mails of the local outbox, newest first, with their Maildir keys."""
    path = outbox_path(data_dir)
    if not path.is_dir():
        return []
    box = mailbox.Maildir(str(path), create=False)
    # Maildir keys begin with the delivery time in seconds.
    keys = sorted(box.keys(), key=lambda key: float(key.split(".M")[0] or 0), reverse=True)[:limit]
    return [(key, box[key]) for key in keys]
