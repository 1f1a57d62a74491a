"""An actor's outbox: the public posts it wrote (course announcements today), newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Post
from federation.flows.posting import note_document

PAGE = 20
AS = "https://www.w3.org/ns/activitystreams"


def outbox_collection(session: Session, actor: str) -> dict[str, Any]:
    """The OrderedCollection of `actor`'s public posts as `Create` activities (the latest PAGE)."""
    public = select(Post).where(
        Post.author_actor == actor, Post.visibility == "public", Post.deleted.is_(False), Post.ap_id.isnot(None)
    )
    total = session.scalar(select(func.count()).select_from(public.subquery())) or 0
    items = []
    for post in session.scalars(public.order_by(Post.created_at.desc(), Post.id.desc()).limit(PAGE)):
        note = {k: v for k, v in note_document(post).items() if k != "@context"}
        items.append(
            {
                "id": f"{post.ap_id}/activity",
                "type": "Create",
                "actor": actor,
                "published": note.get("published"),
                "to": note.get("to", []),
                "cc": [f"{actor}/followers"],
                "object": note,
            }
        )
    return {
        "@context": AS,
        "id": f"{actor}/outbox",
        "type": "OrderedCollection",
        "totalItems": total,
        "orderedItems": items,
    }
