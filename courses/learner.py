"""What a learner does from the magic link in every mail: change details, pause, resume, leave (and take
the place back), move on."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.groups import merge_remnants, place_enrollment
from courses.models import Enrollment, Run, StudyGroup
from courses.runs import next_run, status_at, times_of
from courses.signup import SEATED, by_token, check_name, promote_waitlisted, seats_taken
from courses.zones import check_timezone
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.events import publish as publish_event


def _changed(session: Session, enrollment: Enrollment, change: str) -> Enrollment:
    session.flush()
    publish_event(session, "enrollment.changed", {"enrollment_id": enrollment.id, "change": change})
    return enrollment


def _active(enrollment: Enrollment) -> None:
    if enrollment.status in ("left", "unsubscribed", "pending"):
        raise Invalid(f"this place is {enrollment.status}: sign up again from the run's page")


def change_details(session: Session, token: str, name: str | None = None, timezone: str | None = None) -> Enrollment:
    """Change the learner's name and/or time zone (the mail schedule follows the new zone)."""
    enrollment = by_token(session, token)
    renamed = False
    if name is not None:
        new_name = check_name(name)
        renamed, enrollment.name = new_name != enrollment.name, new_name
    if timezone is not None and timezone != enrollment.timezone:
        enrollment.timezone = check_timezone(timezone)
        return _changed(session, enrollment, "timezone")
    if renamed:
        return _changed(session, enrollment, "details")  # mails not sent yet greet the new name
    session.flush()
    return enrollment


def pause(session: Session, token: str) -> Enrollment:
    """Stop the mails for now; the place and the group are kept."""
    enrollment = by_token(session, token)
    _active(enrollment)
    if enrollment.status == "paused":
        return enrollment
    if enrollment.status != "confirmed":
        raise Invalid(f"only a confirmed place can be paused, this one is {enrollment.status}")
    enrollment.status, enrollment.paused_at = "paused", now()
    return _changed(session, enrollment, "paused")


def resume(session: Session, token: str) -> Enrollment:
    """Start the mails again after a pause."""
    enrollment = by_token(session, token)
    if enrollment.status != "paused":
        return enrollment
    enrollment.status, enrollment.paused_at = "confirmed", None
    return _changed(session, enrollment, "resumed")


def _free_place(session: Session, enrollment: Enrollment) -> None:
    """What leaving a run sets off: the waiting list moves up and a shrunken group merges."""
    run, group_id = enrollment.run, enrollment.group_id
    enrollment.group_id = None
    session.flush()
    promote_waitlisted(session, run)
    if group_id is not None:
        left_in_group = session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.group_id == group_id)
        )
        if left_in_group is not None and left_in_group * 2 < run.group_size:
            merge_remnants(session, run)


def leave(session: Session, token: str) -> Enrollment:
    """Leave the run: no more mails, out of the group; the place goes to the waiting list."""
    enrollment = by_token(session, token)
    if enrollment.status == "left":
        return enrollment
    enrollment.status = "left"
    _changed(session, enrollment, "left")
    _free_place(session, enrollment)
    return enrollment


def rejoin_refusal(session: Session, enrollment: Enrollment) -> str | None:
    """Why a learner who left cannot take their place back now; None when they can."""
    run = enrollment.run
    if enrollment.status != "left":
        return f"this place is {enrollment.status}: only a place you left can be taken back"
    if run.anonymised or status_at(times_of(session, run), now()) == "finished":
        return f"run {run.handle} has ended: sign up for a later run from the course's page"
    if run.capacity is not None and seats_taken(session, run) >= run.capacity:
        return f"run {run.handle} is full now: sign up again from the run's page to join its waiting list"
    return None


def rejoin(session: Session, token: str) -> Enrollment:
    """Take back the place one left, while the run has not ended and a seat is free; units come again
    (those missed by the course's late-join policy) and a group is found as for a latecomer."""
    enrollment = by_token(session, token)
    if enrollment.status in SEATED:
        return enrollment  # a second click, or another tab: nothing to undo
    # The run's row first: two people taking the last free seat at once must not both get it.
    session.execute(select(Run.id).where(Run.id == enrollment.run_id).with_for_update())
    refusal = rejoin_refusal(session, enrollment)
    if refusal is not None:
        raise Invalid(refusal)
    enrollment.status, enrollment.paused_at = "confirmed", None
    _changed(session, enrollment, "rejoined")
    place_enrollment(session, enrollment)
    return enrollment


def move_to_next_run(session: Session, token: str) -> Enrollment:
    """Move the learner's place to the next run of the same course (a fresh start later)."""
    enrollment = by_token(session, token)
    _active(enrollment)
    current = enrollment.run
    target = next_run(session, current)
    if target is None:
        raise Invalid(f"the course of run {current.handle} has no next run scheduled yet")
    taken = select(Enrollment.id).where(Enrollment.run_id == target.id)
    if enrollment.email and session.scalar(taken.where(Enrollment.email == enrollment.email)):
        raise Invalid(f"{enrollment.email} has a place in run {target.handle} already")
    _free_place(session, enrollment)
    full = target.capacity is not None and seats_taken(session, target) >= target.capacity
    enrollment.run_id, enrollment.run = target.id, target
    enrollment.status = "waitlisted" if full else "confirmed"
    enrollment.paused_at, enrollment.next_position, enrollment.next_due_at = None, 0, None
    _changed(session, enrollment, "moved")
    place_enrollment(session, enrollment)
    return enrollment


def groups_of(session: Session, token: str) -> list[StudyGroup]:
    """The learner's study groups across their runs (the 'find my group' page)."""
    enrollment = by_token(session, token)
    identity = Enrollment.email == enrollment.email if enrollment.email else Enrollment.actor == enrollment.actor
    query = select(StudyGroup).join(Enrollment, Enrollment.group_id == StudyGroup.id)
    return list(session.scalars(query.where(identity, Enrollment.status.in_(("confirmed", "paused")))))
