"""A learner's magic link (`/me/{token}/...`): the place it opens, or the "this link does not work" page."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from courses.models import Enrollment
from courses.signup import by_token
from server.floor.errors import NotFound
from web.templating import render


class InvalidLink(Exception):
    """A magic link that opens no place (mistyped, or the place was forgotten)."""


def place_of(session: Session, token: str) -> Enrollment:
    """The place `token` opens; InvalidLink (answered by `invalid_link`) when it opens none."""
    try:
        return by_token(session, token)
    except NotFound:
        raise InvalidLink(token) from None


def invalid_link(request: Request, exc: Exception) -> Response:
    """The 404 page of a link that opens no place."""
    return render(request, "learner/invalid.html", status=404)
