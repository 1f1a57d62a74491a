"""Notices about a learner's place, mailed when it changes without them asking: a place freed up for them
on the waiting list, or their study group merged into another (a new address to write to)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment, Run, StudyGroup
from courses.versions import pinned
from mail.addresses import new_token
from mail.markup import document, text_html, verbatim_html
from mail.messages import course_message
from mail.outbox import check_address, enqueue_many, mail_row
from mail.render import Rendered
from server.floor import urls

TOLD = ("confirmed", "paused")


def _row(enrollment: Enrollment, run: Run, snapshot: dict[str, Any], key: str, subject: str, text: str) -> dict:
    """The outbox row of one notice: a course mail (List-Unsubscribe, Reply-To their group) of kind notice,
    opening with a greeting by the learner's name."""
    token = new_token()
    greeting = f"Hello {enrollment.name or 'there'},"
    footer = f"\n-- \nYour page: {urls.learner_page(enrollment.token)}\n"
    # The name is the learner's own typing: escaped, never made a link in the HTML part.
    html = document(verbatim_html(greeting) + text_html(text + footer))
    rendered = Rendered(subject=subject, text=f"{greeting}\n\n{text}{footer}", html=html)
    return mail_row(
        key=key,
        kind="notice",
        to=check_address(enrollment.email or ""),
        token=token,
        subject=subject,
        message=course_message(enrollment, run, snapshot, rendered, token),
        enrollment_id=enrollment.id,
        run_id=run.id,
        group_id=enrollment.group_id,
    )


def _title(snapshot: dict[str, Any], run: Run) -> str:
    return str(snapshot.get("title", run.handle))


def promoted(session: Session, enrollment: Enrollment) -> int:
    """Tell a learner taken off the waiting list that they are in (and where their group is)."""
    if not enrollment.email:
        return 0
    run = enrollment.run
    snapshot = pinned(session, run)
    title = _title(snapshot, run)
    group = enrollment.group
    lines = [
        f"A place freed up in {title}, starting {run.start_date.isoformat()}: it is yours, nothing to do.",
        f"Units come at {snapshot.get('send_time', '09:00')} your time ({enrollment.timezone}).",
    ]
    if group is not None:
        lines.append(f"Your study group's address is {urls.group_address(group.handle)}: say hello there.")
    lines += ["", "To pause, leave or change your details, open your page (link below)."]
    key = f"notice:promoted:{enrollment.id}:{secrets.token_hex(6)}"
    subject = f"A place for you in {title}"
    return enqueue_many(session, [_row(enrollment, run, snapshot, key, subject, "\n".join(lines) + "\n")])


def on_group_merged(session: Session, payload: dict[str, Any]) -> None:
    """Tell each learner moved by a merge of small groups the new address (the old one forwards there)."""
    old = session.get(StudyGroup, int(payload["group_id"]))
    new = session.get(StudyGroup, int(payload["into_group_id"]))
    ids = [int(i) for i in payload.get("enrollment_ids", [])]
    if old is None or new is None or not ids:
        return
    run = new.run
    snapshot = pinned(session, run)
    old_name, new_name = old.name or old.handle, new.name or new.handle
    old_address, new_address = urls.group_address(old.handle), urls.group_address(new.handle)
    subject = f"Your study group joined {new_name} ({_title(snapshot, run)})"
    moved = session.scalars(
        select(Enrollment).where(Enrollment.id.in_(ids), Enrollment.status.in_(TOLD), Enrollment.email.is_not(None))
    )
    rows = []
    for enrollment in moved:
        text = (
            f"{old_name} had become small, so it joined {new_name}: you are in {new_name} now, with its members.\n"
            f"The group's address is {new_address}: write there to reach everyone.\n"
            f"Mail sent to the old address, {old_address}, is forwarded to the new group.\n"
        )
        key = f"notice:merged:{old.id}:{new.id}:{enrollment.id}"
        rows.append(_row(enrollment, run, snapshot, key, subject, text))
    enqueue_many(session, rows)
