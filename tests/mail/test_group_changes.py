"""Groups that change while a run runs (issue 11, items 3, 5, 7): removals that stick, paused members who
still post, merged groups that forward and tell, promotions that are told, suppressions an admin cannot lift."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import learner
from courses.groups import form_groups
from courses.models import Enrollment, Post, Run, StudyGroup
from courses.runs import advance_runs
from courses.signup import admin_enroll, confirm, request_signup
from federation.flows.cohorts import remove_member
from mail.inbound import start_receiver
from mail.models import OutgoingMail, Suppression
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.suppressions import suppress
from server.floor import urls
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink, free_port

START = datetime(2026, 3, 1, tzinfo=UTC)
DAY0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
PEOPLE = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal"]


def learners(names: list[str]) -> list[tuple[str, str, str]]:
    return [(f"{name}@example.org", name.title(), "UTC") for name in names]


def enrollment(session: Session, address: str) -> Enrollment:
    session.expire_all()
    return session.scalars(select(Enrollment).where(Enrollment.email == address)).one()


def tick(session: Session, at: datetime) -> None:
    with frozen(at):
        schedule_all_due(session)
        send_all(session)


def post_by_smtp(settings: Settings, sender: str, to: str, subject: str, text: str) -> None:
    """Mail `to` from `sender` through the built-in receiver, as a member's mail program does."""
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


def test_a_removed_member_stays_out_at_every_regrouping(session: Session) -> None:
    with frozen(START):
        run = gentle_run(session, learners(PEOPLE[:4]))
    run.status = "open"
    group = session.scalars(select(StudyGroup)).one()
    remove_member(session, group, "bob@example.org")
    form_groups(session, run)  # `mechmooc run group`
    advance_runs(session, datetime(2026, 3, 2, 1, tzinfo=UTC))  # the run starts
    advance_runs(session, datetime(2026, 6, 1, tzinfo=UTC))  # the run ends
    bob = enrollment(session, "bob@example.org")
    assert bob.group_id is None and bob.status == "confirmed"
    assert enrollment(session, "ann@example.org").group_id == group.id


def test_a_paused_member_still_posts_to_the_group(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        gentle_run(session, learners(PEOPLE[:3]))
    learner.pause(session, enrollment(session, "bob@example.org").token)
    session.commit()
    address = urls.group_address(session.scalars(select(StudyGroup)).one().handle)
    post_by_smtp(smtp_settings, "bob@example.org", address, "Back next week", "Paused, but still here.")
    post = session.scalars(select(Post)).one()
    assert (post.author_email, post.held) == ("bob@example.org", False)
    send_all(session)
    relayed = sorted(r.recipients[0] for r in smtp_sink.received if "still here" in r.data.decode())
    assert relayed == ["ann@example.org", "cy@example.org"]


def test_a_merged_group_forwards_its_address_and_its_members_are_told(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, learners(PEOPLE), group_size=4)
    run.group_size = 4
    session.commit()
    first, second = session.scalars(select(StudyGroup).order_by(StudyGroup.number)).all()
    old_address, new_address = urls.group_address(first.handle), urls.group_address(second.handle)
    with frozen(START):
        for name in ("bob", "cy", "dee"):
            learner.leave(session, enrollment(session, f"{name}@example.org").token)
        session.commit()
    assert enrollment(session, "ann@example.org").group_id == second.id
    tick(session, START)
    notice = [r.message for r in smtp_sink.to("ann@example.org") if "joined" in str(r.message["Subject"])]
    assert len(notice) == 1 and notice[0]["Reply-To"] == new_address
    text = notice[0].get_body(("plain",)).get_content()
    assert new_address in text and old_address in text
    assert [r for r in smtp_sink.to("eve@example.org") if "joined" in str(r.message["Subject"])] == []
    # Mail to the old address reaches the new group.
    post_by_smtp(smtp_settings, "ann@example.org", old_address, "Hello new group", "Glad to join you.")
    post = session.scalars(select(Post)).one()
    assert (post.group_id, post.held) == (second.id, False)
    send_all(session)
    relayed = sorted(r.recipients[0] for r in smtp_sink.received if "Glad to join you" in r.data.decode())
    assert relayed == [f"{name}@example.org" for name in ("eve", "fay", "gus", "hal")]


def test_the_learner_promoted_from_the_waiting_list_is_told(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, learners(["ann"]))
        run.capacity = 1
        request_signup(session, run, "wes@example.org", "Wes", "UTC")
        confirm(session, enrollment(session, "wes@example.org").token)
        assert enrollment(session, "wes@example.org").status == "waitlisted"
        learner.leave(session, enrollment(session, "ann@example.org").token)
        session.commit()
    assert enrollment(session, "wes@example.org").status == "confirmed"
    tick(session, START)
    told = [r.message for r in smtp_sink.to("wes@example.org") if "A place for you" in str(r.message["Subject"])]
    assert len(told) == 1 and "it is yours" in told[0].get_body(("plain",)).get_content()


def test_an_admin_enroll_leaves_complaints_bounces_and_opt_outs_suppressed(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    reasons = {"cat@example.org": "complaint", "dan@example.org": "hard_bounce", "ela@example.org": "unsubscribed"}
    with frozen(START):
        run = gentle_run(session, learners(["ann"]))
        for address, reason in reasons.items():
            suppress(session, address, reason)
            admin_enroll(session, run, address, address[:3].title(), "UTC")
        session.commit()
    active = dict(session.execute(select(Suppression.email, Suppression.active)).tuples().all())
    assert active == dict.fromkeys(reasons, True)
    tick(session, DAY0)
    assert len(smtp_sink.to("ann@example.org")) == 1
    assert all(smtp_sink.to(address) == [] for address in reasons)
    cancelled = session.scalars(select(OutgoingMail.state).where(OutgoingMail.to_addr.in_(reasons))).all()
    assert cancelled and set(cancelled) == {"cancelled"}
    # The person confirming again themselves is what lifts it.
    ela = enrollment(session, "ela@example.org")
    learner.leave(session, ela.token)
    with frozen(DAY0):
        request_signup(session, run, "ela@example.org", "Ela", "UTC")
        confirm(session, ela.token)
    session.commit()
    lifted = session.scalars(select(Suppression).where(Suppression.email == "ela@example.org")).one()
    assert lifted.active is False


def test_a_late_joiner_goes_to_a_group_with_members_not_to_a_merged_one(session: Session) -> None:
    """A merged group is no candidate for late joiners: they go to a group with members."""
    with frozen(START):
        run = gentle_run(session, learners(PEOPLE), group_size=4)
    run.group_size = 4
    first, second = session.scalars(select(StudyGroup).order_by(StudyGroup.number)).all()
    for name in ("bob", "cy", "dee"):
        learner.leave(session, enrollment(session, f"{name}@example.org").token)
    assert session.get(StudyGroup, first.id).merged_into_id == second.id  # type: ignore[union-attr]
    with frozen(DAY0):
        late = admin_enroll(session, session.get(Run, run.id), "ida@example.org", "Ida", "UTC")  # type: ignore[arg-type]
    assert late.group_id == second.id
