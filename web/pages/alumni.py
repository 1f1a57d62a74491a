"""A learner joins their course's standing alumni community from their magic link (courses.alumni)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.alumni import alumni_group, join_alumni
from courses.signup import by_token
from server.floor import urls
from server.floor.db import session_scope, write_scope
from web.flash import flash
from web.templating import render


def _context(session: Any, token: str, joined: bool) -> dict[str, Any]:
    course = by_token(session, token).run.course
    group = alumni_group(session, course)
    return {"token": token, "course_title": course.title, "address": urls.group_address(group.handle),
            "group_url": urls.group(group.handle), "joined": joined}  # fmt: skip


def alumni_page(request: Request) -> Response:
    """GET /me/{token}/alumni: what the alumni community is, and a button to join it."""
    token = request.path_params["token"]
    with write_scope() as session:  # the community is made on first use
        return render(request, "learner/alumni.html", _context(session, token, joined=False))


def alumni_join(request: Request) -> Response:
    """POST /me/{token}/alumni: join (a learner of a run of the course, by the address of that place)."""
    token = request.path_params["token"]
    with write_scope() as session:
        place = by_token(session, token)
        join_alumni(session, place.run.course, email=place.email, actor=place.actor, name=place.name)
    with session_scope() as session:
        context = _context(session, token, joined=True)
    flash(request, f"You joined the alumni community of {context['course_title']}.", "success")
    return RedirectResponse(f"/me/{token}/alumni/joined", status_code=303)


def alumni_joined(request: Request) -> Response:
    """GET /me/{token}/alumni/joined: where to write now."""
    with session_scope() as session:
        return render(request, "learner/alumni.html", _context(session, request.path_params["token"], joined=True))


def routes() -> list[BaseRoute]:
    """The alumni routes (before /me/{token}'s catch-alls, if any)."""
    return [
        Route("/me/{token}/alumni", alumni_page),
        Route("/me/{token}/alumni", alumni_join, methods=["POST"]),
        Route("/me/{token}/alumni/joined", alumni_joined),
    ]
