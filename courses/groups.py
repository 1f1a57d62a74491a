"""Study groups of a run in the database: form them in bulk, place late joiners, merge remnants, move learners."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses import grouping, versions
from courses.handles import free_handles
from courses.models import Enrollment, Post, Run, StudyGroup, table
from courses.zones import local_midnight
from server.floor.db import is_postgres
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish as publish_event

GROUPED_STATUSES = ("confirmed", "paused")


def _other_keys(session: Session, run: Run) -> list[str]:
    """The run's grouping keys after the time zone, in order (language, question ids)."""
    group_by = versions.pinned(session, run).get("group_by", ["timezone", "language"])
    return [key for key in group_by if key != "timezone"]


def _learner(row: Any, keys: list[str], instant: datetime, default_language: str) -> grouping.Learner:
    values = tuple(
        (row.language or default_language) if key == "language" else str((row.answers or {}).get(key, ""))
        for key in keys
    )
    return grouping.Learner(offset=grouping.utc_offset(row.timezone, instant), keys=values, id=row.id)


def _learners(
    session: Session, run: Run, **where: Any
) -> tuple[list[grouping.Learner], dict[int, str], dict[int, int]]:
    """The run's groupable learners as grouping.Learner, their zones, and their current group ids."""
    keys = _other_keys(session, run)
    instant = local_midnight(run.start_date, run.timezone)
    language = versions.pinned(session, run).get("language", "")
    # Answers are JSON: read them only when a question is a grouping key (100,000 decodes add up).
    answers = Enrollment.answers if any(key != "language" for key in keys) else literal(None).label("answers")
    query = select(Enrollment.id, Enrollment.timezone, Enrollment.language, answers, Enrollment.group_id)
    query = query.where(
        Enrollment.run_id == run.id, Enrollment.status.in_(GROUPED_STATUSES), Enrollment.solo.is_(False)
    )
    for column, value in where.items():
        query = query.where(getattr(Enrollment, column) == value)
    rows = session.connection().execute(query.order_by(Enrollment.id)).all()
    learners = [_learner(row, keys, instant, language) for row in rows]
    return learners, {row.id: row.timezone for row in rows}, {row.id: row.group_id for row in rows}


def _new_groups(session: Session, run: Run, labels: list[tuple[str, str]]) -> list[int]:
    """Insert len(labels) groups after the run's last one, with free handles; their ids in order."""
    first = (session.scalar(select(func.max(StudyGroup.number)).where(StudyGroup.run_id == run.id)) or 0) + 1
    numbers = list(range(first, first + len(labels)))
    handles = free_handles(session, [f"{run.handle}-{number}" for number in numbers])
    rows = [
        {"run_id": run.id, "number": n, "handle": h, "name": f"Group {n}", "timezone": zone, "language": language}
        for n, h, (zone, language) in zip(numbers, handles, labels, strict=True)
    ]
    session.connection().execute(insert(table(StudyGroup)), rows)
    created = select(StudyGroup.id).where(StudyGroup.run_id == run.id, StudyGroup.number >= first)
    return list(session.scalars(created.order_by(StudyGroup.number)))


# PostgreSQL sets every learner's group in one statement from two arrays; an executemany of
# 100,000 single-row UPDATEs costs as much as inserting the rows again.
_ASSIGN_FROM_ARRAYS = text(
    "UPDATE enrollments SET group_id = pairs.gid"
    " FROM unnest(CAST(:eids AS integer[]), CAST(:gids AS integer[])) AS pairs(eid, gid)"
    " WHERE enrollments.id = pairs.eid"
)


def _assign(session: Session, members: dict[int, list[int]]) -> None:
    """Set the group of many enrollments in one statement (PostgreSQL) or one executemany (SQLite)."""
    pairs = [(eid, gid) for gid, enrollment_ids in members.items() for eid in enrollment_ids]
    if is_postgres(session) and pairs:
        eids, gids = zip(*pairs, strict=True)
        session.connection().execute(_ASSIGN_FROM_ARRAYS, {"eids": list(eids), "gids": list(gids)})
    elif pairs:
        enrollments = table(Enrollment)
        statement = update(enrollments).where(enrollments.c.id == bindparam("eid")).values(group_id=bindparam("gid"))
        session.connection().execute(statement, [{"eid": eid, "gid": gid} for eid, gid in pairs])
    for thing in list(session.identity_map.values()):
        if isinstance(thing, Enrollment):
            session.expire(thing, ["group_id", "group"])


def form_groups(session: Session, run: Run) -> list[int]:
    """Group the run's ungrouped learners: all at once if it has no groups yet, else as late joiners."""
    if session.scalar(select(func.count()).select_from(StudyGroup).where(StudyGroup.run_id == run.id)):
        learners, _, _ = _learners(session, run, group_id=None)
        return [place(session, run, learner) for learner in learners]
    learners, zones, _ = _learners(session, run)
    if not learners:
        return []
    keyed = bool(_other_keys(session, run))
    groups = grouping.form_groups(learners, run.group_size)
    ids = _new_groups(session, run, [grouping.label(g, zones, 0 if keyed else None) for g in groups])
    _assign(session, {gid: [m.id for m in members] for gid, members in zip(ids, groups, strict=True)})
    return ids


def _shapes(session: Session, run: Run) -> list[grouping.GroupShape]:
    learners, _, group_of = _learners(session, run)
    members: dict[int, list[grouping.Learner]] = defaultdict(list)
    for learner in learners:
        if group_of[learner.id] is not None:
            members[group_of[learner.id]].append(learner)
    group_ids = session.scalars(select(StudyGroup.id).where(StudyGroup.run_id == run.id).order_by(StudyGroup.number))
    return [grouping.GroupShape(id=gid, members=tuple(members.get(gid, ()))) for gid in group_ids]


def place(session: Session, run: Run, learner: grouping.Learner) -> int:
    """Put one late joiner in the best-matching group with room, or a new group; the group id."""
    chosen = grouping.best_group(learner, _shapes(session, run), run.group_size)
    if chosen is None:
        zone = session.scalar(select(Enrollment.timezone).where(Enrollment.id == learner.id)) or "UTC"
        chosen = _new_groups(session, run, [(zone, learner.keys[0] if learner.keys else "")])[0]
    _assign(session, {chosen: [learner.id]})
    return chosen


def place_enrollment(session: Session, enrollment: Enrollment) -> int | None:
    """Group a learner who joined a run whose groups exist already; None if solo or not grouped yet."""
    run = enrollment.run
    has_groups = session.scalar(select(func.count()).select_from(StudyGroup).where(StudyGroup.run_id == run.id))
    if enrollment.solo or enrollment.status not in GROUPED_STATUSES or not has_groups:
        return None
    session.flush()
    learners, _, _ = _learners(session, run, id=enrollment.id)
    return place(session, run, learners[0]) if learners else None


def merge_remnants(session: Session, run: Run) -> list[tuple[int, int]]:
    """Merge groups that shrank below half the target size into their nearest group with room."""
    merges = grouping.remnant_merges(_shapes(session, run), run.group_size)
    for source, target in merges:
        session.execute(update(Enrollment).where(Enrollment.group_id == source).values(group_id=target))
        session.execute(update(Post).where(Post.group_id == source).values(group_id=target))
        try:
            # Rows of other packages may still name the old group: then it stays, empty.
            with session.begin_nested():
                session.execute(delete(StudyGroup).where(StudyGroup.id == source))
        except IntegrityError:
            pass
    if merges:
        session.expire_all()
    return merges


def find_group(session: Session, run: Run, reference: str) -> StudyGroup:
    """A group of `run` by handle or number."""
    query = select(StudyGroup).where(StudyGroup.run_id == run.id)
    column = StudyGroup.number if reference.isdigit() else StudyGroup.handle
    group = session.scalar(query.where(column == (int(reference) if reference.isdigit() else reference)))
    if group is None:
        raise NotFound(f"run {run.handle} has no group {reference}")
    return group


def move_learner(session: Session, enrollment: Enrollment, group: StudyGroup) -> None:
    """An organizer moves a learner into another group of the same run."""
    if group.run_id != enrollment.run_id:
        raise Invalid(f"group {group.handle} belongs to another run than {enrollment.email or enrollment.actor}")
    if enrollment.group_id == group.id:
        return
    enrollment.group_id = group.id
    enrollment.solo = False
    session.flush()
    publish_event(session, "enrollment.changed", {"enrollment_id": enrollment.id, "change": "group"})
