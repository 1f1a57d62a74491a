"""The unsubscribe pages: a mail's link (GET /mail/unsubscribe/{key}) and the link that confirms stopping every
mail (GET /mail/unsubscribe/all/{signed}); their forms post to the mail package's endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses.models import Enrollment, Run
from courses.versions import pinned
from mail.unsubscribe import mail_for, stop_all_request
from server.floor.db import session_scope
from web.templating import render


def unsubscribe_page(request: Request) -> Response:
    """Which list a mail came from, and buttons to leave it or to ask to stop every mail of this instance."""
    key = request.path_params["token"]
    with session_scope() as session:
        mail = mail_for(session, key)  # NotFound: a 404 page
        enrollment = session.get(Enrollment, mail.enrollment_id) if mail.enrollment_id else None
        run = session.get(Run, mail.run_id) if mail.run_id else None
        title = str(pinned(session, run).get("title", run.handle)) if run else ""
        context = {
            "token": key,
            "address": mail.to_addr,
            "course_title": title,
            "run_start": run.start_date.isoformat() if run else "",
            "already": enrollment is not None and enrollment.status == "unsubscribed",
            "done": request.query_params.get("done", ""),
        }
    return render(request, "mail/unsubscribe.html", context)


def stop_all_page(request: Request) -> Response:
    """The link mailed to the person: one button that stops every mail to their address (a GET changes nothing:
    mail scanners open links)."""
    signed = request.path_params["signed"]
    address, _ = stop_all_request(signed)  # NotFound: a 404 page
    context = {"signed": signed, "address": address, "done": bool(request.query_params.get("done"))}
    return render(request, "mail/stop_all.html", context)


def routes() -> list[BaseRoute]:
    """The unsubscribe pages."""
    return [
        Route("/mail/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/mail/unsubscribe/all/{signed}", stop_all_page, methods=["GET"]),
    ]
