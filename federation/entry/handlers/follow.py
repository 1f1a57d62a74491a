"""Follow, and the answers to our follows (Accept, Reject), and Undo of a Follow."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from federation.entry.handlers import Inbound, Needs, activity_type, handles, needs, object_id
from federation.flows import follows
from federation.flows.actors import local_actor
from federation.models import Follower, Following
from federation.transport.keys import is_local
from federation.transport.moderation import blocks


@needs("Follow", "Join")
def follower_needs(inbound: Inbound) -> Needs:
    """A follower (or joiner) of a local actor in the actor cache: its inbox gets our answer."""
    target = inbound.object_id
    return Needs(actors=frozenset({inbound.actor})) if target and is_local(target) else Needs()


@handles("Follow")
def follow(inbound: Inbound) -> str | None:
    """Someone follows a local person, course, run or group: record them and Accept (never manual)."""
    target = inbound.object_id
    local = local_actor(inbound.session, target) if target else None
    if local is None or local.kind in {"run", "group", "person"}:
        # Runs and groups: course_runs.follow_run / follow_group (they may enroll or refuse);
        # people: social.followed (community's graph: a locked person gets a request).
        return None
    if blocks(inbound.session, local.id, inbound.actor):
        reject_follow(inbound, local.id)
        return f"rejected follow of {local.id}: blocked"
    follows.accept_follower(inbound.session, local.id, inbound.activity)
    return f"accepted follower of {local.id}"


def reject_follow(inbound: Inbound, local: str) -> None:
    """Answer the inbound Follow of `local` with a Reject."""
    follows.answer(inbound.session, local, "Reject", _follow_ref(inbound.activity), inbound.actor)


def _follow_ref(activity: dict[str, Any]) -> dict[str, Any]:
    return {k: activity[k] for k in ("id", "type", "actor", "object") if k in activity}


def _our_follow(inbound: Inbound) -> Following | None:
    """The Following row an Accept/Reject answers: by the Follow's id, else by (our actor, them)."""
    session, inner = inbound.session, inbound.object
    inner_id = object_id(inner)
    row = session.scalar(select(Following).where(Following.follow_id == inner_id)) if inner_id else None
    if row is None and isinstance(inner, dict) and activity_type(inner) == "Follow":
        query = select(Following).where(
            Following.actor == object_id(inner.get("actor")), Following.target == inbound.actor
        )
        row = session.scalar(query)
    # Only the followed actor may answer our follow.
    return row if row is not None and row.target == inbound.actor else None


@handles("Accept", "Reject")
def answered(inbound: Inbound) -> str | None:
    """Our follow was accepted, or rejected (a Reject later also means they removed us)."""
    row = _our_follow(inbound)
    if row is None:
        return None
    row.state = "accepted" if inbound.type == "Accept" else "rejected"
    return f"{row.target} {row.state} {row.actor}'s follow"


@handles("Undo")
def unfollow(inbound: Inbound) -> str | None:
    """A follower stops following a local actor."""
    inner, session = inbound.object, inbound.session
    inner_id = object_id(inner)
    query = select(Follower).where(Follower.follower == inbound.actor)
    if isinstance(inner, dict) and activity_type(inner) == "Follow":
        if object_id(inner.get("actor")) != inbound.actor:
            return None
        rows = list(session.scalars(query.where(Follower.actor == object_id(inner.get("object")))))
    elif inner_id:
        rows = list(session.scalars(query.where(Follower.follow_id == inner_id)))
    else:
        return None
    for row in rows:
        follows.remove_follower(session, row.actor, inbound.actor)
    return f"{inbound.actor} unfollowed {', '.join(r.actor for r in rows)}" if rows else None
