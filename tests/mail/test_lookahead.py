"""Mails rendered ahead of their instant: they wait in the outbox, go on time, and a change takes them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import learner
from courses.models import Enrollment
from mail.models import OutgoingMail
from mail.scheduler import LOOKAHEAD, schedule_all_due
from mail.sender import send_all
from server.floor.clock import frozen
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink

START = datetime(2026, 3, 1, tzinfo=UTC)
DUE = datetime(2026, 3, 2, 9, tzinfo=UTC)  # unit 0 of gentle-python for a learner in UTC
AHEAD = DUE - LOOKAHEAD / 2
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")]


def tick(session: Session, at: datetime) -> None:
    with frozen(at):
        schedule_all_due(session)
        send_all(session)


def token_of(session: Session, address: str) -> str:
    token = session.scalars(select(Enrollment.token).where(Enrollment.email == address)).one()
    session.commit()
    return token


def queued(session: Session) -> list[tuple[str, int | None, datetime]]:
    rows = session.execute(
        select(OutgoingMail.to_addr, OutgoingMail.unit_position, OutgoingMail.next_attempt_at)
        .where(OutgoingMail.state == "queued")
        .order_by(OutgoingMail.to_addr)
    ).all()
    session.commit()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_mail_rendered_ahead_waits_for_its_instant(
    session: Session, smtp_sink: SmtpSink, smtp_settings: object
) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    tick(session, DUE - LOOKAHEAD - timedelta(minutes=1))
    assert queued(session) == []  # not yet within the lookahead
    tick(session, AHEAD)
    assert queued(session) == [("ann@example.org", 0, DUE), ("bob@example.org", 0, DUE)]
    assert smtp_sink.received == []  # rendered, not sent: it is not 09:00 yet
    tick(session, DUE)
    assert sorted(r.recipients[0] for r in smtp_sink.received) == ["ann@example.org", "bob@example.org"]
    tick(session, DUE + timedelta(minutes=5))
    assert len(smtp_sink.received) == 2 and queued(session) == []


def test_a_change_before_the_instant_takes_the_rendered_mail_back(
    session: Session, smtp_sink: SmtpSink, smtp_settings: object
) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    tick(session, AHEAD)
    assert len(queued(session)) == 2
    with frozen(AHEAD + timedelta(minutes=1)):
        learner.change_details(session, token_of(session, "ann@example.org"), name="Annie")
        learner.pause(session, token_of(session, "bob@example.org"))
        session.commit()
    # Both rendered mails are gone; Ann's cursor is back on unit 0 at 09:00, Bob's is stopped on unit 0.
    assert queued(session) == []
    cursors = dict(session.execute(select(Enrollment.email, Enrollment.next_due_at)).all())
    positions = dict(session.execute(select(Enrollment.email, Enrollment.next_position)).all())
    session.commit()
    assert cursors == {"ann@example.org": DUE, "bob@example.org": None}
    assert positions == {"ann@example.org": 0, "bob@example.org": 0}

    tick(session, AHEAD + timedelta(minutes=2))  # rendered again, with the new name
    tick(session, DUE)
    [ann] = smtp_sink.to("ann@example.org")
    assert "Hello Annie," in ann.message.get_body(("plain",)).get_content()
    assert smtp_sink.to("bob@example.org") == []

    with frozen(DUE + timedelta(hours=1)):
        learner.resume(session, token_of(session, "bob@example.org"))
        session.commit()
    tick(session, DUE + timedelta(days=1, hours=1))  # send_missed: unit 0 at the next send time
    assert len(smtp_sink.to("bob@example.org")) == 1 and len(smtp_sink.to("ann@example.org")) == 1
