"""Learners' privacy for the admin: which finished runs still hold addresses, and forgetting them now.

A daily job forgets them after MECHMOOC_ANONYMISE_AFTER_DAYS (courses.privacy); this page shows
what it will do and lets the admin run it at once, with a number of days of their choosing. Group members
are told first either way, and forgotten on the date they were told.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.models import Enrollment, Run
from courses.privacy import RETENTION_NOTICE, retention_pass
from courses.runs import times_of
from server.floor.config import get_settings
from server.floor.db import session_scope
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render


def finished_runs() -> list[dict[str, Any]]:
    """Finished runs not yet anonymised: handle, course, end, learners."""
    with session_scope() as session:
        rows = []
        for run in session.scalars(select(Run).where(Run.status == "finished", Run.anonymised.is_(False))):
            count = session.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.run_id == run.id))
            rows.append({"handle": run.handle, "course": run.course.title, "ends": times_of(session, run).ends,
                         "learners": int(count or 0), "forgotten_on": run.anonymise_at})  # fmt: skip
        return sorted(rows, key=lambda row: row["ends"])


@require_role("admin")
def privacy_page(request: Request) -> Response:
    """GET /organize/privacy."""
    context = {"runs": finished_runs(), "days": get_settings().anonymise_after_days, "error": ""}
    return render(request, "organize/privacy.html", context)


@require_role("admin")
def anonymise(request: Request) -> Response:
    """POST /organize/privacy: forget names and addresses of runs that ended more than N days ago (those whose
    group members were not told yet are told now and forgotten RETENTION_NOTICE later)."""
    raw = str(posted_form(request).get("days", "")).strip()
    if not raw.isdigit():
        context = {"runs": finished_runs(), "days": raw, "error": f"Days: {raw!r} is not a whole number of days."}
        return render(request, "organize/privacy.html", context, status=400)
    report = retention_pass(int(raw))
    done, told = report.anonymised, report.told
    notes = [f"Anonymised {len(done)} runs: {', '.join(done)}." if done else "No run was due to be anonymised."]
    if told:
        notes.append(
            f"Told the group members of {', '.join(told)}: they are forgotten in {RETENTION_NOTICE.days} days."
        )
    flash(request, " ".join(notes), "success")
    if report.failed:
        flash(
            request, f"These runs failed (see the log) and were left as they were: {', '.join(report.failed)}.", "error"
        )
    return RedirectResponse("/organize/privacy", status_code=303)


def routes() -> list[BaseRoute]:
    """The admin's privacy page."""
    return [Route("/organize/privacy", privacy_page), Route("/organize/privacy", anonymise, methods=["POST"])]
