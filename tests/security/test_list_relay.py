"""Trust, low findings of the group lists: auto-replies and spoofed members are not relayed, and the group
archive loads nothing remote.

Each test sends real mail to the lists' SMTP receiver (aiosmtpd) as an outside sender would, lets
the outbox send to a real SMTP sink, and looks at what the other members and the archive got.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.mail.conftest are test parameters)

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import nh3
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.models import Enrollment, Post, StudyGroup
from mail.inbound import start_receiver
from mail.models import InboundMessage
from mail.sender import send_all
from server.floor import urls
from server.floor.clock import frozen, now
from server.floor.config import use_settings
from server.floor.events import publish
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.mail.conftest import gentle_run, smtp_settings, smtp_sink  # noqa: F401
from tests.support.smtp import SmtpSink, free_port

START = datetime(2026, 3, 1, tzinfo=UTC)
ANN, BOB = "ann@example.org", "bob@example.org"
MX = "mx.lists.example.org"


@contextmanager
def receiver(settings: Settings) -> Iterator[smtplib.SMTP]:
    """A client connected to the group lists' SMTP receiver, started with `settings` as `serve` starts it."""
    inbound = replace(settings, inbound_smtp=("127.0.0.1", free_port()))
    use_settings(inbound)
    controller = start_receiver(inbound)
    try:
        assert inbound.inbound_smtp is not None
        with smtplib.SMTP(*inbound.inbound_smtp) as client:
            yield client
    finally:
        controller.stop()
        use_settings(settings)


def a_group(session: Session) -> str:
    """Ann and Bob in one study group; its list address."""
    with frozen(START):
        gentle_run(session, [(ANN, "Ann", "UTC"), (BOB, "Bob", "UTC")])
    handle = session.scalars(select(StudyGroup.handle)).one()
    session.commit()
    return urls.group_address(handle)


def mail(group: str, tag: str, headers: dict[str, str] | None = None, sender: str = f"Ann <{ANN}>") -> bytes:
    """A mail to the group whose Message-ID and body say which case it is."""
    lines = [f"From: {sender}", f"To: {group}", f"Subject: {tag}", f"Message-ID: <{tag}@example.org>"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + f"\r\n\r\nbody of {tag}\r\n").encode()


def relayed_to_bob(smtp_sink: SmtpSink) -> list[str]:
    """The subjects of the relays Bob received."""
    return sorted(str(r.message["Subject"]) for r in smtp_sink.to(BOB))


def outcomes(session: Session) -> dict[str, tuple[str, bool | None]]:
    """Each received mail's recorded outcome, and whether its post (if any) is held."""
    rows = session.execute(
        select(InboundMessage.message_id, InboundMessage.outcome, Post.held).outerjoin(
            Post, Post.id == InboundMessage.post_id
        )
    ).all()
    session.commit()
    return {message_id.strip("<>").split("@")[0]: (outcome, held) for message_id, outcome, held in rows}


def test_auto_replies_are_recorded_and_dropped(session: Session, smtp_settings: Settings, smtp_sink: SmtpSink) -> None:
    group = a_group(session)
    cases = {
        "auto-replied": {"Auto-Submitted": "auto-replied"},
        "auto-generated": {"Auto-Submitted": "auto-generated; owner-email=ann@example.org"},
        "bulk": {"Precedence": "bulk"},
        "junk": {"Precedence": "junk"},
        "list": {"Precedence": "list"},
        "x-autoreply": {"X-Autoreply": "yes"},
        "x-autorespond": {"X-Autorespond": "Out of office"},
        "return-path": {"Return-Path": "<>"},
    }
    with receiver(smtp_settings) as client:
        for tag, headers in cases.items():
            client.sendmail(ANN, [group], mail(group, tag, headers))
        client.sendmail("<>", [group], mail(group, "null-sender"))  # a vacation notice's empty MAIL FROM
        client.sendmail(ANN, [group], mail(group, "written-by-ann", {"Auto-Submitted": "no"}))
    send_all(session)
    recorded = outcomes(session)
    for tag in [*cases, "null-sender"]:
        assert recorded[tag] == ("dropped: auto-reply", None), tag
    assert recorded["written-by-ann"] == ("posted", False)
    assert relayed_to_bob(smtp_sink) == ["written-by-ann"]
    assert session.scalars(select(Post.subject)).all() == ["written-by-ann"]


def test_a_members_from_that_fails_authentication_is_held(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    group = a_group(session)
    # No MTA in front: the envelope sender must be in the From domain.
    with receiver(smtp_settings) as client:
        client.sendmail("mallory@evil.example", [group], mail(group, "forged-envelope"))
        client.sendmail(ANN, [group], mail(group, "two-froms", sender=f"{ANN}, mallory@evil.example"))
        client.sendmail("bounce-77@mail.example.org", [group], mail(group, "aligned-envelope"))
    # An MTA in front that writes Authentication-Results: only its own, topmost header is believed.
    behind_mx = replace(smtp_settings, mail_authserv_ids=(MX,))
    forged = {
        "Authentication-Results": "mx.evil.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"
    }
    with receiver(behind_mx) as client:
        client.sendmail(ANN, [group], mail(group, "no-results"))
        client.sendmail(ANN, [group], mail(group, "foreign-results", forged))
        client.sendmail(
            ANN, [group], mail(group, "dkim-fail", {"Authentication-Results": f"{MX}; dkim=fail header.d=example.org"})
        )
        client.sendmail(
            ANN,
            [group],
            mail(
                group,
                "unaligned",
                {
                    "Authentication-Results": f"{MX}; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example"
                },
            ),
        )
        client.sendmail(ANN, [group], (f"Authentication-Results: {MX}; dkim=fail header.d=example.org\r\n"
                                       f"Authentication-Results: {MX}; dkim=pass header.d=example.org\r\n").encode()
                        + mail(group, "pass-below-fail"))  # fmt: skip
        client.sendmail(
            "x@evil.example",
            [group],
            mail(
                group,
                "dkim-pass",
                {"Authentication-Results": f"{MX} 1; dkim=pass (good) header.d=example.org header.s=s1"},
            ),
        )
        client.sendmail(
            ANN,
            [group],
            mail(
                group,
                "dmarc-pass",
                {"Authentication-Results": f"{MX}; spf=none; dmarc=pass (p=reject) header.from=example.org"},
            ),
        )
    send_all(session)
    recorded = outcomes(session)
    for tag in (
        "forged-envelope",
        "two-froms",
        "no-results",
        "foreign-results",
        "dkim-fail",
        "unaligned",
        "pass-below-fail",
    ):
        assert recorded[tag] == ("held: sender not authenticated", True), tag
    for tag in ("aligned-envelope", "dkim-pass", "dmarc-pass"):
        assert recorded[tag] == ("posted", False), tag
    assert relayed_to_bob(smtp_sink) == ["aligned-envelope", "dkim-pass", "dmarc-pass"]
    # A held post waits for the organizer, under the name its From gave, not the member's.
    held = session.scalars(select(Post).where(Post.subject == "forged-envelope")).one()
    assert held.held and held.author_email == ANN


def test_the_group_archive_shows_no_remote_image(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    group = a_group(session)
    tracker = '<p>My chart <img src="https://tracker.example/p.gif?who=reader" alt="chart"> here</p>'
    html_mail = (
        f"From: Ann <{ANN}>\r\nTo: {group}\r\nSubject: chart by mail\r\nMessage-ID: <chart-1@example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nMy chart here\r\n"
        f"--B\r\nContent-Type: text/html\r\n\r\n{tracker}\r\n--B--\r\n"
    ).encode()
    with receiver(smtp_settings) as client:
        client.sendmail(ANN, [group], html_mail)
    # A fediverse member's post, stored as the federation package stores it (nh3's default allowlist keeps <img>).
    study_group = session.scalars(select(StudyGroup)).one()
    fediverse = Post(
        group_id=study_group.id, run_id=study_group.run_id, kind="group", source="activitypub",
        author_actor="https://remote.example/users/cy", author_name="Cy", subject="chart from the fediverse",
        text="My chart here", html=nh3.clean(tracker.replace("reader", "fediverse")), created_at=now(),
    )  # fmt: skip
    session.add(fediverse)
    session.flush()
    fediverse.thread_id = fediverse.id
    assert "<img" in fediverse.html  # what is stored
    publish(session, "post.created", {"post_id": fediverse.id})
    bob = session.scalars(select(Enrollment).where(Enrollment.email == BOB)).one()
    session.commit()
    send_all(session)
    with TestClient(create_app(smtp_settings), base_url=smtp_settings.url) as site:
        archive = site.get(f"/me/{bob.token}/group").text
    assert "chart by mail" in archive and "chart from the fediverse" in archive and "My chart" in archive
    assert "<img" not in archive and "tracker.example" not in archive
    for copy in smtp_sink.to(BOB):
        html = copy.message.get_body(("html",)).get_content()  # type: ignore[attr-defined]
        assert "<img" not in html and "tracker.example" not in html


def test_oversized_from_and_message_id_are_held_not_a_crash(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    """A From longer than SMTP allows overflowed posts.author_email on PostgreSQL (the fuzz test found it)."""
    group = a_group(session)
    long_from = "a" * 400 + "@example.org"
    raw = mail(group, "x" * 700, sender=f"Someone <{long_from}>")
    with receiver(smtp_settings) as client:
        client.sendmail(ANN, [group], raw)
    rows = session.execute(select(InboundMessage.message_id, InboundMessage.sender, InboundMessage.outcome)).all()
    session.commit()
    assert len(rows) == 1
    message_id, sender, outcome = rows[0]
    assert len(message_id) <= 500 and sender == "" and outcome == "held"
    assert relayed_to_bob(smtp_sink) == []
