"""Mail coming in: group lists, bounces (VERP) and mailto unsubscribes, by SMTP (aiosmtpd) or webhook."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Sequence
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from mail.addresses import bare, bounce_token
from mail.bounces import handle_bounce
from mail.lists import MAX_MESSAGE_BYTES, accept_group_mail, closed_reason, group_for
from mail.unsubscribe import unsubscribe
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.errors import MechMoocError
from server.floor.settings import Settings

UNSUBSCRIBE_PREFIX = "unsubscribe+"
MAX_PARSED_HEADER = 2000  # characters of one header value the parser reads; longer ones are plain text, cut


class _Lenient(email.policy.EmailPolicy):
    """`email.policy.default`, except that a header its parser cannot read is its unfolded raw text.

    The stdlib's structured-header parser raises on some malformed values (IndexError for `To: <`
    or `Message-ID: <`), lazily, when a header is read: hostile mail would crash whoever reads it.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """The parsed header, or its raw text (undecodable bytes replaced) when it does not parse."""
        if len(value) > MAX_PARSED_HEADER:
            # The parser recurses per comment parenthesis and is slow on long values: 100 kB of
            # `(` in a Content-Type took 14 s (it is read again and again while parsing); 8 kB still 0.6 s.
            return _raw(value)[:MAX_PARSED_HEADER]
        try:
            return super().header_fetch_parse(name, value)
        except Exception:  # noqa: BLE001 - the parser's failures on bad input are not a documented set
            return _raw(value)


def _raw(value: str) -> str:
    """A header's text unfolded, bytes that are not UTF-8 replaced."""
    return " ".join(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").split())


LENIENT = _Lenient()


def parse(raw: bytes) -> Message:
    """An RFC 5322 message as an EmailMessage whose headers can always be read (see `_Lenient`)."""
    return email.message_from_bytes(raw, policy=LENIENT)


def known_recipient(address: str) -> bool:
    """True for the addresses we take mail for: bounces+, unsubscribe+ and open group lists on our mail domain."""
    return rcpt_refusal(address) is None


def rcpt_refusal(address: str) -> str | None:
    """The SMTP answer refusing `address` at RCPT (an unknown address, a closed group), or None to take it."""
    local, _, domain = bare(address).partition("@")
    if domain != get_settings().mail_domain.lower():
        return "550 5.1.1 no such list here"
    if bounce_token(address) or local.startswith(UNSUBSCRIBE_PREFIX):
        return None
    with session_scope() as session:
        group = group_for(session, address)
        if group is None:
            return "550 5.1.1 no such list here"
        # The sender's server turns this into a bounce that says why, in the sender's own mailbox.
        reason = closed_reason(session, group)
        return f"550 5.2.1 {reason}" if reason is not None else None


def receive(raw: bytes, recipients: Sequence[str], envelope_sender: str | None = None) -> list[str]:
    """Handle one message for each of its `recipients`; an outcome per recipient; one transaction.

    `envelope_sender` is the SMTP MAIL FROM (`<>` for a null sender); None when it is not known."""
    message = parse(raw)
    outcomes = []
    with session_scope() as session:
        for recipient in recipients:
            token = bounce_token(recipient)
            local = bare(recipient).partition("@")[0]
            if token:
                outcomes.append(handle_bounce(session, token, message))
            elif local.startswith(UNSUBSCRIBE_PREFIX):
                try:
                    # The mailto: of List-Unsubscribe: that recipient, that run (never every mail).
                    unsubscribe(session, local[len(UNSUBSCRIBE_PREFIX) :])
                    outcomes.append("unsubscribed")
                except MechMoocError as error:
                    outcomes.append(f"rejected: {error}")
            elif (group := group_for(session, recipient)) is not None:
                outcomes.append(accept_group_mail(session, group, message, raw, envelope_sender))
            else:
                outcomes.append("rejected: no such list")
    return outcomes


class _Handler:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        refusal = await asyncio.to_thread(rcpt_refusal, address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            await asyncio.to_thread(receive, envelope.content, list(envelope.rcpt_tos), envelope.mail_from or "<>")
        except MechMoocError as error:
            return f"550 5.6.0 {error}"
        return "250 OK"


def start_receiver(settings: Settings) -> Controller:
    """Start the SMTP receiver on MECHMOOC_INBOUND_SMTP in a thread; call `.stop()` on the result to stop it."""
    if settings.inbound_smtp is None:
        raise MechMoocError("MECHMOOC_INBOUND_SMTP is not set")
    host, port = settings.inbound_smtp
    controller = Controller(_Handler(), hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES)
    controller.start()
    return controller
