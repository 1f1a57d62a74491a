"""The signed-in person's notifications: newest first, filtered by type, a page at a time by id
cursors, the unread ones marked, and a button that marks them all read (the header's count then
goes to zero)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import notifications, people
from community.models import Profile, Status
from server.floor.db import session_scope, write_scope
from web.auth import require_login
from web.flash import flash
from web.social.cards import cards, person
from web.social.paging import cursor, pager
from web.social.unread import unread_notifications
from web.social.viewer import own_profile_id
from web.templating import render

# filter value -> (label, types)
FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "": ("All", ()),
    "mention": ("Mentions and replies", ("mention", "reply")),
    "follow": ("Follows", ("follow", "follow_request")),
    "reblog": ("Boosts", ("reblog",)),
    "favourite": ("Favourites", ("favourite",)),
    "learning": ("Courses and groups", ("unit", "group_post")),
    "status": ("Posts and edits", ("status", "update")),
    "admin": ("For admins", ("admin.report", "admin.sign_up")),
}
# type -> what happened, after the sender's name
SENTENCES = {
    "mention": "mentioned you",
    "reply": "replied to your post",
    "follow": "followed you",
    "follow_request": "asked to follow you",
    "reblog": "boosted your post",
    "favourite": "favourited your post",
    "status": "posted",
    "update": "edited a post you interacted with",
    "unit": "sent a new unit",
    "group_post": "posted in your study group",
    "admin.report": "filed a report",
    "admin.sign_up": "signed up and waits for approval",
}


@require_login
def notifications_page(request: Request) -> Response:
    """The notifications, filtered by `?type=`."""
    chosen = request.query_params.get("type", "")
    if chosen not in FILTERS:
        chosen = ""
    page = cursor(request)
    me_id = own_profile_id(request)
    with session_scope() as db:
        me = db.get(Profile, me_id)
        assert me is not None
        types = FILTERS[chosen][1] or None
        rows = notifications.page(db, me, types=types, **page.arguments())
        last_read = people.preferences(db, me).last_read_notification_id or 0
        senders = people.by_ids(db, [n.from_profile_id for n in rows])
        status_ids = [n.status_id for n in rows if n.status_id is not None]
        found = {s.id: s for s in db.scalars(select(Status).where(Status.id.in_(status_ids)))} if status_ids else {}
        shown = {c.id: c for c in cards(db, list(found.values()), me)}
        items: list[dict[str, Any]] = []
        for row in rows:
            sender = senders.get(row.from_profile_id or 0)
            items.append(
                {
                    "id": row.id,
                    "type": row.type,
                    "sentence": SENTENCES.get(row.type, row.type),
                    "who": person(sender) if sender else None,
                    "card": shown.get(row.status_id or 0),
                    "unread": row.id > last_read,
                    "at": row.created_at,
                }
            )
        context = {
            "items": items,
            "filters": [(value, label) for value, (label, _) in FILTERS.items()],
            "chosen": chosen,
            "pager": pager(request, [n.id for n in rows], page),
            "any_unread": any(item["unread"] for item in items) or bool(notifications.unread_count(db, me)),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        }
        return render(request, "social/notifications.html", context)


@require_login
def mark_read(request: Request) -> Response:
    """Mark every notification read."""
    me_id = own_profile_id(request)
    with write_scope() as db:
        me = db.get(Profile, me_id)
        assert me is not None
        notifications.mark_read(db, me)
    flash(request, "All notifications are marked read.", "success")
    return RedirectResponse("/notifications", status_code=303)


@require_login
def unread(request: Request) -> Response:
    """How many notifications the signed-in person has not read (JSON, for the header's count)."""
    return JSONResponse({"count": unread_notifications(request)}, headers={"Cache-Control": "private, no-store"})


def routes() -> list[BaseRoute]:
    """The notifications page and its button."""
    return [
        Route("/notifications", notifications_page, methods=["GET"]),
        Route("/notifications/read", mark_read, methods=["POST"]),
        Route("/notifications/unread", unread, methods=["GET"]),
    ]
