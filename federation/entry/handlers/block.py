"""Block: a remote actor blocks a local one (we stop following and delivering to them); its Undo."""

from __future__ import annotations

from sqlalchemy import delete, select

from federation.entry.handlers import Inbound, activity_type, changed, handles, object_id
from federation.models import ActorBlock, Follower, Following
from federation.transport.keys import is_local


@handles("Block")
def block(inbound: Inbound) -> str | None:
    """Record the block and cut both follow directions between the two actors."""
    blocked = inbound.object_id
    if not blocked or not is_local(blocked):
        return None
    session = inbound.session
    if (
        session.scalar(select(ActorBlock.id).where(ActorBlock.blocker == inbound.actor, ActorBlock.blocked == blocked))
        is None
    ):
        session.add(ActorBlock(blocker=inbound.actor, blocked=blocked, activity_id=inbound.activity_id))
    session.execute(delete(Follower).where(Follower.actor == blocked, Follower.follower == inbound.actor))
    session.execute(delete(Following).where(Following.actor == blocked, Following.target == inbound.actor))
    return f"{inbound.actor} blocks {blocked}"


@handles("Undo")
def unblock(inbound: Inbound) -> str | None:
    """Lift a block the same actor made."""
    inner = inbound.object
    query = delete(ActorBlock).where(ActorBlock.blocker == inbound.actor)
    if isinstance(inner, dict):
        if activity_type(inner) != "Block":
            return None
        query = query.where(ActorBlock.blocked == object_id(inner.get("object")))
    elif object_id(inner):
        query = query.where(ActorBlock.activity_id == object_id(inner))
    else:
        return None
    removed = changed(inbound.session, query.execution_options(synchronize_session=False))
    return f"{inbound.actor} unblocked" if removed else None
