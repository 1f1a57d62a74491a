"""A run's activity over time, counted in the database: signups per day, group posts per day.

Each function is one aggregate query, whatever the number of learners or posts; days are UTC days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

from courses.models import Enrollment, Post, Run, StudyGroup

# A post's source as organizers name it: by email, from the fediverse, written on this site.
SOURCES = ("email", "activitypub", "local")


class utc_day(FunctionElement[date]):  # noqa: N801  (an SQL function, named like one)
    """The UTC day of a UTCDateTime column (SQLite stores naive UTC text, PostgreSQL timestamptz)."""

    type = Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS date)"


def _day(value: object) -> date:
    """SQLite answers date() with text, PostgreSQL with a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def signups_by_day(session: Session, run: Run) -> dict[date, dict[str, int]]:
    """Places of the run by the UTC day they were asked for, counted by their status now."""
    day = utc_day(Enrollment.created_at)
    rows = session.execute(
        select(day, Enrollment.status, func.count()).where(Enrollment.run_id == run.id).group_by(day, Enrollment.status)
    ).all()
    days: dict[date, dict[str, int]] = defaultdict(dict)
    for when, status, count in rows:
        days[_day(when)][status] = int(count)
    return dict(sorted(days.items()))


def posts_by_group_day(session: Session, run: Run) -> dict[str | None, dict[date, dict[str, int]]]:
    """The run's group posts (not held, not deleted) per group handle, per UTC day, per source."""
    day = utc_day(Post.created_at)
    rows = session.execute(
        select(StudyGroup.handle, day, Post.source, func.count())
        .select_from(Post)
        .outerjoin(StudyGroup, StudyGroup.id == Post.group_id)
        .where(Post.run_id == run.id, Post.kind == "group", Post.held.is_(False), Post.deleted.is_(False))
        .group_by(StudyGroup.handle, day, Post.source)
    ).all()
    groups: dict[str | None, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for group_id, when, source, count in rows:
        groups[group_id][_day(when)][source if source in SOURCES else "local"] = int(count)
    return {group: dict(days) for group, days in groups.items()}
