"""Enroll N learners (100,000 by default) into one run and group them; compare with a plain bulk insert.

    python bench/enroll.py                          # SQLite in a temporary data dir
    python bench/enroll.py --database postgres      # PostgreSQL on 127.0.0.1:5432 (a database of its own, dropped after)
    python bench/enroll.py --group-later            # groups not due at import: the grouping job forms them after

Both are measured in the same process on the same database: first the baseline (one executemany
INSERT of the same rows into `enrollments`, nothing else), then the real path of `mechmooc run import`
into a run whose signups have closed (its groups are due): every row checked (address, zone,
language, duplicates), the grouping rule and the study groups, the rows inserted confirmed with
their token, group and first schedule cursor (the mail package's, `enrollments.confirmed` prepared),
one `enrollments.confirmed` event per 10,000. With --group-later the run's groups are not due yet:
the import inserts, and `form_groups` (what the grouping job runs at the grouping time) sets every
learner's group afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ZONES = [
    "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "America/Sao_Paulo",
    "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Athens", "Africa/Lagos", "Africa/Nairobi",
    "Asia/Dubai", "Asia/Kolkata", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
    "Pacific/Auckland",
]  # fmt: skip
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def rows(count: int) -> list[dict[str, str]]:
    """CSV-like rows of `count` learners with mixed zones and languages (the same every time)."""
    pick = random.Random(2012)
    return [
        {"email": f"learner{i}@example.org", "name": f"Learner {i}", "timezone": pick.choice(ZONES),
         "language": pick.choice(["en", "en", "en", "es", "fr"]), "__line__": str(i + 2)}
        for i in range(count)
    ]  # fmt: skip


def postgres_database(name: str, create: bool) -> None:
    """Create (or drop) the database `name` on the local PostgreSQL."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--group-later", action="store_true", help="groups not due at import: formed after it")
    args = parser.parse_args()
    # A database and a data dir of this run's own (others may be running benches), removed after it.
    data_dir = tempfile.mkdtemp(prefix="mechmooc-bench-")
    database = f"mechmooc_bench_enroll_{os.getpid()}" if args.database == "postgres" else None
    try:
        measure(args, data_dir, database)
    finally:
        from server.floor.db import get_engine

        with contextlib.suppress(Exception):
            get_engine().dispose()
        if database:
            postgres_database(database, create=False)
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(args: argparse.Namespace, data_dir: str, database: str | None) -> None:
    """Boot on a fresh database, enroll and group, print the figures."""
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot

    environ = {"MECHMOOC_DATA_DIR": data_dir, "MECHMOOC_URL": "http://bench.localhost", "MECHMOOC_INSECURE_HTTP": "1"}
    if database:
        postgres_database(database, create=True)
        environ["MECHMOOC_DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    boot(load_settings(environ=environ))

    from courses.bulk import check_rows, enroll_and_group
    from courses.folder import import_course
    from courses.groups import form_groups
    from courses.models import Enrollment, StudyGroup, table
    from courses.runs import create_run
    from courses.signup import new_token
    from server.floor import events
    from server.floor.bulk_rows import insert_rows
    from server.floor.clock import now
    from server.floor.db import session_scope

    # Time the other packages' reactions to the bulk event (the mail package starts every learner's
    # schedule cursor) apart from the courses package's own work, by wrapping the subscribed handlers.
    reactions = [0.0]

    def timed(handler):  # type: ignore[no-untyped-def]
        def run(session, payload):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            handler(session, payload)
            reactions[0] += time.perf_counter() - began

        return run

    events._handlers["enrollments.confirmed"] = [timed(h) for h in events.subscribers("enrollments.confirmed")]
    events._preparers["enrollments.confirmed"] = [timed(h) for h in events._preparers.get("enrollments.confirmed", [])]

    learners = rows(args.learners)
    with session_scope() as session:
        course = import_course(session, ROOT / "tests" / "fixtures" / "courses" / "gentle-python")
        scratch = create_run(session, course, date(2031, 1, 6), "UTC")
        # Signups closed a minute ago: the groups are due, and the import forms them (unless --group-later).
        closed = None if args.group_later else now() - timedelta(minutes=1)
        run = create_run(session, course, date(2031, 1, 13), "UTC", signup_closes_at=closed)
        scratch_id, run_id = scratch.id, run.id

    def plain_insert(run_id: int, core: bool = False, driver: bool = False) -> float:
        """Seconds for one executemany INSERT of the same rows into `run_id`, then removed again: an ORM
        bulk insert (the baseline recorded since the bench began), with `core` a Core executemany (no
        per-row ORM work), or with `driver` the same rows as tuples through `insert_rows` (COPY on
        PostgreSQL, the driver's executemany on SQLite): the insert the real path itself uses, so the
        ratio to it is the work around the insert alone."""
        began = time.perf_counter()
        with session_scope() as session:
            plain = [
                {"run_id": run_id, "email": r["email"], "name": r["name"], "timezone": r["timezone"],
                 "language": r["language"], "answers": {}, "solo": False, "token": new_token(),
                 "status": "confirmed", "next_position": 0}
                for r in learners
            ]  # fmt: skip
            if driver:
                # The order SQLite's compiled INSERT takes; created_at given, as the real path gives it.
                columns = ["run_id", "email", "name", "timezone", "language", "answers", "solo", "status", "token",
                           "next_position", "created_at"]  # fmt: skip
                at = now()
                rows = [tuple(at if c == "created_at" else row[c] for c in columns) for row in plain]
                insert_rows(session.connection(), table(Enrollment), columns, rows)
            elif core:
                session.connection().execute(insert(table(Enrollment)), plain)
            else:
                session.execute(insert(Enrollment), plain)
        seconds = time.perf_counter() - began
        with session_scope() as session:
            session.execute(delete(Enrollment).where(Enrollment.run_id == run_id))
        return seconds

    # The baseline is taken before and after the real path and averaged: the machine's load drifts.
    baselines, cores = [plain_insert(scratch_id)], [plain_insert(scratch_id, core=True)]
    drivers = [plain_insert(scratch_id, driver=True)]

    timings: dict[str, float] = {}
    started = time.perf_counter()
    with session_scope() as session:
        run = session.get(run.__class__, run_id)
        good, errors = check_rows(session, run, learners)
        assert not errors, errors[:3]
        timings["check"] = time.perf_counter() - started
        enroll_and_group(session, run, good)
        timings["reactions"] = reactions[0]
        timings["enroll"] = time.perf_counter() - started - timings["check"] - reactions[0]
    if args.group_later:
        mark = time.perf_counter()
        with session_scope() as session:
            form_groups(session, session.get(run.__class__, run_id))
        timings["group"] = time.perf_counter() - mark
    total = time.perf_counter() - started

    baselines.append(plain_insert(scratch_id))
    cores.append(plain_insert(scratch_id, core=True))
    drivers.append(plain_insert(scratch_id, driver=True))
    by_driver = sum(drivers) / len(drivers)
    baseline, core = sum(baselines) / len(baselines), sum(cores) / len(cores)
    with session_scope() as session:
        count = session.query(StudyGroup).filter(StudyGroup.run_id == run_id).count()
        grouped = (
            session.query(Enrollment).filter(Enrollment.run_id == run_id, Enrollment.group_id.is_not(None)).count()
        )
        started_cursors = (
            session.query(Enrollment).filter(Enrollment.run_id == run_id, Enrollment.next_due_at.is_not(None)).count()
        )
    print(
        f"database: {args.database}; learners: {args.learners}; groups: {count}; grouped {grouped}; "
        f"cursors started {started_cursors}; groups {'formed after the import' if args.group_later else 'due at import'}"
    )
    print(
        f"plain bulk insert of the same rows: {baseline:.2f} s (before {baselines[0]:.2f} s, after {baselines[1]:.2f} s)"
    )
    detail = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())
    print(f"enroll + group: {total:.2f} s ({detail})")
    print(f"ratio to plain insert: {total / baseline:.2f}x (target <= 1.5x)")
    print(f"Core executemany of the same rows: {core:.2f} s (before {cores[0]:.2f} s, after {cores[1]:.2f} s)")
    print(f"ratio to the Core executemany: {total / core:.2f}x")
    print(
        f"the same rows as tuples through insert_rows (the real path's own insert): {by_driver:.2f} s "
        f"(before {drivers[0]:.2f} s, after {drivers[1]:.2f} s); ratio {total / by_driver:.2f}x"
    )
    own = total - timings["reactions"]
    print(f"without the mail package's reactions: {own:.2f} s, ratio {own / baseline:.2f}x")


if __name__ == "__main__":
    main()
