"""Id cursors, as Mastodon pages: `max_id` (older than), `since_id` (newer than, newest first),
`min_id` (the oldest-first window just above it, handed back newest first). No OFFSET anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from server.floor.errors import Invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
T = TypeVar("T")


def limit_of(limit: int | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """A page size between 1 and `maximum` (Mastodon clamps rather than refuses)."""
    if limit is None:
        return default
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise Invalid(f"limit {limit!r} must be a whole number") from None
    return max(1, min(value, maximum))


def cursor(value: int | str | None, name: str) -> int | None:
    """A cursor as a number (API clients send strings); Invalid naming it when it is not one."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} {value!r} must be an id") from None
    if not 0 <= number < 1 << 63:
        raise Invalid(f"{name} {value!r} is out of range")
    return number


def window(
    query: Select[Any],
    column: Any,
    *,
    max_id: int | str | None = None,
    since_id: int | str | None = None,
    min_id: int | str | None = None,
    limit: int | None = None,
) -> tuple[Select[Any], bool]:
    """`query` bounded by the cursors on `column`, ordered and limited; the flag says the rows come
    oldest first (a `min_id` page) and must be reversed after fetching."""
    top, since, bottom = cursor(max_id, "max_id"), cursor(since_id, "since_id"), cursor(min_id, "min_id")
    if top is not None:
        query = query.where(column < top)
    if since is not None:
        query = query.where(column > since)
    size = limit_of(limit)
    if bottom is not None:
        return query.where(column > bottom).order_by(column.asc()).limit(size), True
    return query.order_by(column.desc()).limit(size), False


def fetch(
    session: Session,
    query: Select[Any],
    column: Any,
    *,
    max_id: int | str | None = None,
    since_id: int | str | None = None,
    min_id: int | str | None = None,
    limit: int | None = None,
) -> list[Any]:
    """The page of `query` (its first column's objects), newest first."""
    bounded, reverse = window(query, column, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)
    rows: Sequence[Any] = session.scalars(bounded).all()
    return list(reversed(rows)) if reverse else list(rows)
