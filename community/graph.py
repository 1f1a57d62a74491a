"""Who follows, blocks and mutes whom, with Mastodon's rules: a locked or remote target makes a
follow a request until it is accepted; a block ends follows both ways; counts on profiles move
only with accepted follows. A course, run or group profile is followed like anyone else."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from community import fanout
from community.access import blocked_between
from community.models import Block, Follow, Mute, Notification, Profile
from community.notifications import notify
from community.people import bump
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound, PermissionDenied
from server.floor.events import publish


def get_follow(session: Session, profile_id: int, target_id: int) -> Follow | None:
    """The follow (accepted or requested) of `target_id` by `profile_id`."""
    return session.scalar(select(Follow).where(Follow.profile_id == profile_id, Follow.target_id == target_id))


def follow(
    session: Session,
    profile: Profile,
    target: Profile,
    *,
    uri: str | None = None,
    show_reblogs: bool | None = None,
    notify_posts: bool | None = None,
) -> Follow:
    """`profile` follows `target`: accepted at once when the target is a local unlocked profile,
    else a request (`accepted` False) until `accept`. Following again changes only the options.
    Publishes `follow.created`; tells a local target (follow or follow_request)."""
    if profile.id == target.id:
        raise Invalid("account: you cannot follow yourself")
    if target.suspended_at is not None or target.deleted_at is not None:
        raise NotFound(f"account {target.acct} is not available")
    if blocked_between(session, profile.id, target.id):
        raise PermissionDenied(f"account {target.acct} cannot be followed (a block is in the way)")
    existing = get_follow(session, profile.id, target.id)
    if existing is not None:
        if show_reblogs is not None:
            existing.show_reblogs = show_reblogs
        if notify_posts is not None:
            existing.notify = notify_posts
        if uri and not existing.uri:
            existing.uri = uri
        session.flush()
        return existing
    accepted = target.domain is None and not target.locked
    row = Follow(
        profile_id=profile.id,
        target_id=target.id,
        accepted=accepted,
        uri=uri,
        show_reblogs=True if show_reblogs is None else show_reblogs,
        notify=bool(notify_posts),
        created_at=now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same follow, made at the same moment
        again = get_follow(session, profile.id, target.id)
        if again is None:
            raise
        return again
    if accepted:
        _counted(session, row, +1)
        fanout.merge(session, profile.id, target.id)
    notify(session, target, "follow" if accepted else "follow_request", from_profile_id=profile.id)
    publish(session, "follow.created", {"follow_id": row.id})
    return row


def _counted(session: Session, row: Follow, delta: int) -> None:
    bump(session, row.profile_id, following_count=delta)
    bump(session, row.target_id, followers_count=delta)


def _drop_request_notice(session: Session, row: Follow) -> None:
    """The target's `follow_request` notification about this follow, once it is decided or ended."""
    session.execute(
        delete(Notification)
        .where(
            Notification.profile_id == row.target_id,
            Notification.type == "follow_request",
            Notification.from_profile_id == row.profile_id,
        )
        .execution_options(synchronize_session=False)
    )


def accept(session: Session, row: Follow) -> Follow:
    """The target accepts a follow request (a no-op for an accepted follow). Publishes `follow.accepted`."""
    if row.accepted:
        return row
    row.accepted = True
    session.flush()
    _counted(session, row, +1)
    fanout.merge(session, row.profile_id, row.target_id)
    _drop_request_notice(session, row)
    notify(session, row.target_id, "follow", from_profile_id=row.profile_id)
    publish(session, "follow.accepted", {"follow_id": row.id})
    return row


def _end(session: Session, row: Follow, event: str) -> None:
    payload: dict[str, Any] = {"profile_id": row.profile_id, "target_id": row.target_id, "uri": row.uri}
    if row.accepted:
        _counted(session, row, -1)
    fanout.unmerge(session, row.profile_id, row.target_id)
    _drop_request_notice(session, row)
    session.delete(row)
    session.flush()
    publish(session, event, payload)


def reject(session: Session, row: Follow) -> None:
    """The target refuses a follow request (or an accepted follow). Publishes `follow.rejected`."""
    _end(session, row, "follow.rejected")


def unfollow(session: Session, profile: Profile, target: Profile) -> bool:
    """`profile` stops following `target` (or withdraws its request); False when it did not.
    Publishes `follow.deleted`; the target's statuses leave the profile's home feed."""
    row = get_follow(session, profile.id, target.id)
    if row is None:
        return False
    _end(session, row, "follow.deleted")
    return True


def remove_follower(session: Session, profile: Profile, follower: Profile) -> bool:
    """`profile` removes `follower` (Mastodon's "remove from followers", federated as a Reject)."""
    row = get_follow(session, follower.id, profile.id)
    if row is None:
        return False
    _end(session, row, "follow.rejected")
    return True


def block(session: Session, profile: Profile, target: Profile, *, uri: str | None = None) -> Block:
    """`profile` blocks `target`: follows both ways end, each other's statuses leave their feeds,
    the target's notifications to the profile go. Publishes `block.created`."""
    if profile.id == target.id:
        raise Invalid("account: you cannot block yourself")
    existing = session.scalar(select(Block).where(Block.profile_id == profile.id, Block.target_id == target.id))
    if existing is not None:
        return existing
    for follower, followed in ((profile, target), (target, profile)):
        row = get_follow(session, follower.id, followed.id)
        if row is not None:
            _end(session, row, "follow.deleted")
    fanout.unmerge(session, profile.id, target.id)
    fanout.unmerge(session, target.id, profile.id)
    session.execute(
        delete(Notification)
        .where(Notification.profile_id == profile.id, Notification.from_profile_id == target.id)
        .execution_options(synchronize_session=False)
    )
    row_block = Block(profile_id=profile.id, target_id=target.id, uri=uri, created_at=now())
    session.add(row_block)
    session.flush()
    publish(session, "block.created", {"block_id": row_block.id})
    return row_block


def unblock(session: Session, profile: Profile, target: Profile) -> bool:
    """`profile` lifts its block of `target`; False when there was none. Publishes `block.deleted`."""
    row = session.scalar(select(Block).where(Block.profile_id == profile.id, Block.target_id == target.id))
    if row is None:
        return False
    payload = {"profile_id": profile.id, "target_id": target.id, "uri": row.uri}
    session.delete(row)
    session.flush()
    publish(session, "block.deleted", payload)
    return True


def mute(session: Session, profile: Profile, target: Profile, *, notifications: bool = True) -> Mute:
    """`profile` mutes `target` (their statuses leave timelines; their notifications too unless
    `notifications` is False). Nobody else is told."""
    if profile.id == target.id:
        raise Invalid("account: you cannot mute yourself")
    row = session.scalar(select(Mute).where(Mute.profile_id == profile.id, Mute.target_id == target.id))
    if row is None:
        row = Mute(profile_id=profile.id, target_id=target.id, created_at=now())
        session.add(row)
    row.notifications = notifications
    session.flush()
    return row


def unmute(session: Session, profile: Profile, target: Profile) -> bool:
    """`profile` unmutes `target`; False when it was not muted."""
    row = session.scalar(select(Mute).where(Mute.profile_id == profile.id, Mute.target_id == target.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def relationships(session: Session, profile: Profile, targets: Iterable[Profile]) -> list[dict[str, Any]]:
    """Mastodon's Relationship entities of `profile` with each target (a fixed number of queries)."""
    people = list(targets)
    ids = [t.id for t in people]
    if not ids:
        return []
    out_follows = {
        f.target_id: f
        for f in session.scalars(select(Follow).where(Follow.profile_id == profile.id, Follow.target_id.in_(ids)))
    }
    in_follows = {
        f.profile_id: f
        for f in session.scalars(select(Follow).where(Follow.target_id == profile.id, Follow.profile_id.in_(ids)))
    }
    blocking = set(
        session.scalars(select(Block.target_id).where(Block.profile_id == profile.id, Block.target_id.in_(ids)))
    )
    blocked_by = set(
        session.scalars(select(Block.profile_id).where(Block.target_id == profile.id, Block.profile_id.in_(ids)))
    )
    muted = {
        m.target_id: m
        for m in session.scalars(select(Mute).where(Mute.profile_id == profile.id, Mute.target_id.in_(ids)))
    }
    result = []
    for target in people:
        out, inbound, mute_row = out_follows.get(target.id), in_follows.get(target.id), muted.get(target.id)
        result.append(
            {
                "id": str(target.id),
                "following": bool(out and out.accepted),
                "showing_reblogs": bool(out and out.accepted and out.show_reblogs),
                "notifying": bool(out and out.accepted and out.notify),
                "languages": None,
                "followed_by": bool(inbound and inbound.accepted),
                "blocking": target.id in blocking,
                "blocked_by": target.id in blocked_by,
                "muting": mute_row is not None,
                "muting_notifications": bool(mute_row and mute_row.notifications),
                "requested": bool(out and not out.accepted),
                "requested_by": bool(inbound and not inbound.accepted),
                "domain_blocking": False,
                "endorsed": False,
                "note": "",
            }
        )
    return result


def relationship(session: Session, profile: Profile, target: Profile) -> dict[str, Any]:
    """Mastodon's Relationship of `profile` with `target`."""
    return relationships(session, profile, [target])[0]


def follow_requests(session: Session, profile: Profile, limit: int = 40) -> list[Follow]:
    """Pending requests to follow `profile`, oldest first."""
    query = select(Follow).where(Follow.target_id == profile.id, Follow.accepted.is_(False))
    return list(session.scalars(query.order_by(Follow.id).limit(limit)))
