"""Search: people (here, and `@user@host` elsewhere by WebFinger through federation), hashtags, and
the words of posts (one's own and public ones; full-text search of the database).

Looking someone up on another server costs a request to it: only people signed in may cause one.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from community import search
from community.models import Profile
from server.floor.db import session_scope
from server.floor.errors import Invalid, NotFound
from web.auth import current_account
from web.social.cards import cards, person
from web.social.remote import resolve
from web.social.viewer import viewer
from web.templating import render

MAX_QUERY = 200
LIMIT = 20


def _remote_acct(query: str) -> str | None:
    """`user@host` when the query names someone on another server (`@user@host`, `user@host`, a URL)."""
    text = query.strip()
    if text.startswith(("https://", "http://")):
        return text
    bare = text.lstrip("@")
    username, _, host = bare.partition("@")
    if username and host and "." in host and " " not in bare:
        return f"{username}@{host}"
    return None


def search_page(request: Request) -> Response:
    """The search form, and its results when `?q=` is given."""
    query = " ".join(request.query_params.get("q", "").replace("\x00", " ").split())[:MAX_QUERY]
    results: dict[str, Any] | None = None
    notice = ""
    if query:
        found_remote: int | None = None
        remote = _remote_acct(query)
        if remote and current_account(request) is not None:
            try:
                found_remote = resolve(remote)  # network, before any transaction
            except (NotFound, Invalid) as error:
                notice = str(error)
        elif remote:
            notice = "Log in to look people up on other servers."
        with session_scope() as db:
            me = viewer(db, request)
            profiles: list[Profile] = list(search.profiles(db, query, limit=LIMIT))
            if found_remote is not None and all(p.id != found_remote for p in profiles):
                extra = db.get(Profile, found_remote)
                if extra is not None:
                    profiles.insert(0, extra)
            tags = list(search.tags(db, query, limit=LIMIT))
            statuses = list(search.statuses(db, me, query, limit=LIMIT)) if not query.startswith("#") else []
            results = {
                "people": [person(p) for p in profiles],
                "tags": [{"name": t.name, "display": t.display_name or t.name} for t in tags],
                "statuses": cards(db, statuses, me),
            }
    return render(
        request,
        "social/search.html",
        {
            "query": query,
            "results": results,
            "notice": notice,
            "feed": "search",
            "here": f"/search?{request.url.query}",
        },
    )


def routes() -> list[BaseRoute]:
    """The search page."""
    return [Route("/search", search_page, methods=["GET"])]
