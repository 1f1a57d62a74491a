"""Move: a remote account moved; our local actors follow the new account instead."""

from __future__ import annotations

from sqlalchemy import select

from federation.entry.handlers import Inbound, handles, object_id
from federation.flows import follows
from federation.models import Following, RemoteActor
from federation.transport.fetch import FetchError, remote_actor
from server.floor.events import publish


@handles("Move")
def move(inbound: Inbound) -> str | None:
    """Follow `target` in place of the moving actor, once `target` confirms it (alsoKnownAs)."""
    origin, target = inbound.object_id, object_id(inbound.activity.get("target"))
    if origin != inbound.actor or not target:
        return None
    session = inbound.session
    try:
        new = remote_actor(session, target, refresh=True)
    except FetchError as error:
        raise RuntimeError(f"cannot fetch move target {target}: {error}") from error  # retried later
    aliases = new.document.get("alsoKnownAs") or []
    if origin not in (aliases if isinstance(aliases, list) else [aliases]):
        return f"move to {target} ignored: it does not list {origin} in alsoKnownAs"
    old = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == origin))
    if old is not None:
        old.moved_to = target
    moved = 0
    for row in list(session.scalars(select(Following).where(Following.target == origin))):
        follows.follow_actor(session, row.actor, new)
        follows.unfollow(session, row.actor, origin)
        moved += 1
    publish(session, "actor.moved", {"origin": origin, "target": target})
    return f"{origin} moved to {target}; {moved} local follow(s) moved"
