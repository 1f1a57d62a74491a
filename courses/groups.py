"""Study groups of a run in the database: form them in bulk, place late joiners, merge remnants, move learners.

Groups exist before any learner's first unit is rendered: they form at `grouping_at(run)`, an hour
before the start day begins anywhere on Earth (or when signups close, if that is sooner), and anyone
seated after that is placed at once. A learner taken out of a group by moderation learns on their own
(`solo`) until an organizer moves them into a group: no regrouping brings them back.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session

from courses import grouping, versions
from courses.handles import free_handles
from courses.models import Enrollment, Post, Run, StudyGroup, table
from courses.zones import local_midnight
from server.floor.clock import now
from server.floor.db import is_postgres
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish as publish_event

GROUPED_STATUSES = ("confirmed", "paused")
# The first instant of a day anywhere is midnight at UTC+14 (Line Islands): a unit due at 00:00 there,
# rendered ahead by the mail package's few minutes, must find its group already formed.
EARLIEST_ZONE = timezone(timedelta(hours=14))
GROUPING_MARGIN = timedelta(hours=1)


def grouping_at(run: Run) -> datetime:
    """When the run's groups form: an hour before its start day begins anywhere, or when signups close."""
    earliest = datetime.combine(run.start_date, time(0), tzinfo=EARLIEST_ZONE) - GROUPING_MARGIN
    closes = run.signup_closes_at
    return min(earliest, closes) if closes is not None else earliest


def has_groups(session: Session, run: Run) -> bool:
    """True once the run's study groups are formed."""
    query = select(StudyGroup.id).where(StudyGroup.run_id == run.id, StudyGroup.merged_into_id.is_(None))
    return session.scalar(query.limit(1)) is not None


def _lock(session: Session, run: Run) -> None:
    """Hold the run's row until commit (PostgreSQL), so that two workers never form or number groups twice.

    SQLite writers are serialized already (callers that read first begin with `immediate`)."""
    if is_postgres(session):
        session.execute(select(Run.id).where(Run.id == run.id).with_for_update())


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
    if keys != ["language"]:
        learners = [_learner(row, keys, instant, language) for row in rows]
        return learners, {row.id: row.timezone for row in rows}, {row.id: row.group_id for row in rows}
    # The usual grouping (time zone, then language) without a look-up per learner: a run's few
    # zones are worked out once each (100,000 learners took half a second).
    offsets: dict[str, int] = {}
    learners, zones, groups = [], {}, {}
    for eid, zone, spoken, _answers, group_id in rows:
        offset = offsets.get(zone)
        if offset is None:
            offset = offsets[zone] = grouping.utc_offset(zone, instant)
        learners.append(grouping.Learner(offset, (spoken or language,), eid))
        zones[eid], groups[eid] = zone, group_id
    return learners, zones, groups


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


_ASSIGN_FROM_JSON = text(
    "UPDATE enrollments SET group_id = pairs.value"
    " FROM json_each(:pairs) AS pairs WHERE enrollments.id = CAST(pairs.key AS INTEGER)"
)


def _assign(session: Session, members: dict[int, list[int]]) -> None:
    """Set the group of many enrollments in one statement (PostgreSQL) or one executemany (SQLite)."""
    # In the rows' order: a group's members lie all over the table, and 100,000 updates in group order
    # rewrote each page of it many times over (SQLite's page cache holds a few MB).
    pairs = sorted((eid, gid) for gid, enrollment_ids in members.items() for eid in enrollment_ids)
    if is_postgres(session) and pairs:
        eids, gids = zip(*pairs, strict=True)
        session.connection().execute(_ASSIGN_FROM_ARRAYS, {"eids": list(eids), "gids": list(gids)})
    elif pairs and sqlite3.sqlite_version_info >= (3, 33):
        # SQLite: the same in one statement from one JSON object (UPDATE ... FROM, SQLite 3.33): the
        # executemany spent most of its time binding 100,000 rows of parameters.
        mapping = json.dumps({str(eid): gid for eid, gid in pairs})
        session.connection().execute(_ASSIGN_FROM_JSON, {"pairs": mapping})
    elif pairs:
        enrollments = table(Enrollment)
        statement = update(enrollments).where(enrollments.c.id == bindparam("eid")).values(group_id=bindparam("gid"))
        session.connection().execute(statement, [{"eid": eid, "gid": gid} for eid, gid in pairs])
    for thing in list(session.identity_map.values()):
        if isinstance(thing, Enrollment):
            session.expire(thing, ["group_id", "group"])


def _form(
    session: Session, run: Run, learners: list[grouping.Learner], zones: dict[int, str]
) -> list[tuple[int, list[grouping.Learner]]]:
    """The run's first groups from `learners` by the grouping rule, inserted: (group id, members) each."""
    keyed = bool(_other_keys(session, run))
    groups = grouping.form_groups(learners, run.group_size)
    ids = _new_groups(session, run, [grouping.label(g, zones, 0 if keyed else None) for g in groups])
    return list(zip(ids, groups, strict=True))


def form_groups(session: Session, run: Run) -> list[int]:
    """Group the run's ungrouped learners: all at once if it has no groups yet, else as late joiners."""
    session.flush()
    _lock(session, run)
    if has_groups(session, run):
        learners, _, _ = _learners(session, run, group_id=None)
        return [place(session, run, learner) for learner in learners]
    learners, zones, _ = _learners(session, run)
    if not learners:
        return []
    formed = _form(session, run, learners, zones)
    _assign(session, {gid: [m.id for m in members] for gid, members in formed})
    return [gid for gid, _ in formed]


def form_groups_with(session: Session, run: Run, newcomers: list[dict[str, Any]]) -> list[int] | None:
    """`form_groups` with learners about to be inserted: `newcomers` are their rows (dicts with every
    column of `enrollments` but the id, in the order they will be inserted), each given its `group_id`
    here so that it is written with the row (on PostgreSQL an UPDATE of 100,000 rows after their
    insert costs about the insert again). The groups' ids, or None when the run has groups already (then insert first, and `form_groups` places them).

    The groups are the ones `form_groups` would form after the insert: the rule orders learners by
    (offset, keys, id), and inserted rows take ids above every row of the table, in insertion order,
    so each newcomer stands in with an id above the run's learners' in its row's order."""
    session.flush()
    _lock(session, run)
    if has_groups(session, run):
        return None
    learners, zones, _ = _learners(session, run)
    keys, language = _other_keys(session, run), versions.pinned(session, run).get("language", "")
    instant = local_midnight(run.start_date, run.timezone)
    base = max((learner.id for learner in learners), default=0) + 1
    offsets: dict[str, int] = {}
    by_language = keys == ["language"]
    for index, row in enumerate(newcomers):
        row["group_id"] = None
        if row["status"] not in GROUPED_STATUSES or row["solo"]:
            continue
        stand_in, zone = base + index, row["timezone"] or "UTC"
        if by_language:
            offset = offsets.get(zone)
            if offset is None:
                offset = offsets[zone] = grouping.utc_offset(zone, instant)
            learner = grouping.Learner(offset, (row["language"] or language,), stand_in)
        else:
            pending = SimpleNamespace(id=stand_in, timezone=zone, language=row["language"], answers=row["answers"])
            learner = _learner(pending, keys, instant, language)
        learners.append(learner)
        zones[stand_in] = zone
    if not learners:
        return []
    formed = _form(session, run, learners, zones)
    _assign(session, {gid: [m.id for m in members if m.id < base] for gid, members in formed})
    for gid, members in formed:
        for member in members:
            if member.id >= base:
                newcomers[member.id - base]["group_id"] = gid
    return [gid for gid, _ in formed]


@dataclass(frozen=True)
class GroupingOutcome:
    """What forming a run's groups did: learners placed, groups opened, small groups merged away."""

    placed: int
    new_groups: int
    merged: int


def _waiting_count(session: Session, run: Run) -> int:
    waiting = select(func.count()).where(
        Enrollment.run_id == run.id,
        Enrollment.group_id.is_(None),
        Enrollment.status.in_(GROUPED_STATUSES),
        Enrollment.solo.is_(False),
    )
    return int(session.scalar(waiting) or 0)


def _group_rows(session: Session, run: Run) -> int:
    return int(session.scalar(select(func.count()).where(StudyGroup.run_id == run.id)) or 0)


def group_now(session: Session, run: Run) -> GroupingOutcome:
    """An organizer's "form groups now": group everyone waiting, merge groups below half size; the counts."""
    waiting, groups = _waiting_count(session, run), _group_rows(session, run)
    form_groups(session, run)
    merged = len(merge_remnants(session, run))
    # A merged group stays as a forward (a row): the rows added are the groups opened.
    return GroupingOutcome(
        placed=waiting - _waiting_count(session, run), new_groups=_group_rows(session, run) - groups, merged=merged
    )


def _shapes(session: Session, run: Run) -> list[grouping.GroupShape]:
    learners, _, group_of = _learners(session, run)
    members: dict[int, list[grouping.Learner]] = defaultdict(list)
    for learner in learners:
        if group_of[learner.id] is not None:
            members[group_of[learner.id]].append(learner)
    query = select(StudyGroup.id).where(StudyGroup.run_id == run.id, StudyGroup.merged_into_id.is_(None))
    group_ids = session.scalars(query.order_by(StudyGroup.number))
    return [grouping.GroupShape(id=gid, members=tuple(members.get(gid, ()))) for gid in group_ids]


def place(session: Session, run: Run, learner: grouping.Learner) -> int:
    """Put one late joiner in the best-matching group with room, or a new group; the group id."""
    chosen = grouping.best_group(learner, _shapes(session, run), run.group_size)
    if chosen is None:
        zone = session.scalar(select(Enrollment.timezone).where(Enrollment.id == learner.id)) or "UTC"
        chosen = _new_groups(session, run, [(zone, learner.keys[0] if learner.keys else "")])[0]
    _assign(session, {chosen: [learner.id]})
    return chosen


def place_enrollment(session: Session, enrollment: Enrollment, instant: datetime | None = None) -> int | None:
    """Group a learner seated once grouping is due (forming the run's groups if none exist yet); the group id.

    None if the learner is solo, not seated, or the run's groups are not due yet (they form later)."""
    if enrollment.solo or enrollment.status not in GROUPED_STATUSES:
        return None
    if enrollment.group_id is not None:
        return enrollment.group_id
    run = enrollment.run
    if not has_groups(session, run):
        if (instant or now()) < grouping_at(run):
            return None
        form_groups(session, run)  # a run created late, or the grouping job has not run yet
        return session.scalar(select(Enrollment.group_id).where(Enrollment.id == enrollment.id))
    session.flush()
    _lock(session, run)
    learners, _, _ = _learners(session, run, id=enrollment.id, group_id=None)
    return place(session, run, learners[0]) if learners else enrollment.group_id


def groups_due(session: Session, run: Run, instant: datetime) -> bool:
    """True when `run` should have groups by `instant` and has learners waiting for one."""
    if instant < grouping_at(run):
        return False
    waiting = select(Enrollment.id).where(
        Enrollment.run_id == run.id,
        Enrollment.group_id.is_(None),
        Enrollment.status.in_(GROUPED_STATUSES),
        Enrollment.solo.is_(False),
    )
    return session.scalar(waiting.limit(1)) is not None


def groups_missing(session: Session, run: Run, instant: datetime) -> bool:
    """True when `run` should have its groups by `instant`, has none yet, and has learners for them.

    Checked by the jobs every tick, so cheap: the time, then one indexed lookup of the run's groups.
    Learners who come later are placed one by one (at confirmation, else by the mail scan)."""
    return instant >= grouping_at(run) and not has_groups(session, run) and groups_due(session, run, instant)


def remove_from_group(session: Session, enrollment: Enrollment) -> None:
    """Take a learner out of their group (moderation): they stay in the run on their own, and no
    regrouping puts them back; an organizer's `move_learner` can."""
    enrollment.group_id, enrollment.solo = None, True
    session.flush()
    publish_event(session, "enrollment.changed", {"enrollment_id": enrollment.id, "change": "group"})


def current_group(session: Session, group: StudyGroup) -> StudyGroup:
    """The group that took over `group` (following merges), or `group` itself."""
    seen = {group.id}
    while group.merged_into_id is not None:
        following = session.get(StudyGroup, group.merged_into_id)
        if following is None or following.id in seen:
            break
        seen.add(following.id)
        group = following
    return group


def merge_remnants(session: Session, run: Run) -> list[tuple[int, int]]:
    """Merge groups that shrank below half the target size into their nearest group with room.

    The old group stays, empty, as a forward: mail to its address reaches the new group, and each
    moved learner hears of the new address (`group.merged`)."""
    session.flush()
    merges = grouping.remnant_merges(_shapes(session, run), run.group_size)
    for source, target in merges:
        moved = list(session.scalars(select(Enrollment.id).where(Enrollment.group_id == source)))
        session.execute(update(Enrollment).where(Enrollment.group_id == source).values(group_id=target))
        session.execute(update(Post).where(Post.group_id == source).values(group_id=target))
        # Earlier forwards to the old group now point at the new one.
        forwards = or_(StudyGroup.id == source, StudyGroup.merged_into_id == source)
        session.execute(update(StudyGroup).where(forwards).values(merged_into_id=target))
        session.expire_all()
        publish_event(session, "group.merged", {"group_id": source, "into_group_id": target, "enrollment_ids": moved})
        for enrollment_id in moved:
            publish_event(session, "enrollment.changed", {"enrollment_id": enrollment_id, "change": "group"})
    return merges


def find_group(session: Session, run: Run, reference: str) -> StudyGroup:
    """A group of `run` by handle or number."""
    query = select(StudyGroup).where(StudyGroup.run_id == run.id, StudyGroup.merged_into_id.is_(None))
    column = StudyGroup.number if reference.isdigit() else StudyGroup.handle
    group = session.scalar(query.where(column == (int(reference) if reference.isdigit() else reference)))
    if group is None:
        raise NotFound(f"run {run.handle} has no group {reference}")
    return group


def move_learner(session: Session, enrollment: Enrollment, group: StudyGroup) -> None:
    """An organizer moves a learner into another group of the same run."""
    if group.run_id != enrollment.run_id:
        raise Invalid(f"group {group.handle} belongs to another run than {enrollment.email or enrollment.actor}")
    if group.merged_into_id is not None:
        raise Invalid(f"group {group.handle} was merged into another group: move the learner there")
    if enrollment.group_id == group.id:
        return
    enrollment.group_id = group.id
    enrollment.solo = False
    session.flush()
    publish_event(session, "enrollment.changed", {"enrollment_id": enrollment.id, "change": "group"})
