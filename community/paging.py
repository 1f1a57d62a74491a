"""Id cursors, as Mastodon pages: `max_id` (older than), `since_id` (newer than, newest first),
`min_id` (the oldest-first window just above it, handed back newest first). No OFFSET anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Integer, Select, bindparam
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


def bounds(
    max_id: int | str | None = None,
    since_id: int | str | None = None,
    min_id: int | str | None = None,
    limit: int | None = None,
) -> tuple[tuple[bool, bool, bool], dict[str, int]]:
    """The cursors as (which are given, their values as statement parameters) for `prebuilt`."""
    top, since, bottom = cursor(max_id, "max_id"), cursor(since_id, "since_id"), cursor(min_id, "min_id")
    params = {"limit": limit_of(limit)}
    for name, value in (("max_id", top), ("since_id", since), ("min_id", bottom)):
        if value is not None:
            params[name] = value
    return (top is not None, since is not None, bottom is not None), params


def prebuilt(query: Select[Any], column: Any, given: tuple[bool, bool, bool], also: Any = None) -> Select[Any]:
    """`query` bounded by the cursors `given` (see `bounds`) as bound parameters, ordered and
    limited: a statement built once per shape and run with `bounds`' parameters. `also`: the
    joined column equal to `column`, bounded too (a generic plan may merge-join on it)."""
    top, since, bottom = given
    columns = [column] if also is None else [column, also]
    for used, name, above in ((top, "max_id", False), (since, "since_id", True), (bottom, "min_id", True)):
        if used:
            value = bindparam(name, type_=BigInteger())
            for each in columns:
                query = query.where(each > value if above else each < value)
    limit = bindparam("limit", type_=Integer())
    if bottom:
        return query.order_by(column.asc()).limit(limit)
    return query.order_by(column.desc()).limit(limit)


def run(session: Session, statement: Select[Any], given: tuple[bool, bool, bool], params: dict[str, int]) -> list[Any]:
    """Run a `prebuilt` statement: its page newest first."""
    rows = list(session.scalars(statement, params))
    return rows[::-1] if given[2] else rows
