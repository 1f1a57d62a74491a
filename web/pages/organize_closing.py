"""Closing a run's study groups (organizer): groups live on after the run until closed here (courses.closing)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.closing import close_group, close_groups
from courses.groups import find_group
from server.floor.db import write_scope
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.pages.organize_runs import visible_run


@require_role("organizer")
def close_submit(request: Request) -> Response:
    """POST /organize/runs/{handle}/close-groups: close one group (`group` = its handle) or all of them."""
    form = posted_form(request)
    reference = str(form.get("group") or "").strip()[:64]
    with write_scope() as session:
        run = visible_run(session, request)
        if reference:
            group = find_group(session, run, reference)
            name = group.name or group.handle
            message = f"The group {name} is closed." if close_group(session, group) else f"{name} was closed already."
        else:
            closed = close_groups(session, run)
            message = f"Closed {len(closed)} groups." if closed else "All groups were closed already."
    flash(request, message + " Their addresses refuse mail now; their archives stay readable.", "success")
    return RedirectResponse(f"/organize/runs/{request.path_params['handle']}#groups", status_code=303)


def routes() -> list[BaseRoute]:
    """The closing route."""
    return [Route("/organize/runs/{handle}/close-groups", close_submit, methods=["POST"])]
