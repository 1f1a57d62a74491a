"""The SMTP transport with a server that offers PIPELINING (RFC 2920): MAIL, RCPT and DATA go in one write,
every reply is read however the server's replies are split, refusals leave the connection usable, and a
server that opens DATA after refusing gets no body."""

from __future__ import annotations

import asyncio

from aiosmtplib.protocol import SMTPProtocol

from mail.transport import Envelope, Outcome, SmtpPool, SmtpTarget, _reply

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n"


class Scripted:
    """A server that answers MAIL only once it has read RCPT and DATA too (so a client that waits for each
    reply waits for ever), each reply in a write of its own when `split`."""

    def __init__(self, *, split: bool = False, refuse: dict[str, bytes] | None = None, open_anyway: bool = False):
        self.split, self.refuse, self.open_anyway = split, refuse or {}, open_anyway
        self.accepted: list[tuple[bytes, bytes, bytes]] = []
        self.connections = 0
        self.dropped_in_data = 0  # connections closed by the client after a 354, before the body ended

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 scripted ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-scripted\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
            elif verb == b"MAIL":
                rcpt, data = await reader.readline(), await reader.readline()
                sender = line.split(b"<")[1].split(b">")[0]
                recipient = rcpt.split(b"<")[1].split(b">")[0]
                refusal = self.refuse.get(sender.decode()) or self.refuse.get(recipient.decode())
                mail_ok = refusal is None or not refusal.startswith(b"MAIL ")
                replies = [b"250 sender ok\r\n" if mail_ok else refusal[5:] + b"\r\n"]
                replies.append(refusal + b"\r\n" if mail_ok and refusal else b"250 recipient ok\r\n")
                opened = refusal is None or self.open_anyway
                replies.append(b"354 go ahead\r\n" if opened else b"554 no valid recipients\r\n")
                assert data == b"DATA\r\n", data
                for reply in replies:
                    writer.write(reply)
                    if self.split:
                        await writer.drain()
                        await asyncio.sleep(0)
                if opened:
                    body = await self._body(reader)
                    if body is None:
                        self.dropped_in_data += 1
                        return
                    self.accepted.append((sender, recipient, body))
                    writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                writer.close()
                return
            else:  # RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()

    @staticmethod
    async def _body(reader: asyncio.StreamReader) -> bytes | None:
        lines = []
        while (line := await reader.readline()) != b".\r\n":
            if not line:
                return None
            lines.append(line[1:] if line.startswith(b".") else line)
        return b"".join(lines)


def _send(server: Scripted, envelopes: list[Envelope]) -> list[Outcome]:
    async def go() -> list[Outcome]:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        pool = SmtpPool(SmtpTarget("127.0.0.1", port, timeout=5), connections=1)
        try:
            return await pool.send_on(0, envelopes)
        finally:
            await pool.close()
            listening.close()

    return asyncio.run(go())


def _mails(*recipients: str) -> list[Envelope]:
    return [Envelope(n, f"bounce+{n}@lists.example.org", to, MESSAGE) for n, to in enumerate(recipients)]


def test_the_three_commands_go_together_and_every_reply_is_read_however_it_comes() -> None:
    for split in (False, True):
        server = Scripted(split=split)
        outcomes = _send(server, _mails(*(f"l{n}@example.org" for n in range(200))))
        assert [o.detail for o in outcomes] == ["2.0.0 queued"] * 200, split
        assert [r[1] for r in server.accepted] == [f"l{n}@example.org".encode() for n in range(200)]
        assert {r[2] for r in server.accepted} == {MESSAGE}  # dots stuffed on the way, unstuffed by the server
        assert server.connections == 1


def test_refusals_come_back_per_command_and_the_connection_goes_on() -> None:
    refuse = {"gone@example.org": b"550 5.1.1 no such user", "bounce+1@lists.example.org": b"MAIL 451 4.3.0 greylisted"}
    server = Scripted(refuse=refuse)
    outcomes = _send(server, _mails("gone@example.org", "grey@example.org", "ok@example.org"))
    assert [(o.accepted, o.permanent, o.code, o.stage) for o in outcomes] == [
        (False, True, 550, "rcpt"),
        (False, False, 451, "mail"),
        (True, False, None, ""),
    ]
    assert [r[1] for r in server.accepted] == [b"ok@example.org"] and server.connections == 1


def test_a_server_that_opens_data_after_refusing_the_recipient_gets_no_body() -> None:
    server = Scripted(refuse={"gone@example.org": b"550 5.1.1 no such user"}, open_anyway=True)
    outcomes = _send(server, _mails("gone@example.org", "ok@example.org"))
    assert (outcomes[0].accepted, outcomes[0].code, outcomes[0].stage) == (False, 550, "rcpt")
    assert outcomes[1].accepted
    # The connection was dropped at the 354: nothing was accepted for the refused address.
    assert server.dropped_in_data == 1 and server.connections == 2
    assert [r[1] for r in server.accepted] == [b"ok@example.org"]


def test_a_reply_that_comes_on_the_next_turn_of_the_loop_is_not_dropped() -> None:
    # The second of two pipelined replies reaches the protocol on the loop turn after the first: aiosmtplib's
    # own read (wait_for) picks the first up a turn later, and the protocol drops what comes meanwhile.
    async def go() -> list[str]:
        loop = asyncio.get_running_loop()
        protocol = SMTPProtocol(loop=loop)
        protocol.connection_made(asyncio.Transport(extra={"sslcontext": None}))
        loop.call_soon(protocol.data_received, b"250 first\r\n")
        loop.call_soon(loop.call_soon, protocol.data_received, b"250 second\r\n")
        return [(await _reply(protocol, 1)).message for _ in range(2)]

    assert asyncio.run(go()) == ["first", "second"]


def test_an_address_with_a_line_break_or_bracket_is_refused_before_anything_is_said() -> None:
    # The addresses go into the pipelined commands as they are: "\r\nRCPT TO:<x>" would add a recipient.
    server = Scripted()
    outcomes = _send(
        server, _mails("a@example.org>\r\nRCPT TO:<b@example.org", "bad\x00@example.org", "ok@example.org")
    )
    assert [(o.accepted, o.permanent, o.code, o.stage) for o in outcomes[:2]] == [(False, True, 553, "rcpt")] * 2
    assert outcomes[2].accepted
    assert [r[1] for r in server.accepted] == [b"ok@example.org"] and server.connections == 1
