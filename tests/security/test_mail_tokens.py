"""Trust, item 7: a mail's secrets must not travel to the rest of the group.

The attack this file replays: a learner answers a course mail to her study group, as mail clients
do: `In-Reply-To`/`References` name the mail she answers, and her reply quotes it, footer included
(her magic link, her unsubscribe link, click-tracking links). The list relays all of it to every
member. Formerly the Message-ID was the mail's token, which unsubscribed her (from everything,
with `scope=all`), and the quoted links opened her page. Now no string in the relayed copy works
anywhere for anyone but its recipient, and stopping every mail needs the person's confirmation.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.mail.conftest are test parameters)

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.models import Enrollment
from mail import compose
from mail.addresses import unsubscribe_key, verp
from mail.inbound import start_receiver
from mail.models import OutgoingMail, Suppression
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.stats import run_stats
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.mail.conftest import gentle_run, smtp_settings, smtp_sink  # noqa: F401
from tests.support.smtp import SmtpSink, free_port

START = datetime(2026, 3, 1, tzinfo=UTC)
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC"), ("cy@example.org", "Cy", "UTC")]
ANN, BOB = "ann@example.org", "bob@example.org"
# What a token looks like: a long run of URL-safe characters with a digit in it (hex, base64url, signed).
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_.=+-]{16,}")


def day(n: int) -> datetime:
    """Noon UTC, n days after the run starts (2026-03-02)."""
    return datetime(2026, 3, 2, 12, tzinfo=UTC) + timedelta(days=n)


def tick(session: Session, at: datetime) -> None:
    with frozen(at):
        schedule_all_due(session)
        send_all(session)


@contextmanager
def receiver(settings: Settings) -> Iterator[tuple[str, int]]:
    """The group lists' SMTP receiver (aiosmtpd) on a free port, as `serve` starts it."""
    inbound = replace(settings, inbound_smtp=("127.0.0.1", free_port()))
    use_settings(inbound)
    controller = start_receiver(inbound)
    try:
        assert inbound.inbound_smtp is not None
        yield inbound.inbound_smtp
    finally:
        controller.stop()
        use_settings(settings)


def reply_quoting(original: Message, text: str) -> EmailMessage:
    """Ann's answer to `original`, written to her group as a mail client writes it: the whole mail quoted."""
    body_text = original.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    body_html = original.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    reply = EmailMessage()
    reply["From"] = "Ann Example <ann@example.org>"
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "Re: " + " ".join(str(original["Subject"]).split())
    reply["Message-ID"] = f"<reply-{abs(hash(text))}@example.org>"
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    quoted = "\n".join("> " + line for line in body_text.splitlines())
    reply.set_content(f"{text}\n\nOn Monday, the course wrote:\n{quoted}\n")
    reply.add_alternative(f"<div>{text}</div><blockquote type='cite'>{body_html}</blockquote>", subtype="html")
    return reply


def candidates(message: Message) -> set[str]:
    """Every token-looking string of a received mail: its headers, its text and its HTML, and their pieces."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    parts += [message.get_body((kind,)).get_content() for kind in ("plain", "html")]  # type: ignore[attr-defined]
    found: set[str] = set()
    for part in parts:
        for match in TOKEN_LIKE.findall(part):
            found.update(piece for piece in re.split(r"[.@+=]", match) + [match] if len(piece) >= 16)
    return {value for value in found if any(c.isdigit() for c in value)}


def secrets_of(session: Session, address: str) -> set[str]:
    """Everything that would act for `address`: the magic link token, each mail's token, keys and VERP address."""
    enrollment = session.scalars(select(Enrollment).where(Enrollment.email == address)).one()
    tokens = session.scalars(select(OutgoingMail.token).where(OutgoingMail.to_addr == address)).all()
    found = {enrollment.token}
    for token in tokens:
        found |= {token, unsubscribe_key(token), verp(token).split("@")[0].removeprefix("bounces+")}
    session.commit()
    return found


def dsn_for(return_path: str, recipient: str) -> bytes:
    """A forged permanent-failure DSN naming `recipient`."""
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {return_path}\r\nSubject: Undelivered\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n\r\n--B--\r\n"
    ).encode()


def test_no_string_of_a_relayed_reply_acts_for_its_author(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, LEARNERS)
    tick(session, day(0))  # the welcome unit
    with frozen(day(1)):  # an organizer's one-off mail with a link: tracked in its HTML
        meetup = compose.create(session, run.id, "Meet-up", "Slides: [slides](https://example.org/slides)")
        compose.send_now(session, meetup)
        session.commit()
        send_all(session)
    welcome, one_off = (m.message for m in smtp_sink.to(ANN))
    assert "/mail/c/" in one_off.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    ann_secrets = secrets_of(session, ANN)

    with receiver(smtp_settings) as inbound, smtplib.SMTP(*inbound) as client:
        # Mail filters rewrite links (Outlook's Safe Links): a reply quotes them so, her page's link encoded inside.
        page = next(line for line in welcome.get_body(("plain",)).get_content().splitlines() if "/me/" in line)  # type: ignore[attr-defined]
        wrapped = "https://eur01.safelinks.protection.outlook.com/?url=" + quote(page.split()[-1], safe="") + "&data=05"
        hello = f"Hello all, I am Ann. My page, as my mail program shows it: {wrapped}"
        for original, words in ((welcome, hello), (one_off, "See you at the meet-up.")):
            client.send_message(reply_quoting(original, words), from_addr=ANN, to_addrs=[original["Reply-To"]])
    send_all(session)
    relayed = [r for r in smtp_sink.to(BOB) if str(r.message["Subject"]).startswith("Re:")]
    assert len(relayed) == 2

    # Threading still works: the copy names the unit mail it answers, and the reply is matched to it by lookup.
    first = next(r.message for r in relayed if r.message["In-Reply-To"] == welcome["Message-ID"])
    assert first["References"] == welcome["Message-ID"]
    assert run_stats(session, run)["units"][0]["replies"] == 1
    session.commit()

    # None of Ann's secrets is in what Bob got, in any form; her quoted links are gone.
    everything = "".join(
        copy.data.decode("utf-8", "replace") + copy.message.get_body((kind,)).get_content()  # type: ignore[attr-defined]
        for copy in relayed
        for kind in ("plain", "html")
    )
    assert not [secret for secret in ann_secrets if secret in everything]
    assert "https://example.org/slides" in everything  # a tracked link stays, as the link it stood for

    # Every token-looking string of the copies, tried on every route that takes a secret.
    tried = set().union(*(candidates(r.message) for r in relayed))
    bob_keys = {
        unsubscribe_key(t) for t in session.scalars(select(OutgoingMail.token).where(OutgoingMail.to_addr == BOB))
    }
    session.commit()
    worked: set[str] = set()
    with TestClient(create_app(smtp_settings), base_url=smtp_settings.url) as site:
        for value in sorted(tried):
            assert site.get(f"/me/{value}").status_code == 404, value
            assert site.get(f"/me/{value}/group").status_code == 404, value
            assert site.get(f"/signup/confirm/{value}").status_code == 404, value
            assert site.get(f"/password/reset/{value}").status_code == 400, value
            assert site.get(f"/mail/unsubscribe/all/{value}").status_code == 404, value
            assert site.post(f"/mail/unsubscribe/all/{value}").status_code == 404, value
            page = site.get(f"/mail/unsubscribe/{value}")
            assert ANN not in page.text, value
            done = site.post(f"/mail/unsubscribe/{value}", data={"scope": "all"})
            assert ANN not in done.text, value
            if page.status_code != 404 or done.status_code != 404:
                worked.add(value)
    # Only Bob's own unsubscribe link (List-Unsubscribe, the footer) does anything: to Bob, from his run.
    assert worked <= bob_keys

    with receiver(smtp_settings) as inbound, smtplib.SMTP(*inbound) as client:
        for value in sorted(tried):
            try:  # a forged DSN to a VERP address made of the string: refused, nobody suppressed
                client.sendmail("", [f"bounces+{value}@lists.example.org"], dsn_for(f"bounces+{value}", ANN))
            except smtplib.SMTPRecipientsRefused:
                pass
            else:
                raise AssertionError(f"a DSN to bounces+{value} was accepted")
            client.sendmail(BOB, [f"unsubscribe+{value}@lists.example.org"], b"Subject: unsubscribe\r\n\r\n")

    # Ann is untouched: in her run, not suppressed, asked nothing, and her next unit reaches her.
    ann = session.scalars(select(Enrollment).where(Enrollment.email == ANN)).one()
    assert ann.status == "confirmed"
    assert session.scalars(select(Suppression).where(Suppression.email == ANN)).all() == []
    assert not session.scalars(select(OutgoingMail.key).where(OutgoingMail.key.like("stop-all:ann%"))).all()
    session.commit()
    tick(session, day(7))
    assert any("Week 1" in str(r.message["Subject"]) for r in smtp_sink.to(ANN))

    # The group archive another member opens (Bob left by his own link above) shows Ann's words, none of
    # her secrets, and no tracking.
    cy = session.scalars(select(Enrollment).where(Enrollment.email == "cy@example.org")).one()
    session.commit()
    with TestClient(create_app(smtp_settings), base_url=smtp_settings.url) as site:
        archive = site.get(f"/me/{cy.token}/group").text
    assert "Hello all, I am Ann." in archive and "See you at the meet-up." in archive
    assert not [secret for secret in ann_secrets if secret in archive]
    assert "/mail/c/" not in archive and "/mail/o/" not in archive and "<img" not in archive


def test_stopping_every_mail_takes_the_persons_confirmation(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    tick(session, day(0))
    token = session.scalars(select(OutgoingMail.token).where(OutgoingMail.to_addr == ANN)).one()
    session.commit()
    key = unsubscribe_key(token)
    with TestClient(create_app(smtp_settings), base_url=smtp_settings.url) as site:
        # The mail's key with scope=all (a quoted link, say): her run only, and a question to her mailbox.
        for _ in range(3):
            asked = site.post(f"/mail/unsubscribe/{key}", data={"scope": "all", "page": "1"}, follow_redirects=False)
            assert asked.status_code == 303 and asked.headers["location"].endswith("?done=asked")
        assert "open the link we have just sent" in site.get(asked.headers["location"]).text
        assert session.scalars(select(Suppression).where(Suppression.email == ANN)).all() == []
        session.commit()
        send_all(session)
        questions = [r.message for r in smtp_sink.to(ANN) if "Confirm: stop every mail" in str(r.message["Subject"])]
        assert len(questions) == 1  # asked three times, one mail
        link = re.search(r"https?://\S+/mail/unsubscribe/all/\S+", questions[0].get_body(("plain",)).get_content())  # type: ignore[attr-defined]
        assert link is not None
        path = link.group(0).removeprefix(smtp_settings.url)
        # Opening the link (or a mail scanner fetching it) changes nothing; the button does.
        assert ANN in site.get(path).text
        assert session.scalars(select(Suppression).where(Suppression.email == ANN)).all() == []
        session.commit()
        assert site.post(path + "x").status_code == 404  # a forged signature
        done = site.post(path, data={"page": "1"}, follow_redirects=False)
        assert done.status_code == 303 and "no more mail from this instance" in site.get(done.headers["location"]).text
    suppression = session.scalars(select(Suppression).where(Suppression.email == ANN)).one()
    assert (suppression.active, suppression.reason) == (True, "unsubscribed")
    assert [e.status for e in session.scalars(select(Enrollment).order_by(Enrollment.id))] == [
        "unsubscribed",
        "confirmed",
        "confirmed",
    ]
