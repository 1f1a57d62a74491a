"""A lived-in instance for the organizer and admin pages' browser tests: a run two weeks in, with mail.

`seed()` writes, through the real domain functions, what an organizer looks at after a fortnight:
an admin and an organizer, gentle-python with a run that started 15 days ago, learners who signed up
over several days in five time zones, their study groups, the first units mailed (local outbox),
opens and clicks on some of them, posts by email and from the fediverse, one learner who never
showed a sign of life, a one-off mail, one person still to confirm, a blocked domain and a
suppressed address.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from courses.folder import import_course
from courses.groups import form_groups
from courses.models import Enrollment, Post, StudyGroup, Unit
from courses.runs import create_run
from courses.signup import admin_enroll, invite
from federation.transport.moderation import block_domain
from mail import compose
from mail.models import MailEvent, OutgoingMail
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.suppressions import suppress
from server.floor.accounts import create_account
from server.floor.clock import frozen, now
from server.floor.db import session_scope
from server.floor.queue import DONE

GENTLE = Path(__file__).parents[1] / "fixtures" / "courses" / "gentle-python"
PASSWORD = "correct horse battery"
ADMIN, ORGANIZER = "ada@example.org", "olga@example.org"
ZONES = ("America/New_York", "America/Chicago", "Europe/Paris", "Asia/Kolkata", "Asia/Tokyo")
LEARNERS = 20
QUIET = "learner19@example.org"  # confirmed, mailed, never opened, clicked or posted


@dataclass(frozen=True)
class Seeded:
    """What the tests visit: the course, the run, a unit, a group, and the run's first unit title."""

    course: str
    run: str
    unit: str
    group: str
    first_unit_title: str


def _at(day: datetime, hours: int) -> datetime:
    return datetime.combine(day.date(), time(hours), tzinfo=UTC)


def seed() -> Seeded:
    """Fill the live instance (settings already in use) with a run two weeks in; its handles.

    Runs in a thread of its own: the mail sender uses asyncio, and Playwright's sync API holds an
    event loop in the test's thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_seed).result()


def _seed() -> Seeded:
    today = now()
    start = (today - timedelta(days=15)).date()
    with session_scope() as db, frozen(today - timedelta(days=30)):
        create_account(db, ADMIN, PASSWORD, role="admin", display_name="Ada")
        olga = create_account(db, ORGANIZER, PASSWORD, role="organizer", display_name="Olga")
        course = import_course(db, GENTLE)
        course.owner_id = olga.id
        run = create_run(db, course, start, "Europe/Paris", group_size=6, organizer=olga)
        handle, slug, run_id = run.handle, course.slug, run.id
    # Signups over six days, a few a day, in five zones.
    with session_scope() as db:
        run = db.get(type(run), run_id)
        assert run is not None
        for number in range(LEARNERS):
            with frozen(_at(today - timedelta(days=24 - number // 4), 10 + number % 4)):
                admin_enroll(
                    db, run, f"learner{number}@example.org", name=f"Learner {number}", timezone=ZONES[number % 5],
                    basis="test world", enrolled_by=olga.id,
                )  # fmt: skip
        with frozen(_at(today - timedelta(days=17), 12)):
            form_groups(db, run)
            invite(db, run, "late@example.org", name="Late Comer", timezone="Europe/Paris")
    # The units of the first two weeks, mailed day by day as the jobs would.
    for day in range(15, -1, -1):
        with session_scope() as db, frozen(_at(today - timedelta(days=day), 23)):
            schedule_all_due(db)
            send_all(db)
    with session_scope() as db:
        _engage(db, run_id, today)
        # What fills the admin's tables: a blocked domain, an address we no longer mail.
        block_domain(db, "spam.example", "Floods groups with https://spam.example/a-very-long-link-that-never-breaks")
        suppress(db, "bounced-address-with-a-long-name@example.org", "hard_bounce", "550 5.1.1 user unknown")
        with frozen(today - timedelta(days=1)):
            mail = compose.create(db, run_id, "A word from your organizer", "Hello {{ learner.name }}!", "run")
            compose.send_now(db, mail)
        send_all(db)
        group = db.scalar(select(StudyGroup.handle).where(StudyGroup.run_id == run_id).order_by(StudyGroup.number))
        unit = db.scalar(select(Unit).where(Unit.course_id == course.id).order_by(Unit.position))
        assert group is not None and unit is not None
        return Seeded(slug, handle, unit.slug, group, unit.title)


def _engage(db: object, run_id: int, today: datetime) -> None:
    """Opens and clicks on most learners' unit mails, and group posts by email and from the fediverse."""
    from sqlalchemy.orm import Session

    assert isinstance(db, Session)
    learners = db.execute(
        select(Enrollment.id, Enrollment.email, Enrollment.name, Enrollment.group_id)
        .where(Enrollment.run_id == run_id, Enrollment.status == "confirmed")
        .order_by(Enrollment.id)
    ).all()
    mails = db.execute(
        select(OutgoingMail.id, OutgoingMail.enrollment_id, OutgoingMail.to_addr, OutgoingMail.created_at).where(
            OutgoingMail.run_id == run_id, OutgoingMail.kind == "unit", OutgoingMail.state == DONE
        )
    ).all()
    for index, learner in enumerate(learners):
        if learner.email == QUIET:
            continue
        # Some learners went quiet after the first unit: their signs of life are two weeks old.
        theirs = [m for m in mails if m.enrollment_id == learner.id]
        recent = theirs if index % 3 else theirs[:1]
        for mail in recent:
            db.add(MailEvent(mail_id=mail.id, kind="open", email=mail.to_addr, created_at=mail.created_at))
            if index % 2:
                clicked = mail.created_at + timedelta(hours=2)
                db.add(MailEvent(mail_id=mail.id, kind="click", email=mail.to_addr, created_at=clicked))
        if index % 3 and learner.group_id is not None:
            for day in range(index % 4 + 1):
                fediverse = index % 4 == 1
                db.add(
                    Post(
                        group_id=learner.group_id, run_id=run_id, kind="group",
                        source="activitypub" if fediverse else "email",
                        author_email=None if fediverse else learner.email,
                        author_actor=f"https://social.example/users/l{index}" if fediverse else None,
                        author_name=learner.name, subject=f"Day {day} notes", text="Here is what I tried.",
                        html="<p>Here is what I tried.</p>", created_at=today - timedelta(days=2 + 3 * day, hours=index),
                    )
                )  # fmt: skip
    db.flush()
