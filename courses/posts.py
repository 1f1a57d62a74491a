"""Group posts: storing one (mail, the web: `store_group_post`, the one place that publishes
`post.created` for them), moderating held ones (`approve_post`, `discard_post`), and changing a
stored post after the fact: deleting it (author, moderator) or editing its text.

Deleting and editing publish a domain event so the other packages follow: `post.deleted` (federation sends a
`Delete` of every copy it delivered to fediverse members) and `post.updated` (an `Update` of
them). The row stays, emptied, so threads and ids keep their place.
"""

from __future__ import annotations

import re
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import search
from community.removal import withdraw
from courses.group_reach import author_profile, reach_members
from courses.models import Post, StudyGroup
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish

_QUOTE = re.compile(r"^((?:>\s?)+)")
MAX_QUOTE_DEPTH = 6  # deeper quotes are shown at this depth: no page of a thousand nested boxes


def message_id_of(post: Post) -> str:
    """The Message-ID a post carries by mail: the author's own, or one naming the post (no secret in either)."""
    return post.message_id or f"<post-{post.id}@{get_settings().mail_domain}>"


def store_group_post(
    session: Session,
    group: StudyGroup,
    *,
    source: str,
    text: str,
    html: str = "",
    subject: str = "",
    author_email: str | None = None,
    author_actor: str | None = None,
    author_name: str = "",
    parent: Post | None = None,
    in_reply_to_ref: str | None = None,
    message_id: str | None = None,
    ap_id: str | None = None,
    held: bool = False,
    author_account_id: int | None = None,
) -> Post:
    """Store a post in `group` (threaded under `parent`) and, unless held, publish `post.created`
    (mail relays it to email members, federation copies it to fediverse members); Invalid when the
    group's organizer closed it. Every way in (mail, the web, the fediverse: `ap_id` is then the
    remote object's id) stores its posts here.

    The post is a community status of the group (`visibility` group): by the author's profile
    when they have one (a local account, matched by `author_account_id` or address, or a known
    fediverse actor), in the home feeds of the members with a local account, who are told
    (`group_post`)."""
    if group.closed_at is not None:
        raise Invalid(f"{group.name or group.handle} was closed by its organizer and takes no more posts")
    if parent is not None and parent.group_id != group.id:
        parent = None  # a reply to another group's post starts a thread here
    post = Post(
        message_id=message_id,
        ap_id=ap_id,
        group_id=group.id,
        run_id=group.run_id,
        course_id=group.run.course_id,
        kind="group",
        source=source,
        author_email=author_email,
        author_actor=author_actor,
        author_name=author_name[:200],
        subject=subject[:500],
        text=text,
        html=html,
        in_reply_to_id=parent.id if parent else None,
        in_reply_to_ref=in_reply_to_ref if in_reply_to_ref or parent is None else message_id_of(parent),
        held=held,
        created_at=now(),
        visibility="group",
        local=source != "activitypub",
    )
    profile = author_profile(session, account_id=author_account_id, email=author_email, actor=author_actor)
    post.profile_id = profile.id if profile is not None else None
    session.add(post)
    session.flush()
    post.ap_id = post.ap_id or urls.post(post.id)
    if post.message_id is None:
        post.message_id = message_id_of(post)  # what the relayed copies carry: email replies find the post by it
    post.thread_id = (parent.thread_id or parent.id) if parent else post.id
    if not held:
        reach_members(session, group, post)
        publish(session, "post.created", {"post_id": post.id})
    return post


def group_post(session: Session, post_id: int, group: StudyGroup | None = None) -> Post:
    """The group post `post_id` (of `group` when given); NotFound otherwise."""
    post = session.get(Post, post_id)
    if post is None or post.kind != "group" or post.group_id is None or (group and post.group_id != group.id):
        where = f" in group {group.handle}" if group else ""
        raise NotFound(f"no group post {post_id}{where}")
    return post


def held_posts(session: Session, run_id: int) -> list[Post]:
    """The run's held group posts (waiting for a moderator), oldest first."""
    query = select(Post).where(
        Post.run_id == run_id, Post.kind == "group", Post.held.is_(True), Post.deleted.is_(False)
    )
    return list(session.scalars(query.order_by(Post.created_at, Post.id)))


def approve_post(session: Session, post: Post) -> Post:
    """A moderator lets a held post through: it is archived and relayed (`post.created`) like any other."""
    if not post.held or post.deleted:
        raise NotFound(f"post {post.id} is not waiting for a moderator")
    post.held = False
    session.flush()
    group = session.get(StudyGroup, post.group_id) if post.group_id is not None else None
    if group is not None:
        reach_members(session, group, post)
    publish(session, "post.created", {"post_id": post.id})
    return post


def discard_post(session: Session, post: Post) -> None:
    """A moderator refuses a held post: its text is dropped and it is never relayed (nothing to federate)."""
    if not post.held or post.deleted:
        raise NotFound(f"post {post.id} is not waiting for a moderator")
    post.deleted, post.text, post.html = True, "", ""
    session.flush()


def announcement_subject(subject: str) -> str:
    """The subject of a moderator's announcement: marked as one (once)."""
    if subject.lower().startswith(("announcement", "re: announcement")):
        return subject
    return f"Announcement: {subject}" if subject else "Announcement"


def moderator_name(account: Account) -> str:
    """How a moderator's post (an announcement to a group) is signed."""
    return f"{account.display_name or account.handle} (moderator)"


def text_html(text: str) -> str:
    """Plain text as HTML that keeps its shape: paragraphs, line breaks, and `>` quoted lines as
    (nested) <blockquote>; everything escaped."""
    out: list[str] = []
    depth = 0
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        marks = _QUOTE.match(line)
        level = min(marks.group(1).count(">"), MAX_QUOTE_DEPTH) if marks else 0
        body = line[marks.end() :] if marks else line
        if level != depth:
            close_paragraph()
            out.append("</blockquote>" * (depth - level) if level < depth else "<blockquote>" * (level - depth))
            depth = level
        if body.strip():
            paragraph.append(escape(body.rstrip()))
        else:
            close_paragraph()
    close_paragraph()
    out.append("</blockquote>" * depth)
    return "".join(out)


def delete_post(session: Session, post: Post, by: str) -> bool:
    """Hide `post` (its text is dropped) and publish `post.deleted`; False when it was already gone.

    `by` says who: "author" (they deleted it themselves) or "moderator".
    """
    if post.deleted:
        return False
    post.deleted, post.text, post.html = True, "", ""
    session.flush()
    withdraw(session, post)  # out of home feeds, notifications and the search index
    publish(session, "post.deleted", {"post_id": post.id, "by": by})
    return True


def edit_post(session: Session, post: Post, text: str, html: str) -> None:
    """Replace the text of `post` (`html` already sanitized) and publish `post.updated`."""
    if post.deleted:
        raise Invalid(f"post {post.id} was deleted; it cannot be edited")
    if not text.strip():
        raise Invalid("the post's new text is empty")
    post.text, post.html = text, html
    post.edited_at = now()
    session.flush()
    search.index(session, post)
    publish(session, "post.updated", {"post_id": post.id})
