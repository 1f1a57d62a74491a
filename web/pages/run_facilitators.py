"""The organizer names a run's facilitators (local accounts, by handle or email) on the run's page:
they moderate the run's study groups with the organizer (courses.facilitators)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.facilitators import add_facilitator, remove_facilitator
from courses.models import Run
from courses.privacy import can_see_learners
from server.floor.db import write_scope
from server.floor.errors import Invalid, NotFound, PermissionDenied
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash


def _run(session: Session, request: Request) -> Run:
    """The run of the URL, if the signed-in account organizes it (admins: every run)."""
    handle = request.path_params["handle"]
    run = session.scalar(select(Run).where(Run.handle == handle))
    if run is None:
        raise NotFound(f"no run {handle}")
    if not can_see_learners(current_account(request), run):
        raise PermissionDenied(f"run {handle} is another organizer's: only they name its facilitators")
    return run


@require_role("organizer")
def add(request: Request) -> Response:
    """POST /organize/runs/{handle}/facilitators: name a facilitator by handle or email."""
    who = str(posted_form(request).get("who", ""))[:320]
    with write_scope() as session:
        run = _run(session, request)
        handle = run.handle
        try:
            account = add_facilitator(session, run, who)
        except (Invalid, NotFound) as error:
            flash(request, str(error).removeprefix("facilitator: ").capitalize() + ".", "error")
            return RedirectResponse(f"/organize/runs/{handle}#facilitators", status_code=303)
        flash(request, f"@{account.handle} now moderates the groups of this run.", "success")
    return RedirectResponse(f"/organize/runs/{handle}#facilitators", status_code=303)


@require_role("organizer")
def remove(request: Request) -> Response:
    """POST /organize/runs/{handle}/facilitators/{account_id}/remove: take a facilitator off the run."""
    raw = request.path_params["account_id"]
    with write_scope() as session:
        run = _run(session, request)
        handle = run.handle
        removed = remove_facilitator(session, run, int(raw) if raw.isdigit() and len(raw) <= 12 else -1)
    flash(request, "The facilitator was removed." if removed else "That account was no facilitator of this run.")
    return RedirectResponse(f"/organize/runs/{handle}#facilitators", status_code=303)


def routes() -> list[BaseRoute]:
    """Naming and removing a run's facilitators."""
    return [
        Route("/organize/runs/{handle}/facilitators", add, methods=["POST"]),
        Route("/organize/runs/{handle}/facilitators/{account_id}/remove", remove, methods=["POST"]),
    ]
