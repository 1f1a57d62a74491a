"""A course's news as statuses of the community: a new version (`course.published`) and a new run
(`run.created`) become public statuses of the course's profile (`courses.profiles`), in the home
feeds of the local people who follow the course or one of its runs, and a `status` notification
for those of them who asked to be told (the bell of a follow). Only when someone follows: a course
nobody follows writes nothing (its news before a follow is on its pages, not in anyone's feed).

The fediverse learns of both from federation's own reactions (`federation.flows.announce`, which
sends the run's announcement status made here as its Note)."""

from __future__ import annotations

from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import fanout, search
from community.models import Follow, Profile, Status
from community.notifications import notify
from community.people import bump, find_by_uri
from community.statuses import status_url
from courses.models import Course, Post, Run
from courses.profiles import course_profile, existing
from server.floor import urls
from server.floor.clock import now
from server.floor.events import publish
from server.floor.ids import new_id

MAX_BELLS = 10_000  # as community.distribution: at most this many `status` notifications per status


def run_uris(session: Session, course: Course) -> list[str]:
    """The actor ids of the course's runs."""
    return [urls.run(handle) for handle in session.scalars(select(Run.handle).where(Run.course_id == course.id))]


def followed_ids(session: Session, course: Course, author: Profile) -> list[int]:
    """The course's profile and the profiles its runs have so far (those someone may follow)."""
    return [author.id, *existing(session, run_uris(session, course))]


def followed(session: Session, targets: list[int]) -> bool:
    """True when someone follows one of these profiles."""
    query = select(Follow.id).where(Follow.target_id.in_(targets), Follow.accepted.is_(True)).limit(1)
    return session.scalar(query) is not None


def announce(session: Session, course: Course, *, text: str, html: str, subject: str, run: Run | None) -> Status | None:
    """A public status of `course`'s profile, in its followers' (and its runs' followers') home
    feeds; None when nobody follows them (the news is for followers: nothing is written then, as
    federation sends nothing to a course without followers)."""
    existing_profile = find_by_uri(session, urls.course(course.slug))
    if existing_profile is None and not existing(session, run_uris(session, course)):
        return None  # no profile yet: nobody can follow it
    author = course_profile(session, course)
    targets = followed_ids(session, course, author)
    if not followed(session, targets):
        return None
    status = Status(
        id=new_id(),
        profile_id=author.id,
        kind="announcement",
        source="local",
        local=True,
        visibility="public",
        course_id=course.id,
        run_id=run.id if run is not None else None,
        author_actor=author.uri,
        author_name=course.title[:200],
        subject=subject[:500],
        text=text,
        html=html,
        created_at=now(),
    )
    session.add(status)
    session.flush()
    status.ap_id = urls.post(status.id)
    status.url = status_url(author, status.id)  # its page here, /@course/{id}
    status.thread_id = status.id
    author.last_status_at = status.created_at
    bump(session, author.id, statuses_count=1)
    fanout.to_followers_of(session, status.id, targets)
    bells = (
        select(Follow.profile_id)
        .where(Follow.target_id.in_(targets), Follow.accepted.is_(True), Follow.notify.is_(True))
        .distinct()
        .limit(MAX_BELLS)
    )
    for follower_id in list(session.scalars(bells)):
        notify(session, follower_id, "status", from_profile_id=author.id, status_id=status.id)
    search.index(session, status)
    publish(session, "status.created", {"status_id": status.id})
    return status


def run_announcement(session: Session, run: Run) -> Post | None:
    """The announcement status of `run` made when it was created, if any."""
    query = select(Post).where(Post.run_id == run.id, Post.kind == "announcement", Post.group_id.is_(None))
    return session.scalars(query.order_by(Post.id).limit(1)).first()


def on_course_published(session: Session, payload: dict[str, Any]) -> None:
    """A new version of a course: its followers read it at home."""
    course = session.get(Course, int(payload["course_id"]))
    if course is None:
        return
    number = int(payload["version"])
    link = urls.course(course.slug)
    what = "is published" if number == 1 else f"has a new version ({number})"
    summary = f" {course.summary}" if course.summary else ""
    announce(
        session,
        course,
        text=f"{course.title} {what}.{summary} {link}",
        html=(
            f'<p><a href="{escape(link)}">{escape(course.title)}</a> {escape(what)}.</p>'
            + (f"<p>{escape(course.summary)}</p>" if course.summary else "")
        ),
        subject=f"{course.title}: version {number}",
        run=None,
    )


def on_run_created(session: Session, payload: dict[str, Any]) -> None:
    """A new run of a course: its followers read when it starts and where to sign up (once per run)."""
    run = session.get(Run, int(payload["run_id"]))
    if run is None or run.course is None or run_announcement(session, run) is not None:
        return
    course = run.course
    link = urls.run(run.handle)
    starts = f"starts {run.start_date.isoformat()} ({run.timezone})"
    announce(
        session,
        course,
        text=f"New run of {course.title} {starts}. Sign up: {link}",
        html=(
            f'<p>New run of <a href="{escape(urls.course(course.slug))}">{escape(course.title)}</a> '
            f"{escape(starts)}.</p>"
            f'<p>Sign up: <a href="{escape(link)}">{escape(link)}</a> — or follow the run from your '
            "fediverse account to get each unit as a post.</p>"
        ),
        subject=f"New run: {course.title}",
        run=run,
    )
