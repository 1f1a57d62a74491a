"""Organizers' one-off mails: preview, test-send, schedule, copy into another run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mail import compose
from mail.jobs import send_due
from mail.models import OutgoingMail
from server.floor.clock import frozen
from server.floor.errors import Invalid
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink

START = datetime(2026, 3, 1, tzinfo=UTC)


def test_scheduled_one_off_goes_once_to_every_learner_and_copies_to_another_run(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
        other = gentle_run(session, [("cy@example.org", "Cy", "UTC")], handle="gentle-python-2")
        mail = compose.create(
            session,
            run.id,
            "Meet-up for {{ course.title }}",
            "Hi {{ learner.name }}!",
            send_at=START + timedelta(hours=2),
        )
        subject, html = compose.preview(session, mail)
        # The preview is the sample learner's, never a real learner's (their links are their keys).
        assert subject == "Meet-up for A Gentle Introduction to Python" and "Hi Sample Learner!" in html
        compose.test_send(session, mail, "organizer@example.org")
        session.commit()
    with frozen(START + timedelta(hours=1)):
        send_due()
    assert [r.recipients[0] for r in smtp_sink.received] == ["organizer@example.org"]
    with frozen(START + timedelta(hours=3)):
        send_due()
        send_due()
    one_offs = [r for r in smtp_sink.received if "Meet-up" in r.message["Subject"]]
    assert sorted(r.recipients[0] for r in one_offs) == ["ann@example.org", "bob@example.org", "organizer@example.org"]
    assert "Hi Bob!" in smtp_sink.to("bob@example.org")[0].message.get_body(("plain",)).get_content()
    copy = compose.copy_to_run(session, mail, other.id)
    assert compose.send_now(session, copy) == 1
    assert compose.send_now(session, copy) == 0  # pressed twice: the keys exist, nothing is queued again
    session.commit()
    assert session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "cy@example.org")).one().kind == "compose"


def test_a_broken_template_is_refused_when_written(session: Session, settings: Settings) -> None:
    with frozen(START):
        run = gentle_run(session, [("ann@example.org", "Ann", "UTC")])
    with pytest.raises(Invalid, match="mail 'Hello' line 1"):
        compose.create(session, run.id, "Hello", "{% if %}")
