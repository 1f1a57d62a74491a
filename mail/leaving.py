"""A learner leaving a run because of mail: an unsubscribe link, a stop-all confirmation, a complaint."""

from __future__ import annotations

from sqlalchemy.orm import Session

from courses.models import Enrollment
from server.floor.events import publish


def leave_run(session: Session, enrollment: Enrollment) -> bool:
    """Mark `enrollment` unsubscribed and stop its cursor (once); True when it changed."""
    if enrollment.status == "unsubscribed":
        return False
    enrollment.status = "unsubscribed"
    enrollment.next_due_at = None
    publish(session, "enrollment.changed", {"enrollment_id": enrollment.id, "change": "unsubscribed"})
    return True
