"""Statuses: post (with an Idempotency-Key), show, edit, delete, context, history, source, and who
boosted or favourited one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.routing import BaseRoute, Route

from community import statuses as service
from community.models import Favourite, Profile, Status
from community.people import preferences
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from web.api import lookup
from web.api.entities import account, when
from web.api.http import ApiError, Call, endpoint
from web.api.models import IdempotencyKey
from web.api.remote import resolve_mentions

KEY_HOURS = 1
MAX_TEXT = 100_000
VISIBILITIES = ("public", "unlisted", "private", "direct")


def _form(call: Call) -> dict[str, Any]:
    params = call.params
    visibility = params.text("visibility", limit=20) or None
    if visibility is not None and visibility not in VISIBILITIES:
        raise ApiError(
            422, f"Validation failed: visibility {visibility[:20]!r} is not one of {', '.join(VISIBILITIES)}"
        )
    if params.get("poll") is not None or params.get("poll[options][]") is not None:
        raise ApiError(422, "Validation failed: polls are not supported on this server")
    if params.get("scheduled_at"):
        raise ApiError(422, "Validation failed: scheduled statuses are not supported on this server")
    return {
        "text": params.text("status", limit=MAX_TEXT),
        "visibility": visibility,
        "spoiler_text": params.text("spoiler_text", limit=MAX_TEXT),
        "sensitive": params.flag("sensitive"),
        "language": params.text("language", limit=16) or None,
        "in_reply_to_id": params.text("in_reply_to_id", limit=20) or None,
        "media_ids": [str(m) for m in params.list("media_ids")],
    }


@endpoint("write:statuses")
def create(call: Call) -> dict[str, Any]:
    """POST /api/v1/statuses."""
    form = _form(call)
    key = call.request.headers.get("idempotency-key", "")[:200]
    account_id = call.need_account().id
    if key:
        with session_scope() as db:
            old = db.scalar(
                select(IdempotencyKey.status_id).where(
                    IdempotencyKey.account_id == account_id,
                    IdempotencyKey.key == key,
                    IdempotencyKey.created_at > now() - timedelta(hours=KEY_HOURS),
                )
            )
            if old is not None:
                profile = lookup.me(db, call)
                return lookup.render_status(db, lookup.status(db, old, profile), profile)
    # Remote @mentions are looked up (WebFinger) before the write transaction opens.
    resolved = resolve_mentions(form["text"])
    with write_scope() as db:
        profile = lookup.me(db, call)
        if form["visibility"] is None:
            form["visibility"] = preferences(db, profile).default_visibility
        status = service.post(
            db,
            profile,
            form["text"],
            visibility=form["visibility"],
            spoiler_text=form["spoiler_text"],
            sensitive=form["sensitive"],
            language=form["language"],
            in_reply_to_id=form["in_reply_to_id"],
            media_ids=form["media_ids"],
            resolved_mentions={acct: db.merge(p) for acct, p in resolved.items()},
        )
        if key:
            db.execute(
                sql_delete(IdempotencyKey).where(IdempotencyKey.created_at <= now() - timedelta(hours=KEY_HOURS))
            )
            try:
                with db.begin_nested():
                    db.add(IdempotencyKey(account_id=account_id, key=key, status_id=status.id))
            except IntegrityError:
                pass
        return lookup.render_status(db, status, profile)


@endpoint("read:statuses", public=True, user=False)
def show(call: Call) -> dict[str, Any]:
    """GET /api/v1/statuses/:id."""
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        return lookup.render_status(db, lookup.status(db, call.id(), seen_by), seen_by)


@endpoint("read:statuses", public=True, user=False)
def show_many(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/statuses?id[]=..."""
    ids = [int(v) for v in call.params.list("id") if str(v).isdigit() and len(str(v)) < 20]
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        found = [s for s in db.scalars(select(Status).where(Status.id.in_(ids))) if not s.deleted]
        visible = [s for s in found if service.can_see(db, s, seen_by)]
        return lookup.render_statuses(db, visible, seen_by)


def _own(db: Any, call: Call) -> tuple[Profile, Status]:
    profile = lookup.me(db, call)
    status = lookup.status(db, call.id(), profile)
    if status.profile_id != profile.id:
        raise ApiError(403, "This action is not allowed")
    return profile, status


@endpoint("write:statuses")
def remove(call: Call) -> dict[str, Any]:
    """DELETE /api/v1/statuses/:id: the deleted status with its source text (for delete-and-redraft)."""
    with write_scope() as db:
        profile, status = _own(db, call)
        rendered = lookup.render_status(db, status, profile)
        rendered["text"] = status.text
        service.delete(db, status, by="author")
        return rendered


@endpoint("write:statuses")
def update(call: Call) -> dict[str, Any]:
    """PUT /api/v1/statuses/:id: edit text, content warning, sensitivity, language, media."""
    form = _form(call)
    resolved = resolve_mentions(form["text"])
    with write_scope() as db:
        profile, status = _own(db, call)
        media = form["media_ids"] if call.params.get("media_ids") is not None else None
        edited = service.edit(
            db,
            status,
            text=form["text"],
            spoiler_text=form["spoiler_text"],
            sensitive=form["sensitive"],
            language=form["language"],
            media_ids=media,
            resolved_mentions={acct: db.merge(p) for acct, p in resolved.items()},
        )
        return lookup.render_status(db, edited, profile)


@endpoint("read:statuses", public=True, user=False)
def context(call: Call) -> dict[str, Any]:
    """GET /api/v1/statuses/:id/context."""
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        status = lookup.status(db, call.id(), seen_by)
        ancestors, descendants = service.context(db, status, seen_by)
        return {
            "ancestors": lookup.render_statuses(db, ancestors, seen_by),
            "descendants": lookup.render_statuses(db, descendants, seen_by),
        }


@endpoint("read:statuses", public=True, user=False)
def history(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/statuses/:id/history: every version, oldest first, the current one last."""
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        status = lookup.status(db, call.id(), seen_by)
        author = lookup.profile(db, status.profile_id or 0)
        current = lookup.render_status(db, status, seen_by)
        versions: list[dict[str, Any]] = [
            {
                "content": edit.html,
                "spoiler_text": edit.spoiler_text,
                "sensitive": edit.sensitive,
                "created_at": when(edit.created_at),
                "account": account(author),
                "media_attachments": [],
                "emojis": [],
            }
            for edit in service.history(db, status)
        ]
        if versions:  # community keeps the original and every version since, the current one last
            return versions
        keys = ("content", "spoiler_text", "sensitive", "account", "media_attachments", "emojis")
        return [{**{key: current[key] for key in keys}, "created_at": current["created_at"]}]


@endpoint("read:statuses")
def source(call: Call) -> dict[str, Any]:
    """GET /api/v1/statuses/:id/source."""
    with session_scope() as db:
        _profile, status = _own(db, call)
        return {"id": str(status.id), "text": status.text, "spoiler_text": status.spoiler_text}


def _who(call: Call, favourites: bool) -> list[dict[str, Any]]:
    with session_scope() as db:
        seen_by = lookup.viewer(db, call)
        status = lookup.status(db, call.id(), seen_by)
        if favourites:
            query = (
                select(Profile)
                .join(Favourite, Favourite.profile_id == Profile.id)
                .where(Favourite.status_id == status.id)
            )
        else:
            query = (
                select(Profile)
                .join(Status, Status.profile_id == Profile.id)
                .where(Status.reblog_of_id == status.id, Status.deleted.is_(False))
            )
        return [account(p) for p in db.scalars(query.limit(80))]


@endpoint("read:accounts", public=True, user=False)
def favourited_by(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/statuses/:id/favourited_by."""
    return _who(call, favourites=True)


@endpoint("read:accounts", public=True, user=False)
def reblogged_by(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/statuses/:id/reblogged_by."""
    return _who(call, favourites=False)


def routes() -> list[BaseRoute]:
    """The statuses endpoints."""
    return [
        Route("/api/v1/statuses", create, methods=["POST"]),
        Route("/api/v1/statuses", show_many, methods=["GET"]),
        Route("/api/v1/statuses/{id}", show, methods=["GET"]),
        Route("/api/v1/statuses/{id}", remove, methods=["DELETE"]),
        Route("/api/v1/statuses/{id}", update, methods=["PUT"]),
        Route("/api/v1/statuses/{id}/context", context, methods=["GET"]),
        Route("/api/v1/statuses/{id}/history", history, methods=["GET"]),
        Route("/api/v1/statuses/{id}/source", source, methods=["GET"]),
        Route("/api/v1/statuses/{id}/favourited_by", favourited_by, methods=["GET"]),
        Route("/api/v1/statuses/{id}/reblogged_by", reblogged_by, methods=["GET"]),
    ]
