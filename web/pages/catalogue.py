"""The catalogue block of the home page: courses with upcoming runs (filled by the courses pages)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server.floor.db import session_scope

HOME_COURSES = 12  # the soonest courses on the home page; /courses pages through them all


def catalogue_context(request: Request) -> dict[str, Any]:
    """The courses the home page lists: dicts with `title`, `summary`, `url` and their next `runs`,
    and a link to /courses when there are more."""
    from web.pages.courses import catalogue, catalogue_size

    with session_scope() as session:
        courses = catalogue(session, limit=HOME_COURSES)
        total = catalogue_size(session) if len(courses) == HOME_COURSES else len(courses)
    more = total > len(courses)
    return {
        "courses": courses,
        "previous_url": None,
        "more_url": "/courses" if more else None,
        "more_label": f"All {total} courses",
    }
