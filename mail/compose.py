"""One-off mails an organizer writes to a whole run, to every group of it, or to one group: preview, test,
schedule, copy to another run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.groups import find_group
from courses.models import Enrollment, Run
from courses.versions import pinned
from mail.messages import composed_mail, sample_context, sample_mail
from mail.models import Composition
from mail.outbox import check_address, enqueue, enqueue_many, mail_row
from mail.render import render
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound

AUDIENCES = ("run", "groups", "group")


def create(
    session: Session,
    run_id: int,
    subject: str,
    body: str,
    audience: str = "run",
    send_at: datetime | None = None,
    author_id: int | None = None,
    group: str | None = None,
) -> Composition:
    """A draft one-off mail for run `run_id`; it goes out at `send_at` (None: when `send_now` is called).

    Audience "group" writes to the one group `group` (its handle or number) of the run."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    if not subject.strip():
        raise Invalid("subject: a mail needs a subject")
    if audience not in AUDIENCES:
        raise Invalid(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    extra: dict[str, object] = {}
    if audience == "group":
        if not (group or "").strip():
            raise Invalid("group: say which group of the run the mail is for")
        try:
            chosen = find_group(session, run, (group or "").strip())
        except NotFound as error:
            raise Invalid(f"group: {error}") from None
        extra = {"group_id": chosen.id, "group": chosen.handle}
    composition = Composition(
        run_id=run_id,
        subject=subject,
        body=body,
        audience=audience,
        send_at=send_at,
        author_id=author_id,
        extra=extra,
        created_at=now(),
    )
    session.add(composition)
    session.flush()
    preview(session, composition)  # a template error is reported now, naming the mail, not at send time
    return composition


def _audience(session: Session, composition: Composition) -> list[Enrollment]:
    query = select(Enrollment).where(
        Enrollment.run_id == composition.run_id, Enrollment.status == "confirmed", Enrollment.email.is_not(None)
    )
    if composition.audience == "groups":
        query = query.where(Enrollment.group_id.is_not(None))
    elif composition.audience == "group":
        query = query.where(Enrollment.group_id == int((composition.extra or {}).get("group_id") or 0))
    return list(session.scalars(query.order_by(Enrollment.id)))


def preview(session: Session, composition: Composition) -> tuple[str, str]:
    """Subject and HTML as the sample learner would get them (never a real learner's links)."""
    run = session.get(Run, composition.run_id)
    assert run is not None
    data = sample_context(run, pinned(session, run))
    rendered = render(composition.subject, composition.body, data, f"mail {composition.subject!r}")
    return rendered.subject, rendered.html


def test_send(session: Session, composition: Composition, to: str) -> None:
    """Send the mail as the sample learner would get it, marked [TEST], to the organizer's own address `to`."""
    run = session.get(Run, composition.run_id)
    assert run is not None
    token, subject, message = sample_mail(
        run, pinned(session, run), composition.subject, composition.body, f"mail {composition.subject!r}", to
    )
    enqueue(
        session,
        key=f"compose-test:{composition.id}:{token}",
        kind="compose",
        to=to,
        token=token,
        subject=subject,
        message=message,
        run_id=run.id,
    )


def send_now(session: Session, composition: Composition) -> int:
    """Queue the mail for every learner of its audience (once each, whatever happens); how many."""
    run = session.get(Run, composition.run_id)
    assert run is not None
    snapshot = pinned(session, run)
    rows = []
    for learner in _audience(session, composition):
        token, subject, message = composed_mail(
            learner, run, snapshot, composition.subject, composition.body, f"mail {composition.subject!r}"
        )
        rows.append(
            mail_row(
                key=f"compose:{composition.id}:{learner.id}",
                kind="compose",
                to=check_address(learner.email or ""),
                token=token,
                subject=subject,
                message=message,
                enrollment_id=learner.id,
                run_id=run.id,
                group_id=learner.group_id,
            )
        )
    composition.sent_at = now()
    return enqueue_many(session, rows)


def copy_to_run(session: Session, composition: Composition, run_id: int, author_id: int | None = None) -> Composition:
    """The same mail as a new draft for another run (its send time cleared; a mail to one group goes to
    every group there, the other run having groups of its own)."""
    audience = "groups" if composition.audience == "group" else composition.audience
    return create(
        session, run_id, composition.subject, composition.body, audience, None, author_id or composition.author_id
    )


def of_run(session: Session, run_id: int) -> list[Composition]:
    """The run's one-off mails, newest first (drafts copied here, scheduled ones, sent ones)."""
    query = select(Composition).where(Composition.run_id == run_id)
    return list(session.scalars(query.order_by(Composition.id.desc())))


def send_scheduled(session: Session, at: datetime | None = None) -> int:
    """Queue every composition whose send time has come; how many mails."""
    instant = at or now()
    due = session.scalars(
        select(Composition).where(Composition.sent_at.is_(None), Composition.send_at <= instant)
    ).all()
    return sum(send_now(session, composition) for composition in due)
