"""HTTP endpoints of the federation package, mounted BEFORE the web pages.

Actor documents share their URLs with the web's HTML pages: `ActivityPubRoute`
(`federation.entry.http`) matches only requests whose Accept asks for ActivityPub, so browsers fall
through to the web package. The course-world objects (units, versions, posts, forks) are in
`federation.entry.objects`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from federation.entry import nodeinfo, objects, webfinger
from federation.entry.http import ActivityPubRoute, activity_json, refused_json, signed_get_refusal
from federation.entry.inbox import receive
from federation.flows.actors import document_for, followers_count, local_actor_by_kind
from federation.flows.outbox import collection, outbox_collection, outbox_page, page
from federation.flows.person_actor import gone_person, person_collection
from server.floor.db import session_scope
from server.floor.errors import Invalid, NotFound

JRD_MEDIA_TYPE = "application/jrd+json"
KIND_PREFIXES = {"person": "users", "course": "courses", "run": "runs", "group": "groups"}
PARTS = ("outbox", "followers", "following", "featured")


def _actor_view(kind: str, part: str) -> Callable[[Request], Any]:
    """An endpoint serving one part ('' for the actor, or one of PARTS) of an actor; `?page=N` a page."""

    def build(request: Request) -> JSONResponse:
        handle = request.path_params.get("handle", "")
        refusal = signed_get_refusal(request, kind == "instance")
        if refusal is not None:
            return refusal
        if kind == "person" and part:
            return _person_part(handle, part, dict(request.query_params))
        number = _page_number(request)
        if number is None:
            return refused_json(400, "page must be a whole number from 1 to 10000")
        with session_scope() as session:
            if kind == "person" and (gone := gone_person(session, handle)) is not None:
                return activity_json(gone, status=410)
            actor = local_actor_by_kind(session, kind, handle)
            if actor is None:
                return refused_json(404, f"no {kind} called {handle!r} here")
            if part == "":
                return activity_json(document_for(session, actor))
            if part == "outbox":
                if number:
                    return activity_json(outbox_page(session, actor.id, number))
                return activity_json(outbox_collection(session, actor.id))
            # Who follows whom is not listed (Mastodon's "hide your network"): counts, and empty pages.
            collection_id = f"{actor.id}/{part}"
            if number:
                return activity_json(page(collection_id, number, [], False))
            if part == "featured":  # pinned posts: none; Mastodon reads the items inline
                return activity_json({**collection(collection_id, 0), "orderedItems": []})
            total = followers_count(session, actor.id) if part == "followers" else 0
            return activity_json(collection(collection_id, total))

    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(build, request)

    return endpoint


def _person_part(handle: str, part: str, params: dict[str, str]) -> JSONResponse:
    """A person's outbox, followers, following or featured (pages by id cursor, `?page=true&max_id=`)."""
    with session_scope() as session:
        if (gone := gone_person(session, handle)) is not None:
            return activity_json(gone, status=410)
        actor = local_actor_by_kind(session, "person", handle)
        if actor is None:
            return refused_json(404, f"no person called {handle!r} here")
        return activity_json(person_collection(session, actor.row, part, params))


def _page_number(request: Request) -> int | None:
    """The `page` query parameter: 0 when absent, None when it is not a page number."""
    value = request.query_params.get("page")
    if value is None:
        return 0
    return int(value) if value.isdigit() and 1 <= int(value) <= 10_000 else None


async def webfinger_endpoint(request: Request) -> Response:
    """GET /.well-known/webfinger?resource=acct:NAME@HOST."""
    resource = request.query_params.get("resource", "")
    if not resource:
        return refused_json(400, "the resource parameter is missing (acct:NAME@HOST)")

    def build() -> Response:
        with session_scope() as session:
            try:
                document = webfinger.webfinger_document(session, resource)
            except Invalid as error:
                return refused_json(400, str(error))
            except NotFound as error:
                return refused_json(404, str(error))
        return JSONResponse(document, media_type=JRD_MEDIA_TYPE, headers={"Access-Control-Allow-Origin": "*"})

    return await run_in_threadpool(build)


async def nodeinfo_links(request: Request) -> Response:
    """GET /.well-known/nodeinfo."""
    return JSONResponse(nodeinfo.well_known(), headers={"Access-Control-Allow-Origin": "*"})


async def nodeinfo_document(request: Request) -> Response:
    """GET /nodeinfo/2.1 and /nodeinfo/2.0."""
    version = "2.0" if request.url.path.endswith("/2.0") else "2.1"

    def build() -> dict[str, Any]:
        with session_scope() as session:
            return nodeinfo.nodeinfo(session, version)

    document = await run_in_threadpool(build)
    media = nodeinfo.media_type(version)
    return JSONResponse(document, media_type=media, headers={"Access-Control-Allow-Origin": "*"})


async def host_meta(request: Request) -> Response:
    """GET /.well-known/host-meta (XRD) and /.well-known/host-meta.json."""
    if request.url.path.endswith(".json"):
        return JSONResponse(webfinger.host_meta_json())
    return Response(webfinger.host_meta_xml(), media_type="application/xrd+xml")


def routes() -> list[BaseRoute]:
    """The routes this package serves (inboxes, well-known documents, actor documents)."""
    served: list[BaseRoute] = [
        Route("/.well-known/webfinger", webfinger_endpoint, methods=["GET"]),
        Route("/.well-known/nodeinfo", nodeinfo_links, methods=["GET"]),
        Route("/nodeinfo/2.1", nodeinfo_document, methods=["GET"]),
        Route("/nodeinfo/2.0", nodeinfo_document, methods=["GET"]),
        Route("/.well-known/host-meta", host_meta, methods=["GET"]),
        Route("/.well-known/host-meta.json", host_meta, methods=["GET"]),
        Route("/inbox", receive, methods=["POST"]),
        Route("/actor/inbox", receive, methods=["POST"]),
        Route("/actor", _actor_view("instance", ""), methods=["GET"]),
    ]
    for part in PARTS:
        served.append(Route(f"/actor/{part}", _actor_view("instance", part), methods=["GET"]))
    for kind, prefix in KIND_PREFIXES.items():
        served.append(Route(f"/{prefix}/{{handle}}/inbox", receive, methods=["POST"]))
        served.append(ActivityPubRoute(f"/{prefix}/{{handle}}", _actor_view(kind, ""), methods=["GET"]))
        for part in PARTS:
            served.append(Route(f"/{prefix}/{{handle}}/{part}", _actor_view(kind, part), methods=["GET"]))
    return [*served, *objects.routes()]
