"""Finding what an API call names: the caller's profile, a profile or status by id (404 as
Mastodon answers when it is missing or hidden), and rendering lists for the caller."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from community import people
from community.models import Profile, Status
from community.statuses import get_visible
from web.api.entities import StatusRenderer
from web.api.http import ApiError, Call


def me(db: Session, call: Call) -> Profile:
    """The caller's own profile (made on first use)."""
    return people.local_profile(db, call.need_account())


def viewer(db: Session, call: Call) -> Profile | None:
    """The caller's profile, or None for an app token or no token."""
    return people.local_profile(db, call.account) if call.account is not None else None


def profile(db: Session, profile_id: int) -> Profile:
    """A profile by id; 404 when unknown or deleted."""
    found = db.get(Profile, profile_id)
    if found is None or found.deleted_at is not None:
        raise ApiError(404, "Record not found")
    return found


def status(db: Session, status_id: int, seen_by: Profile | None) -> Status:
    """A status the viewer may see; 404 otherwise (its existence does not leak)."""
    found = get_visible(db, status_id, seen_by)
    if found.deleted:
        raise ApiError(404, "Record not found")
    return found


def render_statuses(db: Session, statuses: Iterable[Status], seen_by: Profile | None) -> list[dict[str, Any]]:
    """Status entities for the viewer."""
    return StatusRenderer(db, seen_by).render(statuses)


def render_status(db: Session, found: Status, seen_by: Profile | None) -> dict[str, Any]:
    """One Status entity for the viewer (404 when its author is gone)."""
    rendered = StatusRenderer(db, seen_by).one(found)
    if rendered is None:
        raise ApiError(404, "Record not found")
    return rendered
