"""Changing a stored post after the fact: deleting it (author, moderator) or editing its text.

Both publish a domain event so the other packages follow: `post.deleted` (federation sends a
`Delete` of every copy it delivered to fediverse members) and `post.updated` (an `Update` of
them). The row stays, emptied, so threads and ids keep their place.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from courses.models import Post
from server.floor.errors import Invalid
from server.floor.events import publish


def delete_post(session: Session, post: Post, by: str) -> bool:
    """Hide `post` (its text is dropped) and publish `post.deleted`; False when it was already gone.

    `by` says who: "author" (they deleted it themselves) or "moderator".
    """
    if post.deleted:
        return False
    post.deleted, post.text, post.html = True, "", ""
    session.flush()
    publish(session, "post.deleted", {"post_id": post.id, "by": by})
    return True


def edit_post(session: Session, post: Post, text: str, html: str) -> None:
    """Replace the text of `post` (`html` already sanitized) and publish `post.updated`."""
    if post.deleted:
        raise Invalid(f"post {post.id} was deleted; it cannot be edited")
    if not text.strip():
        raise Invalid("the post's new text is empty")
    post.text, post.html = text, html
    session.flush()
    publish(session, "post.updated", {"post_id": post.id})
