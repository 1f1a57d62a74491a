"""The learning world as the community pages show it: the study groups a person belongs to (for
their profile, when they opt in, and for posting to a group from the compose form)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment, Run, StudyGroup
from courses.signup import SEATED
from server.floor.accounts import Account

MAX_GROUPS = 50


@dataclass(frozen=True)
class Membership:
    """A study group someone is seated in, with its run and course."""

    group_id: int
    group_handle: str
    group_name: str
    run_handle: str
    course_title: str
    course_slug: str


def memberships(session: Session, account: Account) -> list[Membership]:
    """The study groups `account` is seated in (by account, or by its email address), newest run first."""
    mine = (Enrollment.account_id == account.id) | (func.lower(Enrollment.email) == account.email.lower())
    query = (
        select(StudyGroup.id, StudyGroup.handle, StudyGroup.name, Run.handle, Course.title, Course.slug)
        .join(Enrollment, Enrollment.group_id == StudyGroup.id)
        .join(Run, Run.id == StudyGroup.run_id)
        .join(Course, Course.id == Run.course_id)
        .where(mine, Enrollment.status.in_(SEATED))
        .order_by(Run.start_date.desc(), StudyGroup.id)
        .limit(MAX_GROUPS)
    )
    return [Membership(*row) for row in session.execute(query).tuples()]
