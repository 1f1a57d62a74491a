"""Delete of an actor (forget it: follows, cache, its posts) or of one of its posts."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from courses.models import Post
from courses.posts import delete_post as delete_post_row
from federation.entry.handlers import Inbound, changed, handles
from federation.models import Follower, Following, RemoteActor


@handles("Delete")
def delete_actor(inbound: Inbound) -> str | None:
    """The actor deleted itself: drop its follows and cache row, hide its posts."""
    if inbound.object_id != inbound.actor:
        return None
    session, actor = inbound.session, inbound.actor
    session.execute(delete(Follower).where(Follower.follower == actor))
    session.execute(delete(Following).where(Following.target == actor))
    session.execute(delete(RemoteActor).where(RemoteActor.ap_id == actor))
    hidden = changed(session, update(Post).where(Post.author_actor == actor).values(deleted=True, text="", html=""))
    return f"forgot {actor} ({hidden} posts hidden)"


@handles("Delete")
def delete_post(inbound: Inbound) -> str | None:
    """The author deleted a post we keep: hide it (only its author may); copies sent to members go too."""
    target = inbound.object_id
    if not target or target == inbound.actor:
        return None
    query = select(Post).where(
        Post.ap_id == target, Post.author_actor == inbound.actor, Post.deleted.is_(False), Post.kind != "status"
    )  # a person's status: statuses.status_or_person_deleted (community's delete)
    # courses.posts publishes post.deleted: federation.flows.relay deletes the members' copies.
    hidden = [post for post in inbound.session.scalars(query) if delete_post_row(inbound.session, post, by="author")]
    return f"deleted post {target}" if hidden else None
