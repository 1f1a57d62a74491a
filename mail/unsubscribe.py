"""Unsubscribing: from the run a mail came from, or, once the person confirms it, from every mail.

An unsubscribe link carries `unsubscribe_key(token)` of one mail: it stops that recipient's mails of
that mail's run and nothing else, so a link quoted into a group mail can do no more than that.
Stopping every mail of the instance to an address needs the person: a mail to that address carries a
signed link (valid `STOP_ALL_DAYS` days) whose page they confirm; at most one such mail an hour.
"""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.addresses import UNSUBSCRIBE, new_token, token_of
from mail.bounces import mail_by_token
from mail.leaving import leave_run
from mail.markup import document, text_html
from mail.mime import compose
from mail.models import MailEvent, OutgoingMail
from mail.outbox import base_headers, enqueue
from mail.suppressions import suppress
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import NotFound
from server.floor.urls import absolute

SCOPES = ("run", "all")
STOP_ALL_DAYS = 7
_STOP_ALL_SALT = "mail-stop-all"


def mail_for(session: Session, key: str) -> OutgoingMail:
    """The mail whose unsubscribe links carry `key`; NotFound for any other string (a bare token too)."""
    token = token_of(key, UNSUBSCRIBE)
    mail = mail_by_token(session, token) if token else None
    if mail is None:
        raise NotFound("this unsubscribe link is unknown (it may be from another instance, or from an older mail)")
    return mail


def unsubscribe(session: Session, key: str) -> str:
    """Stop the mails of the run that the mail of `key` belongs to, for its recipient only; the address."""
    mail = mail_for(session, key)
    enrollment = session.get(Enrollment, mail.enrollment_id) if mail.enrollment_id is not None else None
    if enrollment is not None:
        leave_run(session, enrollment)
    session.add(MailEvent(mail_id=mail.id, kind="unsubscribe", email=mail.to_addr, detail="run", created_at=now()))
    return mail.to_addr


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_STOP_ALL_SALT)


def stop_all_link(mail: OutgoingMail) -> str:
    """The signed link, mailed to the recipient of `mail` only, that confirms stopping every mail to them."""
    return absolute(f"/mail/unsubscribe/all/{_serializer().dumps({'to': mail.to_addr, 'mail': mail.id})}")


def ask_to_stop_all(session: Session, key: str) -> str:
    """Mail the recipient of the mail of `key` a link to confirm stopping every mail of the instance; the address.

    Whoever holds the key may ask; only whoever reads that mailbox can confirm."""
    mail = mail_for(session, key)
    address, token = mail.to_addr, new_token()
    host = get_settings().host
    subject = f"Confirm: stop every mail from {host}"
    text = (
        f"Someone (we hope you) asked that {host} send no more mail to {address}: no course units, no group "
        f"mail, nothing.\n\nTo confirm, open this link (valid {STOP_ALL_DAYS} days) and press the button:\n\n"
        f"{stop_all_link(mail)}\n\nIf it was not you, ignore this mail: nothing changes.\n"
    )
    headers = [*base_headers(address, subject, token), ("Auto-Submitted", "auto-generated")]
    message = compose(headers, text, document(text_html(text)))
    # The key names the hour: asking again and again sends one mail an hour, never a flood.
    hour = now().strftime("%Y%m%d%H")
    enqueue(
        session,
        key=f"stop-all:{address}:{hour}",
        kind="system",
        to=address,
        token=token,
        subject=subject,
        message=message,
    )
    return address


def stop_all_request(signed: str) -> tuple[str, int | None]:
    """The address (and the mail it was asked from) of a stop-all link; NotFound when forged or expired."""
    try:
        data = _serializer().loads(signed, max_age=int(timedelta(days=STOP_ALL_DAYS).total_seconds()))
    except BadData:
        raise NotFound(
            f"this link is unknown or older than {STOP_ALL_DAYS} days: ask again from an unsubscribe link"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("to"), str):
        raise NotFound("this link is unknown")
    mail_id = data.get("mail")
    return data["to"], mail_id if isinstance(mail_id, int) else None


def stop_all(session: Session, signed: str) -> str:
    """The person confirmed: suppress their address and leave every run they are in; the address."""
    address, mail_id = stop_all_request(signed)
    suppress(session, address, "unsubscribed", "unsubscribed from every mail of the instance (confirmed)")
    for enrollment in session.scalars(select(Enrollment).where(Enrollment.email == address)):
        leave_run(session, enrollment)
    if mail_id is not None and session.get(OutgoingMail, mail_id) is None:
        mail_id = None
    session.add(MailEvent(mail_id=mail_id, kind="unsubscribe", email=address, detail="all", created_at=now()))
    return address
