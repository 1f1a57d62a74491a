"""The course-world flows of federation: which domain events they react to, and their routes.

`register()` is called from `federation.reactions.register()`; `routes()` from
`federation.routes.routes()` (our `@context` at /ns and each course's `forks` collection, served
as JSON to ActivityPub clients; people get the course page from the web package).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from courses.models import Course
from federation import announce, bridge, forks, vocabulary
from server.config import get_settings
from server.db import session_scope
from server.events import subscribe

AP_JSON = "application/activity+json"


def register() -> None:
    """Subscribe the flows to the domain events they turn into activities."""
    subscribe("course.published", announce.on_course_published)
    subscribe("run.created", announce.on_run_created)
    subscribe("course.forked", forks.on_course_forked)
    subscribe("unit.due_for_actor", bridge.on_unit_due)
    subscribe("post.created", bridge.on_post_created)


async def context_document(request: Request) -> Response:
    """GET /ns: our JSON-LD context."""
    return JSONResponse(vocabulary.context_document(get_settings().url), media_type="application/ld+json")


def _forks(slug: str) -> dict | None:
    with session_scope() as session:
        course = session.scalar(select(Course).where(Course.slug == slug))
        return forks.forks_collection(session, course) if course else None


async def forks_collection(request: Request) -> Response:
    """GET /courses/{slug}/forks: the ForgeFed forks OrderedCollection."""
    from starlette.concurrency import run_in_threadpool

    document = await run_in_threadpool(_forks, request.path_params["slug"])
    if document is None:
        return JSONResponse({"error": f"no course {request.path_params['slug']}"}, status_code=404)
    return JSONResponse(document, media_type=AP_JSON)


def routes() -> list[BaseRoute]:
    """The flows' machine-facing routes (the forks collection only for ActivityPub clients)."""
    from federation.routes import ActivityPubRoute

    return [
        Route("/ns", context_document, methods=["GET"]),
        ActivityPubRoute("/courses/{slug}/forks", forks_collection, methods=["GET"]),
    ]
