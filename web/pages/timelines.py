"""Timelines: home (signed in), this server, everywhere, a hashtag, a study group's posts, bookmarks.

Newest first, a page at a time by id cursors (`?max_id=` older, `?min_id=` newer; no OFFSET). The
newest page carries a "new posts" marker that web/static/community.js polls (`/timelines/new`)
to offer the new posts without a reload; without JavaScript the page is simply reloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import tags, timelines
from community.models import Bookmark, Profile, Status
from courses.models import StudyGroup
from server.floor.accounts import Account
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web.auth import current_account, require_login
from web.flash import flash
from web.pages.group_view import find_group, viewer_of
from web.social.cards import cards
from web.social.paging import PAGE_SIZE, Cursor, cursor, pager
from web.social.viewer import ensure_profile_id, own_profile_id, viewer
from web.templating import render

NEW_LIMIT = 40  # "40 new posts" at most: the check never reads a long backlog
TAG_LENGTH = 100


def tag_name(raw: str) -> str:
    """A hashtag as stored: lower case, without '#', letters, digits and underscores only."""
    name = raw.strip().lstrip("#").lower()
    if not name or len(name) > TAG_LENGTH or not all(c.isalnum() or c == "_" for c in name):
        raise NotFound(f"#{raw[:TAG_LENGTH]} is not a hashtag")
    return name


def readable_group(session: Session, handle: str, account: Account | None) -> StudyGroup:
    """The study group `handle` if `account` may read its posts (a member or a moderator of it)."""
    group = find_group(session, handle)
    if not viewer_of(session, group, account).inside:
        raise NotFound(f"the posts of {group.name or handle} are for its members")
    return group


# feed name -> (session, viewer, feed argument, cursor arguments) -> statuses
def _read(
    session: Session, feed: str, me: Profile | None, page: Cursor | dict[str, Any], account: Account | None = None
) -> list[Status]:
    arguments = page.arguments() if isinstance(page, Cursor) else page
    kind, _, argument = feed.partition(":")
    if kind == "home":
        if me is None:
            raise NotFound("the home timeline is for people who are signed in")
        return list(timelines.home(session, me, **arguments))
    if kind == "local":
        return list(timelines.public(session, me, local=True, **arguments))
    if kind == "public":
        return list(timelines.public(session, me, **arguments))
    if kind == "tag":
        return list(timelines.tag(session, me, tag_name(argument), **arguments))
    if kind == "group":
        return list(timelines.of_group(session, me, readable_group(session, argument, account).id, **arguments))
    raise NotFound(f"no timeline called {feed!r}")


def _page(request: Request, feed: str, heading: str, **extra: Any) -> Response:
    page = cursor(request)
    with session_scope() as db:
        me = viewer(db, request)
        statuses = _read(db, feed, me, page, current_account(request))
        shown = cards(db, statuses, me)
        context = {
            "heading": heading,
            "intro": extra.pop("intro", ""),
            "feed": feed,
            "cards": shown,
            "pager": pager(request, [c.entry_id for c in shown], page),
            "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            "empty": extra.pop("empty", "Nothing here yet."),
            **extra,
        }
        return render(request, "social/timeline.html", context)


@require_login
def home(request: Request) -> Response:
    """The signed-in person's home timeline: who and what they follow, and their own posts."""
    return _page(
        request,
        "home",
        "Home",
        empty="Nothing yet: follow people, courses or hashtags, or write the first post.",
    )


def local(request: Request) -> Response:
    """Public posts made on this server."""
    return _page(request, "local", "This server", intro="Public posts of people on this server.")


def public(request: Request) -> Response:
    """Public posts this server knows of, from here and elsewhere."""
    return _page(request, "public", "Everywhere", intro="Public posts from this server and the servers it talks to.")


def tag(request: Request) -> Response:
    """Public posts with a hashtag."""
    name = tag_name(request.path_params["tag"])
    followed = False
    account = current_account(request)
    if account is not None:
        profile_id = ensure_profile_id(request)
        with session_scope() as db:
            found = tags.find(db, name)
            followed = found is not None and profile_id is not None and tags.following(db, profile_id, found.id)
    return _page(
        request,
        f"tag:{name}",
        f"#{name}",
        tag_actions=account is not None,
        tag_name=name,
        tag_followed=followed,
        empty=f"No public posts with #{name} yet.",
    )


@require_login
def follow_tag(request: Request) -> Response:
    """Follow a hashtag: its public posts come into the home timeline."""
    name = tag_name(request.path_params["tag"])
    profile_id = own_profile_id(request)
    with write_scope() as db:
        tags.follow_tag(db, profile_id, name)
    flash(request, f"Posts with #{name} come into your home timeline now.", "success")
    return RedirectResponse(f"/tags/{name}", status_code=303)


@require_login
def unfollow_tag(request: Request) -> Response:
    """Stop following a hashtag."""
    name = tag_name(request.path_params["tag"])
    profile_id = own_profile_id(request)
    with write_scope() as db:
        tags.unfollow_tag(db, profile_id, name)
    flash(request, f"You no longer follow #{name}.", "success")
    return RedirectResponse(f"/tags/{name}", status_code=303)


def group(request: Request) -> Response:
    """A study group's posts, for its members (others see what the group's visibility allows)."""
    handle = request.path_params["handle"]
    with session_scope() as db:
        name = readable_group(db, handle, current_account(request)).name or handle
    return _page(request, f"group:{handle}", f"Posts of {name}", intro="", group_handle=handle)


@require_login
def bookmarks(request: Request) -> Response:
    """The signed-in person's bookmarks, latest bookmarked first."""
    page = cursor(request)
    profile_id = own_profile_id(request)
    with session_scope() as db:
        me = db.get(Profile, profile_id)
        query = select(Bookmark).where(Bookmark.profile_id == profile_id)
        if page.max_id:
            query = query.where(Bookmark.id < page.max_id)
        marks = list(db.scalars(query.order_by(Bookmark.id.desc()).limit(PAGE_SIZE)))
        by_id = {s.id: s for s in db.scalars(select(Status).where(Status.id.in_([m.status_id for m in marks])))}
        statuses = [by_id[m.status_id] for m in marks if m.status_id in by_id and not by_id[m.status_id].deleted]
        shown = cards(db, statuses, me)
        more = len(marks) == PAGE_SIZE
        context = {
            "heading": "Bookmarks",
            "intro": "Only you see your bookmarks.",
            "feed": "bookmarks",
            "cards": shown,
            "pager": {
                "older": f"/bookmarks?max_id={marks[-1].id}" if more else None,
                "newer": "/bookmarks" if page.max_id else None,
                "newest": None,
            },
            "here": "/bookmarks",
            "empty": "No bookmarks yet.",
        }
        return render(request, "social/timeline.html", context)


def new_count(request: Request) -> Response:
    """How many posts are newer than `since_id` in a timeline (JSON, for community.js): {"count": n}."""
    feed = request.query_params.get("feed", "")
    since = request.query_params.get("since_id", "")
    if not since.isdigit() or len(since) > 19:
        raise Invalid("since_id must be a status id")
    if feed == "home" and current_account(request) is None:
        return JSONResponse({"error": "sign in to see your home timeline"}, status_code=401)
    with session_scope() as db:
        me = viewer(db, request)
        arguments = {"min_id": int(since), "max_id": None, "limit": NEW_LIMIT}
        found = _read(db, feed, me, arguments, current_account(request))
    headers = {"Cache-Control": "private, no-store"}
    return JSONResponse({"count": len(found), "more": len(found) >= NEW_LIMIT}, headers=headers)


_ROUTES: list[tuple[str, Callable[[Request], Response], list[str]]] = [
    ("/home", home, ["GET"]),
    ("/public/local", local, ["GET"]),
    ("/public", public, ["GET"]),
    ("/tags/{tag}", tag, ["GET"]),
    ("/tags/{tag}/follow", follow_tag, ["POST"]),
    ("/tags/{tag}/unfollow", unfollow_tag, ["POST"]),
    ("/groups/{handle}/timeline", group, ["GET"]),
    ("/bookmarks", bookmarks, ["GET"]),
    ("/timelines/new", new_count, ["GET"]),
]


def routes() -> list[BaseRoute]:
    """The timelines and the new-posts check."""
    return [Route(path, handler, methods=methods) for path, handler, methods in _ROUTES]
