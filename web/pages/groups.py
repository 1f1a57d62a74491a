"""A study group's page: what it is for everyone; its archive for its members and the run's organizers.

Members reach the archive through their magic link (`/me/{token}/group`); organizers who may see
the run's learners see it on `/groups/{handle}`. Posts come from email and the fediverse alike
(courses.models.Post); whoever stored them, they are shown cleaned to the mail allowlist and
scrubbed of our secret links (mail.scrub).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses.models import Enrollment, Post, StudyGroup
from courses.privacy import can_see_learners
from courses.signup import SEATED, by_token
from courses.summary import zone_span
from mail.scrub import scrub_html, scrub_text
from server.floor import urls
from server.floor.db import session_scope
from server.floor.errors import NotFound
from web.auth import current_account
from web.templating import render

ARCHIVE_LIMIT = 500


def group_facts(session: Session, group: StudyGroup) -> dict[str, Any]:
    """The group as plain data: name, address, run, course, member count."""
    seated = (Enrollment.group_id == group.id, Enrollment.status.in_(SEATED))
    members = session.scalar(select(func.count()).select_from(Enrollment).where(*seated))
    zones = set(session.scalars(select(Enrollment.timezone).where(*seated).distinct())) or {group.timezone}
    return {
        "name": group.name,
        "handle": group.handle,
        "id": urls.group(group.handle),
        "address": urls.group_address(group.handle),
        "timezone": group.timezone,
        "zones": zone_span(group.run, zones),
        "language": group.language,
        "members": int(members or 0),
        "run_handle": group.run.handle,
        "run_start": group.run.start_date,
        "course_title": group.run.course.title,
        "course_slug": group.run.course.slug,
    }


def threads(session: Session, group: StudyGroup, with_held: bool) -> list[dict[str, Any]]:
    """The group's posts as threads (first post, then its replies in order), newest thread first."""
    query = select(Post).where(Post.group_id == group.id, Post.deleted.is_(False))
    if not with_held:
        query = query.where(Post.held.is_(False))
    posts = list(session.scalars(query.order_by(Post.created_at, Post.id).limit(ARCHIVE_LIMIT)))
    grouped: dict[int, list[Post]] = defaultdict(list)
    for post in posts:
        grouped[post.thread_id or post.id].append(post)
    ordered = sorted(grouped.values(), key=lambda thread: thread[-1].created_at, reverse=True)
    return [
        {"subject": scrub_text(thread[0].subject) or "(no subject)", "posts": [archived(post) for post in thread]}
        for thread in ordered
    ]


def archived(post: Post) -> dict[str, Any]:
    """A post as the archive shows it: its HTML reduced to the mail allowlist (no images, nothing remote) and
    scrubbed of our secret links, whoever stored it (email, the fediverse) and whenever."""
    return {
        "author_name": post.author_name,
        "created_at": post.created_at,
        "source": post.source,
        "held": post.held,
        "html": scrub_html(post.html) if post.html else "",
        "text": scrub_text(post.text),
    }


def _group(session: Session, handle: str) -> StudyGroup:
    group = session.scalar(select(StudyGroup).where(StudyGroup.handle == handle))
    if group is None:
        raise NotFound(f"no study group {handle} here")
    return group


def group_page(request: Request) -> Response:
    """GET /groups/{handle}: the group's address and run; the archive for organizers of its run."""
    account = current_account(request)
    with session_scope() as session:
        group = _group(session, request.path_params["handle"])
        organizer = can_see_learners(account, group.run)
        context = {
            "group": group_facts(session, group),
            "threads": threads(session, group, with_held=True) if organizer else None,
            "organizer": organizer,
            "member_token": None,
        }
        return render(request, "groups/group.html", context)


def member_archive(request: Request) -> Response:
    """GET /me/{token}/group: the archive of the learner's own group (the magic link is the key)."""
    token = request.path_params["token"]
    with session_scope() as session:
        try:
            enrollment = by_token(session, token)
        except NotFound:
            return render(request, "learner/invalid.html", status=404)
        if enrollment.group is None or enrollment.status not in SEATED:
            raise HTTPException(404, "you are not in a study group of this run (yet)")
        group = enrollment.group
        context = {
            "group": group_facts(session, group),
            "threads": threads(session, group, with_held=False),
            "organizer": False,
            "member_token": token,
        }
        return render(request, "groups/group.html", context)


def routes() -> list[BaseRoute]:
    """The group page and the members' archive."""
    return [
        Route("/groups/{handle}", group_page, name="group"),
        Route("/me/{token}/group", member_archive),
    ]
