"""server.floor.bulk_rows: rows inserted at the driver's speed are stored as a Core insert stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.floor import changes
from server.floor.bulk_rows import insert_rows
from server.floor.db import session_factory
from server.floor.events import DomainEvent

EVENTS = DomainEvent.__table__
INSTANT = datetime(2027, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _raw(session: Session, prefix: str) -> list[tuple[str, str, str]]:
    """The rows as the database holds them (text), in name order."""
    cast = "CAST(payload AS TEXT), CAST(created_at AS TEXT)"
    query = f"SELECT name, {cast} FROM domain_events WHERE name LIKE :p ORDER BY name"  # noqa: S608
    return [tuple(row) for row in session.execute(text(query), {"p": prefix + "%"})]  # type: ignore[misc]


def test_the_rows_hold_what_a_core_insert_stores(session: Session) -> None:
    paris = timezone(timedelta(hours=1))
    documents = [{}, {}, {"b": [1, 2], "a": "é"}, {"nested": {"x": None}}, []]
    instants = [INSTANT, INSTANT, INSTANT.astimezone(paris), INSTANT + timedelta(days=400), INSTANT]
    rows = [(f"{i}", doc, at) for i, (doc, at) in enumerate(zip(documents, instants, strict=True))]
    # The columns in another order than the table's: each value still lands in its own column.
    fast_rows = [(a, d, "fast" + n) for n, d, a in rows]
    insert_rows(session.connection(), EVENTS, ["created_at", "payload", "name"], fast_rows)
    session.connection().execute(
        insert(EVENTS), [{"name": "core" + n, "payload": d, "created_at": a} for n, d, a in rows]
    )
    fast, core = _raw(session, "fast"), _raw(session, "core")
    assert [row[1:] for row in fast] == [row[1:] for row in core]
    assert len(fast) == 5 and fast[2][1] != fast[0][1]
    read = session.query(DomainEvent).filter(DomainEvent.name.like("fast%")).order_by(DomainEvent.name).all()
    assert [event.payload for event in read] == documents
    assert [event.created_at for event in read] == instants


def test_progress_is_told_after_each_batch_and_a_duplicate_is_refused_as_in_core(session: Session) -> None:
    told: list[int] = []
    rows = [(f"batch-{i}", {"i": i}, INSTANT) for i in range(7)]
    insert_rows(session.connection(), EVENTS, ["name", "payload", "created_at"], rows, progress=told.append, batch=3)
    assert told == [3, 3, 1] and len(_raw(session, "batch-")) == 7
    session.commit()
    with pytest.raises(IntegrityError):
        insert_rows(session.connection(), EVENTS, ["id", "name", "payload", "created_at"], [(1, "a", {}, INSTANT)] * 2)
    session.rollback()


def test_a_bulk_write_moves_the_generation_of_public_pages(session: Session) -> None:
    before = changes.generation()
    with session_factory()() as other:
        insert_rows(other.connection(), EVENTS, ["name", "payload", "created_at"], [("x", {}, INSTANT)])
        other.commit()
    assert changes.generation() > before
    assert _raw(session, "x")
