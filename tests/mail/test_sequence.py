"""A run of gentle-python through all its units against a real SMTP server, with the injectable clock."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment
from mail.addresses import unsubscribe_key, verp
from mail.models import OutgoingMail
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from server.floor.clock import frozen
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink

ZONES = ["Pacific/Auckland", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"]
UNITS = 7


def tick(session: Session, at: datetime) -> int:
    """What a worker does at `at`: schedule the due units and send them."""
    with frozen(at):
        schedule_all_due(session)
        report = send_all(session)
        assert not report.errors and not report.uncertain, report
        return report.sent


def test_fifty_learners_get_every_unit_once_in_order_at_their_local_send_time(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    learners = [(f"learner{i}@example.org", f"Learner {i}", ZONES[i % len(ZONES)]) for i in range(50)]
    start = datetime(2026, 3, 1, tzinfo=UTC)  # the day before the run starts, so nobody joins late
    with frozen(start):
        run = gentle_run(session, learners)
    sent_at: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    at = start
    while at < start + timedelta(days=45):
        before = len(smtp_sink.received)
        tick(session, at)
        for received in smtp_sink.received[before:]:
            sent_at[received.recipients[0]].append((at, " ".join(received.message["Subject"].split())))
        at += timedelta(minutes=30)
    assert len(smtp_sink.received) == 50 * UNITS
    course = session.scalar(select(Course).where(Course.slug == "gentle-python"))
    expected = [f"A Gentle Introduction to Python: {unit.title}" for unit in course.units]
    assert len(expected) == UNITS
    by_learner = {e.email: e for e in session.scalars(select(Enrollment).where(Enrollment.run_id == run.id))}
    for address, mails in sent_at.items():
        subjects = [subject for _, subject in mails]
        assert subjects == expected, address
        zone = ZoneInfo(by_learner[address].timezone)
        for instant, _ in mails:
            local = instant.astimezone(zone)
            # Sent on the first half-hour tick at or after 09:00 local.
            assert (local.hour, local.minute) == (9, 0), (address, local)
    first = smtp_sink.to("learner0@example.org")[0].message
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Reply-To"] == "gentle-python-1-g1@lists.example.org"
    assert first["List-Id"].endswith("<gentle-python-1.lists.example.org>")
    # The row is found by the Message-ID it was sent with; the Message-ID carries no token of it.
    row = session.scalars(select(OutgoingMail).where(OutgoingMail.message_id == first["Message-ID"])).one()
    assert row.to_addr == "learner0@example.org" and row.token not in first["Message-ID"]
    assert smtp_sink.to("learner0@example.org")[0].sender == verp(row.token)
    assert "http://testserver.localhost/mail/unsubscribe/" + unsubscribe_key(row.token) in first["List-Unsubscribe"]
