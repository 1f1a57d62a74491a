"""Mail wakes its jobs when there is work, not at their next tick (issue 16: "due -> sent").

A confirmation mail waited up to 5 s for the next tick of `mail.send`, and a unit mail rendered ahead of
its 09:00 left at the first tick after it; bench/mail_latency.py measures the whole path.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from courses.bulk import import_learners
from mail.jobs import schedule_job, wake_sender_at_next_due
from mail.outbox import SEND_JOB, queue_system_mail
from server.floor import jobs
from server.floor.clock import frozen
from tests.mail.conftest import gentle_run
from tests.mail.test_lookahead import AHEAD, DUE, LEARNERS, START


def test_a_queued_mail_wakes_the_sender_when_its_transaction_commits(session: Session, sent: list[str]) -> None:
    queue_system_mail(session, "ann@example.org", "Your login link", "Hello")
    assert SEND_JOB not in sent  # not before the row is visible to the worker
    session.commit()
    assert sent == [SEND_JOB]


def test_a_unit_rendered_ahead_arms_the_sender_at_its_instant(session: Session, sent: list[str]) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    assert sent == []  # their first unit is a day away: nothing to do yet
    with frozen(AHEAD):
        assert schedule_job() == 2
    assert jobs.armed(SEND_JOB) == [DUE] and sent == []


def test_a_mail_that_fell_due_while_a_pass_ran_wakes_the_sender_at_once(session: Session, sent: list[str]) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    with frozen(AHEAD):
        schedule_job()
    # A send pass that began before 09:00 and ended after it: its claims may have missed the units.
    with frozen(DUE + timedelta(seconds=1)):
        wake_sender_at_next_due(session, since=DUE - timedelta(seconds=1))
    assert sent == [SEND_JOB]


def test_a_late_joiner_wakes_the_scheduler(session: Session, sent: list[str]) -> None:
    with frozen(DUE + timedelta(hours=1)):  # the run has begun: unit 0 is due at once (catch_up)
        gentle_run(session, LEARNERS)
    assert "mail.schedule" in sent


def test_a_late_import_wakes_the_scheduler(session: Session, sent: list[str]) -> None:
    with frozen(START):
        run = gentle_run(session, [])
    with frozen(DUE + timedelta(hours=1)):
        outcome = import_learners(session, run, "email,name,timezone\ncy@example.org,Cy,UTC\n", basis="test")
        session.commit()
    assert outcome.enrolled == 1 and "mail.schedule" in sent
