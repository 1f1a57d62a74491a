"""Posts by local people to the fediverse, and posts from the fediverse addressed to them.

The first steps of the coming community layer: `post_as` lets a local person write a Note to any
actors (a study group on another instance, a friend), stored as a `Post` and delivered signed;
`receive_personal` stores a Note addressed to a local person (a unit from a run elsewhere, a reply)
as a `Post` they can read, so a timeline can show both without a rewrite.
"""

from __future__ import annotations

import html
import json
from typing import Any

import nh3
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment, Post
from federation.flows.announce import iso
from federation.models import Delivery, RemoteActor
from federation.protocol.addressing import mention
from federation.protocol.vocabulary import AS, create_of
from federation.transport import delivery
from federation.transport.delivery import delivery_host
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound


def post_as(session: Session, handle: str, to: list[str], text: str, in_reply_to: str | None = None) -> Post:
    """Local person `handle` posts `text` to the actors `to`; the stored Post (its ap_id is the Note)."""
    account = session.scalar(select(Account).where(Account.handle == handle, Account.disabled.is_(False)))
    if account is None:
        raise NotFound(f"no local person with handle {handle!r}")
    if not text.strip():
        raise Invalid("the post's text is empty")
    if not to:
        raise Invalid("a post needs at least one recipient (an actor id)")
    author = urls.person(handle)
    handles = dict(
        session.execute(select(RemoteActor.ap_id, RemoteActor.handle).where(RemoteActor.ap_id.in_(to))).tuples().all()
    )
    content = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
    post = Post(
        kind="status",
        source="local",
        author_actor=author,
        author_name=account.display_name or handle,
        text=text,
        html=content,
        in_reply_to_ref=in_reply_to,
        visibility="direct",
        created_at=now(),
    )
    session.add(post)
    session.flush()
    post.ap_id = urls.post(post.id)
    note: dict[str, Any] = {
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": author,
        "content": content,
        "published": iso(post.created_at),
        "to": list(to),
        "cc": [],
        "tag": [mention(actor, handles.get(actor)) for actor in to],  # named @user@host (GoToSocial's namestring)
    }
    if in_reply_to:
        note["inReplyTo"] = in_reply_to
    # FEP-1b12: a post to a group names it as its audience too.
    groups = [actor for actor in to if "/groups/" in actor]
    if groups:
        note["audience"] = groups[0]
    create = create_of(note, author)
    delivery.enqueue(session, create, sender=author, recipients=list(to))
    return post


def local_people(session: Session, addressed: list[str]) -> list[str]:
    """The handles of the local people among the addressed ids."""
    prefix = urls.person("")
    handles = [a[len(prefix) :] for a in addressed if a.startswith(prefix) and "/" not in a[len(prefix) :]]
    if not handles:
        return []
    return list(session.scalars(select(Account.handle).where(Account.handle.in_(handles))))


def receive_personal(session: Session, create: dict[str, Any], author: str) -> Post | None:
    """Store a Note addressed to local people (once per Note id); None when already stored."""
    note = create.get("object")
    if not isinstance(note, dict) or not isinstance(note.get("id"), str):
        return None
    if session.scalar(select(Post.id).where(Post.ap_id == note["id"])) is not None:
        return None
    content = nh3.clean(str(note.get("content") or ""))
    post = Post(
        ap_id=note["id"],
        kind="direct",
        source="activitypub",
        author_actor=author,
        subject=str(note.get("name") or note.get("summary") or "")[:500],
        text=nh3.clean(content, tags=set()),
        html=content,
        in_reply_to_ref=note.get("inReplyTo") if isinstance(note.get("inReplyTo"), str) else None,
        visibility="direct",
        created_at=now(),
    )
    session.add(post)
    session.flush()
    return post


OPEN_VISIBILITIES = frozenset({"public", "unlisted"})


def is_public(post: Post) -> bool:
    """True when anyone may read the post: an announcement, or a public or unlisted post."""
    return post.kind == "announcement" or post.visibility in OPEN_VISIBILITIES


def readable_by(session: Session, post: Post, signer: str) -> bool:
    """True when the server of the verified `signer` may read the non-public `post`.

    A server that fetches a post cannot prove which of its accounts asked, so the test is per
    server: the post was delivered to it (one of its accounts is an addressee), or it hosts a
    member of the study group the post was written in. Everyone else gets the same 404 as for a
    post that does not exist.
    """
    host = delivery_host(signer)
    if host == delivery_host(urls.absolute("/")):
        return True  # our own actors
    if post.ap_id is not None:
        create = f"{post.ap_id}/activity"
        sent = select(Delivery.id).where(Delivery.activity_id == create, Delivery.host == host)
        if session.scalar(sent.limit(1)) is not None:
            return True
        if post.group_id is None and _to_remote_group(session, create):
            # A local person's post to a group elsewhere: that group announces it to members on
            # servers we never hear of, and those fetch it here; we cannot list them, so any
            # signed server may read it (a known limit, docs/security.md).
            return True
    if post.group_id is None:
        return False
    members = select(Enrollment.actor).where(
        Enrollment.group_id == post.group_id,
        Enrollment.status.in_(("confirmed", "paused")),
        Enrollment.actor.is_not(None),
    )
    return any(delivery_host(actor) == host for actor in session.scalars(members) if actor)


def _to_remote_group(session: Session, create_id: str) -> bool:
    """True when the Create we sent names a group as its Note's audience (FEP-1b12; see post_as)."""
    body = session.scalar(select(Delivery.body).where(Delivery.activity_id == create_id).limit(1))
    try:
        note = json.loads(body).get("object") if body else None
    except ValueError:
        return False
    return isinstance(note, dict) and isinstance(note.get("audience"), str)


def delivered_note(session: Session, post: Post) -> dict[str, Any] | None:
    """The Note of `post` exactly as we delivered it (its addressing and Mention), if we did."""
    body = session.scalar(select(Delivery.body).where(Delivery.activity_id == f"{post.ap_id}/activity").limit(1))
    try:
        note = json.loads(body).get("object") if body else None
    except ValueError:
        return None
    return note if isinstance(note, dict) and note.get("id") == post.ap_id else None


def note_document(post: Post) -> dict[str, Any]:
    """A stored local post as the Note its id names (what a server fetching a boosted post gets)."""
    public = is_public(post)
    note: dict[str, Any] = {
        "@context": AS,
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": post.author_actor,
        "content": post.html,
        "published": iso(post.created_at),
        "to": ["https://www.w3.org/ns/activitystreams#Public"] if public else [],
    }
    if post.in_reply_to_ref:
        note["inReplyTo"] = post.in_reply_to_ref
    return note
