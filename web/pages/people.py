"""Profile pages: `/@handle` and `/users/{handle}` (the same page for browsers; ActivityPub clients get
the actor from federation's routes, which come first), and remote people at `/@user@host`.

A profile shows the display name, avatar and header, the bio, up to 4 fields, the joined date,
counts, pinned posts and the person's posts a page at a time; with their consent, the courses and
study groups they take part in. A remote profile this server has not seen is looked up through
federation (WebFinger, then the actor) before anything is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import graph, timelines
from community.models import Profile, Status
from server.floor.accounts import Account
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.errors import Invalid, NotFound
from web.auth import current_account, require_login
from web.page_cache import public_page
from web.social.cards import cards, clean, person
from web.social.learning import memberships
from web.social.paging import cursor, pager
from web.social.remote import cached_profile_id, recent_posts, resolve
from web.social.viewer import local_profile_id, split_acct, viewer
from web.templating import render

MAX_FIELDS = 4
MAX_PINNED = 5


def host() -> str:
    """This server's host name, as handles show it (`@name@host`)."""
    return get_settings().url.split("://", 1)[-1].split("/", 1)[0]


def profile_id_for(acct: str, may_fetch: bool = True) -> int:
    """The profile id of `acct` (`user` here, `user@host` elsewhere); a remote one this server does not
    know yet is looked up first when `may_fetch` (signed-in people: a visitor never makes us call out)."""
    username, domain = split_acct(acct)
    if not username or len(acct) > 300:
        raise NotFound(f"@{acct[:300]} is not a handle")
    if domain is None or domain == host().lower():
        return local_profile_id(username)
    if not may_fetch:
        known = cached_profile_id(username, domain)
        if known is None:
            raise NotFound(f"this server does not know @{username}@{domain} yet; log in to look them up")
        return known
    return resolve(f"{username}@{domain}")


def _fields(profile: Profile) -> list[dict[str, Any]]:
    shown = []
    for item in (profile.fields or [])[:MAX_FIELDS]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            value = str(item.get("value", ""))
            shown.append({"name": item["name"][:255], "value": clean(value) if not profile.local else value})
    return shown


def _relationship(session: Session, me: Profile | None, target: Profile) -> dict[str, Any] | None:
    if me is None or me.id == target.id:
        return None
    return dict(graph.relationship(session, me, target))


def _groups(session: Session, profile: Profile) -> list[Any]:
    if not profile.show_courses or profile.account_id is None:
        return []
    account = session.get(Account, profile.account_id)
    return memberships(session, account) if account is not None else []


def profile_page(request: Request) -> Response:
    """A person's (or a course's, run's or group's) profile and their posts, newest first."""
    public_page(request)
    return render_profile(request)


def render_profile(request: Request, remote_follow_error: str | None = None, remote_handle: str = "") -> Response:
    """The profile page of the `handle` in the path (with the remote-follow form's error, status 400)."""
    acct = request.path_params["handle"]
    signed_in = current_account(request) is not None
    profile_id = profile_id_for(acct, may_fetch=signed_in)
    page = cursor(request)
    if signed_in and page.max_id is None and page.min_id is None:
        _first_look(profile_id)
    with session_scope() as db:
        profile = db.get(Profile, profile_id)
        if profile is None or profile.deleted_at is not None:
            raise NotFound(f"@{acct} is gone")
        if profile.suspended_at is not None:
            raise NotFound(f"@{profile.acct} is suspended")
        me = viewer(db, request)
        statuses = list(timelines.of_profile(db, me, profile, **page.arguments()))
        pinned: list[Status] = []
        if page.max_id is None and page.min_id is None and _has_pins(db, profile.id):
            pinned = list(timelines.of_profile(db, me, profile, pinned=True, limit=MAX_PINNED))
        shown = cards(db, statuses, me)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        context = {
            "profile": profile,
            "who": person(profile),
            "full_acct": profile.acct if not profile.local else f"{profile.acct}@{host()}",
            "note": clean(profile.note),
            "fields": _fields(profile),
            "relationship": _relationship(db, me, profile),
            "me": me,
            "pinned": cards(db, pinned, me),
            "cards": shown,
            "pager": pager(request, [c.entry_id for c in shown], page),
            "groups": _groups(db, profile),
            "here": here,
            "remote_follow_error": remote_follow_error,
            "remote_handle": remote_handle,
        }
        return render(request, "social/profile.html", context, status=400 if remote_follow_error else 200)


def _has_pins(session: Session, profile_id: int) -> bool:
    """Whether `profile_id` pinned anything (most did not: the filtered pinned query is skipped)."""
    query = select(Status.id).where(Status.profile_id == profile_id, Status.pinned_at.is_not(None)).limit(1)
    return session.scalar(query) is not None


def _first_look(profile_id: int) -> None:
    """A remote person of whom this server keeps no post yet: their recent public posts are fetched
    from their outbox (network, before the page's transaction; federation remembers them)."""
    with session_scope() as db:
        profile = db.get(Profile, profile_id)
        if profile is None or profile.local:
            return
        if db.scalar(select(Status.id).where(Status.profile_id == profile_id).limit(1)) is not None:
            return
    recent_posts(profile_id)


def users_page(request: Request) -> Response:
    """`/users/{handle}` in a browser: the profile page of a local person (their actor id is this URL)."""
    if "@" in request.path_params["handle"]:
        raise NotFound("/users/ lists the people of this server only")
    return profile_page(request)


@require_login
def refresh(request: Request) -> Response:
    """Fetch a remote profile again (its server may have changed it)."""
    acct = request.path_params["handle"]
    username, domain = split_acct(acct)
    if domain is None:
        raise Invalid("only profiles on other servers are fetched again")
    resolve(f"{username}@{domain}", refresh=True, with_posts=True)
    return RedirectResponse(f"/@{username}@{domain}", status_code=303)


def routes() -> list[BaseRoute]:
    """Profile pages."""
    return [
        Route("/@{handle}", profile_page, methods=["GET"]),
        Route("/users/{handle}", users_page, methods=["GET"]),
        Route("/@{handle}/refresh", refresh, methods=["POST"]),
    ]
