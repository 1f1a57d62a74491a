"""A unit's public page: /courses/{slug}/units/{unit_slug}, the HTML side of the unit's ActivityPub id.

The body is rendered as in the unit's ActivityPub `content` (`federation.protocol.unit_text.rendered`): merge tags
filled with neutral values, Markdown with raw HTML escaped, the result sanitized.
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses.runs import find_course
from courses.versions import public_snapshot
from federation.protocol.unit_text import facts_of, rendered
from server.floor import urls
from server.floor.db import session_scope
from web.auth import current_account, may_change
from web.templating import render


def unit_page(request: Request) -> Response:
    """GET /courses/{slug}/units/{unit_slug}: one unit of the published course (the owner also sees the draft's)."""
    slug, unit_slug = request.path_params["slug"], request.path_params["unit_slug"]
    with session_scope() as session:
        course = find_course(session, slug)
        if not course.versions and not may_change(current_account(request), course.owner_id):
            raise HTTPException(404, f"course {course.slug} is not published yet")
        shown = public_snapshot(course)
        unit = next((u for u in shown["units"] if u["slug"] == unit_slug), None)
        if unit is None:
            raise HTTPException(404, f"course {course.slug} has no unit {unit_slug}")
        course_url = urls.course(course.slug)
        unit_id = urls.unit(course.slug, unit_slug)
        body, _teaser = rendered(facts_of(shown, course_url, unit))
        context = {
            "course": course,
            "shown": shown,
            "unit": unit,
            "body": Markup(body),  # already sanitized by nh3
            "unit_id": unit_id,
            "is_draft_only": not course.versions,
        }
        return render(request, "courses/unit.html", context)


def routes() -> list[BaseRoute]:
    """The unit page."""
    return [Route("/courses/{slug}/units/{unit_slug}", unit_page, name="unit")]
