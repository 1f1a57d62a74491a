"""Bounces and complaints: DSNs to a VERP address are parsed (flufl.bounce); complaints suppress at once."""

from __future__ import annotations

import json
from email.message import Message

from flufl.bounce import all_failures
from sqlalchemy import select
from sqlalchemy.orm import Session

from mail.addresses import bare, bounce_token
from mail.models import MailEvent, OutgoingMail
from mail.suppressions import soft_bounce, suppress
from server.floor.clock import now
from server.floor.errors import Invalid


def mail_by_token(session: Session, token: str) -> OutgoingMail | None:
    """The outbox row that carried `token`."""
    return session.scalar(select(OutgoingMail).where(OutgoingMail.token == token))


def handle_bounce(session: Session, token: str, message: Message) -> str:
    """A DSN for the mail `token`: a hard bounce suppresses its address, a soft one is scored."""
    mail = mail_by_token(session, token)
    if mail is None:
        return "bounce: unknown token"
    temporary, permanent = all_failures(message)
    detail = ", ".join(sorted(a.decode("utf-8", "replace") for a in permanent | temporary))
    if permanent:
        suppress(session, mail.to_addr, "hard_bounce", detail)
        kind = "bounce"
    elif temporary:
        soft_bounce(session, mail.to_addr, detail)
        kind = "soft_bounce"
    else:
        return "bounce: not a delivery failure"
    session.add(MailEvent(mail_id=mail.id, kind=kind, email=mail.to_addr, detail=detail, created_at=now()))
    return kind


def complaint(session: Session, body: bytes, message: Message | None = None) -> str:
    """A complaint webhook: JSON `{"email": ...}` or `{"token": ...}`, or an ARF report; the address suppressed."""
    mail: OutgoingMail | None = None
    address = ""
    if message is None:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise Invalid("complaint body must be JSON with an email or token, or an ARF message") from None
        if not isinstance(data, dict):
            raise Invalid("complaint body must be a JSON object")
        if data.get("token"):
            mail = mail_by_token(session, str(data["token"]))
        address = bare(str(data.get("email", ""))) or (mail.to_addr if mail else "")
    else:
        # An ARF report carries the original message, whose envelope sender is our VERP address.
        for part in message.walk():
            for header in ("Return-Path", "Original-Mail-From"):
                token = bounce_token(str(part.get(header, "")))
                mail = mail or (mail_by_token(session, token) if token else None)
            address = address or bare(str(part.get("Original-Rcpt-To", "")).split(";")[-1])
        address = mail.to_addr if mail else address
    if not address:
        raise Invalid("complaint names no address: give email, token, or an ARF report of one of our mails")
    suppress(session, address, "complaint")
    session.add(MailEvent(mail_id=mail.id if mail else None, kind="complaint", email=address, created_at=now()))
    return address
