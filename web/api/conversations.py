"""Conversations: the direct-message threads a person is in (statuses of visibility `direct` they
wrote or are mentioned in), newest first, one per thread, with the other participants. No read
state is kept: `unread` is false and marking read or hiding one changes nothing here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from starlette.routing import BaseRoute, Route

from community.models import Mention, Profile, Status
from server.floor.db import session_scope
from web.api import lookup
from web.api.entities import StatusRenderer, account
from web.api.http import Call, Page, endpoint
from web.api.paging import cursors, link

SCAN = 400  # direct statuses looked at for one page


def _conversations(call: Call, only: int | None = None) -> tuple[list[dict[str, Any]], list[int]]:
    page = cursors(call.params, default=20, maximum=40)
    with session_scope() as db:
        me = lookup.me(db, call)
        mine = or_(
            Status.profile_id == me.id,
            Status.id.in_(select(Mention.status_id).where(Mention.profile_id == me.id)),
        )
        query = select(Status).where(Status.visibility == "direct", Status.deleted.is_(False), mine)
        if page["max_id"]:
            query = query.where(Status.id < page["max_id"])
        if page["since_id"] or page["min_id"]:
            query = query.where(Status.id > (page["since_id"] or page["min_id"]))
        latest: dict[int, Status] = {}
        for status in db.scalars(query.order_by(Status.id.desc()).limit(SCAN)):
            thread = status.thread_id or status.id
            if thread not in latest and (only is None or thread == only):
                latest[thread] = status
            if len(latest) >= page["limit"]:
                break
        renderer = StatusRenderer(db, me)
        threads = list(latest.items())
        rendered = renderer.render([status for _, status in threads])
        by_id = {entity["id"]: entity for entity in rendered}
        people_ids = {pid for (_, s) in threads for pid in (s.profile_id,) if pid}
        people_ids |= set(
            db.scalars(select(Mention.profile_id).where(Mention.status_id.in_([s.id for _, s in threads])))
        )
        people = {p.id: p for p in db.scalars(select(Profile).where(Profile.id.in_(people_ids)))}
        found = []
        for thread, status in threads:
            entity = by_id.get(str(status.id))
            if entity is None:
                continue
            others = {m["id"] for m in entity["mentions"]} | {entity["account"]["id"]}
            accounts = [account(people[int(i)]) for i in sorted(others) if int(i) != me.id and int(i) in people]
            found.append({"id": str(thread), "unread": False, "accounts": accounts, "last_status": entity})
        return found, [status.id for _, status in threads]


@endpoint("read:statuses")
def index(call: Call) -> Page:
    """GET /api/v1/conversations."""
    found, ids = _conversations(call)
    return Page(found, link(call.request, ids))


@endpoint("write:conversations")
def read(call: Call) -> dict[str, Any]:
    """POST /api/v1/conversations/:id/read: the conversation (no read state is kept)."""
    found, _ = _conversations(call, only=call.id())
    if not found:
        return {"id": str(call.id()), "unread": False, "accounts": [], "last_status": None}
    return found[0]


@endpoint("write:conversations")
def remove(call: Call) -> dict[str, Any]:
    """DELETE /api/v1/conversations/:id (nothing is hidden: the statuses stay where they are)."""
    return {}


def routes() -> list[BaseRoute]:
    """The conversation endpoints."""
    return [
        Route("/api/v1/conversations", index, methods=["GET"]),
        Route("/api/v1/conversations/{id}/read", read, methods=["POST"]),
        Route("/api/v1/conversations/{id}", remove, methods=["DELETE"]),
    ]
