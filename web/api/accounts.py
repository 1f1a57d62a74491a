"""Accounts: verify_credentials, update_credentials, lookup, show, statuses, followers and
following, relationships, familiar followers, search. Courses, runs and study groups are
accounts too (profiles of kind course/run/group: `bot` and `group` set)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.routing import BaseRoute, Route

from community import graph, people, search, timelines
from community import media as pictures
from community.models import Follow, Profile
from community.text import render
from server.floor.db import session_scope, write_scope
from server.floor.errors import NotFound
from server.floor.events import publish
from web.api import actors, lookup
from web.api.entities import account, credential_account
from web.api.http import ApiError, Call, Page, endpoint
from web.api.media import read_upload
from web.api.paging import cursors, link, page_rows
from web.pages.timelines import readable_group

MAX_NOTE = 500
MAX_NAME = 30


def _credentials(db: Any, profile: Profile) -> dict[str, Any]:
    prefs = people.preferences(db, profile)
    pending = db.scalar(select(func.count(Follow.id)).where(Follow.target_id == profile.id, Follow.accepted.is_(False)))
    return credential_account(
        profile, privacy=prefs.default_visibility, language=prefs.default_language, follow_requests=pending or 0
    )


@endpoint("profile")
def verify_credentials(call: Call) -> dict[str, Any]:
    """GET /api/v1/accounts/verify_credentials."""
    with session_scope() as db:
        return _credentials(db, lookup.me(db, call))


def _fields(call: Call) -> list[dict[str, str]] | None:
    """`fields_attributes[0][name]` / `[value]` (form) or a list/dict of {name, value} (JSON)."""
    found: dict[str, dict[str, str]] = {}
    raw = call.params.get("fields_attributes")
    if isinstance(raw, list | dict):
        items = raw.values() if isinstance(raw, dict) else raw
        for n, item in enumerate(items):
            if isinstance(item, dict):
                found[str(n)] = {"name": str(item.get("name", "")), "value": str(item.get("value", ""))}
    for key, values in call.params.values.items():
        if key.startswith("fields_attributes[") and key.endswith("]") and values:
            index, _, part = key[len("fields_attributes[") : -1].partition("][")
            if part in {"name", "value"} and isinstance(values[0], str):
                found.setdefault(index, {"name": "", "value": ""})[part] = values[0]
    if not found:
        return None
    ordered = [found[k] for k in sorted(found, key=lambda k: int(k) if k.isdigit() else 99)]
    return [f for f in ordered if f["name"].strip() or f["value"].strip()][: people.MAX_FIELDS]


@endpoint("write:accounts")
def update_credentials(call: Call) -> dict[str, Any]:
    """PATCH /api/v1/accounts/update_credentials (display name, bio, flags, fields, avatar, header)."""
    params = call.params
    avatar, header = params.file("avatar"), params.file("header")
    images = {
        "avatar": read_upload(avatar, "avatar") if avatar is not None else None,
        "header": read_upload(header, "header") if header is not None else None,
    }
    fields = _fields(call)
    with write_scope() as db:
        profile = lookup.me(db, call)
        if params.get("display_name") is not None:
            profile.display_name = params.text("display_name", limit=MAX_NAME)
        if params.get("note") is not None:
            note = params.text("note", limit=MAX_NOTE)
            profile.note_source, profile.note = note, render(note).html
        for flag in ("locked", "bot", "discoverable", "indexable"):
            if params.get(flag) is not None and not (flag == "bot" and profile.kind != "person"):
                setattr(profile, flag, params.flag(flag))
        if fields is not None:
            profile.fields = [{"name": f["name"][:255], "value": f["value"][:2000]} for f in fields]
        for prepared in images.values():
            if prepared is not None:
                pictures.store(db, profile, prepared)  # sets avatar_url / header_url
        source = params.get("source")
        privacy = (source or {}).get("privacy") if isinstance(source, dict) else params.get("source[privacy]")
        if privacy is not None:
            if privacy not in {"public", "unlisted", "private", "direct"}:
                raise ApiError(422, "Validation failed: source[privacy] must be public, unlisted, private or direct")
            people.preferences(db, profile).default_visibility = privacy
        db.flush()
        publish(db, "profile.updated", {"profile_id": profile.id})
        return _credentials(db, profile)


@endpoint(public=True, user=False)
def lookup_acct(call: Call) -> dict[str, Any]:
    """GET /api/v1/accounts/lookup?acct=user[@host] (known accounts only, no network)."""
    acct = call.params.text("acct", limit=600)
    with session_scope() as db:
        found = people.find_by_acct(db, acct)
    if found is None and "@" not in acct.strip().lstrip("@"):
        actors.ensure_if_missing(acct)  # a course, run or study group seen for the first time
        with session_scope() as db:
            found = people.find_by_acct(db, acct)
    if found is None or found.deleted_at is not None:
        raise ApiError(404, "Record not found")
    return account(found)


@endpoint(public=True, user=False)
def show(call: Call) -> dict[str, Any]:
    """GET /api/v1/accounts/:id."""
    with session_scope() as db:
        return account(lookup.profile(db, call.id()))


@endpoint("read:statuses", public=True, user=False)
def statuses(call: Call) -> Page:
    """GET /api/v1/accounts/:id/statuses (pinned, exclude_replies, exclude_reblogs, only_media, tagged)."""
    params = call.params
    with session_scope() as db:
        target = lookup.profile(db, call.id())
        seen_by = lookup.viewer(db, call)
        if actors.group_id_of(db, target) is not None:
            # A study group's account shows the group's posts, to its members (web's rule for its page).
            try:
                group = readable_group(db, target.username, call.account)
            except NotFound:
                return Page([])
            found = timelines.of_group(db, seen_by, group.id, **cursors(params))
            return Page(lookup.render_statuses(db, found, seen_by), link(call.request, [s.id for s in found]))
        found = timelines.of_profile(
            db,
            seen_by,
            target,
            exclude_replies=params.flag("exclude_replies"),
            exclude_reblogs=params.flag("exclude_reblogs"),
            only_media=params.flag("only_media"),
            pinned=params.flag("pinned"),
            tagged=params.text("tagged", limit=200) or None,
            **cursors(params),
        )
        return Page(lookup.render_statuses(db, found, seen_by), link(call.request, [s.id for s in found]))


def _follow_page(call: Call, followers: bool) -> Page:
    with session_scope() as db:
        target = lookup.profile(db, call.id())
        mine, other = (Follow.target_id, Follow.profile_id) if followers else (Follow.profile_id, Follow.target_id)
        query = (
            select(Follow.id, Profile)
            .join(Profile, Profile.id == other)
            .where(mine == target.id, Follow.accepted.is_(True))
        )
        page = cursors(call.params, default=40, maximum=80)
        rows = page_rows(db, query, Follow.id, page)
        return Page([account(p) for _, p in rows], link(call.request, [fid for fid, _ in rows]))


@endpoint("read:accounts", public=True, user=False)
def followers(call: Call) -> Page:
    """GET /api/v1/accounts/:id/followers."""
    return _follow_page(call, followers=True)


@endpoint("read:accounts", public=True, user=False)
def following(call: Call) -> Page:
    """GET /api/v1/accounts/:id/following."""
    return _follow_page(call, followers=False)


def _ids(call: Call) -> list[int]:
    return [
        int(v) for v in call.params.list("id") if isinstance(v, str | int) and str(v).isdigit() and len(str(v)) < 20
    ]


@endpoint("read:follows")
def relationships(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/accounts/relationships?id[]=..."""
    with session_scope() as db:
        targets = list(db.scalars(select(Profile).where(Profile.id.in_(_ids(call)))))
        return graph.relationships(db, lookup.me(db, call), targets)


@endpoint("read:follows")
def familiar_followers(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/accounts/familiar_followers (kept empty: [{id, accounts: []}])."""
    return [{"id": str(i), "accounts": []} for i in _ids(call)]


@endpoint("read:accounts")
def search_accounts(call: Call) -> list[dict[str, Any]]:
    """GET /api/v1/accounts/search?q= (known accounts)."""
    query = call.params.text("q", limit=600)
    limit = call.params.number("limit", 40, low=1, high=80)
    with session_scope() as db:
        return [account(p) for p in search.profiles(db, query, limit=limit)]


def _remove_image(call: Call, kind: str) -> dict[str, Any]:
    with write_scope() as db:
        profile = lookup.me(db, call)
        pictures.remove_image(db, profile, kind)
        publish(db, "profile.updated", {"profile_id": profile.id})
        return _credentials(db, profile)


@endpoint("write:accounts")
def remove_avatar(call: Call) -> dict[str, Any]:
    """DELETE /api/v1/profile/avatar (Mastodon 4.2+)."""
    return _remove_image(call, "avatar")


@endpoint("write:accounts")
def remove_header(call: Call) -> dict[str, Any]:
    """DELETE /api/v1/profile/header."""
    return _remove_image(call, "header")


@endpoint(public=True, user=False)
def nothing(call: Call) -> list[Any]:
    """Lists we keep empty (featured tags, identity proofs, an account's lists)."""
    return []


def routes() -> list[BaseRoute]:
    """The accounts endpoints (reading and the profile; relations are in web.api.relations)."""
    return [
        Route("/api/v1/accounts/verify_credentials", verify_credentials, methods=["GET"]),
        Route("/api/v1/accounts/update_credentials", update_credentials, methods=["PATCH", "PUT"]),
        Route("/api/v1/profile/avatar", remove_avatar, methods=["DELETE"]),
        Route("/api/v1/profile/header", remove_header, methods=["DELETE"]),
        Route("/api/v1/accounts/lookup", lookup_acct, methods=["GET"]),
        Route("/api/v1/accounts/relationships", relationships, methods=["GET"]),
        Route("/api/v1/accounts/familiar_followers", familiar_followers, methods=["GET"]),
        Route("/api/v1/accounts/search", search_accounts, methods=["GET"]),
        Route("/api/v1/accounts/{id}", show, methods=["GET"]),
        Route("/api/v1/accounts/{id}/statuses", statuses, methods=["GET"]),
        Route("/api/v1/accounts/{id}/followers", followers, methods=["GET"]),
        Route("/api/v1/accounts/{id}/following", following, methods=["GET"]),
        Route("/api/v1/accounts/{id}/featured_tags", nothing, methods=["GET"]),
        Route("/api/v1/accounts/{id}/identity_proofs", nothing, methods=["GET"]),
        Route("/api/v1/accounts/{id}/lists", nothing, methods=["GET"]),
    ]
