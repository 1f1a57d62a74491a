"""What the study group page shows, and to whom: the group's facts for everyone; for its members
(magic link or signed in) and its moderators the members, who moderates, the threaded archive
(replies nested under their parent, line breaks and `>` quotes kept) and the posting form; for
moderators the held posts with approve/discard and a delete button on each post.

Posts come from email, the web and the fediverse alike (courses.models.Post); whoever stored
them, they are shown cleaned to the mail allowlist and scrubbed of our secret links (mail.scrub).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from courses.facilitators import may_moderate, moderator_names
from courses.models import Enrollment, Post, StudyGroup
from courses.posts import text_html
from courses.signup import SEATED
from courses.summary import zone_span
from federation.models import RemoteActor
from mail.scrub import scrub_html, scrub_text
from server.floor import urls
from server.floor.accounts import Account
from server.floor.errors import NotFound
from web.templating import render

ARCHIVE_LIMIT = 500
MAX_DEPTH = 6  # replies deeper than this are shown at this depth: the page stays readable at 390 px


@dataclass
class Viewer:
    """Who looks at a group page: their place in the group (if a member), whether they moderate it,
    and the magic link they came by (None when signed in or a visitor)."""

    member: Enrollment | None = None
    moderator: bool = False
    token: str | None = None

    @property
    def inside(self) -> bool:
        """Members and moderators see the archive and the members."""
        return self.member is not None or self.moderator


def find_group(session: Session, handle: str) -> StudyGroup:
    """The study group `handle`; NotFound otherwise."""
    group = session.scalar(select(StudyGroup).where(StudyGroup.handle == handle))
    if group is None:
        raise NotFound(f"no study group {handle} here")
    return group


def seated_member(session: Session, group: StudyGroup, account: Account | None) -> Enrollment | None:
    """The signed-in account's place in `group`, if it has one (by account, else by its address)."""
    if account is None or account.disabled:
        return None
    mine = (Enrollment.account_id == account.id) | (func.lower(Enrollment.email) == account.email.lower())
    query = select(Enrollment).where(Enrollment.group_id == group.id, Enrollment.status.in_(SEATED), mine)
    return session.scalar(query.limit(1))


def viewer_of(session: Session, group: StudyGroup, account: Account | None) -> Viewer:
    """The signed-in account (or visitor) as a viewer of `group`."""
    return Viewer(member=seated_member(session, group, account), moderator=may_moderate(session, account, group.run))


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


def member_list(session: Session, group: StudyGroup) -> list[dict[str, str]]:
    """The members as other members see them: name and fediverse handle (never an email address)."""
    seated = list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.group_id == group.id, Enrollment.status.in_(SEATED))
            .order_by(Enrollment.name, Enrollment.id)
        )
    )
    actors = [m.actor for m in seated if m.actor]
    handles = dict(
        session.execute(select(RemoteActor.ap_id, RemoteActor.handle).where(RemoteActor.ap_id.in_(actors)))
        .tuples()
        .all()
    )
    return [
        {
            "name": member.name or "A member",
            "handle": (handles.get(member.actor) or member.actor) if member.actor else "",
            "actor": member.actor or "",
        }
        for member in seated
    ]


def archived(post: Post) -> dict[str, Any]:
    """A post as the archive shows it: its HTML reduced to the mail allowlist (no images, nothing remote)
    and scrubbed of our secret links, or its text with line breaks and quotes kept."""
    if post.deleted:
        body = Markup("")
    elif post.html:
        body = Markup(scrub_html(post.html))
    else:
        body = Markup(text_html(scrub_text(post.text)))
    return {
        "id": post.id,
        "author_name": post.author_name,
        "created_at": post.created_at,
        "source": "fediverse" if post.source == "activitypub" else post.source,
        "held": post.held,
        "deleted": post.deleted,
        "subject": scrub_text(post.subject),
        "body": body,
        "replies": [],
    }


def threads(session: Session, group: StudyGroup, with_held: bool) -> list[dict[str, Any]]:
    """The group's threads, newest activity first; in each, the posts as a tree (replies under their
    parent, in order). Deleted posts stay as "deleted" (their replies keep their place); discarded
    held posts are gone."""
    query = select(Post).where(Post.group_id == group.id, not_(and_(Post.held.is_(True), Post.deleted.is_(True))))
    if not with_held:
        query = query.where(Post.held.is_(False))
    posts = list(session.scalars(query.order_by(Post.created_at, Post.id).limit(ARCHIVE_LIMIT)))
    grouped: dict[int, list[Post]] = defaultdict(list)
    for post in posts:
        grouped[post.thread_id or post.id].append(post)
    ordered = sorted(grouped.values(), key=lambda thread: thread[-1].created_at, reverse=True)
    return [{"subject": _subject(thread), "posts": _tree(thread)} for thread in ordered]


def _subject(thread: list[Post]) -> str:
    return scrub_text(thread[0].subject) or "(no subject)"


def _tree(thread: list[Post]) -> list[dict[str, Any]]:
    """The posts of one thread nested by `in_reply_to_id`; a post whose parent is not shown is a root."""
    shown = {post.id: archived(post) for post in thread}
    depth: dict[int, int] = {}
    placed_under: dict[int, int | None] = {}
    roots: list[dict[str, Any]] = []
    for post in thread:  # oldest first: a parent is placed before its replies
        parent = post.in_reply_to_id if post.in_reply_to_id in depth else None
        while parent is not None and depth[parent] >= MAX_DEPTH:
            parent = placed_under[parent]
        placed_under[post.id] = parent
        if parent is None:
            depth[post.id] = 0
            roots.append(shown[post.id])
        else:
            depth[post.id] = depth[parent] + 1
            shown[parent]["replies"].append(shown[post.id])
    return roots


def render_group(
    request: Request,
    session: Session,
    group: StudyGroup,
    viewer: Viewer,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The group page for `viewer` (the form re-shown with `errors` and `values` after a failed post)."""
    inside = viewer.inside
    context = {
        "group": group_facts(session, group),
        "threads": threads(session, group, with_held=viewer.moderator) if inside else None,
        "members": member_list(session, group) if inside else [],
        "moderators": moderator_names(session, group.run),
        "organizer": viewer.moderator,
        "moderator": viewer.moderator,
        # Members post; the run's moderators (organizer, facilitators, admins) post announcements.
        "can_post": viewer.member is not None or (viewer.moderator and viewer.token is None),
        "announcing": viewer.member is None and viewer.moderator,
        "member_token": viewer.token,
        "post_action": f"/me/{viewer.token}/group/posts" if viewer.token else f"/groups/{group.handle}/posts",
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "groups/group.html", context, status=status)
