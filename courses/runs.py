"""Runs (cohorts) of a course: creation, status over time, recurring runs, where a late signup goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import versions
from courses.groups import form_groups, grouping_at, groups_missing
from courses.handles import free_handle
from courses.models import Course, Run
from courses.zones import check_timezone, local_midnight
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish as publish_event

# A week after the last unit's day, for the last discussion, before a run counts as finished.
WIND_DOWN = timedelta(days=7)
ACTIVE = ("scheduled", "open", "running")


@dataclass(frozen=True)
class RunTimes:
    """The instants that decide a run's status (all aware UTC; `opens` None means open at once)."""

    opens: datetime | None
    closes: datetime | None
    starts: datetime
    ends: datetime


def run_times(start: date, zone: str, last_day: int, opens: datetime | None, closes: datetime | None) -> RunTimes:
    """When a run opens, starts and ends: start at local midnight, end a week after the last unit."""
    starts = local_midnight(start, zone)
    ends = local_midnight(start + timedelta(days=last_day), zone) + WIND_DOWN
    return RunTimes(opens=opens, closes=closes, starts=starts, ends=ends)


def status_at(times: RunTimes, instant: datetime) -> str:
    """scheduled (signup not open yet) → open → running (from the start) → finished."""
    if instant >= times.ends:
        return "finished"
    if instant >= times.starts:
        return "running"
    if times.opens is not None and instant < times.opens:
        return "scheduled"
    return "open"


def times_of(session: Session, run: Run) -> RunTimes:
    """The RunTimes of a stored run (its last unit's day comes from the pinned version)."""
    units = versions.pinned(session, run)["units"]
    last_day = max((unit["day"] for unit in units), default=0)
    return run_times(run.start_date, run.timezone, last_day, run.signup_opens_at, run.signup_closes_at)


def accepts_signups(session: Session, run: Run, instant: datetime) -> bool:
    """True when signups go into `run` itself at `instant` (open, or running and the policy keeps them)."""
    times = times_of(session, run)
    status = status_at(times, instant)
    if times.closes is not None and instant >= times.closes:
        return False
    if status == "open":
        return True
    late_join = versions.pinned(session, run).get("late_join", "catch_up")
    return status == "running" and late_join != "next_run"


def create_run(
    session: Session,
    course: Course,
    start: date,
    timezone: str = "UTC",
    every_weeks: int | None = None,
    group_size: int | None = None,
    capacity: int | None = None,
    signup_opens_at: datetime | None = None,
    signup_closes_at: datetime | None = None,
    organizer: Account | None = None,
    previous: Run | None = None,
) -> Run:
    """A run of `course` pinned to its current version (published first if it has none)."""
    check_timezone(timezone)
    if every_weeks is not None and not 1 <= every_weeks <= 52:
        raise Invalid(f"every {every_weeks!r} must be a number of weeks from 1 to 52")
    if group_size is not None and not 2 <= group_size <= 500:
        raise Invalid(f"group size {group_size!r} must be from 2 to 500")
    if capacity is not None and capacity < 1:
        raise Invalid(f"capacity {capacity!r} must be at least 1")
    if signup_opens_at and signup_closes_at and signup_closes_at <= signup_opens_at:
        raise Invalid("the signup window closes before it opens")
    if course.current_version is None:
        versions.publish(session, course)
    run = Run(
        handle=free_handle(session, f"{course.slug}-{start.isoformat()}"),
        course_id=course.id,
        version_number=course.current_version,
        start_date=start,
        timezone=timezone,
        every_weeks=every_weeks,
        group_size=group_size or course.group_size,
        capacity=capacity,
        signup_opens_at=signup_opens_at,
        signup_closes_at=signup_closes_at,
        organizer_id=organizer.id if organizer else (previous.organizer_id if previous else None),
        previous_run_id=previous.id if previous else None,
        status="scheduled",
    )
    session.add(run)
    session.flush()
    run.course = course
    run.status = status_at(times_of(session, run), now())
    publish_event(session, "run.created", {"run_id": run.id})
    ensure_successor(session, run, now())
    return run


def successor_of(session: Session, run: Run) -> Run | None:
    """The run created to follow a recurring `run`, if any."""
    return session.scalar(select(Run).where(Run.previous_run_id == run.id))


def ensure_successor(session: Session, run: Run, instant: datetime) -> Run | None:
    """Create the next run of a recurring `run` once `run` is within one period of starting."""
    if not run.every_weeks or run.status == "finished":
        return None
    existing = successor_of(session, run)
    if existing is not None:
        return existing
    period = timedelta(weeks=run.every_weeks)
    if instant < local_midnight(run.start_date, run.timezone) - period:
        return None
    # The next run opens for signups as the current one starts, like the original weekly cohorts.
    opens = local_midnight(run.start_date, run.timezone)
    return create_run(
        session, run.course, run.start_date + period, run.timezone, run.every_weeks, run.group_size,
        run.capacity, signup_opens_at=opens if opens > instant else None, previous=run,
    )  # fmt: skip


def next_run(session: Session, run: Run) -> Run | None:
    """The next run of the same course that still takes signups before it starts (the successor first)."""
    successor = successor_of(session, run)
    if successor is not None and successor.status in ("scheduled", "open"):
        return successor
    return session.scalar(
        select(Run)
        .where(Run.course_id == run.course_id, Run.start_date > run.start_date, Run.status.in_(("scheduled", "open")))
        .order_by(Run.start_date, Run.id)
        .limit(1)
    )


def run_for_signup(session: Session, run: Run, instant: datetime) -> Run:
    """The run a signup for `run` goes into: itself, or the next run when late joining is not allowed."""
    if accepts_signups(session, run, instant):
        return run
    times = times_of(session, run)
    if status_at(times, instant) == "scheduled":
        raise Invalid(f"signup for run {run.handle} opens at {times.opens:%Y-%m-%d %H:%M} UTC")
    following = next_run(session, run)
    if following is None:
        raise Invalid(f"run {run.handle} takes no more signups and no next run is scheduled")
    return following


def advance_runs(session: Session, instant: datetime) -> list[Run]:
    """Move every active run to its status at `instant`, form the groups that are due, create successors.

    Groups are due by `courses.groups.grouping_at`, not by the status: a run created on or after its
    start day is `running` at once and must be grouped all the same, before its first unit."""
    changed: list[Run] = []
    for run in session.scalars(select(Run).where(Run.status.in_(ACTIVE)).order_by(Run.start_date, Run.id)).all():
        status = status_at(times_of(session, run), instant)
        if status != run.status:
            run.status = status
            changed.append(run)
        if status != "finished" and groups_missing(session, run, instant):
            form_groups(session, run)
        ensure_successor(session, run, instant)
    session.flush()
    return changed


def not_started(run: Run, instant: datetime) -> bool:
    """True while no learner anywhere can have had a unit of `run` (its groups are not formed either)."""
    return run.status in ("scheduled", "open") and instant < grouping_at(run)


def follow_new_version(session: Session, course: Course, instant: datetime) -> list[Run]:
    """Move the recurring runs created ahead (successors) that have not started onto the course's newest
    version: they were pinned by the calendar, not by an organizer's choice."""
    moved = []
    query = select(Run).where(
        Run.course_id == course.id, Run.previous_run_id.is_not(None), Run.status.in_(("scheduled", "open"))
    )
    for run in session.scalars(query):
        if course.current_version is not None and run.version_number != course.current_version:
            if not_started(run, instant):
                run.version_number = course.current_version
                moved.append(run)
    session.flush()
    for run in moved:
        # Learners who signed up already have cursors on the old version's days: the mail package resets them.
        publish_event(session, "run.version_changed", {"run_id": run.id, "version": run.version_number})
    return moved


def find_run(session: Session, reference: str) -> Run:
    """A run by its ActivityPub id (URL), its handle, or its number."""
    value = reference.strip().rstrip("/")
    handle = value.rsplit("/runs/", 1)[1] if "/runs/" in value else value
    if "://" in value and value != urls.run(handle):
        # Another instance's run (or not a run at all) must not resolve to a local run of the same handle.
        raise NotFound(f"{reference} is not a run of this instance (its runs' ids start with {urls.run('')})")
    run = session.scalar(select(Run).where(Run.handle == handle))
    if run is None and handle.isdigit():
        run = session.get(Run, int(handle))
    if run is None:
        raise NotFound(f"no run {reference} (give its id URL or the handle shown by `run show`)")
    return run


def find_course(session: Session, slug: str) -> Course:
    """A local course by slug."""
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFound(f"no course with slug {slug} (see `mechmooc course list`)")
    return course
