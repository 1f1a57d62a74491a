"""The SMTP transport against a real aiosmtpd server (the command-level path and aiosmtplib's careful one),
and the outbox lease that hands each mail to one worker only."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from mail.models import OutgoingMail
from mail.outbox import queue_system_mail
from mail.sender import lease
from mail.transport import Envelope, SmtpPool, SmtpTarget
from server.floor.db import session_scope
from tests.support.smtp import free_port

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n"


class Recorder:
    """Keeps every envelope and the MAIL options; refuses chosen senders at MAIL (4xx)."""

    def __init__(self, refuse_senders: frozenset[str] = frozenset()) -> None:
        self.refuse_senders = refuse_senders
        self.received: list[tuple[str, list[str], bytes, list[str]]] = []

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse_senders:
            return "451 4.3.0 sender greylisted"
        envelope.mail_from, envelope.mail_options = address, options
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, envelope.mail_options))
        return "250 2.0.0 queued as 7F3A"


def _send(handler: Recorder, envelopes: list[Envelope], *, utf8: bool = True) -> list[Any]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=utf8)
    controller.start()
    try:

        async def go() -> list[Any]:
            pool = SmtpPool(SmtpTarget("127.0.0.1", port, timeout=10), connections=1)
            try:
                return await pool.send_on(0, envelopes)
            finally:
                await pool.close()

        return asyncio.run(go())
    finally:
        controller.stop()


def test_plain_addresses_go_by_commands_with_size_and_the_server_answer() -> None:
    handler = Recorder()
    outcomes = _send(handler, [Envelope(1, "bounce+t1@lists.example.org", "b@example.org", MESSAGE)])
    assert [(o.accepted, o.detail) for o in outcomes] == [(True, "2.0.0 queued as 7F3A")]
    sender, recipients, data, options = handler.received[0]
    assert (sender, recipients) == ("bounce+t1@lists.example.org", ["b@example.org"])
    assert data == MESSAGE  # dot-stuffing undone by the server: the bytes arrive as given
    assert options == [f"SIZE={len(MESSAGE)}"]


def test_a_refused_sender_is_temporary_and_the_connection_goes_on() -> None:
    handler = Recorder(refuse_senders=frozenset({"bounce+grey@lists.example.org"}))
    outcomes = _send(
        handler,
        [
            Envelope(1, "bounce+grey@lists.example.org", "b@example.org", MESSAGE),
            Envelope(2, "bounce+ok@lists.example.org", "c@example.org", MESSAGE),
        ],
    )
    first, second = outcomes
    assert not first.accepted and not first.permanent and first.detail.startswith("451")
    assert second.accepted
    assert [r[1] for r in handler.received] == [["c@example.org"]]


def test_an_international_address_goes_with_smtputf8_or_fails_for_good() -> None:
    handler = Recorder()
    outcomes = _send(handler, [Envelope(1, "bounce+u@lists.example.org", "jürgen@example.org", MESSAGE)])
    assert outcomes[0].accepted
    assert handler.received[0][1] == ["jürgen@example.org"] and "SMTPUTF8" in handler.received[0][3]

    refusing = Recorder()
    outcomes = _send(
        refusing,
        [
            Envelope(1, "bounce+u@lists.example.org", "jürgen@example.org", MESSAGE),
            Envelope(2, "bounce+v@lists.example.org", "ok@example.org", MESSAGE),
        ],
        utf8=False,
    )
    assert outcomes[0].permanent and "SMTPUTF8" in outcomes[0].detail
    assert outcomes[1].accepted and [r[1] for r in refusing.received] == [["ok@example.org"]]


def test_two_workers_leasing_at_once_never_share_a_mail(session: Session) -> None:
    for n in range(120):
        queue_system_mail(session, f"learner{n}@example.org", "Reset", "text")
    session.commit()
    start = threading.Barrier(4)
    leased: list[list[int]] = []

    def worker() -> None:
        with session_scope() as own:
            start.wait()
            leased.append([row.id for row in lease(own, limit=50)])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [mail_id for share in leased for mail_id in share]
    assert len(ids) == len(set(ids)) == 120 and sorted(len(share) for share in leased)[-1] == 50
    attempts = set(session.scalars(select(OutgoingMail.attempts).execution_options(populate_existing=True)))
    assert attempts == {1}
