"""Id cursors of timeline pages: `?max_id=` (older than), `?min_id=` (newer than), no OFFSET."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from server.floor.errors import Invalid

PAGE_SIZE = 20
MAX_ID = 2**63 - 1


def id_of(value: object) -> int | None:
    """A status (or other row) id from untrusted input: digits that fit a 64-bit column, else None."""
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
        return None
    return int(text)


def _id(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 19 or int(value) > MAX_ID:
        raise Invalid(f"{name} must be a status id (a whole number)")
    return int(value)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: before `max_id`, after `min_id` (the nearest ones), or the newest."""

    max_id: int | None = None
    min_id: int | None = None

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of the timeline services."""
        return {"max_id": self.max_id, "min_id": self.min_id, "limit": PAGE_SIZE}


def cursor(request: Request) -> Cursor:
    """The page's cursor from the query string (a bad id: Invalid, shown as 400)."""
    return Cursor(max_id=_id(request, "max_id"), min_id=_id(request, "min_id"))


def pager(request: Request, entry_ids: list[int], page: Cursor) -> dict[str, Any]:
    """Links to the newer and older pages around `entry_ids` (newest first), keeping other parameters.

    `newest` is the id the "new posts" check counts from (only on the newest page)."""
    kept = {k: v for k, v in request.query_params.items() if k not in {"max_id", "min_id"}}

    def link(**cursor_values: int) -> str:
        return request.url.path + "?" + urlencode({**kept, **cursor_values})

    older = link(max_id=entry_ids[-1]) if len(entry_ids) >= PAGE_SIZE or (page.min_id and entry_ids) else None
    newer = link(min_id=entry_ids[0]) if entry_ids and (page.max_id or page.min_id) else None
    if page.max_id and not entry_ids:
        newer = request.url.path + ("?" + urlencode(kept) if kept else "")
    on_top = page.max_id is None and page.min_id is None
    return {"older": older, "newer": newer, "newest": (entry_ids[0] if entry_ids else 0) if on_top else None}
