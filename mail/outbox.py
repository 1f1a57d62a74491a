"""The outbox: every mail is a row written in the caller's transaction; workers send it later."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mail.addresses import bare, message_id, new_token, verp
from mail.models import KINDS, OutgoingMail
from server.clock import now
from server.config import get_settings
from server.errors import Invalid
from server.queue import QUEUED

SEND_JOB = "mail.send"


def check_address(to: str) -> str:
    """The lower-cased address `to`, or Invalid naming it when it is no address at all."""
    address = bare(to)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c in address for c in " <>\r\n"):
        raise Invalid(f"not an email address: {to!r}")
    return address


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    to: str,
    token: str,
    message: EmailMessage,
    **links: int | str | None,
) -> OutgoingMail | None:
    """Add the mail to the outbox unless a mail with the same idempotency `key` exists (then None)."""
    if kind not in KINDS:
        raise Invalid(f"unknown mail kind {kind!r} (known: {', '.join(KINDS)})")
    if session.scalar(select(OutgoingMail.id).where(OutgoingMail.key == key)) is not None:
        return None
    row = OutgoingMail(
        key=key,
        token=token,
        kind=kind,
        to_addr=check_address(to),
        envelope_from=verp(token),
        subject=str(message.get("Subject", "")),
        message=message.as_string(),
        state=QUEUED,
        attempts=0,
        next_attempt_at=now(),
        created_at=now(),
        **links,
    )
    # A savepoint, so that a concurrent insert of the same key loses quietly without undoing the caller.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def base_message(to: str, subject: str, token: str, sender: str | None = None) -> EmailMessage:
    """A message with the headers every mail carries: From, To, Subject, Date, Message-ID."""
    message = EmailMessage()
    message["From"] = sender or get_settings().mail_from
    message["To"] = to
    message["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    message["Date"] = format_datetime(now())
    message["Message-ID"] = message_id(token)
    return message


def queue_system_mail(session: Session, to: str, subject: str, text: str, html: str | None = None) -> OutgoingMail:
    """Queue a transactional mail (password reset, notices) to `to`; sent by the next outbox pass."""
    address = check_address(to)
    token = new_token()
    message = base_message(address, subject, token)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    row = enqueue(session, key=f"system:{token}", kind="system", to=address, token=token, message=message)
    assert row is not None  # the key holds a fresh random token
    return row
