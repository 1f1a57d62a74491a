"""Unsubscribing: from one run (the list a mail came from) or from every mail of the instance."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.bounces import mail_by_token
from mail.models import MailEvent
from mail.suppressions import suppress
from server.floor.clock import now
from server.floor.errors import NotFound
from server.floor.events import publish

SCOPES = ("run", "all")


def _leave(session: Session, enrollment: Enrollment) -> None:
    if enrollment.status == "unsubscribed":
        return
    enrollment.status = "unsubscribed"
    enrollment.next_due_at = None
    publish(session, "enrollment.changed", {"enrollment_id": enrollment.id, "change": "unsubscribed"})


def unsubscribe(session: Session, token: str, scope: str = "run") -> str:
    """Stop the mails of the run that mail `token` belongs to (or all mail to its address); the address."""
    mail = mail_by_token(session, token)
    if mail is None:
        raise NotFound("this unsubscribe link is unknown (it may be from another instance)")
    enrollments: list[Enrollment] = []
    if scope == "all":
        suppress(session, mail.to_addr, "unsubscribed", "unsubscribed from every mail of the instance")
        enrollments = list(session.scalars(select(Enrollment).where(Enrollment.email == mail.to_addr)))
    elif mail.enrollment_id is not None:
        enrollment = session.get(Enrollment, mail.enrollment_id)
        enrollments = [enrollment] if enrollment is not None else []
    for enrollment in enrollments:
        _leave(session, enrollment)
    session.add(MailEvent(mail_id=mail.id, kind="unsubscribe", email=mail.to_addr, detail=scope, created_at=now()))
    return mail.to_addr
