"""Following across instances: a local actor follows a remote course (or any actor); ours are followed.

`look_up(id_or_handle)` then `follow(session, follower, actor_id)` are the service behind
`mechmooc course follow` and the web's follow button: the first fetches the target (WebFinger or
id) with no transaction open, the second records a pending `Following` row and enqueues a signed
`Follow` in the caller's transaction; the target's `Accept` (handled by the inbox) marks it
accepted. `accept_follower` is what our inbox does when someone follows one of our courses, runs
or groups: every follow is auto-accepted (no local actor approves followers).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.models import Follower, Following, RemoteActor
from federation.protocol.vocabulary import AS
from federation.transport import delivery
from federation.transport.fetch import cached_actor, prefetch
from federation.transport.keys import is_local
from server.floor.errors import Invalid


def activity_id(actor: str, kind: str) -> str:
    """A fresh, unguessable id for an activity `actor` sends."""
    return f"{actor}#{kind}-{secrets.token_hex(8)}"


def answer(session: Session, actor: str, kind: str, follow: dict[str, Any], follower: str) -> None:
    """Send `actor`'s Accept or Reject (`kind`) of the Follow `follow` to `follower`."""
    activity = {"@context": AS, "id": activity_id(actor, kind.lower()), "type": kind, "actor": actor, "object": follow}
    delivery.enqueue(session, activity, sender=actor, recipients=[follower])


def look_up(id_or_handle: str, refresh: bool = False) -> str:
    """Network, with no transaction open: the id of the remote actor named by id or @handle, cached.

    Call it before the transaction that follows (or forks) it: fetching inside a write transaction
    would hold SQLite's write lock while the remote server takes its time.
    """
    if is_local(id_or_handle):
        raise Invalid(f"{id_or_handle} is on this instance; follow or fork remote courses or actors only")
    return prefetch(id_or_handle, refresh=refresh)


def follow(session: Session, follower: str, actor_id: str) -> Following:
    """`follower` (a local actor id) follows the remote actor `actor_id`, looked up before (`look_up`); idempotent."""
    if not is_local(follower):
        raise Invalid(f"follower {follower} is not an actor of this instance")
    if is_local(actor_id):
        raise Invalid(f"{actor_id} is on this instance; follow remote courses or actors only")
    target = cached_actor(session, actor_id)
    return follow_actor(session, follower, target.ap_id)


def follow_actor(session: Session, follower: str, target: str | RemoteActor) -> Following:
    """Record a pending follow of actor `target` (id or cached actor) by local `follower`; enqueue the Follow."""
    target = target.ap_id if isinstance(target, RemoteActor) else target
    row = session.scalar(select(Following).where(Following.actor == follower, Following.target == target))
    if row is not None and row.state in {"pending", "accepted"}:
        return row
    if row is None:
        row = Following(actor=follower, target=target, follow_id=activity_id(follower, "follow"))
        session.add(row)
    else:
        row.follow_id, row.state = activity_id(follower, "follow"), "pending"
    session.flush()
    activity = {"@context": AS, "id": row.follow_id, "type": "Follow", "actor": follower, "object": target}
    delivery.enqueue(session, activity, sender=follower, recipients=[target])
    return row


def unfollow(session: Session, follower: str, target: str) -> bool:
    """Undo `follower`'s follow of `target`; False when it did not follow."""
    row = session.scalar(select(Following).where(Following.actor == follower, Following.target == target))
    if row is None:
        return False
    undo = {
        "@context": AS,
        "id": activity_id(follower, "undo"),
        "type": "Undo",
        "actor": follower,
        "object": {"id": row.follow_id, "type": "Follow", "actor": follower, "object": target},
    }
    delivery.enqueue(session, undo, sender=follower, recipients=[target])
    session.delete(row)
    session.flush()
    return True


def accept_follower(session: Session, local: str, follow_activity: dict[str, Any]) -> Follower:
    """Record the remote actor of `follow_activity` as a follower of `local` and send `Accept`."""
    follower_id = follow_activity["actor"]
    if isinstance(follower_id, dict):
        follower_id = follower_id.get("id")
    remote = cached_actor(session, str(follower_id))  # the inbox fetched it before the transaction
    row = session.scalar(select(Follower).where(Follower.actor == local, Follower.follower == remote.ap_id))
    if row is None:
        row = Follower(actor=local, follower=remote.ap_id)
        session.add(row)
    row.inbox, row.shared_inbox, row.follow_id = remote.inbox, remote.shared_inbox, follow_activity.get("id")
    session.flush()
    inner: dict[str, Any] = {k: follow_activity[k] for k in ("id", "type", "actor", "object") if k in follow_activity}
    answer(session, local, "Accept", inner, remote.ap_id)
    return row


def remove_follower(session: Session, local: str, follower: str) -> bool:
    """Forget that `follower` follows `local` (their Undo, or our removal); False if it did not."""
    row = session.scalar(select(Follower).where(Follower.actor == local, Follower.follower == follower))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def follower_count(session: Session, actor_id: str) -> int:
    """How many actors follow the local actor `actor_id`."""
    query = select(func.count()).select_from(Follower).where(Follower.actor == actor_id)
    return int(session.scalar(query) or 0)


def followers_of(session: Session, actor_id: str) -> list[str]:
    """The ids of the actors following local `actor_id`, oldest first."""
    return list(session.scalars(select(Follower.follower).where(Follower.actor == actor_id).order_by(Follower.id)))


def following_of(session: Session, actor_id: str) -> list[Following]:
    """The remote actors local `actor_id` follows or asked to follow."""
    return list(session.scalars(select(Following).where(Following.actor == actor_id).order_by(Following.id)))


def is_following(session: Session, actor_id: str, target: str) -> bool:
    """True when local `actor_id` follows `target` and the follow was accepted."""
    query = select(Following.id).where(
        Following.actor == actor_id, Following.target == target, Following.state == "accepted"
    )
    return session.scalar(query) is not None
