"""Who follows, blocks and mutes whom, from the pages: the buttons of a profile (POST forms), the
follow requests page (approve, reject), and "follow from your own server" for visitors.

A remote person is looked up through federation before the write transaction opens (a slow server
never holds the database); the community graph service does the rest and publishes the events
that federation delivers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import graph
from community.models import Follow, Profile
from server.floor.config import get_settings
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from server.floor.untrusted import http_url
from web.auth import require_login
from web.csrf import posted_form
from web.flash import flash
from web.pages.people import host, profile_id_for, render_profile
from web.social.cards import person
from web.social.paging import id_of
from web.social.remote import resolve, subscribe_link
from web.social.viewer import own_profile_id, split_acct
from web.templating import render

REQUESTS_PAGE = 40

# action -> (service call, what the person reads afterwards)
_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "follow": (graph.follow, "You follow {name} now."),
    "unfollow": (graph.unfollow, "You no longer follow {name}."),
    "block": (graph.block, "You blocked {name}: they cannot follow you or see your posts here."),
    "unblock": (graph.unblock, "You unblocked {name}."),
    "mute": (graph.mute, "You muted {name}: their posts stay out of your timelines."),
    "unmute": (graph.unmute, "You unmuted {name}."),
    "remove-follower": (graph.remove_follower, "{name} no longer follows you."),
}


@require_login
def act(request: Request) -> Response:
    """Follow, unfollow, block, unblock, mute, unmute or remove a follower (the profile's buttons)."""
    action = request.path_params["action"]
    if action not in _ACTIONS:
        raise NotFound(f"no action {action!r} on a profile")
    target_id = profile_id_for(request.path_params["handle"])  # a remote person: looked up first
    me_id = own_profile_id(request)
    call, message = _ACTIONS[action]
    with write_scope() as db:
        me, target = db.get(Profile, me_id), db.get(Profile, target_id)
        if me is None or target is None:
            raise NotFound("that profile is gone")
        if me.id == target.id:
            raise Invalid("you cannot do that to yourself")
        result = call(db, me, target)
        name, acct = target.display_name or target.acct, target.acct
        pending = action == "follow" and isinstance(result, Follow) and not result.accepted
    flash(request, f"You asked to follow {name}; they approve followers." if pending else message.format(name=name))
    return RedirectResponse(f"/@{acct}", status_code=303)


@require_login
def follow_requests(request: Request) -> Response:
    """The follow requests waiting for the signed-in person's approval."""
    me_id = own_profile_id(request)
    with session_scope() as db:
        query = (
            select(Follow, Profile)
            .join(Profile, Profile.id == Follow.profile_id)
            .where(Follow.target_id == me_id, Follow.accepted.is_(False))
            .order_by(Follow.id.desc())
            .limit(REQUESTS_PAGE)
        )
        waiting = [{"id": follow.id, "who": person(profile)} for follow, profile in db.execute(query).tuples()]
        return render(request, "social/requests.html", {"requests": waiting})


@require_login
def answer_request(request: Request) -> Response:
    """Approve or reject one follow request."""
    decision = request.path_params["decision"]
    if decision not in {"approve", "reject"}:
        raise NotFound(f"no decision {decision!r}")
    follow_id = request.path_params["follow_id"]
    me_id = own_profile_id(request)
    with write_scope() as db:
        follow = db.get(Follow, follow_id) if id_of(follow_id) is not None else None
        if follow is None or follow.target_id != me_id or follow.accepted:
            raise NotFound("that follow request is not waiting for you")
        requester = db.get(Profile, follow.profile_id)
        name = (requester.display_name or requester.acct) if requester else "Someone"
        if decision == "approve":
            graph.accept(db, follow)
        else:
            graph.reject(db, follow)
    flash(request, f"{name} follows you now." if decision == "approve" else f"You turned down {name}'s request.")
    return RedirectResponse("/follow-requests", status_code=303)


def remote_follow(request: Request) -> Response:
    """A visitor's handle elsewhere -> a page with the link to their server's follow page (its
    WebFinger subscribe template), which they open themselves (no redirect off-site from a form)."""
    acct = request.path_params["handle"]
    username, domain = split_acct(acct)
    if domain is not None and domain != host().lower():
        raise NotFound("follow from your own server is offered on this server's profiles")
    their = "".join(c for c in str(posted_form(request).get("handle", "")) if c.isprintable()).strip()[:300]
    with session_scope() as db:
        profile = db.scalar(select(Profile).where(Profile.username == username.lower(), Profile.domain.is_(None)))
        if profile is None:
            raise NotFound(f"nobody called @{username} here")
        uri, name = profile.uri, profile.display_name or profile.acct
    try:
        if "@" not in their.lstrip("@"):
            raise Invalid("Write your handle with its server, like @you@mastodon.social")
        link = subscribe_link(their, uri)
    except Invalid as error:
        return render_profile(request, remote_follow_error=str(error), remote_handle=their)
    their_host = their.lstrip("@").partition("@")[2]
    return render(request, "social/remote_follow.html", {"link": link, "name": name, "their_host": their_host})


@require_login
def authorize_interaction(request: Request) -> Response:
    """Where another server sends its visitor to follow someone from here (our WebFinger's subscribe
    template): the person named by `?uri=` (an actor URL or `user@host`), found through federation,
    on their profile page here, with its Follow button."""
    uri = request.query_params.get("uri", "").strip().removeprefix("acct:").lstrip("@")[:2000]
    ours = get_settings().url.rstrip("/") + "/"
    if uri.startswith(ours):  # one of ours: /users/NAME or /@NAME
        rest = uri[len(ours) :].removeprefix("users/").removeprefix("@")
        return RedirectResponse(f"/@{quote(rest.split('/', 1)[0])}", status_code=303)
    if not http_url(uri) and uri.count("@") != 1:
        raise Invalid("uri: give the address of the person to follow (an actor URL or user@host)")
    profile_id = resolve(uri)  # network, no transaction open
    with session_scope() as db:
        profile = db.get(Profile, profile_id)
        if profile is None:
            raise NotFound(f"{uri} could not be found")
        return RedirectResponse(f"/@{quote(profile.acct, safe='@.')}", status_code=303)


def routes() -> list[BaseRoute]:
    """The profile's buttons, the follow requests page, follow from your own server."""
    return [
        Route("/follow-requests", follow_requests, methods=["GET"]),
        Route("/authorize_interaction", authorize_interaction, methods=["GET"]),
        Route("/follow-requests/{follow_id:int}/{decision}", answer_request, methods=["POST"]),
        Route("/@{handle}/remote-follow", remote_follow, methods=["POST"]),
        Route("/@{handle}/{action}", act, methods=["POST"]),
    ]
