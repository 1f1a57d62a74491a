"""The mail package's background jobs: turn due units into mails, send the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mail.compose import send_scheduled
from mail.models import OutgoingMail
from mail.outbox import SEND_JOB
from mail.retention import forget_local_outbox
from mail.scheduler import LOOKAHEAD, schedule_all_due
from mail.sender import SendReport, send_all
from server.floor.clock import now, utc
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.jobs import job, wake_at
from server.floor.queue import QUEUED

# The sender is woken at the instant of the next mail that waits in the outbox (rendered ahead, or a
# retry), when that is this close; later ones are looked at again by the following passes.
WAKE_AHEAD = LOOKAHEAD + timedelta(minutes=5)


def wake_sender_at_next_due(session: Session, since: datetime) -> None:
    """Wake the sender at the instant the next queued mail is due, not at the tick after it: the first
    instant after `since`, when the pass that calls this began (a mail that fell due while the pass
    sent may have missed its claims: the sender goes again at once). One MIN over the outbox's
    (state, next_attempt_at) index; a timer per instant, however often asked."""
    soonest = utc(
        session.scalar(
            select(func.min(OutgoingMail.next_attempt_at)).where(
                OutgoingMail.state == QUEUED, OutgoingMail.next_attempt_at > since
            )
        )
    )
    session.commit()
    if soonest is not None and soonest - now() <= WAKE_AHEAD:
        wake_at(SEND_JOB, soonest)


@job("mail.schedule", every=5, queue="mail", summary="wrote {n} mails of units due now")
def schedule_job() -> int:
    """Emit every unit due now; the number of mails (and fediverse deliveries) written."""
    began = now()
    with session_scope() as session:
        composed = send_scheduled(session)
        session.commit()
        written = schedule_all_due(session) + composed
        wake_sender_at_next_due(session, began)  # what was rendered ahead leaves at its instant
        return written


@job("mail.send", every=5, queue="mail", summary="sent {n} mails")
def send_job() -> int:
    """Send every mail due in the outbox; the number that went out."""
    began = now()
    with session_scope() as session:
        sent = send_all(session).sent
        wake_sender_at_next_due(session, began)  # the next instant (rendered ahead, a retry's) is not left to a tick
        return sent


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
