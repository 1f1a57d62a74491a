"""Update of an actor (refresh our cached copy: new name, inbox or rotated key) or of a post we keep (its new text)."""

from __future__ import annotations

import nh3
from sqlalchemy import select

from courses.models import Post
from courses.posts import edit_post
from federation.entry.handlers import Inbound, activity_type, handles
from federation.transport.fetch import FetchError, store_actor


@handles("Update")
def update_actor(inbound: Inbound) -> str | None:
    """An actor updating itself: store the embedded document (same id, so same origin)."""
    document = inbound.object
    if not isinstance(document, dict) or document.get("id") != inbound.actor or "inbox" not in document:
        return None
    try:
        store_actor(inbound.session, document, inbound.actor)
    except FetchError as error:
        return f"actor update not stored: {error}"
    return f"refreshed {inbound.actor}"


@handles("Update")
def update_post(inbound: Inbound) -> str | None:
    """The author edited a post we keep: store the new text (its copies to members follow, `post.updated`).

    The inbox refused an object id on another origin than the actor; only the post's author may edit it.
    """
    note = inbound.object
    if activity_type(note) not in {"Note", "Article", "Page"} or not isinstance(note, dict):
        return None
    post = inbound.session.scalar(
        select(Post).where(Post.ap_id == note.get("id"), Post.author_actor == inbound.actor, Post.deleted.is_(False))
    )
    if post is None or post.kind == "status":
        return None  # a person's status: statuses.status_or_profile_updated (community's edit, with history)
    content = nh3.clean(str(note.get("content") or ""))
    text = nh3.clean(content, tags=set()).strip()
    if not text:
        return f"edit of post {post.id} ignored: no text"
    edit_post(inbound.session, post, text, content)
    return f"edited post {post.id}"
