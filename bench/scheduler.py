"""Benchmark: the scheduler's work per tick grows with the units due, not with the learners enrolled.

    python bench/scheduler.py [--enrolled 100000] [--postgres]

For a small run (1,000 learners) and a large one (100,000 by default), one tick is timed with 0,
100 and 1,000 units due (the rest are due next week). Each tick renders and writes the due mails,
so it should cost the same in both runs; the ratio large/small is printed per due count, with the
query plan of the scan (an index range scan on enrollments.next_due_at).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, select, text, update  # noqa: E402

from courses.folder import import_course  # noqa: E402
from courses.models import Enrollment, Run, StudyGroup  # noqa: E402
from courses.versions import publish  # noqa: E402
from mail.models import OutgoingMail  # noqa: E402
from mail.scheduler import schedule_all_due  # noqa: E402
from server.floor.db import session_factory  # noqa: E402
from server.floor.settings import load_settings  # noqa: E402
from server.roof.bootstrap import boot  # noqa: E402

COURSE = ROOT / "tests" / "fixtures" / "courses" / "gentle-python"
TICK = datetime(2026, 3, 2, 12, tzinfo=UTC)
DUE_COUNTS = (0, 100, 1000)


def make_run(session, handle: str, learners: int, course_id: int) -> int:  # type: ignore[no-untyped-def]
    """A run with `learners` confirmed learners in groups of 20; its id."""
    run = Run(handle=handle, course_id=course_id, version_number=1, start_date=date(2026, 3, 2))
    session.add(run)
    session.flush()
    session.execute(
        insert(StudyGroup),
        [{"run_id": run.id, "number": n + 1, "handle": f"{handle}-g{n + 1}"} for n in range((learners + 19) // 20)],
    )
    groups = list(session.scalars(select(StudyGroup.id).where(StudyGroup.run_id == run.id).order_by(StudyGroup.number)))
    later = TICK + timedelta(days=7)
    for start in range(0, learners, 10000):
        session.execute(
            insert(Enrollment),
            [
                {
                    "run_id": run.id,
                    "email": f"{handle}-{i}@example.org",
                    "name": f"L{i}",
                    "timezone": "UTC",
                    "status": "confirmed",
                    "group_id": groups[i // 20],
                    "token": secrets.token_hex(16),
                    "next_position": 0,
                    "next_due_at": later,
                }
                for i in range(start, min(learners, start + 10000))
            ],
        )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # Fresh statistics and no dead rows, as autovacuum keeps a long-lived database.
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE enrollments"))
    return run.id


def tick(session, run_id: int, due: int) -> float:  # type: ignore[no-untyped-def]
    """Make `due` learners of the run due, time one scheduler tick, then put everything back."""
    later = TICK + timedelta(days=7)
    session.execute(delete(OutgoingMail))
    session.execute(update(Enrollment).values(next_position=0, next_due_at=later))
    ids = list(session.scalars(select(Enrollment.id).where(Enrollment.run_id == run_id).limit(due)))
    if ids:
        session.execute(
            update(Enrollment).where(Enrollment.id.in_(ids)).values(next_due_at=TICK - timedelta(minutes=1))
        )
    session.commit()
    session.expunge_all()
    began = time.perf_counter()
    emitted = schedule_all_due(session, at=TICK)
    elapsed = time.perf_counter() - began
    assert emitted == due, (emitted, due)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enrolled", type=int, default=100000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mechmooc-bench-scheduler-"))
    environ = {
        "MECHMOOC_DATA_DIR": str(workdir),
        "MECHMOOC_URL": "https://bench.example.org",
        "MECHMOOC_SECRET_KEY": "bench",
        "MECHMOOC_MAIL_DOMAIN": "lists.bench.example.org",
    }
    if args.postgres:
        from bench.mail import _fresh_pg

        url = os.environ.get("MECHMOOC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        environ["MECHMOOC_DATABASE_URL"] = url.rsplit("/", 1)[0] + "/mechmooc_bench_scheduler"
        _fresh_pg(environ["MECHMOOC_DATABASE_URL"])
    boot(load_settings(environ=environ))
    session = session_factory()()
    course = import_course(session, COURSE)
    session.flush()
    publish(session, course)
    small = make_run(session, "small", 1000, course.id)
    results = {}
    for label, run_id in (("small", small),):
        results[label] = [min(tick(session, run_id, due) for _ in range(3)) for due in DUE_COUNTS]
    large = make_run(session, "large", args.enrolled, course.id)
    session.execute(delete(Enrollment).where(Enrollment.run_id == small))
    session.commit()
    results["large"] = [min(tick(session, large, due) for _ in range(3)) for due in DUE_COUNTS]
    backend = "postgresql" if args.postgres else "sqlite"
    scan = "EXPLAIN QUERY PLAN " if not args.postgres else "EXPLAIN "
    plan = session.execute(
        text(f"{scan}SELECT id FROM enrollments WHERE next_due_at <= :t ORDER BY next_due_at LIMIT 500"),
        {"t": TICK.replace(tzinfo=None) if not args.postgres else TICK},
    ).all()
    print(f"backend {backend}; one scheduler tick (scan + render + outbox insert), best of 3")
    print(f"{'due':>6} {'1,000 enrolled':>16} {f'{args.enrolled:,} enrolled':>18} {'ratio':>7}")
    for index, due in enumerate(DUE_COUNTS):
        a, b = results["small"][index], results["large"][index]
        print(f"{due:>6} {a * 1000:>13.1f} ms {b * 1000:>15.1f} ms {b / a:>7.2f}")
    print("scan plan:", " | ".join(str(row[-1]) for row in plan))


if __name__ == "__main__":
    main()
