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


def _version() -> str:
    try:
        return version("mechmooc")
    except PackageNotFoundError:
        return "0.0.0"


def well_known() -> dict[str, Any]:
    """The /.well-known/nodeinfo links document."""
    return {"links": [{"rel": SCHEMA, "href": f"{get_settings().url}/nodeinfo/2.1"}]}


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def nodeinfo(session: Session) -> dict[str, Any]:
    """The NodeInfo 2.1 document, with usage counts read from the database."""
    info = instance_info(session)
    month, halfyear = now() - timedelta(days=30), now() - timedelta(days=180)
    accounts = _count(session, select(func.count()).select_from(Account).where(Account.disabled.is_(False)))
    learners = select(func.count()).select_from(Enrollment).where(Enrollment.status == "confirmed")
    # Learners are users too (most have no account); active counts never exceed the total.
    users = accounts + _count(session, learners)
    return {
        "version": "2.1",
        "software": {
            "name": "mechmooc",
            "version": _version(),
            "repository": "https://github.com/mechanical-mooc/mechmooc",
            "homepage": get_settings().url,
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": True,
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
