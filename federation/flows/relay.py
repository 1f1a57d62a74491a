"""Every post of a study group reaches each of its fediverse members as a note written for them.

`post.created` (a post that came by email, from the web, or from a fediverse member): the course
sends each other fediverse member of the group a copy, addressed to them alone with a `Mention`
(`federation.protocol.addressing.personal_note`: why that shape is the one Mastodon, Lemmy,
GoToSocial and Misskey all keep and show unfiltered). A copy's id is
`/posts/{post}/to/{enrollment}`: one per member, so that one server holding several members keeps
one note per member (a server stores a note id once). Replying to a copy, to a unit or to a
member's own post is posting to the group (`federation.entry.handlers.replies`).

`post.updated` / `post.deleted`: the copies already delivered get an `Update` / a `Delete`, and any
group `Announce` sent by an earlier version of this code is undone.
"""

from __future__ import annotations

import html
import json
from typing import Any

import nh3
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.closing import is_closed_by_organizer
from courses.models import Enrollment, Post, StudyGroup
from federation.flows.announce import iso
from federation.flows.cohorts import members
from federation.flows.copies import copy_id, copy_of
from federation.flows.follows import activity_id
from federation.models import Delivery, RemoteActor
from federation.protocol.addressing import personal_note
from federation.protocol.vocabulary import AS, create_of
from federation.transport import delivery
from server.floor import urls
from server.floor.clock import now


def _handles(session: Session, actors: list[str]) -> dict[str, str | None]:
    rows = session.execute(select(RemoteActor.ap_id, RemoteActor.handle).where(RemoteActor.ap_id.in_(actors)))
    return dict(rows.tuples().all())


def _body(post: Post, group: StudyGroup) -> str:
    """The copy's text: who wrote, in which group, the post, and how to answer."""
    author = html.escape(post.author_name or "A member")
    if post.author_actor and post.source == "activitypub":
        author = f'<a href="{html.escape(post.author_actor)}">{author}</a>'
    subject = f": {html.escape(post.subject)}" if post.subject else ""
    text = post.html or "".join(f"<p>{html.escape(p)}</p>" for p in post.text.split("\n\n") if p.strip())
    where = html.escape(group.name or group.handle)
    return nh3.clean(
        f"<p><strong>{author}</strong> wrote in your study group {where}{subject}</p>{text}"
        "<p>Reply to this post to answer everyone in the group.</p>"
    )


def _parent_ref(session: Session, post: Post, member: Enrollment) -> str | None:
    """What the member's copy replies to: their own post, or their copy of the parent post."""
    parent = session.get(Post, post.in_reply_to_id) if post.in_reply_to_id else None
    if parent is None or parent.kind != "group":
        return None
    if parent.author_actor == member.actor:
        return parent.ap_id
    return copy_id(parent, member)


def copy_note(
    session: Session, post: Post, group: StudyGroup, member: Enrollment, handle: str | None
) -> dict[str, Any]:
    """The Note carrying `post` to the fediverse member `member` (sent by the course)."""
    assert member.actor is not None
    return personal_note(
        note_id=copy_id(post, member),
        sender=urls.course(group.run.course.slug),
        recipient=member.actor,
        handle=handle,
        content=_body(post, group),
        published=iso(post.created_at),
        in_reply_to=_parent_ref(session, post, member),
        url=urls.group(group.handle),
    )


def on_post_created(session: Session, payload: dict[str, Any]) -> None:
    """Send a copy of a new group post to each fediverse member but its author."""
    post = session.get(Post, payload["post_id"])
    if post is None or post.group_id is None or post.held or post.deleted or post.kind != "group":
        return
    group = session.get(StudyGroup, post.group_id)
    if group is None or is_closed_by_organizer(group):
        return  # a closed group relays nothing (courses.closing), however the post got in
    if not post.ap_id:
        post.ap_id = urls.post(post.id)  # the post's own id, for the archive and email replies
    targets = [m for m in members(session, group) if m.actor and m.actor != post.author_actor]
    handles = _handles(session, [m.actor for m in targets if m.actor])
    sender = urls.course(group.run.course.slug)
    for member in targets:
        note = copy_note(session, post, group, member, handles.get(member.actor or ""))
        delivery.enqueue(session, create_of(note, sender, cc=note["cc"]), sender=sender, recipients=note["to"])


def _sent_copies(session: Session, post: Post) -> list[tuple[Enrollment, str]]:
    """(member, sender) of every copy of `post` that was delivered (or is waiting to be)."""
    prefix = urls.absolute(f"/posts/{post.id}/to/")
    query = select(Delivery.activity_id, Delivery.sender).where(
        Delivery.activity_id.startswith(prefix, autoescape=True)
    )
    found: dict[int, str] = {}
    for activity, sender in session.execute(query).tuples():
        copy = copy_of(activity.removesuffix("/activity"))
        if copy is not None and activity.endswith("/activity"):
            found[copy[1]] = sender
    rows: list[Enrollment] = list(session.scalars(select(Enrollment).where(Enrollment.id.in_(found)))) if found else []
    return [(member, found[member.id]) for member in rows if member.actor]


def on_post_updated(session: Session, payload: dict[str, Any]) -> None:
    """Send an `Update` of each delivered copy of an edited post."""
    post = session.get(Post, payload["post_id"])
    group = session.get(StudyGroup, post.group_id) if post is not None and post.group_id else None
    if post is None or group is None or post.deleted:
        return
    copies = _sent_copies(session, post)
    handles = _handles(session, [m.actor for m, _ in copies if m.actor])
    for member, sender in copies:
        note = copy_note(session, post, group, member, handles.get(member.actor or ""))
        note["updated"] = iso(now())
        update = {"@context": AS, "id": activity_id(note["id"], "update"), "type": "Update", "actor": sender,
                  "to": note["to"], "cc": note["cc"], "object": note}  # fmt: skip
        delivery.enqueue(session, update, sender=sender, recipients=note["to"])


def on_post_deleted(session: Session, payload: dict[str, Any]) -> None:
    """Send a `Delete` of each delivered copy of a deleted post; undo the group's earlier boosts of it."""
    post = session.get(Post, payload["post_id"])
    if post is None or post.group_id is None:
        return
    for member, sender in _sent_copies(session, post):
        assert member.actor is not None
        target = copy_id(post, member)
        delete = {"@context": AS, "id": f"{target}#delete", "type": "Delete", "actor": sender, "to": [member.actor],
                  "object": {"id": target, "type": "Tombstone"}}  # fmt: skip
        delivery.enqueue(session, delete, sender=sender, recipients=[member.actor])
    group = session.get(StudyGroup, post.group_id)
    if group is not None and post.ap_id:
        _undo_group_activities(session, post, urls.group(group.handle))


def _undo_group_activities(session: Session, post: Post, group_id: str) -> None:
    """Announces (FEP-1b12) and Creates of `post` that the group itself sent before copies existed."""
    sent = session.execute(
        select(Delivery.activity_id, Delivery.body).where(Delivery.sender == group_id).order_by(Delivery.id)
    )
    done: set[str] = set()
    for activity_ref, body in sent.tuples():
        if activity_ref in done:
            continue
        done.add(activity_ref)
        activity = json.loads(body)
        inner = activity.get("object")
        inner_id = inner.get("id") if isinstance(inner, dict) else inner
        carried = inner.get("object") if isinstance(inner, dict) else None
        carried_id = carried.get("id") if isinstance(carried, dict) else carried
        recipients = [r for r in activity.get("to", []) if isinstance(r, str) and not r.endswith("/followers")]
        if activity.get("type") == "Announce" and post.ap_id in (inner_id, carried_id):
            undo = {"@context": AS, "id": f"{activity_ref}#undo", "type": "Undo", "actor": group_id,
                    "to": recipients, "object": {k: activity[k] for k in ("id", "type", "actor", "object")}}  # fmt: skip
            delivery.enqueue(session, undo, sender=group_id, recipients=recipients)
        elif activity.get("type") == "Create" and inner_id == post.ap_id:
            delete = {"@context": AS, "id": f"{post.ap_id}#delete", "type": "Delete", "actor": group_id,
                      "to": recipients, "object": {"id": post.ap_id, "type": "Tombstone"}}  # fmt: skip
            delivery.enqueue(session, delete, sender=group_id, recipients=recipients)
