"""Event handlers and background jobs of the mail package: cursors, confirmation mails, group relays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment
from courses.versions import pinned
from mail import accounts, notices, retention, scheduler
from mail.messages import confirmation_mail
from mail.outbox import check_address, enqueue_many, mail_row
from mail.suppressions import lift
from server.floor import urls
from server.floor.clock import now, utc
from server.floor.events import subscribe, subscribe_prepare
from server.floor.jobs import wake_after_commit

SCHEDULE_JOB = "mail.schedule"

STOPPING = {"paused", "left", "unsubscribed"}


def on_confirmed(session: Session, payload: dict[str, Any]) -> None:
    """A learner is in: start their schedule cursor. A suppression of their address (complaint, bounce,
    unsubscribe from everything) is lifted only when they opened their own confirmation link, never on
    an organizer's word; a learner promoted from the waiting list is told."""
    enrollment = session.get(Enrollment, int(payload["enrollment_id"]))
    if enrollment is None or enrollment.status != scheduler.ACTIVE:
        return
    if enrollment.email and payload.get("by") == "link":
        lift(session, enrollment.email)
    if enrollment.next_due_at is None and not enrollment.next_position:
        scheduler.start(enrollment, scheduler.Plans(session).of(enrollment.run_id), now())
        _schedule_soon(session, enrollment)
    if payload.get("by") == "waitlist":
        notices.promoted(session, enrollment)


def on_bulk_confirmed(session: Session, payload: dict[str, Any]) -> None:
    """Many learners are in at once (CSV import, bulk enroll): start their cursors in bulk, unless
    their rows were prepared (`on_bulk_confirming` set the cursors before they were written)."""
    if payload.get("prepared"):
        return
    ids = [int(i) for i in payload.get("enrollment_ids", [])]
    if ids and scheduler.start_many(session, int(payload["run_id"]), ids, now()):
        wake_after_commit(session, SCHEDULE_JOB)  # a late import's first units are due now


def on_bulk_confirming(session: Session, payload: dict[str, Any]) -> None:
    """Many learners are about to be inserted confirmed: their first cursors go in with their rows."""
    rows = payload.get("rows", [])
    scheduler.start_rows(session, int(payload["run_id"]), rows, now())
    if any(_due_soon(at) for at in {row.get("next_due_at") for row in rows}):  # a few instants, many rows
        wake_after_commit(session, SCHEDULE_JOB)  # a late import's first units are due now


def on_changed(session: Session, payload: dict[str, Any]) -> None:
    """Pause, leave, unsubscribe stop the cursor; resume restarts it by the course's resume policy. Any
    change first takes back the mails rendered ahead for the learner (they would carry the old
    details), so they are rendered again at their instant."""
    enrollment = session.get(Enrollment, int(payload["enrollment_id"]))
    if enrollment is None:
        return
    scheduler.unrender(session, enrollment)
    change = str(payload.get("change", ""))
    if change in STOPPING or enrollment.status != scheduler.ACTIVE:
        scheduler.stop(enrollment)
        return
    plan = scheduler.Plans(session).of(enrollment.run_id)
    if change == "resumed":
        policy = "skip" if plan.resume == "skip" else None
        scheduler.start(enrollment, plan, now(), policy=policy)
    elif change in {"timezone", "moved"} or enrollment.next_due_at is None:
        # A new zone (or run) moves the next unit to its send time there; nothing already sent repeats.
        scheduler.start(enrollment, plan, now())
    _schedule_soon(session, enrollment)


def _schedule_soon(session: Session, enrollment: Enrollment) -> None:
    """A cursor due within the lookahead (a late joiner's first unit, a resume): the scheduler renders it
    once this commits, not at its next tick (it then wakes the sender at the unit's instant)."""
    if _due_soon(enrollment.next_due_at):
        wake_after_commit(session, SCHEDULE_JOB)


def _due_soon(at: datetime | None) -> bool:
    """True when a cursor's next unit is due within the scheduler's lookahead (or overdue)."""
    moment = utc(at)
    return moment is not None and moment <= now() + scheduler.LOOKAHEAD


def _confirmation_row(
    enrollment: Enrollment, snapshot: dict[str, Any], token: str, link: str, invited: bool, request: str = ""
) -> dict[str, Any]:
    """The outbox row of one double opt-in mail (its key: once per place and link, and per `request`)."""
    mail_token, subject, message = confirmation_mail(enrollment, enrollment.run, snapshot, link, invited)
    return mail_row(
        key=f"confirm:{enrollment.id}:{token}" + (f":{request}" if request else ""),
        kind="confirm",
        to=check_address(enrollment.email or ""),
        token=mail_token,
        subject=subject,
        message=message,
        enrollment_id=enrollment.id,
        run_id=enrollment.run_id,
    )


def on_requested(session: Session, payload: dict[str, Any]) -> None:
    """Someone signed up (or was invited): send the double opt-in mail with the single-use link."""
    enrollment = session.get(Enrollment, int(payload["enrollment_id"]))
    if enrollment is None or not enrollment.email:
        return
    token = str(payload.get("token") or enrollment.token)
    link = str(payload.get("url") or urls.signup_confirm(token))
    invited, request = bool(payload.get("invited")), str(payload.get("request") or "")[:32]
    row = _confirmation_row(enrollment, pinned(session, enrollment.run), token, link, invited, request)
    enqueue_many(session, [row])


def on_bulk_requested(session: Session, payload: dict[str, Any]) -> None:
    """An organizer's CSV named many people: one confirmation mail each (nobody is enrolled before)."""
    ids = [int(i) for i in payload.get("enrollment_ids", [])]
    if not ids:
        return
    places = session.scalars(select(Enrollment).where(Enrollment.id.in_(ids), Enrollment.status == "pending")).all()
    snapshot: dict[str, Any] | None = None
    rows = []
    for enrollment in places:
        if not enrollment.email:
            continue
        snapshot = snapshot or pinned(session, enrollment.run)  # one run per event
        link = urls.signup_confirm(enrollment.token)
        rows.append(_confirmation_row(enrollment, snapshot, enrollment.token, link, invited=True))
    enqueue_many(session, rows)


def on_run_version_changed(session: Session, payload: dict[str, Any]) -> None:
    """A run that has not started moved to a new course version: its learners' cursors start again on it."""
    scheduler.restart_not_started(session, int(payload["run_id"]), now())


def on_post_created(session: Session, payload: dict[str, Any]) -> None:
    """A group post (from email, the fediverse or the web): relay it to the group's email members."""
    from mail.lists import relay_post

    relay_post(session, int(payload["post_id"]))


def register() -> None:
    """Subscribe this package's handlers and declare its jobs."""
    subscribe("enrollment.confirmed", on_confirmed)
    subscribe_prepare("enrollments.confirmed", on_bulk_confirming)
    subscribe("enrollments.confirmed", on_bulk_confirmed)
    subscribe("enrollment.changed", on_changed)
    subscribe("enrollment.requested", on_requested)
    subscribe("enrollments.requested", on_bulk_requested)
    subscribe("post.created", on_post_created)
    subscribe("group.merged", notices.on_group_merged)
    subscribe("run.version_changed", on_run_version_changed)
    subscribe("run.closing", retention.on_run_closing)
    subscribe("run.anonymising", retention.on_run_anonymising)
    subscribe("registration.created", accounts.on_registration_created)
    subscribe("registration.approved", accounts.on_registration_approved)
    subscribe("registration.rejected", accounts.on_registration_rejected)
    import mail.digest  # noqa: F401 - declares the notification digest job
    import mail.jobs  # noqa: F401 - declares the periodic jobs
