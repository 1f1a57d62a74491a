"""The scheduler: learners' cursors (next unit, when it is due) and the scan that turns due units into mails.

Per tick the work is a range scan on `enrollments.next_due_at` (indexed): it grows with what is
due, not with how many learners are enrolled. Emitting a unit and moving the cursor on happen in one
transaction, and the outbox key (run, learner, unit) makes a second emission a no-op.

Mails are rendered up to LOOKAHEAD before they are due and wait in the outbox for their instant
(`next_attempt_at`), so that at 09:00 the workers only send: a unit for 20,000 learners leaves on
time instead of after its rendering. A change to the learner in that window (pause, new zone or
group, name, leaving) takes back what was rendered ahead — `unrender` — and the cursor goes back to
it; an unsubscribe or a suppression is caught again just before sending. Fediverse learners get
their unit when it is due, not ahead (a post cannot wait in an outbox for its instant).

Groups come first: no unit is rendered for a learner who should be in a study group and is not (its
text may name `group.*`, and every unit's Reply-To is the group). The scan forms the groups that are
due before it renders anything, places a straggler at once, and holds a learner whose run has no
groups yet (`HOLD`) rather than render without one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Row, Table, any_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from courses.groups import form_groups, groups_missing, has_groups, place_enrollment
from courses.models import Enrollment, Run
from courses.versions import pinned
from mail import schedule
from mail.addresses import new_token
from mail.messages import unit_mail
from mail.models import OutgoingMail
from mail.outbox import SEND_JOB, mail_row
from mail.scan import ACTIVE, due_rows, grouping, move_cursors, personal, plain
from mail.unitbatch import UnitMails
from server.floor.clock import now
from server.floor.db import immediate, is_postgres
from server.floor.errors import Invalid
from server.floor.events import publish
from server.floor.jobs import wake
from server.floor.queue import FAILED, QUEUED

CHUNK = 5000  # ids per IN list: well inside SQLite's and PostgreSQL's parameter limits
LOOKAHEAD = timedelta(minutes=10)  # mails are rendered this long before they are due
HOLD = timedelta(minutes=1)  # a learner waiting for a group is looked at again this much later


@dataclass
class RunPlan:
    """What the scheduler needs of one run, computed once per tick: units, rules, natural instants by zone."""

    run: Run
    snapshot: dict[str, Any]
    units: list[dict[str, Any]]
    send_time: time
    late_join: str
    resume: str
    _naturals: dict[str, list[datetime]] = field(default_factory=dict)
    _mails: UnitMails | None = None

    @property
    def mails(self) -> UnitMails:
        """The unit mails of this run for this tick (what learners of a group share made once)."""
        if self._mails is None:
            self._mails = UnitMails(self.run, self.snapshot)
        return self._mails

    def naturals(self, tz_name: str) -> list[datetime]:
        """The natural due instants of the units for a learner in `tz_name`."""
        if tz_name not in self._naturals:
            days = [int(unit.get("day", 0)) for unit in self.units]
            self._naturals[tz_name] = schedule.naturals(self.run.start_date, days, self.send_time, self.zone(tz_name))
        return self._naturals[tz_name]

    @staticmethod
    def zone(tz_name: str) -> ZoneInfo:
        """The learner's zone; an unknown zone name falls back to UTC rather than stopping the run."""
        try:
            return schedule.zone(tz_name)
        except Exception:  # noqa: BLE001 - a bad zone on one learner must not block the others
            return ZoneInfo("UTC")


def run_plan(session: Session, run: Run) -> RunPlan:
    """The RunPlan of `run` from the course version it pinned."""
    snapshot = pinned(session, run)
    units = sorted(snapshot.get("units", []), key=lambda unit: int(unit.get("position", 0)))
    extra = snapshot.get("extra") or {}
    late_join = str(snapshot.get("late_join") or "catch_up")
    resume = str(snapshot.get("resume") or extra.get("resume") or "send_missed")
    return RunPlan(
        run=run,
        snapshot=snapshot,
        units=units,
        send_time=schedule.parse_send_time(str(snapshot.get("send_time") or "09:00")),
        late_join=late_join if late_join in schedule.LATE_JOIN else "catch_up",
        resume=resume if resume in schedule.RESUME else "send_missed",
    )


class Plans(dict[int, RunPlan]):
    """RunPlans by run id, loaded on first use (one per tick or per reaction)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def of(self, run_id: int) -> RunPlan:
        """The plan of run `run_id`."""
        if run_id not in self:
            run = self.session.get(Run, run_id)
            assert run is not None
            self[run_id] = run_plan(self.session, run)
        return self[run_id]


def start(enrollment: Enrollment, plan: RunPlan, at: datetime, policy: str | None = None) -> None:
    """Set the cursor of a learner who joins (or resumes) at `at`, by the late-join (or resume) policy."""
    natural = plan.naturals(enrollment.timezone)
    rule = policy or plan.late_join
    position, due = schedule.first_due(natural, enrollment.next_position or 0, at, rule)
    enrollment.next_position, enrollment.next_due_at = position, due


def start_many(session: Session, run_id: int, enrollment_ids: list[int], at: datetime) -> int:
    """Start the cursors of many newly confirmed learners of one run: one UPDATE per time zone and chunk."""
    plan = Plans(session).of(run_id)
    not_started = (
        Enrollment.status == ACTIVE,
        Enrollment.next_due_at.is_(None),
        Enrollment.next_position == 0,  # already started: a repeated event changes nothing
    )
    postgres = is_postgres(session)

    json_ids = not postgres and sqlite3.sqlite_version_info >= (3, 33)

    def chunks(ids: list[int]) -> list[list[int]]:
        # PostgreSQL takes the ids as one array parameter (= ANY), SQLite as one JSON array: an IN
        # list of thousands of parameters costs more to send and plan than the work itself.
        return [ids] if postgres or json_ids else [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]

    def among(chunk: list[int]) -> Any:
        if postgres:
            return Enrollment.id == any_(bindparam("ids", chunk, type_=ARRAY(Integer)))
        if json_ids:
            chosen = select(func.json_each(json.dumps(chunk)).table_valued("value").c.value).scalar_subquery()
            return Enrollment.id.in_(chosen)
        return Enrollment.id.in_(chunk)

    by_zone: dict[str, list[int]] = {}
    for chunk in chunks(enrollment_ids):
        for enrollment_id, tz_name in session.execute(
            select(Enrollment.id, Enrollment.timezone).where(among(chunk), *not_started)
        ):
            by_zone.setdefault(tz_name, []).append(enrollment_id)
    # Everyone in one zone starts alike, so 100,000 learners in 20 zones cost about 40 statements.
    for tz_name, ids in by_zone.items():
        first, first_at = schedule.first_due(plan.naturals(tz_name), 0, at, plan.late_join)
        for chunk in chunks(ids):
            matching = among(chunk)
            session.execute(
                update(Enrollment)
                .where(matching)
                .values(next_position=first, next_due_at=first_at)
                .execution_options(synchronize_session=False)
            )
    return sum(len(ids) for ids in by_zone.values())


def start_rows(session: Session, run_id: int, rows: list[dict[str, Any]], at: datetime) -> None:
    """Set the first cursor on rows of newly confirmed learners before they are inserted (what
    `start_many` does after the insert, without an UPDATE of every row); the rows' own fields decide."""
    plan = Plans(session).of(run_id)
    firsts: dict[str, tuple[int, datetime | None]] = {}
    for row in rows:
        if row.get("status") == ACTIVE and row.get("next_due_at") is None and not row.get("next_position"):
            zone = row.get("timezone") or "UTC"
            if zone not in firsts:
                firsts[zone] = schedule.first_due(plan.naturals(zone), 0, at, plan.late_join)
            row["next_position"], row["next_due_at"] = firsts[zone]


def restart_not_started(session: Session, run_id: int, at: datetime) -> int:
    """Start again the cursors of a run's learners who have had no unit yet (its course version changed)."""
    ids = list(
        session.scalars(
            select(Enrollment.id).where(
                Enrollment.run_id == run_id, Enrollment.status == ACTIVE, Enrollment.next_position == 0
            )
        )
    )
    for first in range(0, len(ids), CHUNK):
        chunk = Enrollment.id.in_(ids[first : first + CHUNK])
        statement = update(Enrollment).where(chunk).values(next_due_at=None)
        session.execute(statement.execution_options(synchronize_session=False))
    session.expire_all()
    return start_many(session, run_id, ids, at) if ids else 0


def stop(enrollment: Enrollment) -> None:
    """No more units for this learner (paused, left, unsubscribed); the position is kept for a resume."""
    enrollment.next_due_at = None


def emit(
    session: Session,
    enrollment: Enrollment | Row[Any],
    plan: RunPlan,
    position: int,
    existing: set[str],
    mails: list[dict],
    send_at: datetime | None = None,
) -> None:
    """Hand unit `position` to the learner: a mail (added to `mails`, to go at `send_at`, at once by
    default), or an event for a fediverse account. A learner read as a row (`due_rows`) gets the mail
    `unit_mail` would write, by the run's UnitMails."""
    unit = plan.units[position]
    key = f"unit:{plan.run.id}:{enrollment.id}:{unit.get('slug', position)}"
    if enrollment.email:
        if key in existing:
            return
        existing.add(key)
        failure: str | None = None
        try:
            if isinstance(enrollment, Enrollment):
                token, subject, message = unit_mail(enrollment, plan.run, plan.snapshot, unit)
            else:
                token, subject, message = plan.mails.mail(unit, personal(enrollment), grouping(enrollment))
        except Invalid as error:
            # One unit that does not render must not hold up every other learner's mail: the row is
            # written as failed, naming the unit, and shows in the admin outbox.
            token, subject, message, failure = new_token(), str(unit.get("title", "")), "", str(error)
        mails.append(
            mail_row(
                key=key,
                kind="unit",
                to=enrollment.email.lower(),
                token=token,
                subject=subject,
                message=message,
                enrollment_id=enrollment.id,
                run_id=plan.run.id,
                group_id=enrollment.group_id,
                unit_position=position,
                unit_slug=str(unit.get("slug", "")),
                post_id=None,
                sending_at=None,
                sent_at=None,
                locked_until=None,
                last_error=failure,
            )
        )
        if send_at is not None:
            mails[-1]["next_attempt_at"] = max(send_at, mails[-1]["next_attempt_at"])
        if failure:
            mails[-1]["state"] = FAILED
        elif enrollment.account_id is not None:  # a learner with an account here: courses.unit_notices
            publish(session, "unit.emailed", {"enrollment_id": enrollment.id, "position": position})
    elif enrollment.actor:
        publish(session, "unit.due_for_actor", {"enrollment_id": enrollment.id, "position": position, "key": key})


def steps(
    plan: RunPlan, tz_name: str, position: int, due: datetime | None, horizon: datetime
) -> tuple[list[tuple[int, datetime]], int, datetime | None]:
    """The units (position, due instant) of a cursor due by `horizon`, and the cursor after them."""
    natural = plan.naturals(tz_name)
    units: list[tuple[int, datetime]] = []
    while due is not None and due <= horizon:
        if position >= len(plan.units):
            return units, position, None
        units.append((position, due))
        due = schedule.following_due(natural, position, due, plan.late_join, plan.send_time, plan.zone(tz_name))
        position += 1
    return units, position, due


def advance(
    session: Session,
    enrollment: Enrollment,
    plan: RunPlan,
    instant: datetime,
    existing: set[str] | None = None,
    mails: list[dict] | None = None,
) -> int:
    """Emit every unit of `enrollment` due by `instant` (mails: by `instant` + LOOKAHEAD, each to go at its
    due instant) and move its cursor on; the number emitted."""
    batch: list[dict] = mails if mails is not None else []
    horizon = instant + LOOKAHEAD if enrollment.email else instant
    units, position, due = steps(plan, enrollment.timezone, enrollment.next_position, enrollment.next_due_at, horizon)
    for unit_position, unit_due in units:
        emit(session, enrollment, plan, unit_position, existing if existing is not None else set(), batch, unit_due)
    if (position, due) != (enrollment.next_position, enrollment.next_due_at):
        enrollment.next_position, enrollment.next_due_at = position, due
    if mails is None and batch:
        session.execute(insert(OutgoingMail), batch)
    return len(units)


def unrender(session: Session, enrollment: Enrollment) -> int:
    """Take back the learner's unit mails rendered ahead and not yet due; their cursor goes back to the
    first of them (the caller then stops or restarts it). How many were taken back.

    Only rows that are not due yet: the sender leases nothing before its instant, so none of them can
    be on its way (and `locked_until` is checked as well)."""
    table = cast(Table, OutgoingMail.__table__)
    pending = session.execute(
        select(table.c.id, table.c.unit_position, table.c.next_attempt_at).where(
            table.c.enrollment_id == enrollment.id,
            table.c.kind == "unit",
            table.c.state == QUEUED,
            table.c.sending_at.is_(None),
            table.c.locked_until.is_(None),
            table.c.next_attempt_at > now(),
        )
    ).all()
    if not pending:
        return 0
    session.execute(delete(table).where(table.c.id.in_([row.id for row in pending])))
    first = min(pending, key=lambda row: row.unit_position)
    enrollment.next_position, enrollment.next_due_at = first.unit_position, first.next_attempt_at
    return len(pending)


def form_due_groups(session: Session, at: datetime | None = None) -> int:
    """Form the groups of every active run that should have them by `at` (courses.advance_runs does it
    every minute; this makes sure before rendering); commits; how many runs were grouped."""
    instant = at or now()
    active = session.scalars(select(Run).where(Run.status.in_(("scheduled", "open", "running")))).all()
    due = [run.id for run in active if groups_missing(session, run, instant)]
    session.commit()
    for run_id in due:
        immediate(session)  # read, then write, while other workers write: take SQLite's lock first
        run = session.get(Run, run_id)
        if run is not None and groups_missing(session, run, instant):
            form_groups(session, run)
        session.commit()
    return len(due)


def grouped_or_held(session: Session, enrollment: Enrollment, instant: datetime) -> bool:
    """True when the learner may get their unit: solo, or in a group (a straggler is placed now). Else the
    run has no groups yet: the learner is held a moment (their cursor moved past this scan) and False."""
    if enrollment.solo or enrollment.group_id is not None:
        return True
    if has_groups(session, enrollment.run) and place_enrollment(session, enrollment, instant) is not None:
        return True
    if enrollment.next_due_at is not None:
        enrollment.next_due_at = max(enrollment.next_due_at, instant + LOOKAHEAD + HOLD)
    return False


def schedule_due(session: Session, at: datetime | None = None, limit: int = 500) -> tuple[int, int]:
    """One batch of the scan: (learners looked at, units emitted); commits. Call until it returns (0, 0).

    A learner who is active, by mail, grouped (or solo) and has no account here is read as a row, and
    their cursor is written with the others' in one statement; anyone else goes through the ORM."""
    instant = at or now()
    plans = Plans(session)
    learners = due_rows(session, instant, LOOKAHEAD, limit)
    # The keys this batch could write that exist already (a crash after commit, a repeated event): one query.
    existing = set(
        session.scalars(
            select(OutgoingMail.key).where(
                OutgoingMail.enrollment_id.in_([e.id for e in learners]), OutgoingMail.kind == "unit"
            )
        )
    )
    emitted = 0
    mails: list[dict] = []
    cursors: list[dict[str, Any]] = []
    # Everyone else as ORM objects, as the rows read them (an object this session held may be stale).
    query = select(Enrollment).where(Enrollment.id.in_([row.id for row in learners if not plain(row)]))
    others = {e.id: e for e in session.scalars(query.execution_options(populate_existing=True))}
    with session.no_autoflush:
        for row in learners:
            plan = plans.of(row.run_id)
            if plain(row):
                units, position, due = steps(
                    plan, row.timezone, row.next_position, row.next_due_at, instant + LOOKAHEAD
                )
                for unit_position, unit_due in units:
                    emit(session, row, plan, unit_position, existing, mails, unit_due)
                cursors.append({"row_id": row.id, "position": position, "due": due})
                emitted += len(units)
                continue
            enrollment = others[row.id]
            if enrollment.status != ACTIVE:
                stop(enrollment)
                continue
            if not grouped_or_held(session, enrollment, instant):
                continue
            emitted += advance(session, enrollment, plan, instant, existing, mails)
    # Core statements, executemany: ORM objects and their flush would cost more per learner than rendering.
    move_cursors(session, cursors)
    if mails:  # executemany; as multi-row INSERTs (insertmanyvalues), tried, it took twice as long on PostgreSQL
        session.execute(insert(cast(Table, OutgoingMail.__table__)), mails)
    session.commit()
    if any(mail["next_attempt_at"] <= instant for mail in mails):
        wake(SEND_JOB)  # due now (nothing was rendered ahead): the sender starts while the scan goes on
    return len(learners), emitted


def schedule_all_due(session: Session, at: datetime | None = None, limit: int = 500) -> int:
    """Form the groups that are due, then run the scan until nothing is due by `at`; the units emitted."""
    form_due_groups(session, at)
    total = 0
    while True:
        learners, emitted = schedule_due(session, at, limit)
        total += emitted
        if learners < limit:
            return total
