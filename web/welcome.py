"""The first-run page's state: is the instance fresh (no admin yet) or a demo, and what the demo holds.

`serve --demo` marks the instance (`mark_demo`): the demo run, the learner whose address the page
suggests for writing to the group, the demo admin's address. The home page links `/welcome` while the
instance is fresh or a demo whose admin has not hidden the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment, Run, StudyGroup
from server.floor.accounts import Account
from server.floor.instance import InstanceSetting, set_instance_info

KEY = "welcome"


@dataclass(frozen=True)
class DemoGroup:
    """A study group of the demo run, and a member who may write to it."""

    name: str
    handle: str
    sender: str


@dataclass(frozen=True)
class Welcome:
    """What the first-run page shows, and whether the home page links it."""

    linked: bool
    has_admin: bool
    demo_admin: str | None
    course_slug: str | None
    course_title: str | None
    run_handle: str | None
    group: DemoGroup | None


def mark_demo(session: Session, run_handle: str, sender: str, admin_email: str) -> None:
    """Remember the demo (its run, the member who writes to the group, the admin) for the first-run page."""
    value = {"state": "demo", "run": run_handle, "sender": sender, "admin": admin_email}
    set_instance_info(session, **{KEY: json.dumps(value)})


def hide(session: Session) -> None:
    """The admin is done with the tour: the home page no longer links the first-run page."""
    stored = _stored(session)
    set_instance_info(session, **{KEY: json.dumps({**stored, "state": "hidden"})})


def _stored(session: Session) -> dict[str, str]:
    row = session.get(InstanceSetting, KEY)
    try:
        value = json.loads(row.value) if row is not None else {}
    except ValueError:
        value = {}
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def _demo_group(session: Session, run: Run, sender: str) -> DemoGroup | None:
    """The group of the demo run the suggested sender is in (a learner could have left it)."""
    query = (
        select(StudyGroup)
        .join(Enrollment, Enrollment.group_id == StudyGroup.id)
        .where(Enrollment.run_id == run.id, Enrollment.email == sender, Enrollment.status == "confirmed")
    )
    group = session.scalar(query)
    return None if group is None else DemoGroup(name=group.name, handle=group.handle, sender=sender)


def welcome(session: Session) -> Welcome:
    """The first-run page's facts: admin or not yet, the demo's run and group when there is a demo."""
    stored = _stored(session)
    has_admin = session.scalar(select(Account.id).where(Account.role == "admin").limit(1)) is not None
    run = session.scalar(select(Run).where(Run.handle == stored["run"])) if stored.get("run") else None
    course = session.get(Course, run.course_id) if run is not None else None
    return Welcome(
        linked=not has_admin or stored.get("state") == "demo",
        has_admin=has_admin,
        demo_admin=stored.get("admin") if run is not None else None,
        course_slug=course.slug if course is not None else None,
        course_title=course.title if course is not None else None,
        run_handle=run.handle if run is not None else None,
        group=_demo_group(session, run, stored.get("sender", "")) if run is not None else None,
    )
