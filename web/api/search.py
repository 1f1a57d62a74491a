"""Search v2: accounts (with `resolve=true`, a `user@host` or actor URL not known here is looked up
by federation first), hashtags and statuses (full text, the viewer's own and public ones)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.routing import BaseRoute, Route

from community import search as service
from community.models import Tag
from server.floor.db import session_scope
from web.api import actors, lookup
from web.api.entities import account, tag
from web.api.http import ApiError, Call, endpoint
from web.api.paging import cursors
from web.api.remote import resolve

TYPES = ("accounts", "hashtags", "statuses")


def _looks_remote(query: str) -> bool:
    value = query.strip().lstrip("@")
    return value.startswith(("https://", "http://")) or ("@" in value and " " not in value)


@endpoint("read:search", public=True, user=False)
def search(call: Call) -> dict[str, Any]:
    """GET /api/v2/search?q=&type=&resolve=&limit=&offset=."""
    params = call.params
    query = params.text("q", limit=600).strip()
    kind = params.text("type", limit=20) or None
    if kind is not None and kind not in TYPES:
        raise ApiError(422, f"Validation failed: type must be one of {', '.join(TYPES)}")
    if params.number("offset", 0, low=0, high=10_000) and call.account is None:
        raise ApiError(401, "Search queries with offset require a user token")
    page = cursors(params, default=20, maximum=40)
    result: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if not query:
        return result
    resolved = None
    if kind in (None, "accounts") and params.flag("resolve") and call.account is not None and _looks_remote(query):
        resolved = resolve(query)  # network: before any transaction of this request
    if kind in (None, "accounts") and not _looks_remote(query):
        actors.ensure_if_missing(query)  # a course, run or study group handle becomes findable
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        if kind in (None, "accounts"):
            found = service.profiles(db, query, limit=page["limit"])
            if resolved is not None:
                found = [db.merge(resolved), *[p for p in found if p.id != resolved.id]]
            result["accounts"] = [account(p) for p in found[: page["limit"]]]
        if kind in (None, "hashtags"):
            name = query.lstrip("#").lower()
            if name:
                escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                rows = db.scalars(
                    select(Tag)
                    .where(func.lower(Tag.name).like(escaped + "%", escape="\\"))
                    .order_by(Tag.name)
                    .limit(page["limit"])
                )
                result["hashtags"] = [tag(t) for t in rows]
        if kind in (None, "statuses"):
            found_statuses = service.statuses(
                db, seen_by, query, max_id=page["max_id"], min_id=page["min_id"], limit=page["limit"]
            )
            result["statuses"] = lookup.render_statuses(db, found_statuses, seen_by)
    return result


def routes() -> list[BaseRoute]:
    """The search endpoint."""
    return [Route("/api/v2/search", search, methods=["GET"])]
