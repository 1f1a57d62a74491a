"""`serve --demo`: an empty instance gets the course folders shipped here, one open run with a study group
of made-up learners, and a demo admin who logs in by a one-time link printed in the console."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.floor.accounts import Account, create_account
from server.floor.clock import now
from server.floor.db import session_scope

log = logging.getLogger("mechmooc.demo")
COURSE_FOLDERS = Path(__file__).parent / "courses"
# Made-up people at example.org (a domain that takes no mail): the first writes to the group in the tour.
DEMO_LEARNERS = (
    ("ada@example.org", "Ada", "Europe/London"),
    ("grace@example.org", "Grace", "Europe/Paris"),
    ("alan@example.org", "Alan", "Europe/Berlin"),
)
DEMO_BASIS = "demo: made-up learners of `mechmooc serve --demo`"
DEMO_ADMIN = ("demo-admin@example.org", "demo-admin", "Demo admin")


def demo_folders() -> list[Path]:
    """The course folders shipped with the package (copies of shared/fixtures/courses)."""
    return sorted(path for path in COURSE_FOLDERS.iterdir() if (path / "course.toml").is_file())


def fill_demo() -> bool:
    """Import the demo courses, open a run of the first with a study group of made-up learners, and add a
    demo admin, unless the instance has courses; True if filled."""
    from courses.folder import import_course
    from courses.groups import group_now
    from courses.models import Course
    from courses.runs import create_run
    from courses.signup import admin_enroll
    from web.welcome import mark_demo

    with session_scope() as session:
        if session.scalar(select(func.count()).select_from(Course)):
            log.info("--demo: the instance already has courses; leaving it as it is")
            return False
    # One transaction: a failure leaves the instance empty, so the next `--demo` tries again.
    with session_scope() as session:
        courses = [import_course(session, folder) for folder in demo_folders()]
        # Starting next week leaves the run open for signups when a visitor first looks.
        run = create_run(session, courses[0], start=(now() + timedelta(days=7)).date())
        for email, name, zone in DEMO_LEARNERS:
            admin_enroll(session, run, email, name=name, timezone=zone, basis=DEMO_BASIS)
        # Formed now rather than the day before the start: the tour writes to the group at once, and a
        # learner who signs up joins it when they confirm.
        group_now(session, run)
        admin = _demo_admin(session)
        mark_demo(session, run.handle, sender=DEMO_LEARNERS[0][0], admin_email=admin.email)
        slugs = [course.slug for course in courses]
    log.info(
        "--demo: imported %s and opened a run with a study group of %d made-up learners",
        ", ".join(slugs),
        len(DEMO_LEARNERS),
    )
    return True


def _demo_admin(session: Session) -> Account:
    """The demo admin (no password: it logs in by a one-time link), made unless an account has its address."""
    email, handle, name = DEMO_ADMIN
    existing = session.scalar(select(Account).where(Account.email == email))
    return existing or create_account(session, email, role="admin", handle=handle, display_name=name)


def demo_login_link() -> str | None:
    """A fresh one-time login link for the demo admin, or None when this instance has no demo admin."""
    from web.login_links import issue_login_link
    from web.welcome import welcome

    with session_scope() as session:
        email = welcome(session).demo_admin
        account = session.scalar(select(Account).where(Account.email == email)) if email else None
        if account is None or not account.is_admin or account.disabled:
            return None
        return issue_login_link(session, account)
