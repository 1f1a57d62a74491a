"""Rate limits kept in the database, shared by every process: at most `limit` hits of a key per window.

A sliding log (one row per counted hit), so a limit means exactly what it says: "3 a day" is never a
fourth within 24 hours. Each call forgets its key's hits that left the window, so the table stays as
small as the traffic of one window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import Base, UTCDateTime


class RateHit(Base):
    """One counted hit of `key` in `scope` (a confirmation mail sent to an address, say)."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def hit(session: Session, scope: str, key: str, limit: int, window_seconds: float) -> float | None:
    """Count one hit of `key` in `scope` if fewer than `limit` fell in the last `window_seconds`: None;
    else count nothing and return the seconds until the next hit is allowed."""
    instant = now()
    window = timedelta(seconds=window_seconds)
    key = key[:320]
    session.execute(delete(RateHit).where(RateHit.scope == scope, RateHit.key == key, RateHit.at <= instant - window))
    recent = (RateHit.scope == scope, RateHit.key == key, RateHit.at > instant - window)
    if (session.scalar(select(func.count(RateHit.id)).where(*recent)) or 0) >= limit:
        # Allowed again when the limit-th most recent hit leaves the window.
        anchor = session.scalars(
            select(RateHit.at).where(*recent).order_by(RateHit.at.desc()).offset(limit - 1).limit(1)
        ).one()
        return max((anchor + window - instant).total_seconds(), 1.0)
    session.add(RateHit(scope=scope, key=key, at=instant))
    session.flush()
    return None
