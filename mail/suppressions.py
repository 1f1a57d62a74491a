"""The suppression list: addresses no mail goes to (hard bounces, repeated soft bounces, complaints, opt-outs)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mail.models import Suppression
from server.floor.clock import now

SOFT_BOUNCE_LIMIT = 3
# Transactional mails a person asked for themselves may still reach an address that opted out or bounced;
# a complaint (marked as spam) stops everything.
BLOCKS_TRANSACTIONAL = ("complaint",)


def _row(session: Session, email: str) -> Suppression:
    address = email.strip().lower()
    row = session.scalar(select(Suppression).where(Suppression.email == address))
    if row is None:
        row = Suppression(email=address, active=False, soft_bounces=0, created_at=now(), updated_at=now())
        session.add(row)
    return row


def suppress(session: Session, email: str, reason: str, detail: str = "") -> Suppression:
    """Stop mailing `email` for `reason` (hard_bounce, complaint, unsubscribed, manual)."""
    row = _row(session, email)
    row.active, row.reason, row.detail, row.updated_at = True, reason, detail[:2000], now()
    session.flush()
    return row


def soft_bounce(session: Session, email: str, detail: str = "", limit: int = SOFT_BOUNCE_LIMIT) -> Suppression:
    """Score one temporary failure; the address is suppressed at `limit` of them."""
    row = _row(session, email)
    row.soft_bounces = (row.soft_bounces or 0) + 1
    row.updated_at = now()
    if row.soft_bounces >= limit and not row.active:
        row.active, row.reason, row.detail = True, "soft_bounce", detail[:2000]
    session.flush()
    return row


def lift(session: Session, email: str) -> bool:
    """Mail `email` again (it re-confirmed a signup); True if a suppression was lifted."""
    row = session.scalar(select(Suppression).where(Suppression.email == email.strip().lower()))
    if row is None or not (row.active or row.soft_bounces):
        return False
    row.active, row.soft_bounces, row.updated_at = False, 0, now()
    return True


def suppressed(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """The suppressed addresses among `emails`, with each one's reason (one query per batch)."""
    wanted = {e.lower() for e in emails}
    if not wanted:
        return {}
    rows = session.execute(
        select(Suppression.email, Suppression.reason).where(Suppression.active, Suppression.email.in_(wanted))
    )
    return {email: reason for email, reason in rows}
