"""The unsubscribe confirmation page (GET /mail/unsubscribe/{token}); its form posts to the mail package's endpoint."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses.models import Enrollment, Run
from courses.versions import pinned
from mail.bounces import mail_by_token
from server.floor.db import session_scope
from server.floor.errors import NotFound
from web.templating import render


def unsubscribe_page(request: Request) -> Response:
    """Which list a mail came from, and buttons to leave it or every mail of this instance."""
    token = request.path_params["token"]
    with session_scope() as session:
        mail = mail_by_token(session, token)
        if mail is None:
            raise NotFound("this unsubscribe link is unknown (it may be from another instance, or very old)")
        enrollment = session.get(Enrollment, mail.enrollment_id) if mail.enrollment_id else None
        run = session.get(Run, mail.run_id) if mail.run_id else None
        title = str(pinned(session, run).get("title", run.handle)) if run else ""
        context = {
            "token": token,
            "address": mail.to_addr,
            "course_title": title,
            "run_start": run.start_date.isoformat() if run else "",
            "already": enrollment is not None and enrollment.status == "unsubscribed",
            "done": request.query_params.get("done", ""),
        }
    return render(request, "mail/unsubscribe.html", context)


def routes() -> list[BaseRoute]:
    """The unsubscribe confirmation page."""
    return [Route("/mail/unsubscribe/{token}", unsubscribe_page, methods=["GET"])]
