"""The outbox: every mail is a row written in the caller's transaction; workers send it later."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mail.addresses import bare, message_id, new_token, verp
from mail.dkim import signed, signer_from_settings
from mail.mime import Headers, compose, date_header
from mail.models import KINDS, OutgoingMail
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import upsert_insert
from server.floor.errors import Invalid
from server.floor.jobs import wake_after_commit
from server.floor.queue import QUEUED

SEND_JOB = "mail.send"


def check_address(to: str) -> str:
    """The lower-cased address `to`, or Invalid naming it when it is no address at all."""
    address = bare(to)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c in address for c in " <>\r\n"):
        raise Invalid(f"not an email address: {to!r}")
    return address


def mail_row(
    *, key: str, kind: str, to: str, token: str, subject: str, message: str, sent_as: str | None = None, **links: object
) -> dict:
    """The column values of a new outbox row (for bulk inserts of many mails); `sent_as` is the Message-ID
    the mail carries when it is not `message_id(token)` (a relay carries its post's)."""
    if kind not in KINDS:
        raise Invalid(f"unknown mail kind {kind!r} (known: {', '.join(KINDS)})")
    instant = now()
    return {
        "key": key,
        "token": token,
        "message_id": sent_as or message_id(token),
        "kind": kind,
        "to_addr": to,
        "envelope_from": verp(token),
        "subject": subject[:500],
        "message": signed(message, signer_from_settings(get_settings())),
        "state": QUEUED,
        "attempts": 0,
        "next_attempt_at": instant,
        "created_at": instant,
        "smtp_response": "",
        **links,
    }


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    to: str,
    token: str,
    subject: str,
    message: str,
    sent_as: str | None = None,
    **links: int | str | None,
) -> OutgoingMail | None:
    """Add the mail to the outbox unless a mail with the same idempotency `key` exists (then None)."""
    values = mail_row(
        key=key,
        kind=kind,
        to=check_address(to),
        token=token,
        subject=subject,
        message=message,
        sent_as=sent_as,
        **links,
    )
    if session.scalar(select(OutgoingMail.id).where(OutgoingMail.key == key)) is not None:
        return None
    row = OutgoingMail(**values)
    # A savepoint, so that a concurrent insert of the same key loses quietly without undoing the caller.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    wake_after_commit(session, SEND_JOB, values["next_attempt_at"])
    return row


def enqueue_many(session: Session, rows: list[dict]) -> int:
    """Add many outbox rows (from `mail_row`) at once, skipping any whose idempotency key exists; how many
    were added. One multi-row INSERT ... ON CONFLICT DO NOTHING per thousand rows: a concurrent pass
    writing the same keys loses quietly, row by row, without undoing the caller."""
    added = 0
    for start in range(0, len(rows), 1000):
        statement = upsert_insert(session, OutgoingMail).values(rows[start : start + 1000]).on_conflict_do_nothing()
        added += len(session.execute(statement.returning(OutgoingMail.id)).all())
    if added:
        # The sender goes when this commits (or at the first row's instant): not at its next tick.
        wake_after_commit(session, SEND_JOB, min(row["next_attempt_at"] for row in rows))
    return added


def base_headers(to: str, subject: str, token: str, sender: str | None = None) -> list[tuple[str, str]]:
    """The headers every mail carries: From, To, Subject, Date, Message-ID."""
    return [
        ("From", sender or get_settings().mail_from),
        ("To", to),
        ("Subject", subject),
        ("Date", date_header()),
        ("Message-ID", message_id(token)),
    ]


def queue_system_mail(session: Session, to: str, subject: str, text: str, html: str | None = None) -> OutgoingMail:
    """Queue a transactional mail (password reset, notices) to `to`; sent by the next outbox pass."""
    address = check_address(to)
    token = new_token()
    headers: Headers = [*base_headers(address, subject, token), ("Auto-Submitted", "auto-generated")]
    message = compose(headers, text, html)
    row = enqueue(
        session, key=f"system:{token}", kind="system", to=address, token=token, subject=subject, message=message
    )
    assert row is not None  # the key holds a fresh random token
    return row
