"""Timelines: home, public (local / remote / only_media), hashtag, and lists (none here: 404)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from community import timelines
from server.floor.db import session_scope
from web.api import lookup
from web.api.http import ApiError, Call, Page, endpoint
from web.api.paging import cursors, link


@endpoint("read:statuses")
def home(call: Call) -> Page:
    """GET /api/v1/timelines/home."""
    with session_scope() as db:
        me = lookup.me(db, call)
        found = timelines.home(db, me, **cursors(call.params))
        return Page(lookup.render_statuses(db, found, me), link(call.request, [s.id for s in found]))


@endpoint("read:statuses", public=True, user=False)
def public(call: Call) -> Page:
    """GET /api/v1/timelines/public (local, remote, only_media)."""
    params = call.params
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        found = timelines.public(
            db,
            seen_by,
            local=params.flag("local"),
            remote=params.flag("remote"),
            only_media=params.flag("only_media"),
            **cursors(params),
        )
        return Page(lookup.render_statuses(db, found, seen_by), link(call.request, [s.id for s in found]))


@endpoint("read:statuses", public=True, user=False)
def hashtag(call: Call) -> Page:
    """GET /api/v1/timelines/tag/:hashtag."""
    params = call.params
    name = call.request.path_params["hashtag"]
    if len(name) > 200:
        raise ApiError(404, "Record not found")
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        found = timelines.tag(
            db,
            seen_by,
            name,
            local=params.flag("local"),
            remote=params.flag("remote"),
            only_media=params.flag("only_media"),
            **cursors(params),
        )
        return Page(lookup.render_statuses(db, found, seen_by), link(call.request, [s.id for s in found]))


@endpoint("read:lists")
def list_timeline(call: Call) -> Page:
    """GET /api/v1/timelines/list/:id: this server keeps no lists."""
    raise ApiError(404, "Record not found")


def routes() -> list[BaseRoute]:
    """The timeline endpoints."""
    return [
        Route("/api/v1/timelines/home", home, methods=["GET"]),
        Route("/api/v1/timelines/public", public, methods=["GET"]),
        Route("/api/v1/timelines/tag/{hashtag}", hashtag, methods=["GET"]),
        Route("/api/v1/timelines/list/{id}", list_timeline, methods=["GET"]),
    ]
