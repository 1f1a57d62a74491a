"""Notes addressed to local people (units from runs elsewhere, replies, group boosts) are kept as their posts."""

from __future__ import annotations

from sqlalchemy import select

from community.models import Status
from federation.entry.handlers import Inbound, Needs, activity_type, handles, needs, object_id
from federation.flows.cohorts import addressed, group_for
from federation.flows.people import profile_from_cache, store_note
from federation.flows.posting import local_people, receive_personal
from federation.models import RemoteActor
from federation.protocol.statuses import read_note
from federation.transport.fetch import NotCached, same_origin
from server.floor.errors import Invalid


@handles("Create")
def note_to_person(inbound: Inbound) -> str | None:
    """Store a Note addressed to a local person (not to a study group: group_posts handles those)."""
    if activity_type(inbound.object) not in {"Note", "Article", "Page"}:
        return None
    recipients = addressed(inbound.activity, inbound.recipient)
    if group_for(inbound.session, recipients) is not None:
        return None
    people = local_people(inbound.session, recipients)
    if not people or _from_a_person(inbound):
        return None  # a person's note is a community status (statuses.status_created)
    kept = _as_status(inbound)
    if isinstance(kept, str):
        return kept
    post = receive_personal(inbound.session, inbound.activity, inbound.actor)  # its author is not cached
    return f"post {post.id} for {', '.join(people)}" if post else "already stored"


def _as_status(inbound: Inbound) -> str | None:
    """Keep the note as a community status of its author (a course elsewhere): a direct status
    that mentions them, in their notifications and timelines; None when the author is not cached."""
    try:
        author = profile_from_cache(inbound.session, inbound.actor)
    except (NotCached, Invalid):
        return None
    note = inbound.object
    if inbound.session.scalar(select(Status.id).where(Status.ap_id == object_id(note))) is not None:
        return "already stored"
    try:
        read = read_note({**{k: inbound.activity[k] for k in ("to", "cc") if k in inbound.activity}, **note},
                         author.followers_url)  # fmt: skip
    except Invalid as error:
        return f"note not kept: {error}"
    status = store_note(inbound.session, author, read, force=True)
    return f"status {status.id} for {read.visibility} readers" if status is not None else "note not kept"


def _from_a_person(inbound: Inbound) -> bool:
    """True when the note's author is a person (not a course, run or group of another instance)."""
    kind = inbound.session.scalar(select(RemoteActor.type).where(RemoteActor.ap_id == inbound.actor))
    return kind in {"Person", "Organization"}


def _boosted(inbound: Inbound) -> str | None:
    """The id of the post a group's Announce boosts to a local person; None when it is not that."""
    inner = inbound.object
    note_ref = (
        object_id(inner.get("object"))
        if activity_type(inner) == "Create" and isinstance(inner, dict)
        else object_id(inner)
    )
    if not note_ref or not local_people(inbound.session, addressed(inbound.activity, inbound.recipient)):
        return None
    return note_ref


@needs("Announce")
def boost_needs(inbound: Inbound) -> Needs:
    """The boosted post as its own server serves it."""
    note_ref = _boosted(inbound)
    return Needs(documents=frozenset({note_ref})) if note_ref else Needs()


@handles("Announce")
def boost_to_person(inbound: Inbound) -> str | None:
    """A group's Announce of a member's post, addressed to a local person: keep the post for them.

    The embedded copy is not trusted (the group signed the Announce, not the author): the Note is
    fetched from its own server (before the transaction, `boost_needs`), and kept only when its
    author is on that server too.
    """
    note_ref = _boosted(inbound)
    if note_ref is None:
        return None
    note = inbound.fetched_document(note_ref)
    if isinstance(note, str):
        return f"boosted post not kept: {note}"
    author = object_id(note.get("attributedTo"))
    if activity_type(note) not in {"Note", "Article", "Page"} or not author or not same_origin(author, note_ref):
        return "boosted post not kept: not a Note by an author of its own server"
    post = receive_personal(inbound.session, {"object": {**note, "id": note_ref}}, author)
    return f"boosted post {post.id} kept" if post else "boosted post already kept"
