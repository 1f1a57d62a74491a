"""The run page (dates, status, groups, signup form) and its embeddable form for other sites."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses import versions
from courses.groups import grouping_at
from courses.models import Enrollment, Run, StudyGroup
from courses.runs import find_run, times_of
from courses.signup import SEATED
from server.floor import urls
from server.floor.db import session_scope
from web.page_cache import public_page
from web.pages.signup import form_context
from web.templating import render

STATUS_WORDS = {
    "scheduled": "Signup opens soon",
    "open": "Open for signup",
    "running": "Running",
    "finished": "Finished",
}


def run_facts(session: Session, run: Run) -> dict[str, Any]:
    """A run as plain data for pages: dates, status, places, groups count, units."""
    snapshot = versions.pinned(session, run)
    times = times_of(session, run)
    units = snapshot.get("units", [])
    last_day = max((unit["day"] for unit in units), default=0)
    seated = session.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.run_id == run.id, Enrollment.status.in_(SEATED))
    )
    current = (StudyGroup.run_id == run.id, StudyGroup.merged_into_id.is_(None))
    groups = session.scalar(select(func.count()).select_from(StudyGroup).where(*current))
    return {
        "handle": run.handle,
        "url": f"/runs/{run.handle}",
        "id": urls.run(run.handle),
        # The course row only for a snapshot without these (get's default would load it every time).
        "course_slug": snapshot["slug"] if "slug" in snapshot else run.course.slug,
        "course_title": snapshot["title"] if "title" in snapshot else run.course.title,
        "course_summary": snapshot.get("summary", ""),
        "version": run.version_number,
        "start": run.start_date,
        "end": run.start_date + timedelta(days=last_day),
        "timezone": run.timezone,
        "status": run.status,
        "status_words": STATUS_WORDS.get(run.status, run.status),
        "opens": times.opens,
        "closes": times.closes,
        "every_weeks": run.every_weeks,
        "capacity": run.capacity,
        "seated": int(seated or 0),
        "places_left": None if run.capacity is None else max(0, run.capacity - int(seated or 0)),
        "group_size": run.group_size,
        "groups": int(groups or 0),
        "groups_form_at": grouping_at(run),
        "units": len(units),
        "send_time": snapshot.get("send_time", "09:00"),
    }


def run_page(request: Request) -> Response:
    """GET /runs/{handle}: what the run is, when, and its signup form."""
    public_page(request)
    with session_scope() as session:
        run = find_run(session, request.path_params["handle"])
        context = {"run": run_facts(session, run), "form": form_context(session, run)}
        return render(request, "runs/run.html", context)


def embed_page(request: Request) -> Response:
    """GET /runs/{handle}/embed: the bare signup form, allowed inside an iframe on any site."""
    public_page(request)
    with session_scope() as session:
        run = find_run(session, request.path_params["handle"])
        context = {"run": run_facts(session, run), "form": form_context(session, run), "done": ""}
        return render(request, "runs/embed.html", context, embeddable=True)


def routes() -> list[BaseRoute]:
    """The run page and the embeddable form."""
    return [
        Route("/runs/{handle}", run_page, name="run"),
        Route("/runs/{handle}/embed", embed_page, name="run_embed"),
    ]
