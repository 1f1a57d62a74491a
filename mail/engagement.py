"""Each learner's signs of life in a run: mails received, opened and clicked, posts to the group, and when last.

The organizer's first question is who went quiet: `run_engagement` answers it in four aggregate queries,
whatever the number of learners. Opens are approximate (mail programs load or block images), so a
click or a post counts as a sign of life as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Enrollment, Post, Run, StudyGroup
from mail.models import MailEvent, OutgoingMail
from mail.stats import OTHER_KINDS, TEST_KEY
from server.floor.queue import DONE

ACTIVE = ("confirmed", "paused")


@dataclass(frozen=True)
class Engagement:
    """One learner of the run and what they did."""

    enrollment_id: int
    name: str
    who: str  # their address, or their fediverse account
    group: str
    status: str
    joined: datetime
    mails: int
    opened: int
    clicked: int
    posts: int
    last_seen: datetime | None  # the last open, click or post; None: no sign of life yet


def run_engagement(session: Session, run: Run) -> list[Engagement]:
    """Every confirmed or paused learner of `run` with their counts, in enrollment order."""
    learners = session.execute(
        select(
            Enrollment.id,
            Enrollment.name,
            Enrollment.email,
            Enrollment.actor,
            Enrollment.status,
            Enrollment.confirmed_at,
            Enrollment.created_at,
            StudyGroup.name.label("group"),
        )  # fmt: skip
        .outerjoin(StudyGroup, StudyGroup.id == Enrollment.group_id)
        .where(Enrollment.run_id == run.id, Enrollment.status.in_(ACTIVE))
        .order_by(Enrollment.id)
    ).all()
    counted = (
        OutgoingMail.run_id == run.id,
        OutgoingMail.kind.in_(("unit", *OTHER_KINDS)),
        OutgoingMail.key.not_like(f"{TEST_KEY}%"),
    )
    mails: dict[int | None, int] = dict(
        session.execute(
            select(OutgoingMail.enrollment_id, func.count())
            .where(*counted, OutgoingMail.state == DONE)
            .group_by(OutgoingMail.enrollment_id)
        ).all()
    )
    events: dict[tuple[int | None, str], tuple[int, datetime]] = {}
    for enrollment_id, kind, count, last in session.execute(
        select(
            OutgoingMail.enrollment_id,
            MailEvent.kind,
            func.count(func.distinct(MailEvent.mail_id)),
            func.max(MailEvent.created_at),
        )
        .join(OutgoingMail, OutgoingMail.id == MailEvent.mail_id)
        .where(*counted, MailEvent.kind.in_(("open", "click")))
        .group_by(OutgoingMail.enrollment_id, MailEvent.kind)
    ):
        events[(enrollment_id, kind)] = (int(count), _aware(last))
    posts: dict[str, tuple[int, datetime]] = {}
    for email, actor, count, last in session.execute(
        select(Post.author_email, Post.author_actor, func.count(), func.max(Post.created_at))
        .where(Post.run_id == run.id, Post.deleted.is_(False))
        .group_by(Post.author_email, Post.author_actor)
    ):
        for key in ((email or "").lower(), actor or ""):
            if key:
                before = posts.get(key, (0, _aware(last)))
                posts[key] = (before[0] + int(count), max(before[1], _aware(last)))
    return [_engagement(row, mails, events, posts) for row in learners]


def _aware(value: datetime | str) -> datetime:
    """A max() over a UTCDateTime column skips the column's type on SQLite: text or naive there."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _engagement(
    row: Any,
    mails: dict[int | None, int],
    events: dict[tuple[int | None, str], tuple[int, datetime]],
    posts: dict[str, tuple[int, datetime]],
) -> Engagement:
    learner_id = row.id
    email, actor = (row.email or "").lower(), row.actor or ""
    opened = events.get((learner_id, "open"))
    clicked = events.get((learner_id, "click"))
    wrote = posts.get(email) if email else posts.get(actor) if actor else None
    moments = [seen[1] for seen in (opened, clicked, wrote) if seen is not None]
    return Engagement(
        enrollment_id=learner_id,
        name=row.name or "",
        who=row.email or row.actor or "",
        group=row.group or "",
        status=row.status,
        joined=_aware(row.confirmed_at or row.created_at),
        mails=mails.get(learner_id, 0),
        opened=opened[0] if opened else 0,
        clicked=clicked[0] if clicked else 0,
        posts=wrote[0] if wrote else 0,
        last_seen=max(moments) if moments else None,
    )
