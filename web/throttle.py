"""Rate limits kept in the database, so that every web process counts the same attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.floor.clock import now
from web.models import Attempt


@dataclass(frozen=True)
class Limit:
    """At most `attempts` within `window` for one key of `scope`."""

    scope: str
    attempts: int
    window: timedelta


LOGIN_PER_EMAIL = Limit("login-email", 5, timedelta(minutes=15))
# Wider, for one client guessing many addresses (a shared NAT may hold several people).
LOGIN_PER_CLIENT = Limit("login-client", 30, timedelta(minutes=15))
RESET_PER_EMAIL = Limit("reset-email", 3, timedelta(hours=1))
# Against one client mailing reset links to many addresses (the mails would look like spam from us).
RESET_PER_CLIENT = Limit("reset-client", 10, timedelta(hours=1))


def wait_time(session: Session, limit: Limit, key: str) -> timedelta | None:
    """How long `key` must wait before its next attempt, or None when it may try now."""
    since = now() - limit.window
    where = (Attempt.scope == limit.scope, Attempt.key == key, Attempt.at > since)
    if (session.scalar(select(func.count(Attempt.id)).where(*where)) or 0) < limit.attempts:
        return None
    # The block lifts when the `attempts`-th most recent attempt leaves the window.
    anchor = session.scalars(
        select(Attempt.at).where(*where).order_by(Attempt.at.desc()).offset(limit.attempts - 1).limit(1)
    ).one()
    return max(anchor + limit.window - now(), timedelta(seconds=1))


def record(session: Session, limit: Limit, key: str) -> None:
    """Count one attempt for `key`, forgetting this key's attempts that left the window."""
    session.execute(
        delete(Attempt).where(Attempt.scope == limit.scope, Attempt.key == key, Attempt.at <= now() - limit.window)
    )
    session.add(Attempt(scope=limit.scope, key=key, at=now()))
    session.flush()


def clear(session: Session, limit: Limit, key: str) -> None:
    """Forget `key`'s attempts (after a successful login)."""
    session.execute(delete(Attempt).where(Attempt.scope == limit.scope, Attempt.key == key))


def minutes(wait: timedelta) -> int:
    """A wait rounded up to whole minutes, for messages."""
    return max(1, -(-int(wait.total_seconds()) // 60))
