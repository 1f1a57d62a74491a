"""Retention reaches mail (issue 11, items 17 and 18): group members are told before their run's learners are
forgotten, those who took part lately may stay, the others leave the list; the outbox, mail events, received
mail and the local Maildir outbox forget them too; a group nobody stayed in bounces "this group has closed"."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import mail.routes
from courses.models import Enrollment, Post, Run, StudyGroup
from courses.privacy import keep_in_group, retention_pass
from courses.runs import times_of
from mail.addresses import new_token
from mail.inbound import receive, start_receiver
from mail.jobs import forget_local_outbox_job
from mail.models import InboundMessage, MailEvent, OutgoingMail
from mail.outbox import enqueue, queue_system_mail
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.transport import local_outbox
from server.floor import urls
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink, free_port

START = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = [(f"{name}@example.org", name.title(), "UTC") for name in ("ann", "bob", "cy", "dee")]


def tick(session: Session, at: datetime) -> None:
    with frozen(at):
        schedule_all_due(session)
        send_all(session)
    session.commit()


def mail_group(settings: Settings, sender: str, to: str, subject: str, text: str) -> None:
    """Mail `to` from `sender` through the built-in SMTP receiver, as a member's mail program does."""
    inbound = replace(settings, inbound_smtp=("127.0.0.1", free_port()))
    use_settings(inbound)
    receiver = start_receiver(inbound)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message["Message-ID"] = f"<{subject.replace(' ', '-')}@example.org>"
        message.set_content(text)
        with smtplib.SMTP(*inbound.inbound_smtp) as client:  # type: ignore[misc]
            client.send_message(message, to_addrs=[to])
    finally:
        receiver.stop()
        use_settings(settings)


def text_of(sink: SmtpSink, address: str, subject_part: str) -> str:
    [found] = [r for r in sink.to(address) if subject_part in str(r.message["Subject"])]
    return found.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def ended(session: Session, run: Run) -> datetime:
    run.status = "finished"
    session.commit()
    return times_of(session, run).ends


def test_told_before_the_active_may_stay_the_rest_leave_the_list_and_an_empty_group_closes(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, PEOPLE, group_size=3)  # ann, bob, cy in the first group; dee alone in the second
    first, second = session.scalars(select(StudyGroup).order_by(StudyGroup.number)).all()
    first_address, second_address = urls.group_address(first.handle), urls.group_address(second.handle)
    tick(session, datetime(2026, 3, 2, 12, tzinfo=UTC))  # the welcome unit
    end = ended(session, run)
    # After the course: Ann writes to her group, Bob opens the copy he got, Cy and Dee do nothing.
    with frozen(end + timedelta(days=10)):
        mail_group(smtp_settings, "ann@example.org", first_address, "Still coding", "Anyone still at it?")
        mail_group(smtp_settings, "promo@example.net", first_address, "Cheap pills", "buy")  # held
    tick(session, end + timedelta(days=10, minutes=5))
    relay = session.scalars(
        select(OutgoingMail).where(OutgoingMail.kind == "relay", OutgoingMail.to_addr == "bob@example.org")
    ).one()
    session.commit()
    app = TestClient(Starlette(routes=mail.routes.routes()))
    with frozen(end + timedelta(days=11)):
        assert app.get(f"/mail/o/{relay.token}.gif").status_code == 200
    with frozen(end):
        queue_system_mail(session, "bob@example.org", "Your study group links", "Bob's links: /me/...")
        session.commit()

    # A fortnight before the year is up, every member is told; those who took part are asked.
    told_at = end + timedelta(days=365) - timedelta(days=14)
    with frozen(told_at):
        assert retention_pass().told == [run.handle]
    tick(session, told_at + timedelta(minutes=1))
    session.expire_all()
    closes = session.get(Run, run.id).anonymise_at  # type: ignore[union-attr]
    assert closes is not None and closes.date().isoformat() == "2027-04-20"
    for address in ("ann@example.org", "bob@example.org"):
        text = text_of(smtp_sink, address, "Stay in")
        token = session.scalar(select(Enrollment.token).where(Enrollment.email == address))
        assert f"/me/{token}/keep" in text and "On 2027-04-20 we forget" in text and "/data.json" in text
    for address in ("cy@example.org", "dee@example.org"):
        text = text_of(smtp_sink, address, "closes for you on 2027-04-20")
        assert "/keep" not in text and "The list closes for you on 2027-04-20" in text
    with frozen(told_at):
        retention_pass()  # told once: no second notice
    tick(session, told_at + timedelta(minutes=2))
    assert len([r for r in smtp_sink.to("cy@example.org") if "closes for you" in str(r.message["Subject"])]) == 1

    ann_token = session.scalar(select(Enrollment.token).where(Enrollment.email == "ann@example.org"))
    with frozen(told_at + timedelta(days=1)):
        keep_in_group(session, ann_token or "")
        session.commit()
    bob_id = session.scalar(select(Enrollment.id).where(Enrollment.email == "bob@example.org"))
    token = new_token()
    enqueue(session, key="compose:x:bob", kind="compose", to="bob@example.org", token=token,
            subject="Bob, one more thing (for Bobby)", message="Hi Bob", enrollment_id=bob_id, run_id=run.id)  # fmt: skip
    session.commit()
    with frozen(closes - timedelta(hours=1)):  # relays to Bob and Cy queued, not yet sent
        mail_group(smtp_settings, "ann@example.org", first_address, "Last call", "Who stays?")
    with frozen(closes):
        assert retention_pass().anonymised == [run.handle]
    session.expire_all()
    last_call = session.scalars(select(OutgoingMail).where(OutgoingMail.subject == "Last call")).all()
    assert len(last_call) == 2 and {row.state for row in last_call} == {"cancelled"}
    one_off = session.scalars(select(OutgoingMail).where(OutgoingMail.key == "compose:x:bob")).one()
    assert (one_off.subject, one_off.to_addr, one_off.message, one_off.state) == (
        ", one more thing (for Bobby)",
        f"learner-{bob_id}@anonymised.invalid",
        "",
        "cancelled",
    )

    # The outbox, the events and the received mail forget Bob, Cy and Dee; Ann's stay hers.
    addresses = set(session.scalars(select(OutgoingMail.to_addr)))
    assert not addresses & {"bob@example.org", "cy@example.org", "dee@example.org"}
    assert "ann@example.org" in addresses and bob_id is not None
    forgotten = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr.like("%@anonymised.invalid"))).all()
    assert forgotten and all(row.message == "" for row in forgotten)
    assert {row.subject for row in forgotten if row.enrollment_id is None} == {"Your study group links"}
    assert all(
        row.message for row in session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "ann@example.org"))
    )
    [opened] = session.scalars(select(MailEvent).where(MailEvent.kind == "open")).all()
    assert opened.email.endswith("@anonymised.invalid")
    received = [(row.sender, row.raw) for row in session.scalars(select(InboundMessage).order_by(InboundMessage.id))]
    assert [sender for sender, _ in received] == ["ann@example.org", "", "ann@example.org"]
    assert "Anyone still at it?" in received[0][1] and received[1][1] == ""  # the stranger's mail is forgotten

    # The second group has nobody left: it has closed, and says so to whoever writes.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail_group(smtp_settings, "dee@example.org", second_address, "Hello", "Anyone?")
    code, reason = refused.value.recipients[second_address]
    assert code == 550 and b"this group has closed" in reason
    assert receive(b"From: x@example.org\r\nSubject: hi\r\n\r\nhi\r\n", [second_address]) == [
        "rejected: this group has closed"
    ]
    # The first lives on with Ann: her mail is posted; Bob's old address is no member any more.
    with frozen(closes + timedelta(days=1)):
        mail_group(smtp_settings, "ann@example.org", first_address, "Next project", "A game?")
        mail_group(smtp_settings, "bob@example.org", first_address, "Me too", "Can I join?")
    posts = {p.subject: p.held for p in session.scalars(select(Post).where(Post.group_id == first.id))}
    assert posts["Next project"] is False and posts["Me too"] is True
    tick(session, closes + timedelta(days=1, minutes=5))
    assert not [r for r in smtp_sink.received if any("anonymised.invalid" in to for to in r.recipients)]


def test_the_local_maildir_outbox_forgets_them_too(session: Session, settings: Settings) -> None:
    assert settings.smtp_url is None  # no SMTP server: mail is filed in DATA_DIR/outbox
    with frozen(START):
        run = gentle_run(session, PEOPLE[:2])
    tick(session, datetime(2026, 3, 2, 12, tzinfo=UTC))
    end = ended(session, run)
    told_at = end + timedelta(days=351)
    with frozen(told_at):
        retention_pass()
    tick(session, told_at + timedelta(minutes=1))
    filed = [str(m["Delivered-To"]) for _, m in local_outbox(settings.data_dir, 1000)]
    ann, bob = filed.count("ann@example.org"), filed.count("bob@example.org")
    assert ann == bob == 8 and len(filed) == 16  # seven units and the notice each
    ann_token = session.scalar(select(Enrollment.token).where(Enrollment.email == "ann@example.org"))
    keep_in_group(session, ann_token or "")
    session.commit()
    with frozen(told_at + timedelta(days=14)):
        assert retention_pass().anonymised == [run.handle]
    assert forget_local_outbox_job() == bob
    assert [str(m["Delivered-To"]) for _, m in local_outbox(settings.data_dir, 1000)] == ["ann@example.org"] * ann
    assert forget_local_outbox_job() == 0  # done once
