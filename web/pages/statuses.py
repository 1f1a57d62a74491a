"""A status's page (`/@handle/{id}`: the thread, its ancestors above and its replies below, remote
replies too), its buttons (boost, favourite, bookmark, pin, delete: POST forms), its edit history,
and `/posts/{id}` for browsers (the ActivityPub id of our statuses: federation answers the JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import statuses
from community.models import Profile, Status
from server.floor.db import session_scope, write_scope
from server.floor.errors import NotFound, PermissionDenied
from web.auth import require_login, safe_next
from web.csrf import posted_form
from web.flash import flash
from web.social.cards import Card, cards, clean, status_path
from web.social.paging import id_of
from web.social.viewer import own_profile_id, viewer
from web.templating import render

MAX_EDITS_SHOWN = 50


def visible_status(session: Session, status_id: int, me: Profile | None) -> Status:
    """Status `status_id` if `me` (None: a visitor) may see it; NotFound otherwise (never 403: a
    private post's existence is not told)."""
    status = session.get(Status, status_id) if id_of(status_id) is not None else None
    if status is None or status.reblog_of_id is not None or not statuses.can_see(session, status, me):
        raise NotFound(f"no post {status_id} here")
    return status


def _author(session: Session, status: Status) -> Profile | None:
    return session.get(Profile, status.profile_id) if status.profile_id is not None else None


def thread(request: Request) -> Response:
    """The thread of a status: its ancestors, the status, its replies."""
    status_id = request.path_params["status_id"]
    with session_scope() as db:
        me = viewer(db, request)
        status = visible_status(db, status_id, me)
        author = _author(db, status)
        canonical = status_path(status, author)
        if canonical != request.url.path:
            return RedirectResponse(canonical, status_code=301)
        ancestors, descendants = statuses.context(db, status, me)
        shown = cards(db, [*ancestors, status, *descendants], me)
        before, focus, after = shown[: len(ancestors)], shown[len(ancestors)], shown[len(ancestors) + 1 :]
        context = {
            "ancestors": before,
            "focus": focus,
            "replies": after,
            "here": canonical,
            "title": _title(focus),
        }
        return render(request, "social/thread.html", context)


def _title(card: Card) -> str:
    text = card.spoiler_text or str(card.content.striptags())
    return f"{card.author_name}: “{text[:60]}{'…' if len(text) > 60 else ''}”"


def post_redirect(request: Request) -> Response:
    """`/posts/{id}` in a browser: the status's page."""
    status_id = request.path_params["status_id"]
    with session_scope() as db:
        me = viewer(db, request)
        status = visible_status(db, status_id, me)
        author = _author(db, status)
        if author is None:
            return thread_without_author(request, db, status, me)
        return RedirectResponse(status_path(status, author), status_code=303)


def thread_without_author(request: Request, db: Session, status: Status, me: Profile | None) -> Response:
    """A status without a profile (an old group post by mail): shown alone with its replies."""
    ancestors, descendants = statuses.context(db, status, me)
    shown = cards(db, [*ancestors, status, *descendants], me)
    focus = shown[len(ancestors)]
    context = {
        "ancestors": shown[: len(ancestors)],
        "focus": focus,
        "replies": shown[len(ancestors) + 1 :],
        "here": request.url.path,
        "title": _title(focus),
    }
    return render(request, "social/thread.html", context)


def history(request: Request) -> Response:
    """The earlier versions of an edited status, newest first, then the current one."""
    status_id = request.path_params["status_id"]
    with session_scope() as db:
        me = viewer(db, request)
        status = visible_status(db, status_id, me)
        earlier = sorted(statuses.history(db, status), key=lambda edit: edit.id, reverse=True)[:MAX_EDITS_SHOWN]
        versions = [
            {
                "at": edit.created_at,
                "spoiler_text": edit.spoiler_text,
                "content": clean(edit.html) if edit.html else edit.text,
                "pictures": len(edit.media or []),
            }
            for edit in earlier
        ]
        card = cards(db, [status], me)[0]
        return render(request, "social/history.html", {"card": card, "versions": versions, "here": card.path})


# action -> (service call with (session, profile, status), message)
_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "boost": (statuses.reblog, "Boosted."),
    "unboost": (statuses.unreblog, "Boost undone."),
    "favourite": (statuses.favourite, "Added to your favourites."),
    "unfavourite": (statuses.unfavourite, "Removed from your favourites."),
    "bookmark": (statuses.bookmark, "Bookmarked."),
    "unbookmark": (statuses.unbookmark, "Bookmark removed."),
    "pin": (statuses.pin, "Pinned to your profile."),
    "unpin": (statuses.unpin, "Unpinned."),
}


@require_login
def act(request: Request) -> Response:
    """Boost, favourite, bookmark or pin a status (or undo it); then back where the button was."""
    action = request.path_params["action"]
    status_id = request.path_params["status_id"]
    me_id = own_profile_id(request)
    back = safe_next(str(posted_form(request).get("next", "")) or None)
    if action == "delete":
        return _delete(request, me_id, status_id, back)
    if action not in _ACTIONS:
        raise NotFound(f"no action {action!r} on a post")
    call, message = _ACTIONS[action]
    with write_scope() as db:
        me = db.get(Profile, me_id)
        status = visible_status(db, status_id, me)
        call(db, me, status)
    flash(request, message, "success")
    return RedirectResponse(_anchored(back, status_id), status_code=303)


def _anchored(back: str, status_id: int) -> str:
    return back if "#" in back or back == "/" else f"{back}#s-{status_id}"


def _delete(request: Request, me_id: int | None, status_id: int, back: str) -> Response:
    with write_scope() as db:
        me = db.get(Profile, me_id)
        status = visible_status(db, status_id, me)
        if me is None or status.profile_id != me.id:
            raise PermissionDenied("only its author deletes a post")
        path = status_path(status, me)
        statuses.delete(db, status)
    flash(request, "Your post is deleted.", "success")
    # Back to where the button was, unless that was the deleted post's own page.
    return RedirectResponse("/home" if back.startswith(path) or back == "/" else back, status_code=303)


def routes() -> list[BaseRoute]:
    """Status pages and their buttons."""
    return [
        Route("/posts/{status_id:int}", post_redirect, methods=["GET"]),
        Route("/@{handle}/{status_id:int}", thread, methods=["GET"]),
        Route("/@{handle}/{status_id:int}/history", history, methods=["GET"]),
        Route("/@{handle}/{status_id:int}/{action}", act, methods=["POST"]),
    ]
