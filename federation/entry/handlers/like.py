"""Like of one of our objects, and its Undo."""

from __future__ import annotations

from sqlalchemy import delete, select

from federation.entry.handlers import Inbound, activity_type, changed, handles, object_id
from federation.models import Like
from federation.transport.keys import is_local


@handles("Like")
def like(inbound: Inbound) -> str | None:
    """Count a remote Like of a local course, unit or post (once per actor and object)."""
    target = inbound.object_id
    if not target or not is_local(target):
        return None
    session = inbound.session
    if session.scalar(select(Like.id).where(Like.actor == inbound.actor, Like.object == target)) is None:
        session.add(Like(actor=inbound.actor, object=target, activity_id=inbound.activity_id))
    return f"liked {target}"


@handles("Undo")
def unlike(inbound: Inbound) -> str | None:
    """Forget a Like the same actor made."""
    inner = inbound.object
    if isinstance(inner, dict) and activity_type(inner) not in {"Like", "EmojiReact"}:
        return None
    query = delete(Like).where(Like.actor == inbound.actor)
    if isinstance(inner, dict) and object_id(inner.get("object")):
        query = query.where(Like.object == object_id(inner.get("object")))
    elif object_id(inner):
        query = query.where(Like.activity_id == object_id(inner))
    else:
        return None
    removed = changed(inbound.session, query.execution_options(synchronize_session=False))
    return f"unliked ({removed})" if removed else None
