"""The mail package's reactions to course events, and the send paths' answers to SMTP refusals."""

from __future__ import annotations

import mailbox
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.models import OutgoingMail
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.transport import outbox_path
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.events import publish, subscribe
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink

START = datetime(2026, 3, 1, tzinfo=UTC)


def noon(n: int) -> datetime:
    return datetime(2026, 3, 2, 12, tzinfo=UTC) + timedelta(days=n)


def units_of(session: Session, address: str) -> list[int | None]:
    rows = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == address, OutgoingMail.kind == "unit"))
    return sorted(row.unit_position for row in rows)  # type: ignore[type-var]


def test_pause_then_resume_sends_missed_units_one_a_day(session: Session, settings: Settings) -> None:
    with frozen(START):
        run = gentle_run(session, [("ann@example.org", "Ann", "UTC")])
    ann = session.scalars(select(Enrollment)).one()
    with frozen(noon(0)):
        schedule_all_due(session)
        ann.status = "paused"
        publish(session, "enrollment.changed", {"enrollment_id": ann.id, "change": "paused"})
        session.commit()
    with frozen(noon(20)):
        assert schedule_all_due(session) == 0
        ann.status = "confirmed"
        publish(session, "enrollment.changed", {"enrollment_id": ann.id, "change": "resumed"})
        session.commit()
        assert schedule_all_due(session) == 1  # unit 1 at once, not units 1 and 2 together
    assert units_of(session, "ann@example.org") == [0, 1]
    with frozen(noon(21)):
        schedule_all_due(session)
    assert units_of(session, "ann@example.org") == [0, 1, 2]
    assert run.id


def test_fediverse_learner_gets_an_event_not_a_mail_and_bulk_confirm_starts_cursors(
    session: Session, settings: Settings
) -> None:
    seen: list[dict[str, object]] = []
    subscribe("unit.due_for_actor", lambda _s, payload: seen.append(payload))
    with frozen(START):
        run = gentle_run(session, [("ann@example.org", "Ann", "UTC")])
        fedi = Enrollment(
            run_id=run.id,
            actor="https://social.example/users/bo",
            status="confirmed",
            token=secrets.token_hex(8),
            timezone="Asia/Tokyo",
        )
        bulk = [
            Enrollment(run_id=run.id, email=f"b{i}@example.org", status="confirmed", token=secrets.token_hex(8))
            for i in range(3)
        ]
        session.add_all([fedi, *bulk])
        session.flush()
        publish(session, "enrollment.confirmed", {"enrollment_id": fedi.id})
        publish(session, "enrollments.confirmed", {"run_id": run.id, "enrollment_ids": [e.id for e in bulk]})
        session.commit()
    with frozen(noon(0)):
        assert schedule_all_due(session) == 5
    assert [p for p in seen if p["enrollment_id"] == fedi.id] == [
        {"enrollment_id": fedi.id, "position": 0, "key": f"unit:{run.id}:{fedi.id}:welcome"}
    ]
    assert units_of(session, "b2@example.org") == [0]


def test_signup_request_sends_the_confirmation_link_to_the_local_outbox(session: Session, settings: Settings) -> None:
    with frozen(START):
        run = gentle_run(session, [])
    pending = Enrollment(run_id=run.id, email="new@example.org", name="New", status="pending", token="tok123")
    session.add(pending)
    session.flush()
    publish(session, "enrollment.requested", {"enrollment_id": pending.id})
    publish(session, "enrollment.requested", {"enrollment_id": pending.id})  # a repeated event sends once
    session.commit()
    assert send_all(session).sent == 1
    box = mailbox.Maildir(str(outbox_path(settings.data_dir)), create=False)
    [stored] = list(box)
    assert stored["To"] == "new@example.org" and stored["Return-Path"].startswith("<bounces+")
    text_part = stored.get_payload(0)  # multipart/alternative: the text part first
    assert "http://testserver.localhost/signup/confirm/tok123" in text_part.get_payload(decode=True).decode()


def test_4xx_is_retried_with_backoff_and_5xx_fails(session: Session, settings: Settings) -> None:
    with SmtpSink(refuse={"soft@example.org": 451, "hard@example.org": 550}) as sink:
        use_settings(replace(settings, smtp_url=sink.url))
        with frozen(START):
            gentle_run(
                session,
                [("soft@example.org", "S", "UTC"), ("hard@example.org", "H", "UTC"), ("fine@example.org", "F", "UTC")],
            )
        with frozen(noon(0)):
            schedule_all_due(session)
            report = send_all(session)
        assert (report.sent, report.retried, report.failed) == (1, 1, 1)
        soft = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "soft@example.org")).one()
        assert soft.state == "queued" and soft.next_attempt_at == noon(0) + timedelta(minutes=1)
        sink.refuse.clear()
        with frozen(noon(0) + timedelta(minutes=2)):
            assert send_all(session).sent == 1
        assert sorted(r.recipients[0] for r in sink.received) == ["fine@example.org", "soft@example.org"]
        hard = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "hard@example.org")).one()
        assert hard.state == "failed" and hard.last_error.startswith("550")
        use_settings(settings)


def test_a_unit_that_does_not_render_fails_alone_and_names_the_unit(session: Session, settings: Settings) -> None:
    from courses.models import CourseVersion

    with frozen(START):
        run = gentle_run(session, [("ann@example.org", "Ann", "UTC")])
    version = session.scalars(select(CourseVersion)).one()
    snapshot = dict(version.snapshot)
    snapshot["units"] = [dict(u) for u in snapshot["units"]]
    snapshot["units"][0]["body"] = "Hello {{ learner.name "
    version.snapshot = snapshot
    session.commit()
    with frozen(noon(7)):
        assert schedule_all_due(session) == 2  # the broken welcome and week 1, both due by day 7
    rows = session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
    assert rows[0].state == "failed" and rows[0].last_error.startswith("unit welcome of gentle-python line 1")
    assert rows[1].state == "queued" and rows[1].unit_position == 1
    assert run.id


def test_a_fediverse_post_in_a_group_is_relayed_to_every_email_member(session: Session, settings: Settings) -> None:
    from courses.models import Post, StudyGroup

    with frozen(START):
        gentle_run(session, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
    group = session.scalars(select(StudyGroup)).one()
    post = Post(
        group_id=group.id,
        run_id=group.run_id,
        source="activitypub",
        author_actor="https://social.example/users/bo",
        author_name="Bo",
        subject="",
        text="Hello from Mastodon",
        html="<p>Hello from Mastodon</p>",
    )
    session.add(post)
    session.flush()
    publish(session, "post.created", {"post_id": post.id})
    publish(session, "post.created", {"post_id": post.id})  # a repeated event relays once
    session.commit()
    relays = session.scalars(select(OutgoingMail).where(OutgoingMail.kind == "relay")).all()
    assert sorted(r.to_addr for r in relays) == ["ann@example.org", "bob@example.org"]
    assert (
        "From: Bo via" in relays[0].message and f"Message-ID: <post-{post.id}@lists.example.org>" in relays[0].message
    )
