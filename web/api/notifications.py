"""Notifications (v1): list with types[] / exclude_types[] / account_id, show, dismiss, clear,
unread count; markers live in web.api.misc."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from community import notifications as service
from community.models import NOTIFICATION_TYPES
from server.floor.db import session_scope, write_scope
from web.api import lookup
from web.api.entities import NOTIFICATION_TYPE, StatusRenderer, notification
from web.api.http import ApiError, Call, Page, endpoint
from web.api.paging import cursors, link


def ours(mastodon_types: list[Any]) -> list[str] | None:
    """Our notification types behind Mastodon's names (None when none were given)."""
    wanted = {str(t) for t in mastodon_types}
    if not wanted:
        return None
    return [ours for ours, theirs in NOTIFICATION_TYPE.items() if theirs in wanted and ours in NOTIFICATION_TYPES]


@endpoint("read:notifications")
def index(call: Call) -> Page:
    """GET /api/v1/notifications."""
    return _page(call)


def _page(call: Call) -> Page:
    params = call.params
    only, without = ours(params.list("types")), ours(params.list("exclude_types"))
    sender = params.text("account_id", limit=20)
    page = cursors(params, default=40, maximum=80)
    with session_scope() as db:
        me = lookup.me(db, call)
        if only is not None and not only:
            return Page([])
        rows = service.page(
            db,
            me,
            types=only,
            exclude_types=without,
            account_id=int(sender) if sender.isdigit() and len(sender) < 20 else None,
            **page,
        )
        renderer = StatusRenderer(db, me)
        rendered = [entity for row in rows if (entity := notification(db, row, renderer)) is not None]
        return Page(rendered, link(call.request, [row.id for row in rows]))


@endpoint("read:notifications")
def grouped(call: Call) -> Page:
    """GET /api/v2/notifications: Mastodon 4.3's grouped form, each notification its own group
    (`ungrouped-<id>`), with the accounts and statuses they refer to listed once."""
    page = _page(call)
    accounts: dict[str, Any] = {}
    statuses: dict[str, Any] = {}
    groups = []
    for entity in page.items:
        accounts[entity["account"]["id"]] = entity["account"]
        status = entity.get("status")
        if status is not None:
            statuses[status["id"]] = status
        groups.append(
            {
                "group_key": entity["group_key"],
                "notifications_count": 1,
                "type": entity["type"],
                "most_recent_notification_id": entity["id"],
                "page_min_id": entity["id"],
                "page_max_id": entity["id"],
                "latest_page_notification_at": entity["created_at"],
                "sample_account_ids": [entity["account"]["id"]],
                "status_id": status["id"] if status is not None else None,
            }
        )
    document = {"accounts": list(accounts.values()), "statuses": list(statuses.values()), "notification_groups": groups}
    return Page(document, page.link)


@endpoint("read:notifications")
def show(call: Call) -> dict[str, Any]:
    """GET /api/v1/notifications/:id."""
    with session_scope() as db:
        me = lookup.me(db, call)
        entity = notification(db, service.get(db, me, call.id()), StatusRenderer(db, me))
        if entity is None:
            raise ApiError(404, "Record not found")
        return entity


@endpoint("write:notifications")
def dismiss(call: Call) -> dict[str, Any]:
    """POST /api/v1/notifications/:id/dismiss."""
    with write_scope() as db:
        service.dismiss(db, lookup.me(db, call), call.id())
    return {}


@endpoint("write:notifications")
def clear(call: Call) -> dict[str, Any]:
    """POST /api/v1/notifications/clear."""
    with write_scope() as db:
        service.clear(db, lookup.me(db, call))
    return {}


@endpoint("read:notifications")
def unread_count(call: Call) -> dict[str, Any]:
    """GET /api/v1/notifications/unread_count."""
    with session_scope() as db:
        return {"count": service.unread_count(db, lookup.me(db, call))}


@endpoint("read:notifications")
def policy(call: Call) -> dict[str, Any]:
    """GET /api/v2/notifications/policy: every notification is accepted here (no filtering of
    strangers' notifications into requests), as Mastodon 4.3 says it."""
    return {
        "for_not_following": "accept",
        "for_not_followers": "accept",
        "for_new_accounts": "accept",
        "for_private_mentions": "accept",
        "for_limited_accounts": "accept",
        "summary": {"pending_requests_count": 0, "pending_notifications_count": 0},
    }


@endpoint("read:notifications")
def no_requests(call: Call) -> list[Any]:
    """GET /api/v1/notifications/requests: none (nothing is filtered into requests)."""
    return []


def routes() -> list[BaseRoute]:
    """The notification endpoints."""
    return [
        Route("/api/v1/notifications", index, methods=["GET"]),
        Route("/api/v2/notifications", grouped, methods=["GET"]),
        Route("/api/v1/notifications/unread_count", unread_count, methods=["GET"]),
        Route("/api/v2/notifications/policy", policy, methods=["GET"]),
        Route("/api/v1/notifications/requests", no_requests, methods=["GET"]),
        Route("/api/v1/notifications/clear", clear, methods=["POST"]),
        Route("/api/v1/notifications/{id}", show, methods=["GET"]),
        Route("/api/v1/notifications/{id}/dismiss", dismiss, methods=["POST"]),
    ]
