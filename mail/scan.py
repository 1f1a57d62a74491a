"""The scheduler's scan as plain rows: the learners due, read with their group by one Core SELECT, and
their cursors moved on by one executemany UPDATE.

Loading 500 Enrollment objects with their groups and flushing each one's new cursor cost more per
learner than rendering their mail (mail.scheduler's tick, 20,000 learners: 0.7 s to load and 2.3 s to
flush and insert, against 3 s to render). Most learners due are plain — active, by mail, in a group or
solo, no account here — and need nothing but these columns; anyone else is loaded and handled by the
ORM as before (mail.scheduler.schedule_due).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Row, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from courses.models import Enrollment, StudyGroup
from mail.messages import Personal
from server.floor.db import is_postgres

ACTIVE = "confirmed"
_enrollments = cast(Table, Enrollment.__table__)
_groups = cast(Table, StudyGroup.__table__)


class Group(NamedTuple):
    """A learner's study group as a mail shows it (mail.messages.Grouping)."""

    name: str
    handle: str


def due_rows(session: Session, instant: datetime, lookahead: timedelta, limit: int) -> list[Row[Any]]:
    """Up to `limit` learners with a unit due by `instant` (by mail: within `lookahead` of it), oldest due
    first, with their group's name and handle (locked on PostgreSQL, as the ORM scan was)."""
    e = _enrollments.c
    query = (
        select(
            e.id,
            e.run_id,
            e.status,
            e.email,
            e.actor,
            e.account_id,
            e.name,
            e.timezone,
            e.language,
            e.token,
            e.solo,
            e.group_id,
            e.next_position,
            e.next_due_at,
            _groups.c.name.label("group_name"),
            _groups.c.handle.label("group_handle"),
        )  # fmt: skip
        .select_from(_enrollments.outerjoin(_groups, _groups.c.id == e.group_id))
        .where(e.next_due_at <= instant + lookahead, or_(e.email.is_not(None), e.next_due_at <= instant))
        .order_by(e.next_due_at)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=_enrollments)
    return list(session.execute(query))


def plain(row: Row[Any]) -> bool:
    """True for a learner the scan handles as a row: active, by mail, grouped or solo, no account here."""
    return bool(
        row.status == ACTIVE and row.email and row.account_id is None and (row.solo or row.group_id is not None)
    )


def personal(row: Row[Any]) -> Personal:
    """The learner's own merge-tag fields."""
    return Personal(row.name, row.email or "", row.timezone, row.language, row.token)


def grouping(row: Row[Any]) -> Group | None:
    """The learner's group, or None (solo)."""
    return Group(row.group_name, row.group_handle) if row.group_id is not None else None


def move_cursors(session: Session, cursors: list[dict[str, Any]]) -> None:
    """Write each {"row_id", "position", "due"} of `cursors`: one executemany UPDATE (psycopg pipelines
    it; one UPDATE from a VALUES list, tried, took twice as long on PostgreSQL)."""
    if not cursors:
        return
    table = _enrollments
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            next_position=bindparam("position", type_=table.c.next_position.type),
            next_due_at=bindparam("due", type_=table.c.next_due_at.type),
        )
    )
    session.execute(statement, cursors)
