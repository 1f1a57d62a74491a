"""Who follows and blocks whom, profiles, moves and reports, sent to other servers (community's events).

Follows of people keep two records: community's `Follow` (the social graph) and, for delivery,
federation's own rows — `Following` for a local person's follow of a remote actor (its `Accept`
is matched by the Follow's id, `federation.entry.handlers.follow.answered`), `Follower` for a
remote follower of a local person (the person's followers collection expands to its inboxes,
`federation.transport.delivery`). As in Mastodon (`app/lib/activitypub/activity/follow.rb`,
`Follow#perform`), a follow of a locked person is a request until approved, then `Accept`ed;
removing a follower or rejecting a request is a `Reject` (`RejectFollowService`,
`RemoveFromFollowersService`); blocking is a `Block` (`BlockService`), a move a `Move` to the
followers (`MoveWorker` on the receiving side), a forwarded report a `Flag` from the instance actor
(`ReportService#forward_to_origin!`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from community.models import Block, Follow, Profile, Report, Status
from federation.flows import follows
from federation.flows.actors import actor_document
from federation.flows.status_notes import actor_uri, status_uri
from federation.flows.status_out import local_person
from federation.models import Follower, Following, RemoteActor
from federation.protocol.statuses import PUBLIC, wrap
from federation.protocol.vocabulary import AS
from federation.transport import delivery
from server.floor import urls


def _remote(session: Session, profile_id: int | None) -> Profile | None:
    profile = session.get(Profile, profile_id) if profile_id is not None else None
    return profile if profile is not None and profile.domain is not None else None


def follow_ref(follow_id: str | None, follower: str, target: str) -> dict[str, Any]:
    """The Follow an Accept/Reject/Undo names: its id when known, and who followed whom."""
    found: dict[str, Any] = {"type": "Follow", "actor": follower, "object": target}
    if follow_id:
        found["id"] = follow_id
    return found


def record_follower(session: Session, local: str, remote: Profile, follow_id: str | None) -> None:
    """Make `remote` a delivery follower of local actor `local` (its inbox from the cache or profile)."""
    cached = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == remote.uri))
    inbox = cached.inbox if cached is not None else remote.inbox_url or ""
    shared = cached.shared_inbox if cached is not None else remote.shared_inbox_url
    row = session.scalar(select(Follower).where(Follower.actor == local, Follower.follower == remote.uri))
    if row is None:
        row = Follower(actor=local, follower=remote.uri)
        session.add(row)
    row.inbox, row.shared_inbox, row.follow_id = inbox, shared, follow_id
    session.flush()


def send_accept(session: Session, follow: Follow, local: Profile, remote: Profile) -> None:
    """Accept a remote follow of a local person (and start delivering to them)."""
    actor = actor_uri(local)
    record_follower(session, actor, remote, follow.uri)
    follows.answer(session, actor, "Accept", follow_ref(follow.uri, remote.uri, actor), remote.uri)


def on_follow_created(session: Session, payload: dict[str, Any]) -> None:
    """A local person follows a remote actor: Follow (a pending Following until its Accept)."""
    follow = session.get(Follow, payload["follow_id"])
    if follow is None:
        return
    local, remote = local_person(session, follow.profile_id), _remote(session, follow.target_id)
    if local is None or remote is None:
        return  # a remote follower's Follow is answered by the inbox handler itself
    row = follows.follow_actor(session, actor_uri(local), remote.uri)
    follow.uri = follow.uri or row.follow_id


def on_follow_accepted(session: Session, payload: dict[str, Any]) -> None:
    """A local person approved a remote follow request: Accept."""
    follow = session.get(Follow, payload["follow_id"])
    if follow is None:
        return
    local, remote = local_person(session, follow.target_id), _remote(session, follow.profile_id)
    if local is not None and remote is not None:
        send_accept(session, follow, local, remote)


def on_follow_ended(session: Session, payload: dict[str, Any]) -> None:
    """`follow.deleted` / `follow.rejected`: a local person unfollows a remote one (Undo Follow), or
    rejects or removes a remote follower (Reject)."""
    follower_id, target_id, uri = payload.get("profile_id"), payload.get("target_id"), payload.get("uri")
    local_follower, remote_target = local_person(session, follower_id), _remote(session, target_id)
    if local_follower is not None and remote_target is not None:
        actor = actor_uri(local_follower)
        row = session.scalar(select(Following).where(Following.actor == actor, Following.target == remote_target.uri))
        if row is not None and payload.get("_event") == "follow.rejected":
            session.delete(row)  # they rejected (or removed) us: nothing to tell them
        elif row is not None:
            follows.unfollow(session, actor, remote_target.uri)  # Undo of our Follow
        return  # no row: never sent, or already undone (a Block or Move the inbox applied)
    local_target, remote_follower = local_person(session, target_id), _remote(session, follower_id)
    if local_target is None or remote_follower is None:
        return
    actor = actor_uri(local_target)
    follower = session.scalar(select(Follower).where(Follower.actor == actor, Follower.follower == remote_follower.uri))
    if follower is None and payload.get("_event") == "follow.deleted":
        return  # they undid their follow themselves (the inbox forgot the row first): nothing to answer
    if follower is not None:
        session.delete(follower)
    inner = follow_ref(uri or (follower.follow_id if follower is not None else None), remote_follower.uri, actor)
    follows.answer(session, actor, "Reject", inner, remote_follower.uri)


def on_follow_deleted(session: Session, payload: dict[str, Any]) -> None:
    """`follow.deleted`."""
    on_follow_ended(session, {**payload, "_event": "follow.deleted"})


def on_follow_rejected(session: Session, payload: dict[str, Any]) -> None:
    """`follow.rejected`."""
    on_follow_ended(session, {**payload, "_event": "follow.rejected"})


def on_block_created(session: Session, payload: dict[str, Any]) -> None:
    """A local person blocks a remote one: Block (they stop following each other, as BlockService does)."""
    block = session.get(Block, payload["block_id"])
    if block is None:
        return
    local, remote = local_person(session, block.profile_id), _remote(session, block.target_id)
    if local is None or remote is None:
        return
    actor = actor_uri(local)
    block.uri = block.uri or follows.activity_id(actor, "block")
    session.execute(delete(Follower).where(Follower.actor == actor, Follower.follower == remote.uri))
    activity = {"@context": AS, "id": block.uri, "type": "Block", "actor": actor, "object": remote.uri}
    delivery.enqueue(session, activity, sender=actor, recipients=[remote.uri])


def on_block_deleted(session: Session, payload: dict[str, Any]) -> None:
    """A local person lifts a block: Undo of the Block."""
    local, remote = local_person(session, payload.get("profile_id")), _remote(session, payload.get("target_id"))
    if local is None or remote is None:
        return
    actor = actor_uri(local)
    inner: dict[str, Any] = {"type": "Block", "actor": actor, "object": remote.uri}
    if payload.get("uri"):
        inner["id"] = payload["uri"]
    undo = {"@context": AS, "id": follows.activity_id(actor, "undo"), "type": "Undo", "actor": actor, "object": inner}
    delivery.enqueue(session, undo, sender=actor, recipients=[remote.uri])


def on_profile_updated(session: Session, payload: dict[str, Any]) -> None:
    """A local person changed their profile: Update of the actor to their followers."""
    local = local_person(session, payload.get("profile_id"))
    document = actor_document(session, actor_uri(local)) if local is not None else None
    if local is None or document is None:
        return
    actor = actor_uri(local)
    document.pop("@context", None)
    stamp = (local.fetched_at or local.created_at).strftime("%Y%m%d%H%M%S")
    update = wrap(
        "Update", follows.activity_id(actor, f"update-{stamp}"), actor, document, [PUBLIC], [f"{actor}/followers"]
    )
    delivery.enqueue(session, update, sender=actor, recipients=[f"{actor}/followers"])


def on_profile_moved(session: Session, payload: dict[str, Any]) -> None:
    """A local person moved to another account: Move to their followers (they follow the target)."""
    local, target = local_person(session, payload.get("profile_id")), session.get(Profile, payload.get("target_id"))
    if local is None or target is None:
        return
    actor = actor_uri(local)
    move = {"@context": AS, "id": follows.activity_id(actor, "move"), "type": "Move", "actor": actor,
            "object": actor, "target": actor_uri(target)}  # fmt: skip
    delivery.enqueue(session, move, sender=actor, recipients=[f"{actor}/followers"])


def on_report_created(session: Session, payload: dict[str, Any]) -> None:
    """A report a local person asked to forward: Flag to the reported account's server, from the instance."""
    report = session.get(Report, payload["report_id"])
    target = _remote(session, report.target_id) if report is not None else None
    if report is None or target is None or not report.forward or report.uri:
        return
    sender = urls.instance_actor()
    statuses = [status_uri(s) for s in session.scalars(select(Status).where(Status.id.in_(report.status_ids or [])))]
    flag = {"@context": AS, "id": follows.activity_id(sender, "flag"), "type": "Flag", "actor": sender,
            "object": [target.uri, *statuses], "content": report.comment}  # fmt: skip
    delivery.enqueue(session, flag, sender=sender, recipients=[target.uri])
