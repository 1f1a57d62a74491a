"""A unit mailed to a learner who has an account here also reaches them in the community: a
direct status from the course's profile in their home feed, and a `unit` notification.

Mail publishes `unit.emailed` when it queues a unit for a learner whose place is linked to an
account (`enrollments.account_id`, set when they claim one); the status names the unit and links
its public page (never the learner's secret links)."""

from __future__ import annotations

from html import escape
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from community import fanout
from community.models import Mention, Status
from community.notifications import notify
from community.people import local_profile
from courses.models import Enrollment
from courses.profiles import course_profile
from courses.versions import pinned
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.events import publish
from server.floor.ids import new_id


def on_unit_emailed(session: Session, payload: dict[str, Any]) -> None:
    """The learner's unit `position` went to their mailbox: tell their profile too."""
    enrollment = session.get(Enrollment, int(payload["enrollment_id"]))
    if enrollment is None or enrollment.account_id is None:
        return
    account = session.get(Account, enrollment.account_id)
    if account is None or account.disabled:
        return
    run = enrollment.run
    course = run.course
    units = pinned(session, run).get("units", [])
    position = int(payload["position"])
    if not 0 <= position < len(units):
        return
    unit = units[position]
    title, slug = str(unit.get("title", "")), str(unit.get("slug", position))
    learner = local_profile(session, account)
    sender = course_profile(session, course)
    link = urls.unit(course.slug, slug)
    status = Status(
        id=new_id(),
        profile_id=sender.id,
        kind="unit",
        source="local",
        local=True,
        visibility="direct",
        run_id=run.id,
        course_id=run.course_id,
        author_name=course.title[:200],
        subject=title[:500],
        text=f"{title}: your next unit of {course.title} is in your mailbox. {link}",
        html=(
            f'<p><a href="{escape(link)}">{escape(title)}</a>: your next unit of {escape(course.title)} '
            "is in your mailbox.</p>"
        ),
        created_at=now(),
    )
    status.thread_id = status.id
    session.add(status)
    session.flush()
    session.execute(insert(Mention), [{"status_id": status.id, "profile_id": learner.id}])
    fanout.add(session, status.id, [learner.id])
    notify(session, learner, "unit", from_profile_id=sender.id, status_id=status.id)
    publish(session, "status.created", {"status_id": status.id})
