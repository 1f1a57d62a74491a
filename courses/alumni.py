"""Every course has a standing alumni community: a study group of a standing run of the course.

The least code that reuses everything: the community IS a `StudyGroup` (handle `{course-slug}-alumni`,
list address and FEP-1b12 Group actor like any group) of one `Run` per course whose status is
`alumni` — never in the scheduler's active statuses nor 'finished', so no unit is ever due for it,
no grouping runs and retention leaves it alone. Joining is an `Enrollment` in that run, placed in that
group, confirmed at once and with no `enrollment.confirmed` event (which would start a unit sequence).
Who may join: a past learner of any run of the course here (a place that was confirmed), by email
(the `links.alumni` merge tag: `/me/{token}/alumni`) or by their fediverse account; and, across the
lineage, an account on an instance that hosts a fork of this course (listed in its `forks`
collection, `CourseFork`): that instance's runs are of the same course, and which of its accounts
were learners there it cannot prove to us, so the rule is per instance (as `posting.readable_by`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.handles import free_handle
from courses.models import Course, CourseFork, Enrollment, Run, StudyGroup
from courses.signup import new_token
from server.floor.clock import now
from server.floor.errors import Invalid

ALUMNI = "alumni"  # the standing run's status
TAKING_PART = ("confirmed", "paused")


def alumni_run(session: Session, course: Course) -> Run | None:
    """The course's standing alumni run, if it was made."""
    return session.scalar(select(Run).where(Run.course_id == course.id, Run.status == ALUMNI))


def alumni_group(session: Session, course: Course) -> StudyGroup:
    """The course's alumni community (made on first use): its one study group."""
    run = alumni_run(session, course)
    if run is None:
        if not course.current_version:
            raise Invalid(f"course {course.slug} is not published: it has no alumni yet")
        handle = free_handle(session, f"{course.slug}-alumni-run")
        run = Run(handle=handle, course_id=course.id, version_number=course.current_version,
                  start_date=now().date(), status=ALUMNI, group_size=0)  # fmt: skip
        session.add(run)
        session.flush()
    group = session.scalar(select(StudyGroup).where(StudyGroup.run_id == run.id))
    if group is None:
        group = StudyGroup(run_id=run.id, number=1, handle=free_handle(session, f"{course.slug}-alumni"),
                           name=f"{course.title} alumni", language=course.language)  # fmt: skip
        session.add(group)
        session.flush()
    return group


def is_alumni_group(group: StudyGroup) -> bool:
    """True for a course's alumni community."""
    return group.run.status == ALUMNI


def was_learner(session: Session, course: Course, *, email: str | None = None, actor: str | None = None) -> bool:
    """True when `email` or `actor` held a confirmed place in a run of `course` here."""
    if not email and not actor:
        return False
    who = Enrollment.email == email if email else Enrollment.actor == actor
    query = (
        select(Enrollment.id)
        .join(Run)
        .where(Run.course_id == course.id, Run.status != ALUMNI, who, Enrollment.confirmed_at.is_not(None))
    )
    return session.scalar(query.limit(1)) is not None


def hosts_a_fork(session: Session, course: Course, actor: str) -> bool:
    """True when `actor`'s server hosts a fork of `course` (its `forks` collection lists one there)."""
    host = urlsplit(actor).netloc.lower()
    forks = session.scalars(select(CourseFork.fork_id).where(CourseFork.course_id == course.id))
    return bool(host) and any(urlsplit(fork).netloc.lower() == host for fork in forks)


def may_join(session: Session, course: Course, *, email: str | None = None, actor: str | None = None) -> bool:
    """The alumni rule: a past learner here, or an account of an instance that forked the course."""
    return was_learner(session, course, email=email, actor=actor) or bool(
        actor and hosts_a_fork(session, course, actor)
    )


def join_alumni(
    session: Session, course: Course, *, email: str | None = None, actor: str | None = None, name: str = ""
) -> Enrollment:
    """Place `email` or `actor` in the course's alumni community (once); Invalid when the rule refuses."""
    if not may_join(session, course, email=email, actor=actor):
        raise Invalid(f"the {course.title} alumni community is for people who took part in a run of it")
    group = alumni_group(session, course)
    who = Enrollment.email == email if email else Enrollment.actor == actor
    place = session.scalar(select(Enrollment).where(Enrollment.run_id == group.run_id, who))
    if place is None:
        place = Enrollment(run_id=group.run_id, email=email, actor=actor if not email else None, name=name[:200],
                           token=new_token(), confirmed_at=now())  # fmt: skip
        session.add(place)
    # No enrollment.confirmed: that event starts a unit sequence, and the alumni run has none.
    place.status, place.group_id = "confirmed", group.id
    session.flush()
    return place
