"""Follows, blocks and moves between remote accounts and local people, in community's graph.

Runs after `follow.py`, `block.py` and `move.py` (module order), which keep federation's own
delivery rows (`Following`, `Follower`, `ActorBlock`); this module keeps the social graph. As in
Mastodon:
- `app/lib/activitypub/activity/follow.rb`, `Follow#perform`: a follow of a locked person is a
  request (`FollowRequest`), of anyone else accepted at once (`AuthorizeFollowService`: `Accept`);
  blocked: `Reject`;
- `accept.rb` / `reject.rb`: only the followed account answers our follow (by its id, or the
  embedded Follow's actor and object);
- `block.rb`, `Block#perform`: follows end both ways, the block is kept; `undo.rb`: `#undo_follow`,
  `#undo_block`;
- `move.rb`, `Move#perform`: the target must name the origin in `alsoKnownAs`; local followers of
  the origin follow the target instead (`MoveWorker`).
"""

from __future__ import annotations

from sqlalchemy import select

from community import graph
from community import people as community_people
from community.models import Follow, Profile
from federation.entry.handlers import Inbound, activity_type, handles, object_id
from federation.entry.handlers.statuses import author_profile
from federation.flows import follows
from federation.flows.actors import local_actor
from federation.flows.graph_out import follow_ref, send_accept
from federation.flows.people import profile_from_cache
from federation.transport.fetch import NotCached
from federation.transport.keys import is_local
from federation.transport.moderation import blocks
from server.floor.errors import Invalid, MechMoocError


def local_person(inbound: Inbound, actor_id: str | None) -> Profile | None:
    """The community profile of the local person `actor_id` names (made on first use)."""
    local = local_actor(inbound.session, actor_id) if actor_id else None
    if local is None or local.kind != "person":
        return None
    return community_people.local_profile(inbound.session, local.row)


def _reject(inbound: Inbound, local: Profile) -> None:
    follow = follow_ref(inbound.activity.get("id"), inbound.actor, local.uri)
    follows.answer(inbound.session, local.uri, "Reject", follow, inbound.actor)


@handles("Follow")
def followed(inbound: Inbound) -> str | None:
    """A remote account follows a local person: accepted (Accept sent), a request (locked), or rejected."""
    local = local_person(inbound, inbound.object_id)
    if local is None:
        return None
    follower = author_profile(inbound, people_only=False)
    if follower is None:
        return f"follow of {local.acct} not kept: its actor could not be fetched"
    if blocks(inbound.session, local.uri, inbound.actor):
        _reject(inbound, local)
        return f"rejected follow of {local.acct}: blocked"
    activity_ref = inbound.activity.get("id")
    try:
        row = graph.follow(
            inbound.session, follower, local, uri=activity_ref if isinstance(activity_ref, str) else None
        )
    except MechMoocError as error:
        _reject(inbound, local)
        return f"rejected follow of {local.acct}: {error}"
    if not row.accepted:
        return f"follow request from {follower.acct} to {local.acct}"
    send_accept(inbound.session, row, local, follower)
    return f"{follower.acct} follows {local.acct} (accepted)"


def _our_follow(inbound: Inbound) -> Follow | None:
    inner, session = inbound.object, inbound.session
    target = session.scalar(select(Profile).where(Profile.uri == inbound.actor, Profile.domain.is_not(None)))
    if target is None:
        return None
    inner_id = object_id(inner)
    row = (
        session.scalar(select(Follow).where(Follow.uri == inner_id, Follow.target_id == target.id))
        if inner_id
        else None
    )
    if row is None and isinstance(inner, dict) and activity_type(inner) == "Follow":
        follower = session.scalar(
            select(Profile).where(Profile.uri == object_id(inner.get("actor")), Profile.domain.is_(None))
        )
        row = graph.get_follow(session, follower.id, target.id) if follower is not None else None
    return row


@handles("Accept", "Reject")
def answered(inbound: Inbound) -> str | None:
    """The account a local person asked to follow accepted (or rejected, or later removed them)."""
    row = _our_follow(inbound)
    if row is None:
        return None
    if inbound.type == "Accept":
        graph.accept(inbound.session, row)
        return f"follow {row.id} accepted"
    graph.reject(inbound.session, row)
    return "follow rejected"


@handles("Block")
def blocked(inbound: Inbound) -> str | None:
    """A remote account blocks a local person: follows end both ways, the block is kept."""
    local = local_person(inbound, inbound.object_id)
    blocker = author_profile(inbound, people_only=False) if local is not None else None
    if local is None or blocker is None:
        return None
    activity_ref = inbound.activity.get("id")
    graph.block(inbound.session, blocker, local, uri=activity_ref if isinstance(activity_ref, str) else None)
    return f"{blocker.acct} blocks {local.acct}"


@handles("Undo")
def undone(inbound: Inbound) -> str | None:
    """Undo of a Follow or a Block of a local person."""
    inner = inbound.object
    if not isinstance(inner, dict) or activity_type(inner) not in {"Follow", "Block"}:
        return None
    if object_id(inner.get("actor")) not in (None, inbound.actor):
        return None
    local = local_person(inbound, object_id(inner.get("object")))
    profile = inbound.session.scalar(select(Profile).where(Profile.uri == inbound.actor, Profile.domain.is_not(None)))
    if local is None or profile is None:
        return None
    if activity_type(inner) == "Follow":
        return f"{profile.acct} unfollowed {local.acct}" if graph.unfollow(inbound.session, profile, local) else None
    return f"{profile.acct} unblocked {local.acct}" if graph.unblock(inbound.session, profile, local) else None


def _move_target(inbound: Inbound, target_id: str) -> Profile | None:
    """The profile moved to: one of our people (their own alsoKnownAs), or a remote account as
    fetched again before the transaction (move.py's `@needs`)."""
    if is_local(target_id):
        return local_person(inbound, target_id)
    document = inbound.fetched_document(target_id)
    if isinstance(document, str):
        return None  # move.py reports the fetch failure (and retries)
    try:
        return profile_from_cache(inbound.session, str(document["id"]))
    except (NotCached, Invalid, KeyError):
        return None


@handles("Move")
def moved(inbound: Inbound) -> str | None:
    """A followed account moved: local people follow the target instead, once it names the origin."""
    target_id = object_id(inbound.activity.get("target"))
    if inbound.object_id != inbound.actor or not target_id:
        return None
    session = inbound.session
    origin = session.scalar(select(Profile).where(Profile.uri == inbound.actor, Profile.domain.is_not(None)))
    if origin is None:
        return None
    target = _move_target(inbound, target_id)
    if target is None:
        return f"move to {target_id} ignored: no such person here" if is_local(target_id) else None
    if inbound.actor not in (target.also_known_as or []):
        return f"move to {target.acct} ignored: its alsoKnownAs does not name {inbound.actor}"
    origin.moved_to_id = target.id
    followers = (
        select(Follow)
        .join(Profile, Profile.id == Follow.profile_id)
        .where(Follow.target_id == origin.id, Profile.domain.is_(None))
    )
    moved = 0
    for row in list(session.scalars(followers)):
        follower = session.get(Profile, row.profile_id)
        if follower is None:
            continue
        graph.unfollow(session, follower, origin)
        try:
            graph.follow(session, follower, target)
        except MechMoocError:
            continue  # a block in the way
        moved += 1
    return f"{moved} local person(s) now follow {target.acct}"
