"""What every organizer page needs: the signed-in organizer, the course they may change, error sentences."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request

from courses.models import Course
from courses.runs import find_course
from server.floor.accounts import Account
from server.floor.errors import PermissionDenied
from web.auth import current_account, may_change


def me(request: Request) -> Account:
    """The logged-in organizer (the guards ran already)."""
    account = current_account(request)
    assert account is not None
    return account


def editable_course(session: Session, request: Request) -> Course:
    """The course of the path's slug, if the logged-in account may change it (else 403)."""
    course = find_course(session, request.path_params["slug"])
    if not may_change(current_account(request), course.owner_id):
        raise PermissionDenied(f"course {course.slug} belongs to another organizer")
    return course


def sentence(message: str) -> str:
    """A message as a sentence for an error summary."""
    return message[:1].upper() + message[1:]
