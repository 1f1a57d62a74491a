"""Many learners at once (a CSV from another platform, the benchmark): checked first, then all or none."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import fields, versions
from courses.addresses import check_email_fast
from courses.groups import form_groups, form_groups_with, grouping_at, groups_due, has_groups
from courses.models import Enrollment, Run, table
from courses.signup import COMMAND_LINE_BASIS, check_basis, check_name, new_tokens, seats_taken
from courses.zones import check_timezone
from server.floor.bulk_rows import insert_rows
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.events import prepare as prepare_event
from server.floor.events import publish as publish_event

REQUIRED_COLUMNS = ("email", "name", "timezone")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "language")
MAX_REPORTED = 20
EVENT_BATCH = 10_000


class LearnerRow(NamedTuple):
    """One checked row: the line it came from and the learner's fields (a tuple: 100,000 are made)."""

    line: int
    email: str
    name: str
    timezone: str
    language: str


@dataclass(frozen=True)
class RowError:
    """Why one line was refused."""

    line: int
    message: str


def read_csv(text: str) -> list[dict[str, str]]:
    """The rows of a CSV with a header row; each row gets its line number under '__line__'."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise Invalid(
            f"line 1: the header needs the columns {', '.join(REQUIRED_COLUMNS)} (missing {', '.join(missing)})"
        )
    unknown = [name for name in header if name not in KNOWN_COLUMNS]
    if unknown:
        raise Invalid(f"line 1: unknown column {unknown[0]!r} (known: {', '.join(KNOWN_COLUMNS)})")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if any((value or "").strip() for key, value in row.items() if key is not None):
            rows.append(
                {**{k: (v or "").strip() for k, v in row.items() if k is not None}, "__line__": str(reader.line_num)}
            )
    return rows


def check_rows(session: Session, run: Run, rows: Iterable[dict[str, str]]) -> tuple[list[LearnerRow], list[RowError]]:
    """Each row checked (address, zone, language, duplicates in the file and in the run)."""
    default_language = versions.pinned(session, run).get("language", "en")
    enrolled = set(
        session.scalars(select(Enrollment.email).where(Enrollment.run_id == run.id, Enrollment.email.is_not(None)))
    )
    good: list[LearnerRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    # A file has a few zones and languages: each is checked once (a wrong one fails on every row).
    zones: set[str] = set()
    languages: set[str] = set()
    for row in rows:
        line = int(row.get("__line__", 0))
        try:
            email = check_email_fast(row.get("email", ""))
            name = check_name(row.get("name"))
            zone = row.get("timezone") or "UTC"
            if zone not in zones:
                zones.add(check_timezone(zone))
            language = row.get("language") or default_language
            if language is not default_language and language not in languages:
                languages.add(fields.check_language(language))
        except Invalid as error:
            errors.append(RowError(line, str(error)))
            continue
        if email in enrolled:
            errors.append(RowError(line, f"{email} is enrolled in run {run.handle} already"))
        elif email in seen:
            errors.append(RowError(line, f"{email} is on line {seen[email]} already"))
        else:
            seen[email] = line
            good.append(LearnerRow(line, email, name, zone, language))
    return good, errors


def _rows(
    run: Run, learners: list[LearnerRow], status: Callable[[int], str], fields: dict[str, object]
) -> list[dict[str, object]]:
    """The rows of the learners (`status(index)` of each, `fields` on all), sharing one created_at instant."""
    instant = now()
    return [
        {
            "run_id": run.id, "email": learner.email, "name": learner.name, "timezone": learner.timezone,
            "language": learner.language, "answers": {}, "solo": False, "token": token,
            "status": status(index), "group_id": None, "next_position": 0, "next_due_at": None,
            "created_at": instant, **fields,
        }
        for index, (learner, token) in enumerate(zip(learners, new_tokens(len(learners)), strict=True))
    ]  # fmt: skip


def _insert(
    session: Session, run: Run, rows: list[dict[str, object]], progress: Callable[[int], None] | None, batch: int
) -> list[int]:
    """Insert the rows in batches; their ids in order."""
    if rows:
        columns = list(rows[0])
        values = itemgetter(*columns)
        insert_rows(session.connection(), table(Enrollment), columns, [values(row) for row in rows], progress, batch)
    # Inserting without RETURNING is several times faster (a COPY on PostgreSQL); the rows of this
    # call share their created_at instant, which finds their ids again in insertion order.
    instant = rows[0]["created_at"] if rows else now()
    created = select(Enrollment.id).where(Enrollment.run_id == run.id, Enrollment.created_at == instant)
    return list(session.scalars(created.order_by(Enrollment.id)))


def _publish_in_batches(session: Session, name: str, run: Run, ids: list[int], prepared: bool = False) -> None:
    """One event per EVENT_BATCH learners: few events, and handlers' `IN (...)` lists stay under
    PostgreSQL's 65,535 bound parameters. `prepared`: the rows were prepared (`prepare_event`) before
    they were written, so the handlers have nothing left to fill in on them."""
    extra = {"prepared": True} if prepared else {}
    for first in range(0, len(ids), EVENT_BATCH):
        publish_event(session, name, {"run_id": run.id, "enrollment_ids": ids[first : first + EVENT_BATCH], **extra})


def enroll_many(
    session: Session,
    run: Run,
    learners: list[LearnerRow],
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
    basis: str = COMMAND_LINE_BASIS,
    enrolled_by: int | None = None,
    group: bool = False,
) -> list[int]:
    """Insert the learners confirmed (wait-listed past capacity), recording the admin's lawful `basis`.

    With `group` (the run's groups are due), a run without groups yet has them formed with these
    learners among its learners, each learner's group written with their row (`form_groups_with`).
    The other packages fill in their columns first (`enrollments.confirmed` prepared: the mail
    package's first schedule cursor), then the event is published for the inserted ids."""
    free = None if run.capacity is None else max(0, run.capacity - seats_taken(session, run))
    fields = {"confirmed_at": now(), "lawful_basis": check_basis(basis), "enrolled_by_id": enrolled_by}
    rows = _rows(run, learners, lambda index: "confirmed" if free is None or index < free else "waitlisted", fields)
    if group:
        form_groups_with(session, run, rows)
    prepare_event(session, "enrollments.confirmed", {"run_id": run.id, "rows": rows})
    ids = _insert(session, run, rows, progress, batch)
    _publish_in_batches(session, "enrollments.confirmed", run, ids if free is None else ids[:free], prepared=True)
    return ids


def invite_many(
    session: Session,
    run: Run,
    learners: list[LearnerRow],
    invited_by: int | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> list[int]:
    """Pending places for the learners and one mail each asking them to confirm (`enrollments.requested`)."""
    rows = _rows(run, learners, lambda index: "pending", {"enrolled_by_id": invited_by})
    ids = _insert(session, run, rows, progress, batch)
    _publish_in_batches(session, "enrollments.requested", run, ids)
    return ids


def describe(errors: list[RowError]) -> str:
    """The first errors as one line each, and how many more there are."""
    lines = [f"line {error.line}: {error.message}" for error in errors[:MAX_REPORTED]]
    if len(errors) > MAX_REPORTED:
        lines.append(f"... and {len(errors) - MAX_REPORTED} more lines with errors")
    return "\n".join(lines)


@dataclass(frozen=True)
class ImportOutcome:
    """What a CSV import did (or, for a dry run, would do)."""

    enrolled: int
    waitlisted: int
    dry_run: bool
    invited: int = 0


def checked_learners(session: Session, run: Run, text: str) -> list[LearnerRow]:
    """Every row of a learners CSV checked, or Invalid listing the lines at fault."""
    learners, errors = check_rows(session, run, read_csv(text))
    if errors:
        raise Invalid(
            f"{len(errors)} of {len(learners) + len(errors)} rows refused, nothing imported:\n{describe(errors)}"
        )
    return learners


def import_learners(
    session: Session,
    run: Run,
    text: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    basis: str = COMMAND_LINE_BASIS,
    enrolled_by: int | None = None,
) -> ImportOutcome:
    """Enroll every row of a learners CSV, or none, on an admin's stated lawful `basis` (recorded)."""
    check_basis(basis)
    learners = checked_learners(session, run, text)
    free = (
        len(learners) if run.capacity is None else max(0, min(len(learners), run.capacity - seats_taken(session, run)))
    )
    if dry_run:
        return ImportOutcome(enrolled=free, waitlisted=len(learners) - free, dry_run=True)
    enroll_and_group(session, run, learners, progress, basis=basis, enrolled_by=enrolled_by)
    return ImportOutcome(enrolled=free, waitlisted=len(learners) - free, dry_run=False)


def enroll_and_group(
    session: Session,
    run: Run,
    learners: list[LearnerRow],
    progress: Callable[[int], None] | None = None,
    basis: str = COMMAND_LINE_BASIS,
    enrolled_by: int | None = None,
) -> list[int]:
    """Enroll checked learners and, when the run's groups are due, group them; their ids."""
    instant = now()
    # Groups due and none formed yet: they form with these learners, written with their rows.
    early = instant >= grouping_at(run) and not has_groups(session, run)
    ids = enroll_many(session, run, learners, progress, basis=basis, enrolled_by=enrolled_by, group=early)
    if groups_due(session, run, instant):
        form_groups(session, run)  # the run's groups formed already: place these learners too
    return ids


def invite_learners(session: Session, run: Run, text: str, invited_by: int | None = None) -> ImportOutcome:
    """Ask every row of a learners CSV to confirm a place (or nobody, when a row is wrong)."""
    learners = checked_learners(session, run, text)
    invite_many(session, run, learners, invited_by)
    return ImportOutcome(enrolled=0, waitlisted=0, dry_run=False, invited=len(learners))
