"""Learners' privacy: who may see their addresses, and forgetting them after a run is long finished."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment, Post, Run, StudyGroup, table
from courses.runs import times_of
from courses.signup import new_token
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings

ANONYMOUS_DOMAIN = "anonymised.invalid"


def can_see_learners(account: Account | None, run: Run) -> bool:
    """Admins see every run's learners; an organizer only those of runs (or courses) they organise."""
    if account is None or account.disabled:
        return False
    if account.is_admin:
        return True
    if not account.is_organizer:
        return False
    return run.organizer_id == account.id or (run.course is not None and run.course.owner_id == account.id)


def anonymise_finished_runs(session: Session, older_than_days: int | None = None) -> list[Run]:
    """Replace names and addresses of learners of runs that ended more than N days ago (the setting)."""
    days = get_settings().anonymise_after_days if older_than_days is None else older_than_days
    cutoff = now() - timedelta(days=days)
    done: list[Run] = []
    candidates = session.scalars(select(Run).where(Run.status == "finished", Run.anonymised.is_(False)))
    for run in candidates.all():
        if times_of(session, run).ends > cutoff:
            continue
        ids = session.scalars(select(Enrollment.id).where(Enrollment.run_id == run.id)).all()
        # A fresh token too: old magic links must not open a page about the forgotten learner.
        session.connection().execute(
            update(table(Enrollment)).where(table(Enrollment).c.id == bindparam("eid")),
            [
                {"eid": eid, "email": f"learner-{eid}@{ANONYMOUS_DOMAIN}", "name": "", "actor": None,
                 "answers": {}, "token": new_token()}
                for eid in ids
            ],
        )  # fmt: skip
        # Their group posts stay readable for the archive, without who wrote them.
        groups = select(StudyGroup.id).where(StudyGroup.run_id == run.id)
        session.execute(
            update(Post)
            .where(Post.group_id.in_(groups), Post.author_email.is_not(None))
            .values(author_email=None, author_name="")
        )
        run.anonymised = True
        done.append(run)
    session.flush()
    session.expire_all()
    return done


def organizer_courses(session: Session, account: Account) -> list[Course]:
    """The courses an organizer owns (all of them for an admin)."""
    query = select(Course).order_by(Course.slug)
    return list(session.scalars(query if account.is_admin else query.where(Course.owner_id == account.id)))
