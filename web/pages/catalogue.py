"""The catalogue block of the home page: courses with upcoming runs (filled by the courses pages)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server.floor.db import session_scope


def catalogue_context(request: Request) -> dict[str, Any]:
    """The courses the home page lists: dicts with `title`, `summary`, `url` and their next `runs`."""
    from web.pages.courses import catalogue

    with session_scope() as session:
        return {"courses": catalogue(session)}
