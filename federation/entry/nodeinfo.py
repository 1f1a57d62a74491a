"""NodeInfo 2.1: what software this is, which protocols it speaks, and how busy it is."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment, Post, Run
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.instance import instance_info

SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"
SCHEMA_2_0 = "http://nodeinfo.diaspora.software/ns/schema/2.0"


def _version() -> str:
    try:
        return version("mechmooc")
    except PackageNotFoundError:
        return "0.0.0"


def well_known() -> dict[str, Any]:
    """The /.well-known/nodeinfo links document."""
    base = get_settings().url
    return {
        "links": [
            {"rel": SCHEMA, "href": f"{base}/nodeinfo/2.1"},
            {"rel": SCHEMA_2_0, "href": f"{base}/nodeinfo/2.0"},
        ]
    }


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def media_type(version: str) -> str:
    """The Content-Type of a NodeInfo document.

    GoToSocial (internal/api/util/mime.go, NodeInfo2ContentType) accepts `application/json`, alone or
    with the schema 2.0 profile, and refuses any other profile: 2.1 is served as plain JSON.
    """
    return f'application/json; profile="{SCHEMA_2_0}#"' if version == "2.0" else "application/json"


def nodeinfo(session: Session, version: str = "2.1") -> dict[str, Any]:
    """The NodeInfo document (2.1, or 2.0 without the software fields 2.0 lacks), counts from the database."""
    info = instance_info(session)
    month, halfyear = now() - timedelta(days=30), now() - timedelta(days=180)
    accounts = _count(session, select(func.count()).select_from(Account).where(Account.disabled.is_(False)))
    learners = select(func.count()).select_from(Enrollment).where(Enrollment.status == "confirmed")
    # Learners are users too (most have no account); active counts never exceed the total.
    users = accounts + _count(session, learners)
    software = {"name": "mechmooc", "version": _version()}
    if version == "2.1":
        software |= {"repository": "https://github.com/mechanical-mooc/mechmooc", "homepage": get_settings().url}
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        # As Mastodon says it: open unless closed or by invite (community.registrations; approval counts as
        # open). Signing up for a run is not an account.
        "openRegistrations": info.get("registrations") in ("open", "approval"),
        "usage": {
            "users": {
                "total": users,
                "activeMonth": _count(session, learners.where(Enrollment.created_at >= month)),
                "activeHalfyear": _count(session, learners.where(Enrollment.created_at >= halfyear)),
            },
            "localPosts": _count(session, select(func.count()).select_from(Post).where(Post.source != "activitypub")),
        },
        "metadata": {
            "nodeName": info["name"],
            "nodeDescription": info["description"],
            "courses": _count(session, select(func.count()).select_from(Course)),
            "runs": _count(session, select(func.count()).select_from(Run)),
            "learners": _count(session, learners),
        },
    }
