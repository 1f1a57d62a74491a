"""HTTP endpoints of the federation package, mounted BEFORE the web pages.

Actor documents share their URLs with the web's HTML pages: `ActivityPubRoute` matches only
requests whose Accept asks for ActivityPub, so browsers fall through to the web package. Other
packages may use `ActivityPubRoute` for their own JSON-LD objects (units, versions, posts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from federation import nodeinfo, webfinger
from federation.actors import document_for, followers_count, local_actor_by_kind
from federation.authenticate import authenticate
from federation.inbox import receive, received_request
from federation.moderation import refused
from federation.outbox import outbox_collection
from federation.signatures import SignatureError
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.errors import Invalid, NotFound

AP_MEDIA_TYPE = "application/activity+json"
JRD_MEDIA_TYPE = "application/jrd+json"
KIND_PREFIXES = {"person": "users", "course": "courses", "run": "runs", "group": "groups"}


def wants_activitypub(headers: Headers) -> bool:
    """True when Accept asks for activity+json, or ld+json with the ActivityStreams profile."""
    accept = headers.get("accept", "").lower()
    if "application/activity+json" in accept:
        return True
    return "application/ld+json" in accept and "activitystreams" in accept


class ActivityPubRoute(Route):
    """A route that matches only requests asking for ActivityPub; others go on to the web pages."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """No match unless the Accept header asks for ActivityPub."""
        if scope["type"] == "http" and not wants_activitypub(Headers(scope=scope)):
            return Match.NONE, {}
        return super().matches(scope)


def activity_json(document: dict[str, Any], status: int = 200) -> JSONResponse:
    """A JSON-LD response with the ActivityPub media type."""
    return JSONResponse(document, status_code=status, media_type=AP_MEDIA_TYPE, headers={"Vary": "Accept"})


def _refused(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


def _signed_get_refusal(request: Request, is_instance_actor: bool) -> JSONResponse | None:
    """In authorized-fetch mode, refuse unsigned or badly signed GETs (the instance actor stays open)."""
    if not get_settings().authorized_fetch or is_instance_actor:
        return None
    received = received_request(request, b"")
    with session_scope() as session:
        try:
            signer = authenticate(session, received)
        except SignatureError as error:
            return _refused(401, f"authorized fetch: {error}")
        if refused(session, signer.actor):
            return _refused(403, f"{signer.actor} is blocked here")
    return None


def _actor_view(kind: str, part: str) -> Callable[[Request], Any]:
    """An endpoint serving one part ('' for the actor, 'outbox', 'followers', 'following') of an actor."""

    def build(request: Request) -> JSONResponse:
        handle = request.path_params.get("handle", "")
        refusal = _signed_get_refusal(request, kind == "instance")
        if refusal is not None:
            return refusal
        with session_scope() as session:
            actor = local_actor_by_kind(session, kind, handle)
            if actor is None:
                return _refused(404, f"no {kind} called {handle!r} here")
            if part == "":
                return activity_json(document_for(session, actor))
            if part == "outbox":
                return activity_json(outbox_collection(session, actor.id))
            total = followers_count(session, actor.id) if part == "followers" else 0
            collection = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{actor.id}/{part}",
                "type": "OrderedCollection",
                "totalItems": total,
                "orderedItems": [],
            }
            return activity_json(collection)

    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(build, request)

    return endpoint


async def webfinger_endpoint(request: Request) -> Response:
    """GET /.well-known/webfinger?resource=acct:NAME@HOST."""
    resource = request.query_params.get("resource", "")
    if not resource:
        return _refused(400, "the resource parameter is missing (acct:NAME@HOST)")

    def build() -> Response:
        with session_scope() as session:
            try:
                document = webfinger.webfinger_document(session, resource)
            except Invalid as error:
                return _refused(400, str(error))
            except NotFound as error:
                return _refused(404, str(error))
        return JSONResponse(document, media_type=JRD_MEDIA_TYPE, headers={"Access-Control-Allow-Origin": "*"})

    return await run_in_threadpool(build)


async def nodeinfo_links(request: Request) -> Response:
    """GET /.well-known/nodeinfo."""
    return JSONResponse(nodeinfo.well_known(), headers={"Access-Control-Allow-Origin": "*"})


async def nodeinfo_document(request: Request) -> Response:
    """GET /nodeinfo/2.1."""

    def build() -> dict[str, Any]:
        with session_scope() as session:
            return nodeinfo.nodeinfo(session)

    media = f'application/json; profile="{nodeinfo.SCHEMA}#"'
    return JSONResponse(await run_in_threadpool(build), media_type=media, headers={"Access-Control-Allow-Origin": "*"})


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
        Route("/.well-known/host-meta", host_meta, methods=["GET"]),
        Route("/.well-known/host-meta.json", host_meta, methods=["GET"]),
        Route("/inbox", receive, methods=["POST"]),
        Route("/actor/inbox", receive, methods=["POST"]),
        Route("/actor", _actor_view("instance", ""), methods=["GET"]),
    ]
    for part in ("outbox", "followers", "following"):
        served.append(Route(f"/actor/{part}", _actor_view("instance", part), methods=["GET"]))
    for kind, prefix in KIND_PREFIXES.items():
        served.append(Route(f"/{prefix}/{{handle}}/inbox", receive, methods=["POST"]))
        served.append(ActivityPubRoute(f"/{prefix}/{{handle}}", _actor_view(kind, ""), methods=["GET"]))
        for part in ("outbox", "followers", "following"):
            served.append(Route(f"/{prefix}/{{handle}}/{part}", _actor_view(kind, part), methods=["GET"]))
    from federation import flows  # the course-world flows: /ns and each course's forks collection

    return [*served, *flows.routes()]
