"""Domain events: written in the same transaction as the change, handled by the packages that care.

A domain package calls `publish(session, "run.opened", {...})`. The event is stored as a row
(an audit trail, and the seed of the coming timeline) and every handler subscribed to its name
runs at once, inside the same session, so the reactions it writes (outbox rows, scheduled mails)
commit or roll back together with the change. Handlers write rows only; I/O happens in workers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import Base, JSONDoc, UTCDateTime

Handler = Callable[[Session, dict[str, Any]], None]
_handlers: dict[str, list[Handler]] = {}
_preparers: dict[str, list[Handler]] = {}


class DomainEvent(Base):
    """One thing that happened in the domain, kept for audit and replay."""

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def subscribe(name: str, handler: Handler) -> None:
    """Run `handler(session, payload)` whenever an event called `name` is published."""
    if handler not in _handlers.setdefault(name, []):
        _handlers[name].append(handler)


def publish(session: Session, name: str, payload: dict[str, Any]) -> DomainEvent:
    """Record the event and run its handlers in the caller's transaction."""
    event = DomainEvent(name=name, payload=payload, created_at=now())
    session.add(event)
    for handler in list(_handlers.get(name, [])):
        handler(session, payload)
    return event


def subscribe_prepare(name: str, handler: Handler) -> None:
    """Run `handler(session, payload)` whenever rows called `name` are about to be written (`prepare`)."""
    if handler not in _preparers.setdefault(name, []):
        _preparers[name].append(handler)


def prepare(session: Session, name: str, payload: dict[str, Any]) -> None:
    """Let other packages fill in their columns of rows before they are written (nothing is recorded).

    A bulk path passes its rows (plain dicts) in the payload; a handler may set the columns its
    package maintains on them (the mail package: the schedule cursor), so that they are written with
    the row instead of by an UPDATE of every row after it — on PostgreSQL an UPDATE writes a new
    version of the row in every index. The event that follows the write is published as usual."""
    for handler in list(_preparers.get(name, [])):
        handler(session, payload)


def subscribers(name: str) -> list[Handler]:
    """The handlers subscribed to `name` (for tests and diagnostics)."""
    return list(_handlers.get(name, []))
