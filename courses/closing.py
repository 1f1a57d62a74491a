"""Groups after the run: they stay open (mail relayed, fediverse posts copied) until the organizer closes them.

A run that ends (`runs.status` 'finished') changes nothing for its study groups: members who go on
talking keep their list and their copies. Closing is an organizer's act (the run's page, or
`mechmooc run close-groups RUN`): a closed group's address refuses mail at RCPT (550, saying it was
closed) and fediverse posts to it are not taken, so no member gets a copy. Its archive stays readable.
Retention (courses.privacy) still forgets the learners who did not ask to stay, on its own date.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Run, StudyGroup
from server.floor.clock import now


def is_closed_by_organizer(group: StudyGroup) -> bool:
    """True for a group its organizer closed."""
    return group.closed_at is not None


def close_group(session: Session, group: StudyGroup) -> bool:
    """Close `group` (no more mail nor fediverse posts); False when it was closed already."""
    if group.closed_at is not None:
        return False
    group.closed_at = now()
    session.flush()
    return True


def close_groups(session: Session, run: Run) -> list[StudyGroup]:
    """Close every open group of `run` (merged remnants too: their address forwards to a closed group)."""
    query = select(StudyGroup).where(StudyGroup.run_id == run.id, StudyGroup.closed_at.is_(None))
    return [group for group in session.scalars(query.order_by(StudyGroup.number)).all() if close_group(session, group)]


def reopen_group(session: Session, group: StudyGroup) -> None:
    """Open a closed `group` again (an organizer's change of mind)."""
    group.closed_at = None
    session.flush()
