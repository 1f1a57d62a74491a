"""A study group's page: what it is for everyone; for its members and moderators the members, who
moderates, the threaded archive, and the posting form (web/pages/group_view.py says what is shown).

Members reach it through their magic link (`/me/{token}/group`) or signed in (`/groups/{handle}`);
the run's organizer, the course's owner, admins and the run's facilitators moderate it there.
Posting and moderating are in web/pages/group_posting.py, naming facilitators in
web/pages/run_facilitators.py; their routes are listed here.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses.signup import SEATED
from server.floor.db import session_scope
from web.auth import current_account
from web.learner_links import place_of
from web.pages import group_posting, run_facilitators
from web.pages.group_view import Viewer, find_group, render_group, viewer_of


def group_page(request: Request) -> Response:
    """GET /groups/{handle}: the group's address and run; the rest for members and moderators."""
    account = current_account(request)
    with session_scope() as session:
        group = find_group(session, request.path_params["handle"])
        return render_group(request, session, group, viewer_of(session, group, account))


def member_archive(request: Request) -> Response:
    """GET /me/{token}/group: the learner's own group (the magic link is the key)."""
    token = request.path_params["token"]
    with session_scope() as session:
        enrollment = place_of(session, token)
        if enrollment.group is None or enrollment.status not in SEATED:
            raise HTTPException(404, "you are not in a study group of this run (yet)")
        return render_group(request, session, enrollment.group, Viewer(member=enrollment, token=token))


def routes() -> list[BaseRoute]:
    """The group page, the members' page by magic link, posting, moderating, facilitators."""
    return [
        Route("/groups/{handle}", group_page, name="group"),
        Route("/me/{token}/group", member_archive),
        *group_posting.routes(),
        *run_facilitators.routes(),
    ]
