"""Relations: follow, unfollow, block, mute (and undo), remove from followers, follow requests,
the lists of blocks and mutes, followed hashtags. A follow of an account not known here yet is
resolved by federation before the write transaction (web.api.remote)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Route

from community import graph, tags
from community.models import Block, Follow, Mute, Profile, Tag, TagFollow
from server.floor.db import session_scope, write_scope
from web.api import lookup
from web.api.entities import account, tag
from web.api.http import ApiError, Call, Page, endpoint
from web.api.paging import cursors, link, page_rows


def _relation(call: Call, change: Callable[[Session, Profile, Profile], Any]) -> dict[str, Any]:
    with write_scope() as db:
        profile = lookup.me(db, call)
        target = lookup.profile(db, call.id())
        change(db, profile, target)
        db.flush()
        return graph.relationship(db, profile, target)


@endpoint("write:follows")
def follow(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/follow (reblogs, notify)."""
    reblogs = call.params.flag("reblogs", True) if call.params.get("reblogs") is not None else None
    notify = call.params.flag("notify") if call.params.get("notify") is not None else None
    return _relation(call, lambda db, p, t: graph.follow(db, p, t, show_reblogs=reblogs, notify_posts=notify))


@endpoint("write:follows")
def unfollow(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/unfollow."""
    return _relation(call, graph.unfollow)


@endpoint("write:follows")
def remove_from_followers(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/remove_from_followers."""
    return _relation(call, graph.remove_follower)


@endpoint("write:blocks")
def block(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/block."""
    return _relation(call, graph.block)


@endpoint("write:blocks")
def unblock(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/unblock."""
    return _relation(call, graph.unblock)


@endpoint("write:mutes")
def mute(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/mute (notifications: also hide their notifications, default true)."""
    hide = call.params.flag("notifications", True)
    return _relation(call, lambda db, p, t: graph.mute(db, p, t, notifications=hide))


@endpoint("write:mutes")
def unmute(call: Call) -> dict[str, Any]:
    """POST /api/v1/accounts/:id/unmute."""
    return _relation(call, graph.unmute)


def _listed(call: Call, model: type[Block] | type[Mute] | type[Follow], pending: bool = False) -> Page:
    page = cursors(call.params, default=40, maximum=80)
    with session_scope() as db:
        me = lookup.me(db, call)
        if model is Follow:
            query = select(Follow.id, Profile).join(Profile, Profile.id == Follow.profile_id)
            query = query.where(Follow.target_id == me.id, Follow.accepted.is_(False))
        else:
            query = (
                select(model.id, Profile).join(Profile, Profile.id == model.target_id).where(model.profile_id == me.id)
            )
        rows = page_rows(db, query, model.id, page)
        return Page([account(p) for _, p in rows], link(call.request, [i for i, _ in rows]))


@endpoint("read:blocks")
def blocks(call: Call) -> Page:
    """GET /api/v1/blocks."""
    return _listed(call, Block)


@endpoint("read:mutes")
def mutes(call: Call) -> Page:
    """GET /api/v1/mutes."""
    return _listed(call, Mute)


@endpoint("read:follows")
def follow_requests(call: Call) -> Page:
    """GET /api/v1/follow_requests."""
    return _listed(call, Follow, pending=True)


def _decide(call: Call, accept: bool) -> dict[str, Any]:
    with write_scope() as db:
        me = lookup.me(db, call)
        requester = lookup.profile(db, call.id())
        row = graph.get_follow(db, requester.id, me.id)
        if row is None or row.accepted:
            raise ApiError(404, "Record not found")
        if accept:
            graph.accept(db, row)
        else:
            graph.reject(db, row)
        db.flush()
        return graph.relationship(db, me, requester)


@endpoint("write:follows")
def authorize_request(call: Call) -> dict[str, Any]:
    """POST /api/v1/follow_requests/:id/authorize."""
    return _decide(call, accept=True)


@endpoint("write:follows")
def reject_request(call: Call) -> dict[str, Any]:
    """POST /api/v1/follow_requests/:id/reject."""
    return _decide(call, accept=False)


@endpoint("read:follows")
def followed_tags(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/followed_tags."""
    with session_scope() as db:
        me = lookup.me(db, call)
        rows = db.scalars(select(Tag).join(TagFollow, TagFollow.tag_id == Tag.id).where(TagFollow.profile_id == me.id))
        return [tag(t, following=True) for t in rows]


@endpoint("read", public=True, user=False)
def show_tag(call: Call) -> dict[str, Any]:
    """GET /api/v1/tags/:name."""
    with session_scope() as db:
        found = tags.find(db, call.request.path_params["name"])
        if found is None:
            raise ApiError(404, "Record not found")
        me = lookup.viewer(db, call)
        return tag(found, following=tags.following(db, me.id, found.id) if me else None)


def _tag_change(call: Call, on: bool) -> dict[str, Any]:
    name = call.request.path_params["name"]
    with write_scope() as db:
        me = lookup.me(db, call)
        if on:
            return tag(tags.follow_tag(db, me.id, name), following=True)
        tags.unfollow_tag(db, me.id, name)
        found = tags.find(db, name)
        if found is None:
            raise ApiError(404, "Record not found")
        return tag(found, following=False)


@endpoint("write:follows")
def follow_tag(call: Call) -> dict[str, Any]:
    """POST /api/v1/tags/:name/follow."""
    return _tag_change(call, True)


@endpoint("write:follows")
def unfollow_tag(call: Call) -> dict[str, Any]:
    """POST /api/v1/tags/:name/unfollow."""
    return _tag_change(call, False)


def routes() -> list[BaseRoute]:
    """The relation endpoints."""
    post = ["POST"]
    return [
        Route("/api/v1/accounts/{id}/follow", follow, methods=post),
        Route("/api/v1/accounts/{id}/unfollow", unfollow, methods=post),
        Route("/api/v1/accounts/{id}/remove_from_followers", remove_from_followers, methods=post),
        Route("/api/v1/accounts/{id}/block", block, methods=post),
        Route("/api/v1/accounts/{id}/unblock", unblock, methods=post),
        Route("/api/v1/accounts/{id}/mute", mute, methods=post),
        Route("/api/v1/accounts/{id}/unmute", unmute, methods=post),
        Route("/api/v1/blocks", blocks, methods=["GET"]),
        Route("/api/v1/mutes", mutes, methods=["GET"]),
        Route("/api/v1/follow_requests", follow_requests, methods=["GET"]),
        Route("/api/v1/follow_requests/{id}/authorize", authorize_request, methods=post),
        Route("/api/v1/follow_requests/{id}/reject", reject_request, methods=post),
        Route("/api/v1/followed_tags", followed_tags, methods=["GET"]),
        Route("/api/v1/tags/{name}", show_tag, methods=["GET"]),
        Route("/api/v1/tags/{name}/follow", follow_tag, methods=post),
        Route("/api/v1/tags/{name}/unfollow", unfollow_tag, methods=post),
    ]
