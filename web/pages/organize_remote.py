"""Courses on other instances: follow one, or fork it here, by its URL or @handle (federation services)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor import urls
from server.floor.db import session_scope
from server.floor.errors import MechMoocError
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.organizer import me, sentence
from web.templating import render


def _page(request: Request, target: str = "", error: str = "", status: int = 200) -> Response:
    from federation.flows.follows import following_of

    with session_scope() as session:
        following = following_of(session, urls.person(me(request).handle))
        context = {"target": target, "errors": {"target": error} if error else {}, "following": following}
        return render(request, "organize/remote.html", context, status=status)


@require_role("organizer")
def remote_page(request: Request) -> Response:
    """GET /organize/remote: the form, and the remote courses this organizer follows."""
    return _page(request)


def _target(request: Request) -> str:
    return str(posted_form(request).get("target", "")).strip()


@require_role("organizer")
def follow(request: Request) -> Response:
    """POST /organize/remote/follow: follow a remote course as the organizer's own actor."""
    from federation.flows.follows import follow as follow_service
    from federation.flows.follows import look_up

    target = _target(request)
    if not target:
        return _page(request, target, "Course: give its address (https://…/courses/slug) or @slug@host.", 400)
    try:
        actor_id = look_up(target)  # the network first, with no transaction open
        with session_scope() as session:
            row = follow_service(session, urls.person(me(request).handle), actor_id)
            followed, state = row.target, row.state
    except MechMoocError as error:
        return _page(request, target, sentence(str(error)), 400)
    flash(request, f"Following {followed} ({state}). New runs and versions will reach you.", "success")
    return RedirectResponse("/organize/remote", status_code=303)


@require_role("organizer")
def fork(request: Request) -> Response:
    """POST /organize/remote/fork: copy a remote course here with its provenance; it is yours to run."""
    from federation.flows.forks import fetch_course
    from federation.flows.forks import fork as fork_service

    target = _target(request)
    slug = str(posted_form(request).get("slug", "")).strip() or None
    if not target:
        return _page(request, target, "Course: give its address (https://…/courses/slug) or @slug@host.", 400)
    try:
        document = fetch_course(target)  # the network first, with no transaction open
        with session_scope() as session:
            course = fork_service(session, document, slug=slug, owner_id=me(request).id)
            new_slug = course.slug
    except MechMoocError as error:
        return _page(request, target, sentence(str(error)), 400)
    flash(request, f"Forked: {new_slug} is a copy you can edit and run; its page shows where it came from.", "success")
    return RedirectResponse(f"/organize/courses/{new_slug}", status_code=303)


def routes() -> list[BaseRoute]:
    """Follow and fork remote courses."""
    return [
        Route("/organize/remote", remote_page),
        Route("/organize/remote/follow", follow, methods=["POST"]),
        Route("/organize/remote/fork", fork, methods=["POST"]),
    ]
