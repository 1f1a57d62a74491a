"""Who moderates a run's study groups: its organizer (and the course's owner, and admins), and the
facilitators the organizer names — local accounts, by handle or email (`run_facilitators`).

Moderators approve or discard held posts and delete posts in every group of the run; only the
organizer (or an admin) names facilitators.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from courses.models import Run
from courses.privacy import can_see_learners
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.db import Base, UTCDateTime
from server.floor.errors import Invalid, NotFound

MAX_FACILITATORS = 50  # a run's moderators are a handful of people, never a mailing list


class RunFacilitator(Base):
    """A local account that moderates the study groups of one run."""

    __tablename__ = "run_facilitators"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def facilitators(session: Session, run: Run) -> list[Account]:
    """The run's facilitators, by name."""
    query = select(Account).join(RunFacilitator, RunFacilitator.account_id == Account.id)
    return list(session.scalars(query.where(RunFacilitator.run_id == run.id).order_by(Account.handle)))


def find_local_account(session: Session, who: str) -> Account:
    """The local account named by `who`: a handle (with or without `@`) or an email address."""
    who = who.strip()
    if not who:
        raise Invalid("facilitator: give the handle or email address of an account of this instance")
    if "@" in who.lstrip("@"):
        account = session.scalar(select(Account).where(func.lower(Account.email) == who.lower()))
    else:
        account = session.scalar(select(Account).where(func.lower(Account.handle) == who.lstrip("@").lower()))
    if account is None or account.disabled:
        raise NotFound(f"facilitator: no account {who[:100]!r} on this instance (they need an account first)")
    return account


def add_facilitator(session: Session, run: Run, who: str) -> Account:
    """Name the local account `who` (handle or email) a facilitator of `run`; adding twice is fine."""
    account = find_local_account(session, who)
    if session.get(RunFacilitator, (run.id, account.id)) is None:
        count = session.scalar(select(func.count()).where(RunFacilitator.run_id == run.id)) or 0
        if count >= MAX_FACILITATORS:
            raise Invalid(f"facilitator: run {run.handle} has {MAX_FACILITATORS} facilitators already")
        session.add(RunFacilitator(run_id=run.id, account_id=account.id, created_at=now()))
        session.flush()
    return account


def remove_facilitator(session: Session, run: Run, account_id: int) -> bool:
    """Take a facilitator off `run`; False when they were not one."""
    row = session.get(RunFacilitator, (run.id, account_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def may_moderate(session: Session, account: Account | None, run: Run) -> bool:
    """True for the run's organizer (and the course's owner, and admins) and its facilitators."""
    if account is None or account.disabled:
        return False
    if can_see_learners(account, run):
        return True
    return session.get(RunFacilitator, (run.id, account.id)) is not None


def moderator_names(session: Session, run: Run) -> list[dict[str, str]]:
    """Who moderates the run's groups, as the group page names them: the organizer, then facilitators."""
    organizer = session.get(Account, run.organizer_id) if run.organizer_id else None
    if organizer is None and run.course is not None and run.course.owner_id:
        organizer = session.get(Account, run.course.owner_id)
    named = [(organizer, "organizer")] if organizer else []
    named += [(person, "facilitator") for person in facilitators(session, run)]
    return [
        {"name": person.display_name or person.handle, "handle": person.handle, "role": role} for person, role in named
    ]
