"""Unsubscribes, bounces, group replies and tracking, end to end against real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import mail.routes
from courses.models import Enrollment, Post
from mail.addresses import unsubscribe_key, verp
from mail.inbound import start_receiver
from mail.models import OutgoingMail, Suppression
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.stats import run_stats
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink, free_port

START = datetime(2026, 3, 1, tzinfo=UTC)
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC"), ("cy@example.org", "Cy", "UTC")]


def day(n: int) -> datetime:
    """Noon UTC, n days after the run starts (2026-03-02): after the 09:00 send time."""
    return datetime(2026, 3, 2, 12, tzinfo=UTC) + timedelta(days=n)


def tick(session: Session, at: datetime) -> None:
    with frozen(at):
        schedule_all_due(session)
        send_all(session)


@pytest.fixture
def app(smtp_settings: Settings) -> TestClient:
    return TestClient(Starlette(routes=mail.routes.routes()))


def unit_mail(session: Session, address: str, position: int) -> OutgoingMail:
    """The outbox row of one unit for one learner (the read transaction ended: SQLite writers queue at BEGIN)."""
    row = session.scalars(
        select(OutgoingMail).where(OutgoingMail.to_addr == address, OutgoingMail.unit_position == position)
    ).one()
    session.commit()
    return row


def test_one_click_unsubscribe_after_unit_two_stops_the_rest(
    session: Session, smtp_sink: SmtpSink, app: TestClient
) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    tick(session, day(0))
    tick(session, day(7))
    token = unit_mail(session, "ann@example.org", 1).token
    # A unit already queued for the next batch must not go either: write it, then unsubscribe, then send.
    with frozen(day(14)):
        schedule_all_due(session)
    # The mail's token alone is no unsubscribe key (it is the row's key in pixel and click URLs).
    assert app.post(f"/mail/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    response = app.post(f"/mail/unsubscribe/{unsubscribe_key(token)}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "ann@example.org" in response.text
    session.expire_all()
    for n in (14, 21, 28, 35, 42):
        tick(session, day(n))
    assert len(smtp_sink.to("ann@example.org")) == 2
    assert len(smtp_sink.to("bob@example.org")) == 7
    ann = session.scalars(select(Enrollment).where(Enrollment.email == "ann@example.org")).one()
    assert ann.status == "unsubscribed" and ann.next_due_at is None
    session.commit()
    assert app.post("/mail/unsubscribe/nosuchtoken").status_code == 404


def dsn(return_path: str, recipient: str, status: str, action: str) -> bytes:
    """A delivery status notification (RFC 3464) to our VERP `return_path`, as an MTA writes it."""
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {return_path}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-"
        + return_path.split("@")[0]
        + "@mx.example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B--\r\n"
    ).encode()


def test_hard_bounce_by_smtp_suppresses_and_reconfirming_lifts(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    tick(session, day(0))
    token = unit_mail(session, "bob@example.org", 0).token
    inbound = replace(smtp_settings, inbound_smtp=("127.0.0.1", free_port()))
    use_settings(inbound)
    receiver = start_receiver(inbound)
    try:
        with smtplib.SMTP(*inbound.inbound_smtp) as client:
            client.sendmail("", [verp(token)], dsn(verp(token), "bob@example.org", "5.1.1", "failed"))
            # A DSN to the bare token (no MAC of the bounce purpose) is refused at RCPT: forged DSNs suppress nobody.
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("", [f"bounces+{token}@lists.example.org"], b"Subject: x\r\n\r\nx")
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("x@example.org", ["stranger@lists.example.org"], b"Subject: hi\r\n\r\nhi")
    finally:
        receiver.stop()
    suppression = session.scalars(select(Suppression)).one()
    assert (suppression.email, suppression.reason, suppression.active) == ("bob@example.org", "hard_bounce", True)
    tick(session, day(7))
    assert len(smtp_sink.to("bob@example.org")) == 1 and len(smtp_sink.to("ann@example.org")) == 2
    assert unit_mail(session, "bob@example.org", 1).state == "cancelled"
    assert run_stats(session, session.get(Enrollment, 2).run)["units"][0]["bounced"] == 1  # type: ignore[union-attr]
    from server.floor.events import publish

    publish(session, "enrollment.confirmed", {"enrollment_id": 2, "by": "link"})  # they opened their link
    session.commit()
    assert session.scalars(select(Suppression)).one().active is False


def test_reply_to_a_group_reaches_other_members_and_the_archive(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink, app: TestClient
) -> None:
    with frozen(START):
        run = gentle_run(session, LEARNERS)
    tick(session, day(0))
    welcome = smtp_sink.to("ann@example.org")[0].message
    group_address = welcome["Reply-To"]
    reply = EmailMessage()
    reply["From"] = "Ann Example <ann@example.org>"
    reply["To"] = group_address
    reply["Subject"] = "Re: " + " ".join(welcome["Subject"].split())
    reply["Message-ID"] = "<reply-1@example.org>"
    reply["In-Reply-To"] = welcome["Message-ID"]
    reply.set_content("Hello group, I am Ann and I want to automate my garden.")
    inbound = replace(smtp_settings, inbound_smtp=("127.0.0.1", free_port()))
    use_settings(inbound)
    receiver = start_receiver(inbound)
    try:
        with smtplib.SMTP(*inbound.inbound_smtp) as client:
            client.send_message(reply, to_addrs=[group_address])
            stranger = EmailMessage()
            stranger["From"], stranger["To"], stranger["Subject"] = "spam@example.net", group_address, "Buy"
            stranger["Message-ID"] = "<spam-1@example.net>"
            stranger.set_content("cheap pills")
            client.send_message(stranger, to_addrs=[group_address])
            client.send_message(reply, to_addrs=[group_address])  # the same Message-ID again: no second post
    finally:
        receiver.stop()
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    assert [(p.author_email, p.held) for p in posts] == [("ann@example.org", False), ("spam@example.net", True)]
    assert posts[0].in_reply_to_ref == welcome["Message-ID"] and posts[0].thread_id == posts[0].id
    send_all(session)  # the receiver wrote the relays at the real time: send them now
    relayed = [r for r in smtp_sink.received if "automate my garden" in r.message.get_body(("plain",)).get_content()]
    assert sorted(r.recipients[0] for r in relayed) == ["bob@example.org", "cy@example.org"]
    copy = relayed[0].message
    assert copy["From"].addresses[0].addr_spec == group_address and "Ann" in copy["From"].addresses[0].display_name
    assert copy["Reply-To"] == group_address and copy["X-Loop"] == group_address
    assert copy["Message-ID"] == "<reply-1@example.org>" and copy["List-Post"] == f"<mailto:{group_address}>"
    session.commit()
    # The relayed copy coming back (a member's auto-forward) is a loop and is dropped.
    response = app.post(
        f"/mail/webhooks/inbound?token={mail.routes.webhook_token()}&to={group_address}", content=relayed[0].data
    )
    assert response.json() == {"outcomes": ["loop"]}
    assert app.post("/mail/webhooks/inbound?token=wrong", content=b"x").status_code == 401
    assert run_stats(session, run)["total"]["replies"] == 1
    assert run_stats(session, run)["units"][0]["replies"] == 1


def test_tracking_signed_clicks_and_pixel_or_none_when_off(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink, app: TestClient
) -> None:
    with frozen(START):
        run = gentle_run(session, LEARNERS)
    tick(session, day(7))  # week 1 has no links; catch-up sent welcome, week 1 arrives next day
    tick(session, day(8))
    html = smtp_sink.to("ann@example.org")[0].message.get_body(("html",)).get_content()
    assert "/mail/o/" in html
    token = unit_mail(session, "ann@example.org", 0).token
    from mail.tracking import click_url

    url = click_url(token, "https://www.python.org/downloads/")
    query = parse_qs(urlsplit(url).query)
    response = app.get(urlsplit(url).path + "?" + urlsplit(url).query, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "https://www.python.org/downloads/"
    forged = app.get(f"/mail/c/{token}?u=https://evil.example/&s={query['s'][0]}", follow_redirects=False)
    assert forged.status_code == 400
    assert app.get(f"/mail/o/{token}.gif").headers["content-type"] == "image/gif"
    stats = run_stats(session, run)["units"][0]
    assert (stats["clicked"], stats["opened"]) == (1, 1)
    use_settings(replace(smtp_settings, tracking=False))
    tick(session, day(14))
    untracked = smtp_sink.to("ann@example.org")[-1].message.get_body(("html",)).get_content()
    assert "/mail/o/" not in untracked and "/mail/c/" not in untracked
