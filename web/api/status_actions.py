"""What one does to a status: boost and unboost, favourite, bookmark, pin (and their undos);
mute/unmute of a conversation answer the status unchanged (we keep no conversation mutes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Route

from community import statuses as service
from community.models import Profile, Status
from server.floor.db import write_scope
from web.api import lookup
from web.api.http import Call, endpoint

Action = Callable[[Session, Profile, Status], Any]


def _act(call: Call, action: Action | None, show_original: bool = True) -> dict[str, Any]:
    with write_scope() as db:
        profile = lookup.me(db, call)
        status = lookup.status(db, call.id(), profile)
        if status.reblog_of_id is not None:
            status = lookup.status(db, status.reblog_of_id, profile)
        result = action(db, profile, status) if action is not None else None
        db.flush()
        db.refresh(status)
        if not show_original and isinstance(result, Status):
            return lookup.render_status(db, result, profile)
        return lookup.render_status(db, status, profile)


def _reblog(db: Session, profile: Profile, status: Status) -> Status:
    visibility = None
    return service.reblog(db, profile, status, visibility=visibility)


@endpoint("write:statuses")
def reblog(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/reblog: the boost, with the original inside (as Mastodon)."""
    return _act(call, _reblog, show_original=False)


@endpoint("write:statuses")
def unreblog(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/unreblog."""
    return _act(call, service.unreblog)


@endpoint("write:favourites")
def favourite(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/favourite."""
    return _act(call, service.favourite)


@endpoint("write:favourites")
def unfavourite(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/unfavourite."""
    return _act(call, service.unfavourite)


@endpoint("write:bookmarks")
def bookmark(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/bookmark."""
    return _act(call, service.bookmark)


@endpoint("write:bookmarks")
def unbookmark(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/unbookmark."""
    return _act(call, service.unbookmark)


@endpoint("write:accounts")
def pin(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/pin."""
    return _act(call, service.pin)


@endpoint("write:accounts")
def unpin(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/unpin."""
    return _act(call, service.unpin)


@endpoint("write:mutes")
def mute(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses/:id/mute and /unmute (conversation mutes are not kept)."""
    return _act(call, None)


def routes() -> list[BaseRoute]:
    """The status action endpoints."""
    actions = {
        "reblog": reblog,
        "unreblog": unreblog,
        "favourite": favourite,
        "unfavourite": unfavourite,
        "bookmark": bookmark,
        "unbookmark": unbookmark,
        "pin": pin,
        "unpin": unpin,
        "mute": mute,
        "unmute": mute,
    }
    return [Route(f"/api/v1/statuses/{{id}}/{name}", handler, methods=["POST"]) for name, handler in actions.items()]
