"""Move: a remote account moved; our local actors follow the new account instead."""

from __future__ import annotations

from sqlalchemy import select

from federation.entry.handlers import Inbound, Needs, handles, needs, object_id
from federation.flows import follows
from federation.models import Following, RemoteActor
from federation.transport.fetch import cached_actor
from federation.transport.keys import is_local
from server.floor.events import publish


def _target(inbound: Inbound) -> str | None:
    """The remote account moved to, when the activity is a Move of its own actor (a move to one of
    our people is social.moved's: their profile says whom they were)."""
    origin, target = inbound.object_id, object_id(inbound.activity.get("target"))
    return target if origin == inbound.actor and target and not is_local(target) else None


@needs("Move")
def move_needs(inbound: Inbound) -> Needs:
    """The target's document as it is now (its alsoKnownAs must name the moving actor)."""
    target = _target(inbound)
    return Needs(refreshed=frozenset({target})) if target else Needs()


@handles("Move")
def move(inbound: Inbound) -> str | None:
    """Follow `target` in place of the moving actor, once `target` confirms it (alsoKnownAs)."""
    target = _target(inbound)
    if target is None:
        return None
    origin, session = inbound.actor, inbound.session
    document = inbound.fetched_document(target)
    if isinstance(document, str):
        raise RuntimeError(f"cannot fetch move target {target}: {document}")  # retried later
    new = cached_actor(session, str(document["id"]))  # stored by the worker under the id it gives itself
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
