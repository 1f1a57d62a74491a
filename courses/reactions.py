"""Event handlers and background jobs of the courses package."""

from __future__ import annotations

from server.floor import jobs


@jobs.job("courses.advance_runs", every=60)
def advance_runs_job() -> int:
    """Move runs through scheduled → open → running → finished; group at start; create recurring runs."""
    from courses.runs import advance_runs
    from server.floor.clock import now
    from server.floor.db import session_scope

    with session_scope() as session:
        return len(advance_runs(session, now()))


@jobs.job("courses.anonymise_finished_runs", every=24 * 3600)
def anonymise_job() -> int:
    """Forget the learners of runs finished longer ago than MECHMOOC_ANONYMISE_AFTER_DAYS."""
    from courses.privacy import anonymise_finished_runs
    from server.floor.db import session_scope

    with session_scope() as session:
        return len(anonymise_finished_runs(session))


def register() -> None:
    """Subscribe this package's handlers and declare its jobs (declared above, on import)."""
