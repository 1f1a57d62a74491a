"""What mail keeps about learners, told and forgotten with them (courses.privacy decides when).

- `run.closing`: a notice to every group member of a run whose learners are to be forgotten: the date,
  and for those who took part lately (posted to the group or opened a mail of the run) a link to stay
  in the group after it (their page's "keep" form: a GET changes nothing, mail scanners open links).
- `run.anonymising`: before the places are overwritten, their outbox rows lose address and body (queued
  ones are cancelled), their mail events the address, and mail received by the run's groups its raw
  text and sender unless it came from someone who stays.
- The local Maildir outbox (no SMTP server configured) loses the files of anonymised rows
  (`forget_local_outbox`, a job: files are not touched inside a database transaction).
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from courses.models import Enrollment, Post, Run, StudyGroup, table
from courses.privacy import ANONYMOUS_DOMAIN, STAYING, anonymous_address
from courses.versions import pinned
from mail.addresses import new_token
from mail.markup import document, text_html
from mail.messages import course_message
from mail.models import CANCELLED, UNCERTAIN, InboundMessage, MailEvent, OutgoingMail
from mail.outbox import check_address, enqueue_many, mail_row
from mail.render import Rendered
from mail.transport import outbox_path
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.queue import QUEUED

_OUT = table(OutgoingMail)
_EVENTS = table(MailEvent)
FORGOTTEN = f"someone@{ANONYMOUS_DOMAIN}"  # a mail to an address nobody here knows any more
MAILDIR_PREFIX = "maildir "  # how the Maildir transport answers: "maildir KEY"
MAILDIR_REMOVED = "maildir: removed, the learner was anonymised"


def _day(instant: datetime, zone: str) -> str:
    try:
        return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")
    except (KeyError, ValueError):
        return instant.strftime("%Y-%m-%d")


def _active(session: Session, run: Run, since: datetime) -> tuple[set[str], set[int]]:
    """Who took part since `since`: addresses that posted to the run's groups, places that opened or clicked
    a mail of the run."""
    groups = select(StudyGroup.id).where(StudyGroup.run_id == run.id)
    posters = session.scalars(
        select(func.lower(Post.author_email))
        .where(Post.group_id.in_(groups), Post.author_email.is_not(None), Post.created_at >= since)
        .distinct()
    )
    readers = session.scalars(
        select(OutgoingMail.enrollment_id)
        .join(MailEvent, MailEvent.mail_id == OutgoingMail.id)
        .where(OutgoingMail.run_id == run.id, MailEvent.kind.in_(("open", "click")), MailEvent.created_at >= since)
        .distinct()
    )
    return {p for p in posters if p}, {r for r in readers if r is not None}


def closing_text(enrollment: Enrollment, title: str, group: StudyGroup, at: datetime, active: bool) -> str:
    """The notice's text (after the greeting): the date, and the link to stay for those who take part."""
    day = _day(at, enrollment.timezone)
    page = urls.learner_page(enrollment.token)
    lines = [
        f"{title} has ended. On {day} we forget the names and addresses of its learners, and the list of",
        f"your study group, {urls.group_address(group.handle)}, closes for everyone who has not asked to stay.",
        "",
    ]
    if active:
        lines += [
            "You took part in the group lately, and the group goes on after the course. To stay in it, open",
            f"this link and press the button before {day}:",
            f"{page}/keep",
            "We then keep your name and address for the group, and for nothing else; you can leave it any time",
            "from your page.",
            "",
            f"If you do nothing, the list closes for you on {day}: no more mail from it, and we keep nothing",
            "about you.",
        ]
    else:
        lines += [
            f"The list closes for you on {day}: no more mail from it after that day, and we keep nothing",
            "about you.",
        ]
    lines += ["", f"Before then you can download what we keep about you: {page}/data.json"]
    return "\n".join(lines) + "\n"


def _closing_row(enrollment: Enrollment, run: Run, snapshot: dict[str, Any], at: datetime, active: bool) -> dict:
    group = enrollment.group
    assert group is not None
    title = str(snapshot.get("title", run.handle))
    name = group.name or group.handle
    subject = (
        f"Stay in {name} after {title}?" if active else f"{name} closes for you on {_day(at, enrollment.timezone)}"
    )
    greeting = f"Hello {enrollment.name or 'there'},"
    body = (
        closing_text(enrollment, title, group, at, active)
        + f"\n-- \nYour page: {urls.learner_page(enrollment.token)}\n"
    )
    # The name is the learner's own typing: escaped, never made a link.
    html = document(f"<p>{escape(greeting)}</p>" + text_html(body))
    rendered = Rendered(subject=subject, text=f"{greeting}\n\n{body}", html=html)
    token = new_token()
    return mail_row(
        key=f"notice:closing:{run.id}:{enrollment.id}",
        kind="notice",
        to=check_address(enrollment.email or ""),
        token=token,
        subject=subject,
        message=course_message(enrollment, run, snapshot, rendered, token),
        enrollment_id=enrollment.id,
        run_id=run.id,
        group_id=group.id,
    )


def on_run_closing(session: Session, payload: dict[str, Any]) -> None:
    """Tell every group member of the run (by mail) when its list closes for them; ask those who took part
    lately whether they want to stay."""
    run = session.get(Run, int(payload["run_id"]))
    if run is None or run.anonymised:
        return
    at = datetime.fromisoformat(str(payload["anonymise_at"]))
    posters, readers = _active(session, run, datetime.fromisoformat(str(payload["active_since"])))
    members = session.scalars(
        select(Enrollment)
        .options(selectinload(Enrollment.group))
        .where(
            Enrollment.run_id == run.id,
            Enrollment.group_id.is_not(None),
            Enrollment.email.is_not(None),
            Enrollment.status.in_(STAYING),
        )
    )
    snapshot = pinned(session, run)
    rows = []
    for member in members:
        active = member.id in readers or (member.email or "").lower() in posters
        try:
            rows.append(_closing_row(member, run, snapshot, at, active))
        except Invalid:
            continue  # an address no mail can reach (stored before addresses were checked): nobody to tell
    enqueue_many(session, rows)


def _forget_mails(session: Session, people: Sequence[Any]) -> None:
    """Outbox rows of these places lose address and body (queued ones not leased are cancelled); their events
    the address (and a bounce's or complaint's text, which quotes it)."""
    instant = now()
    # Queued or in doubt (sent again by itself after a while), and no pass holds it now: it must not go.
    waiting = or_(_OUT.c.state == QUEUED, _OUT.c.state == UNCERTAIN)  # no IN (...): executemany refuses it
    idle = and_(waiting, or_(_OUT.c.locked_until.is_(None), _OUT.c.locked_until < instant))
    session.execute(
        update(_OUT)
        .where(_OUT.c.enrollment_id == bindparam("eid"))
        .values(
            to_addr=bindparam("anonymous"),
            message="",
            state=case((idle, CANCELLED), else_=_OUT.c.state),
            last_error=case((idle, "cancelled: the learner was anonymised"), else_=_OUT.c.last_error),
        ),
        [{"eid": p.id, "anonymous": anonymous_address(p.id)} for p in people],
    )
    # A one-off mail's subject may greet them by name ("{{ learner.name }}, ..."): the name goes, as a word.
    for person in people:
        if not person.name or not person.name.strip():
            continue
        word = re.compile(rf"(?<!\w){re.escape(person.name.strip())}(?!\w)", re.IGNORECASE)
        named = session.execute(
            select(_OUT.c.id, _OUT.c.subject).where(
                _OUT.c.enrollment_id == person.id, _OUT.c.subject.contains(person.name.strip(), autoescape=True)
            )
        ).all()
        for row in named:
            subject = " ".join(word.sub("", row.subject).split())
            session.execute(update(_OUT).where(_OUT.c.id == row.id).values(subject=subject))
    mails = select(_OUT.c.id).where(_OUT.c.enrollment_id.in_([p.id for p in people]))
    session.execute(
        update(_EVENTS)
        .where(_EVENTS.c.mail_id.in_(mails))
        .values(
            email=select(_OUT.c.to_addr).where(_OUT.c.id == _EVENTS.c.mail_id).scalar_subquery(),
            detail=case((_EVENTS.c.kind == "click", _EVENTS.c.detail), else_=""),
        )
    )


def _forget_addressed(session: Session, run: Run, addresses: set[str]) -> None:
    """Mails to these addresses that belong to no place (the links mailed by 'find my group') go too, once
    nobody here knows the address: no other run's place, no account."""
    if not addresses:
        return
    # Exact matches (indexed) of the addresses as places stored them and lower-cased as mails were.
    forms = sorted(addresses | {address.lower() for address in addresses})
    other_places = select(Enrollment.email).where(Enrollment.email.in_(forms), Enrollment.run_id != run.id)
    known = {email.lower() for email in session.scalars(other_places) if email}
    known |= {email.lower() for email in session.scalars(select(Account.email).where(Account.email.in_(forms)))}
    wanted = sorted({address.lower() for address in addresses})
    unknown = [address for address in wanted if address not in known]
    if unknown:
        session.execute(
            update(_OUT)
            .where(_OUT.c.to_addr.in_(unknown), _OUT.c.enrollment_id.is_(None))
            .values(to_addr=FORGOTTEN, message="")
        )


def _forget_inbound(session: Session, run: Run, forgotten: set[str]) -> None:
    """Mail received by the run's groups loses its raw text and sender, unless it came from someone who stays."""
    handles = session.scalars(select(StudyGroup.handle).where(StudyGroup.run_id == run.id))
    recipients = [urls.group_address(handle) for handle in handles]
    if not recipients:
        return
    staying = session.scalars(
        select(func.lower(Enrollment.email)).where(
            Enrollment.run_id == run.id,
            Enrollment.keep_consent_at.is_not(None),
            Enrollment.status.in_(STAYING),
            Enrollment.group_id.is_not(None),
            Enrollment.email.is_not(None),
        )
    )
    keep = {email for email in staying if email} - forgotten
    query = update(InboundMessage).where(InboundMessage.recipient.in_(recipients), InboundMessage.raw != "")
    if keep:
        query = query.where(func.lower(InboundMessage.sender).not_in(sorted(keep)))
    session.execute(query.values(raw="", sender=""))


def on_run_anonymising(session: Session, payload: dict[str, Any]) -> None:
    """The places `enrollment_ids` of the run are about to be forgotten: forget mail's copies of them first,
    while their addresses are still known."""
    run = session.get(Run, int(payload["run_id"]))
    ids = [int(i) for i in payload.get("enrollment_ids", [])]
    if run is None or not ids:
        return
    forgotten: set[str] = set()
    for start in range(0, len(ids), 500):
        people = session.execute(
            select(Enrollment.id, Enrollment.email, Enrollment.name).where(Enrollment.id.in_(ids[start : start + 500]))
        ).all()
        if not people:
            continue
        _forget_mails(session, people)
        addresses = {p.email for p in people if p.email and not p.email.endswith(f"@{ANONYMOUS_DOMAIN}")}
        _forget_addressed(session, run, addresses)
        forgotten |= {address.lower() for address in addresses}
    _forget_inbound(session, run, forgotten)


def forget_local_outbox(session: Session, data_dir: Path) -> int:
    """Remove from the local Maildir outbox the files of mails whose learner was anonymised; how many."""
    path = outbox_path(data_dir)
    if not path.is_dir():
        return 0
    rows = session.execute(
        select(_OUT.c.id, _OUT.c.smtp_response).where(
            _OUT.c.to_addr.like(f"%@{ANONYMOUS_DOMAIN}"), _OUT.c.smtp_response.like(f"{MAILDIR_PREFIX}%")
        )
    ).all()
    if not rows:
        return 0
    box = mailbox.Maildir(str(path), create=False)
    for row in rows:
        # Only keys of this Maildir: a key it does not hold changes nothing (never a path).
        box.discard(row.smtp_response.removeprefix(MAILDIR_PREFIX).strip())
    # Recorded after the files went: a crash in between only means discarding them again next time.
    session.execute(update(_OUT).where(_OUT.c.id.in_([row.id for row in rows])).values(smtp_response=MAILDIR_REMOVED))
    return len(rows)


def mails_of(session: Session, enrollment_ids: list[int], email: str | None) -> list[dict[str, Any]]:
    """The mails sent (or to be sent) to these places and to `email`: subject, date, status (a learner's data)."""
    whom: ColumnElement[bool] = OutgoingMail.enrollment_id.in_(enrollment_ids)
    if email:
        whom = or_(whom, and_(OutgoingMail.enrollment_id.is_(None), OutgoingMail.to_addr == email.lower()))
    query = select(OutgoingMail.subject, OutgoingMail.kind, OutgoingMail.state, OutgoingMail.sent_at,
                   OutgoingMail.created_at).where(whom).order_by(OutgoingMail.id)  # fmt: skip
    return [
        {
            "subject": row.subject,
            "kind": row.kind,
            "status": "sent" if row.state == "done" else row.state,
            "date": (row.sent_at or row.created_at).isoformat(),
        }
        for row in session.execute(query)
    ]
