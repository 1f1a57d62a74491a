"""The smaller endpoints apps call: markers, preferences, bookmarks, favourites, reports; and the
features this server does not have, which answer as Mastodon does when there is nothing (empty
lists): filters, custom emojis, trends, announcements, lists, suggestions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.routing import BaseRoute, Route

from community import moderation, people
from community.models import Bookmark, Favourite, Status
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.ids import id_time
from web.api import lookup
from web.api.entities import account, when
from web.api.http import ApiError, Call, Page, endpoint
from web.api.paging import cursors, link, page_rows

CATEGORIES = ("spam", "legal", "violation", "other")
MAX_COMMENT = 1000


@endpoint("read:statuses")
def markers(call: Call) -> dict[str, Any]:
    """GET /api/v1/markers?timeline[]=home&timeline[]=notifications."""
    wanted = {str(t) for t in call.params.list("timeline")} or {"home", "notifications"}
    with session_scope() as db:
        prefs = people.preferences(db, lookup.me(db, call))
        found: dict[str, Any] = {}
        for name, last in (("home", prefs.last_read_home_id), ("notifications", prefs.last_read_notification_id)):
            if name in wanted and last:
                found[name] = {"last_read_id": str(last), "version": 1, "updated_at": when(id_time(last))}
        return found


@endpoint("write:statuses")
def save_markers(call: Call) -> dict[str, Any]:
    """POST /api/v1/markers (home[last_read_id], notifications[last_read_id])."""
    answer: dict[str, Any] = {}
    with write_scope() as db:
        prefs = people.preferences(db, lookup.me(db, call))
        for name, column in (("home", "last_read_home_id"), ("notifications", "last_read_notification_id")):
            value = call.params.get(f"{name}[last_read_id]")
            nested = call.params.get(name)
            if isinstance(nested, dict):
                value = nested.get("last_read_id")
            if value is None:
                continue
            if not str(value).isdigit() or len(str(value)) > 19:
                raise ApiError(422, f"Validation failed: {name}[last_read_id] must be an id")
            setattr(prefs, column, int(value))
            answer[name] = {"last_read_id": str(value), "version": 1, "updated_at": when(now())}
    return answer


@endpoint("read:accounts")
def preferences(call: Call) -> dict[str, Any]:
    """GET /api/v1/preferences."""
    with session_scope() as db:
        prefs = people.preferences(db, lookup.me(db, call))
        return {
            "posting:default:visibility": prefs.default_visibility,
            "posting:default:sensitive": False,
            "posting:default:language": prefs.default_language,
            "reading:expand:media": "default",
            "reading:expand:spoilers": False,
        }


def _saved(call: Call, model: type[Bookmark] | type[Favourite]) -> Page:
    page = cursors(call.params, default=20, maximum=40)
    with session_scope() as db:
        me = lookup.me(db, call)
        query = (
            select(model.id, Status)
            .join(Status, Status.id == model.status_id)
            .where(model.profile_id == me.id, Status.deleted.is_(False))
        )
        rows = page_rows(db, query, model.id, page)
        rendered = lookup.render_statuses(db, [s for _, s in rows], me)
        return Page(rendered, link(call.request, [i for i, _ in rows]))


@endpoint("read:bookmarks")
def bookmarks(call: Call) -> Page:
    """GET /api/v1/bookmarks."""
    return _saved(call, Bookmark)


@endpoint("read:favourites")
def favourites(call: Call) -> Page:
    """GET /api/v1/favourites."""
    return _saved(call, Favourite)


@endpoint("write:reports")
def report(call: Call) -> dict[str, Any]:
    """POST /api/v1/reports (account_id, status_ids[], comment, category, forward)."""
    params = call.params
    raw = params.text("account_id", limit=20)
    if not raw.isdigit():
        raise ApiError(422, "Validation failed: account_id must be an id")
    category = params.text("category", limit=20) or "other"
    if category not in CATEGORIES:
        raise ApiError(422, f"Validation failed: category must be one of {', '.join(CATEGORIES)}")
    ids = [int(v) for v in params.list("status_ids") if str(v).isdigit() and len(str(v)) < 20]
    with write_scope() as db:
        me = lookup.me(db, call)
        target = lookup.profile(db, int(raw))
        # community.moderation.report: checks (statuses of the target the reporter could read, the
        # daily limit), the evidence, the moderators' admin.report notifications, report.created.
        row = moderation.report(
            db, me, target, ids, params.text("comment", limit=MAX_COMMENT), category, params.flag("forward")
        )
        kept = list(row.status_ids)
        return {
            "id": str(row.id),
            "action_taken": False,
            "action_taken_at": None,
            "category": category,
            "comment": row.comment,
            "forwarded": row.forward,
            "created_at": when(row.created_at),
            "status_ids": [str(i) for i in kept] or None,
            "rule_ids": None,
            "target_account": account(target),
        }


@endpoint(user=False)
def nothing(call: Call) -> list[Any]:
    """Features this server does not have: an empty list."""
    return []


@endpoint(public=True, user=False)
def nothing_public(call: Call) -> list[Any]:
    """Public lists this server keeps empty (custom emojis, trends, directory)."""
    return []


def routes() -> list[BaseRoute]:
    """The smaller endpoints."""
    empty = (
        "/api/v1/filters",
        "/api/v2/filters",
        "/api/v1/announcements",
        "/api/v1/lists",
        "/api/v1/suggestions",
        "/api/v2/suggestions",
        "/api/v1/endorsements",
        "/api/v1/domain_blocks",
        "/api/v1/scheduled_statuses",
        "/api/v1/featured_tags",
        "/api/v1/followed_lists",
    )
    public_empty = (
        "/api/v1/custom_emojis",
        "/api/v1/trends",
        "/api/v1/trends/tags",
        "/api/v1/trends/statuses",
        "/api/v1/trends/links",
        "/api/v1/directory",
    )
    return [
        Route("/api/v1/markers", markers, methods=["GET"]),
        Route("/api/v1/markers", save_markers, methods=["POST"]),
        Route("/api/v1/preferences", preferences, methods=["GET"]),
        Route("/api/v1/bookmarks", bookmarks, methods=["GET"]),
        Route("/api/v1/favourites", favourites, methods=["GET"]),
        Route("/api/v1/reports", report, methods=["POST"]),
        *(Route(path, nothing, methods=["GET"]) for path in empty),
        *(Route(path, nothing_public, methods=["GET"]) for path in public_empty),
    ]
