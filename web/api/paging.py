"""Mastodon's paging: `max_id`, `since_id`, `min_id`, `limit` in; a `Link` header out, whose `next`
asks for older items (`max_id` = the last id) and `prev` for newer ones (`min_id` = the first id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple
from urllib.parse import urlencode

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session
from starlette.requests import Request

from server.floor.urls import absolute
from web.api.http import ApiError, Params

CURSORS = ("max_id", "since_id", "min_id")
Ts = TypeVarTuple("Ts")


def cursors(params: Params, default: int = 20, maximum: int = 40) -> dict[str, Any]:
    """The paging arguments of a request, checked (ids are digits; limit clamped as Mastodon does)."""
    found: dict[str, Any] = {}
    for name in CURSORS:
        value = params.get(name)
        if value in (None, ""):
            found[name] = None
            continue
        text = str(value)
        if not text.isdigit() or len(text) > 19:
            raise ApiError(422, f"Validation failed: {name} must be an id")
        found[name] = int(text)
    limit = params.number("limit", default, low=-(2**31), high=2**31)
    found["limit"] = max(1, min(limit or default, maximum))
    return found


def page_rows(db: Session, query: Select[*Ts], column: Any, page: dict[str, Any]) -> list[Row[*Ts]]:
    """The rows of `query` in the page `cursors` asked for, bounded on the id `column`, newest first."""
    if page["max_id"]:
        query = query.where(column < page["max_id"])
    if page["since_id"]:
        query = query.where(column > page["since_id"])
    if page["min_id"]:
        return list(db.execute(query.where(column > page["min_id"]).order_by(column).limit(page["limit"])))[::-1]
    return list(db.execute(query.order_by(column.desc()).limit(page["limit"])))


def link(request: Request, ids: Sequence[int | str]) -> str:
    """The Link header of a page whose items (newest first) have `ids`; empty for an empty page."""
    if not ids:
        return ""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in CURSORS]
    base = absolute(request.url.path)
    older = urlencode([*kept, ("max_id", str(ids[-1]))])
    newer = urlencode([*kept, ("min_id", str(ids[0]))])
    return f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'
