"""The instance: GET /api/v2/instance, /api/v1/instance (older apps), rules, peers, activity,
extended description, and the streaming health check apps probe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from community.models import Profile, Status
from server.floor.accounts import Account
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.instance import instance_info
from server.floor.urls import absolute
from web.api.entities import when
from web.api.http import Call, endpoint

VERSION = "4.3.0 (compatible; Mechanical MOOC 0.1.0)"
SOURCE = "https://github.com/mechanical-mooc/mechmooc"
MAX_CHARACTERS = 500
MAX_MEDIA = 4
IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "image/avif"]
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
DESCRIPTION_LIMIT = 1500


def streaming_base() -> str:
    """ws(s):// of this instance (apps open /api/v1/streaming there)."""
    url = get_settings().url
    return "wss://" + url[len("https://") :] if url.startswith("https://") else "ws://" + url[len("http://") :]


def rules(info: dict[str, str]) -> list[dict[str, str]]:
    """The instance rules, one per non-empty line, as Rule entities."""
    lines = [line.strip(" -*\t") for line in info.get("rules", "").splitlines()]
    return [{"id": str(n), "text": text, "hint": ""} for n, text in enumerate((t for t in lines if t), 1)]


def _facts() -> tuple[dict[str, str], int, int, int]:
    with session_scope() as db:
        info = instance_info(db)
        users = db.scalar(select(func.count(Account.id)).where(Account.disabled.is_(False))) or 0
        statuses = (
            db.scalar(select(func.count(Status.id)).where(Status.local.is_(True), Status.deleted.is_(False))) or 0
        )
        domains = db.scalar(select(func.count(distinct(Profile.domain))).where(Profile.domain.is_not(None))) or 0
    return info, users, statuses, domains


def _configuration() -> dict[str, Any]:
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 5},
        "statuses": {
            "max_characters": MAX_CHARACTERS,
            "max_media_attachments": MAX_MEDIA,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": IMAGE_TYPES,
            "description_limit": DESCRIPTION_LIMIT,
            "image_size_limit": IMAGE_SIZE_LIMIT,
            "image_matrix_limit": 33_177_600,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {"max_options": 0, "max_characters_per_option": 0, "min_expiration": 0, "max_expiration": 0},
    }


def _registrations(info: dict[str, str]) -> tuple[bool, bool]:
    mode = info.get("registrations", "closed")
    return mode in {"open", "approval"}, mode == "approval"


@endpoint(public=True, user=False)
def v2(call: Call) -> dict[str, Any]:
    """GET /api/v2/instance."""
    info, users, _statuses, _domains = _facts()
    enabled, approval = _registrations(info)
    configuration = _configuration()
    configuration["urls"] = {"streaming": streaming_base(), "status": None}
    configuration["vapid"] = {"public_key": ""}
    configuration["translation"] = {"enabled": False}
    return {
        "domain": get_settings().host,
        "title": info["name"],
        "version": VERSION,
        "source_url": SOURCE,
        "description": info["description"],
        "usage": {"users": {"active_month": users}},
        "thumbnail": {"url": absolute("/static/favicon.svg"), "blurhash": None, "versions": {}},
        "icon": [],
        "languages": ["en"],
        "configuration": configuration,
        "registrations": {"enabled": enabled, "approval_required": approval, "message": None, "url": None},
        "api_versions": {"mastodon": 2},
        "contact": {"email": info.get("contact", ""), "account": None},
        "rules": rules(info),
    }


@endpoint(public=True, user=False)
def v1(call: Call) -> dict[str, Any]:
    """GET /api/v1/instance (deprecated in Mastodon, still read by many apps)."""
    info, users, statuses, domains = _facts()
    enabled, approval = _registrations(info)
    return {
        "uri": get_settings().host,
        "title": info["name"],
        "short_description": info["description"],
        "description": info["description"],
        "email": info.get("contact", ""),
        "version": VERSION,
        "urls": {"streaming_api": streaming_base()},
        "stats": {"user_count": users, "status_count": statuses, "domain_count": domains},
        "thumbnail": absolute("/static/favicon.svg"),
        "languages": ["en"],
        "registrations": enabled,
        "approval_required": approval,
        "invites_enabled": info.get("registrations") == "invite",
        "configuration": _configuration(),
        "contact_account": None,
        "rules": rules(info),
    }


@endpoint(public=True, user=False)
def instance_rules(call: Call) -> list[dict[str, str]]:
    """GET /api/v1/instance/rules."""
    with session_scope() as db:
        return rules(instance_info(db))


@endpoint(public=True, user=False)
def extended_description(call: Call) -> dict[str, Any]:
    """GET /api/v1/instance/extended_description."""
    with session_scope() as db:
        info = instance_info(db)
    return {"updated_at": when(None), "content": info["description"]}


@endpoint(public=True, user=False)
def peers(call: Call) -> list[str]:
    """GET /api/v1/instance/peers: the domains we know profiles of."""
    with session_scope() as db:
        found = db.scalars(select(distinct(Profile.domain)).where(Profile.domain.is_not(None)).limit(10_000))
        return sorted(d for d in found if d)


@endpoint(public=True, user=False)
def empty_list(call: Call) -> list[Any]:
    """Lists we keep empty (activity, domain blocks shown publicly, translation languages...)."""
    return []


def streaming_health(request: Request) -> Response:
    """GET /api/v1/streaming/health."""
    return PlainTextResponse("OK")


def routes() -> list[BaseRoute]:
    """The instance endpoints."""
    return [
        Route("/api/v2/instance", v2, methods=["GET"]),
        Route("/api/v1/instance", v1, methods=["GET"]),
        Route("/api/v1/instance/rules", instance_rules, methods=["GET"]),
        Route("/api/v1/instance/extended_description", extended_description, methods=["GET"]),
        Route("/api/v1/instance/peers", peers, methods=["GET"]),
        Route("/api/v1/instance/activity", empty_list, methods=["GET"]),
        Route("/api/v1/instance/domain_blocks", empty_list, methods=["GET"]),
        Route("/api/v1/instance/languages", empty_list, methods=["GET"]),
        Route("/api/v1/streaming/health", streaming_health, methods=["GET"]),
    ]
