"""What the SMTP server refuses, an SMTP outage, and a dead pass's leases: real SMTP on 127.0.0.1.

Refusals of the address at send time are hard bounces (suppressed, counted in stats), a refusal of
our relay or content is not; a temporary refusal is retried for the whole retry window (hours, not
attempts) and then counts as a soft bounce; a dead pass's rows are free within seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mail import sender
from mail.models import UNCERTAIN, MailEvent, OutgoingMail, Suppression
from mail.scheduler import schedule_all_due
from mail.sender import GRACE, LEASE, lease, recover, send_all, send_batch
from mail.stats import run_stats
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.db import session_factory
from server.floor.queue import DONE, FAILED, QUEUED
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink

START = datetime(2026, 3, 1, tzinfo=UTC)
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")]


def day(n: int, hours: float = 0) -> datetime:
    """Noon UTC n days after the run starts (after the 09:00 send time), plus `hours`."""
    return datetime(2026, 3, 2, 12, tzinfo=UTC) + timedelta(days=n, hours=hours)


def tick(session: Session, at: datetime) -> sender.SendReport:
    with frozen(at):
        schedule_all_due(session)
        return send_all(session)


def row_of(session: Session, address: str, position: int = 0) -> OutgoingMail:
    row = session.scalars(
        select(OutgoingMail).where(OutgoingMail.to_addr == address, OutgoingMail.unit_position == position)
    ).one()
    session.commit()
    return row


@pytest.fixture
def sink_for(settings: Settings) -> Iterator[object]:
    """`sink_for(sink, **changes)`: the instance sends to `sink` (with other settings changed) until the test ends."""

    def configure(sink: SmtpSink, **changes: object) -> Settings:
        configured = replace(settings, smtp_url=sink.url, smtp_connections=2, **changes)
        use_settings(configured)
        return configured

    yield configure
    use_settings(settings)


def test_a_permanent_refusal_of_the_address_is_a_hard_bounce(session: Session, sink_for) -> None:
    with SmtpSink(refuse={"bob@example.org": 550}) as sink:
        sink_for(sink)
        with frozen(START):
            run = gentle_run(session, LEARNERS)
        report = tick(session, day(0))
        assert (report.sent, report.failed) == (1, 1)
        assert row_of(session, "bob@example.org").state == FAILED
        suppression = session.scalars(select(Suppression)).one()
        assert (suppression.email, suppression.reason, suppression.active) == ("bob@example.org", "hard_bounce", True)
        stats = run_stats(session, run)
        assert stats["units"][0]["bounced"] == 1 and stats["total"]["bounced"] == 1
        # The next unit is not tried on the refused address again: it is cancelled before it goes.
        tick(session, day(7))
        assert row_of(session, "bob@example.org", 1).state == "cancelled"
        assert len(sink.to("ann@example.org")) == 2 and sink.to("bob@example.org") == []


def test_a_refusal_of_our_relay_or_of_the_content_is_no_bounce(session: Session, sink_for) -> None:
    refusals = {"ann@example.org": "554 5.7.1 Relay access denied", "bob@example.org": "550 relay not permitted"}
    with SmtpSink(refuse=refusals) as sink:
        sink_for(sink)
        with frozen(START):
            run = gentle_run(session, LEARNERS)
        assert tick(session, day(0)).failed == 2
        # A server that will not relay for us refuses everyone: suppressing them all would be a disaster.
        assert session.scalars(select(Suppression)).all() == []
        assert run_stats(session, run)["total"]["bounced"] == 0


def test_a_temporary_refusal_is_retried_for_the_whole_window_then_counts_as_a_soft_bounce(
    session: Session, sink_for
) -> None:
    with SmtpSink(refuse={"bob@example.org": 451}) as sink:
        sink_for(sink, mail_retry_hours=6)
        with frozen(START):
            gentle_run(session, LEARNERS)
        tick(session, day(0))
        created = row_of(session, "bob@example.org").created_at
        for hours in (1, 2, 3, 4, 5):
            tick(session, day(0, hours))
            row = row_of(session, "bob@example.org")
            assert row.state == QUEUED, f"failed after {hours} hours of a 6-hour window"
            # The last attempt is made when the window ends, not a backoff step after it.
            assert row.next_attempt_at <= created + timedelta(hours=6)
        assert session.scalars(select(MailEvent).where(MailEvent.kind == "soft_bounce")).all() == []
        tick(session, created + timedelta(hours=6))
        row = row_of(session, "bob@example.org")
        assert row.state == FAILED and row.last_error.startswith("451")
        [event] = session.scalars(select(MailEvent).where(MailEvent.kind == "soft_bounce")).all()
        assert event.mail_id == row.id
        suppression = session.scalars(select(Suppression)).one()
        assert (suppression.soft_bounces, suppression.active) == (1, False)  # scored, not yet suppressed
        session.commit()


def test_an_smtp_outage_of_five_hours_fails_nothing_and_ends_within_minutes(session: Session, sink_for) -> None:
    sink = SmtpSink()  # its port is chosen; nothing listens there until it starts
    sink_for(sink)
    with frozen(START):
        gentle_run(session, LEARNERS)
    for step in range(11):  # a pass every half hour, five hours of "connection refused"
        report = tick(session, day(0, step / 2))
        assert report.sent == 0 and report.failed == 0
    assert {row_of(session, a).state for a, _, _ in LEARNERS} == {QUEUED}
    with sink:
        tick(session, day(0, 5.5) + timedelta(minutes=10))
    assert sorted(r.recipients[0] for r in sink.received) == ["ann@example.org", "bob@example.org"]
    assert {row_of(session, a).state for a, _, _ in LEARNERS} == {DONE}


def test_a_dead_passs_leases_run_out_in_seconds_and_its_mails_in_doubt_go_again(session: Session, sink_for) -> None:
    with SmtpSink() as sink:
        sink_for(sink)
        with frozen(START):
            gentle_run(session, LEARNERS)
        # A pass leases both mails, marks Ann's in flight, and dies.
        with frozen(day(0)):
            schedule_all_due(session)
            assert len(lease(session, 10)) == 2
        ann = row_of(session, "ann@example.org")
        session.execute(update(OutgoingMail).where(OutgoingMail.id == ann.id).values(sending_at=day(0)))
        session.commit()
        assert LEASE + GRACE <= timedelta(minutes=1)
        with frozen(day(0) + LEASE + timedelta(seconds=1)):
            report = send_all(session)
        # Bob's mail never began: it goes at once. Ann's may have arrived: uncertain for the grace period ...
        assert (report.sent, report.uncertain, report.resent) == (1, 1, 0)
        assert row_of(session, "ann@example.org").state == UNCERTAIN
        with frozen(day(0) + LEASE + GRACE + timedelta(seconds=2)):
            report = send_all(session)
        # ... then it goes again by itself, the very bytes stored (the same Message-ID).
        assert (report.sent, report.resent) == (1, 1)
        ann = row_of(session, "ann@example.org")
        assert ann.state == DONE
        assert sink.to("ann@example.org")[0].data.replace(b"\r\n", b"\n") == ann.message.encode().replace(
            b"\r\n", b"\n"
        )


def test_an_uncertain_mail_older_than_the_retry_window_waits_for_a_person(session: Session, sink_for) -> None:
    with SmtpSink() as sink:
        sink_for(sink, mail_retry_hours=2)
        with frozen(START):
            gentle_run(session, LEARNERS)
        with frozen(day(0)):
            schedule_all_due(session)
            lease(session, 10)
        session.execute(update(OutgoingMail).values(sending_at=day(0)))
        session.commit()
        with frozen(day(0, 3)):  # the worker died; nothing ran for three hours
            report = send_all(session)
        assert (report.uncertain, report.resent, report.sent) == (2, 0, 0)
        assert sink.received == []


def test_a_live_pass_renews_its_short_leases(session: Session, sink_for, monkeypatch: pytest.MonkeyPatch) -> None:
    learners = [(f"l{i}@example.org", f"L {i}", "UTC") for i in range(120)]
    with SmtpSink(delay=0.02) as sink:
        sink_for(sink)
        with frozen(START):
            gentle_run(session, learners)
        with frozen(day(0)):
            schedule_all_due(session)
        # Rows due by the real clock (the run is in the past): a pass whose lease is 0.4 s, renewed every 0.1 s.
        monkeypatch.setattr(sender, "RENEW_EVERY", 0.1)
        taken: dict[str, int] = {}

        def another_worker() -> None:
            time.sleep(0.6)  # past the first lease: the first pass is still sending
            other = session_factory()()
            try:
                taken["uncertain"], _ = recover(other)
                taken["leased"] = len(lease(other, 200))
            finally:
                other.close()

        thief = threading.Thread(target=another_worker)
        thief.start()
        started = time.monotonic()
        report = send_batch(session, limit=200, duration=timedelta(seconds=0.4))
        thief.join()
        assert time.monotonic() - started > 1.0, "the pass was over before the other worker looked"
        assert taken == {"uncertain": 0, "leased": 0}, "another worker took mails of a live pass"
        assert report.sent == 120 and len(sink.received) == 120
