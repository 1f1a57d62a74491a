"""The mail package's background jobs: turn due units into mails, send the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from mail.compose import send_scheduled
from mail.retention import forget_local_outbox
from mail.scheduler import schedule_all_due
from mail.sender import SendReport, send_all
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.jobs import job


@job("mail.schedule", every=5, queue="mail", summary="wrote {n} mails of units due now")
def schedule_job() -> int:
    """Emit every unit due now; the number of mails (and fediverse deliveries) written."""
    with session_scope() as session:
        composed = send_scheduled(session)
        session.commit()
        return schedule_all_due(session) + composed


@job("mail.send", every=5, queue="mail", summary="sent {n} mails")
def send_job() -> int:
    """Send every mail due in the outbox; the number that went out."""
    with session_scope() as session:
        return send_all(session).sent


@job("mail.forget_local_outbox", every=3600, queue="mail")
def forget_local_outbox_job() -> int:
    """Remove from the local Maildir outbox the mails of learners who were anonymised; how many."""
    with session_scope() as session:
        return forget_local_outbox(session, get_settings().data_dir)


@dataclass(frozen=True)
class DueReport:
    """What `send_due` did: units scheduled and the sending report."""

    scheduled: int
    sending: SendReport


def send_due() -> DueReport:
    """Schedule what is due, then send the outbox, in this process (`mechmooc mail send-due`)."""
    with session_scope() as session:
        scheduled = send_scheduled(session)
        session.commit()
        scheduled += schedule_all_due(session)
        sending = send_all(session)
    return DueReport(scheduled, sending)
