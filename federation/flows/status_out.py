"""What local people do with statuses, sent to other servers: reactions to community's events.

Only a local person's act is sent (`profile.domain is None`): the community services also publish
these events when an inbox handler applies a remote actor's activity, and those are not echoed.
Who receives what follows Mastodon (`app/services/activitypub/*`, `StatusReachFinder`):
- `status.created`: `Create` of the Note to the author's followers (not for direct statuses) and
  to every mentioned account and the replied-to author; a boost is an `Announce` (to Public, cc the
  boosted author and the followers: `ActivityPub::ActivitySerializer` for reblogs) of a public or
  unlisted status only (`Status#distributable?`).
- `status.updated`: `Update` of the Note to the same audience (`UpdateStatusService`).
- `status.deleted`: `Delete` of a `Tombstone` (a boost: `Undo` of the `Announce`) to the same
  audience and to every inbox the `Create` reached (`RemovalWorker`, `StatusReachFinder#inboxes`).
- `favourite.created` / `favourite.deleted`: `Like` / `Undo` of it, to the status's author only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Favourite, Profile, Status
from federation.flows.status_notes import actor_uri, announce_id, mentioned, note_of, status_uri
from federation.models import Delivery
from federation.protocol.statuses import PUBLIC, STATUS_CONTEXT, tombstone, wrap
from federation.transport import delivery
from server.floor import urls


def local_person(session: Session, profile_id: int | None) -> Profile | None:
    """The profile when it is a local person's (whose acts we send); None otherwise."""
    profile = session.get(Profile, profile_id) if profile_id is not None else None
    if profile is None or profile.domain is not None or profile.kind != "person" or profile.account_id is None:
        return None
    return profile


def _remote(profile: Profile | None) -> str | None:
    return actor_uri(profile) if profile is not None and profile.domain is not None else None


def audience(session: Session, status: Status, author: Profile) -> list[str]:
    """The actors (and the followers collection) a status reaches."""
    found: list[str] = [] if status.visibility == "direct" else [f"{actor_uri(author)}/followers"]
    found += [uri for p in mentioned(session, status) if (uri := _remote(p))]
    if status.in_reply_to_id is not None and status.visibility in {"public", "unlisted"}:
        # StatusReachFinder#replied_to_account_id: the replied-to author, for distributable replies.
        parent = session.get(Status, status.in_reply_to_id)
        owner = session.get(Profile, parent.profile_id) if parent is not None else None
        if uri := _remote(owner):
            found.append(uri)
    return list(dict.fromkeys(found))


def _sent_inboxes(session: Session, activity_id: str) -> list[str]:
    return list(session.scalars(select(Delivery.inbox).where(Delivery.activity_id == activity_id).distinct()))


def _federated(status: Status | None) -> bool:
    return status is not None and status.group_id is None and status.visibility != "group" and status.kind == "status"


def on_status_created(session: Session, payload: dict[str, Any]) -> None:
    """A local person posted (or boosted): Create (or Announce) to its audience."""
    status = session.get(Status, payload["status_id"])
    author = local_person(session, status.profile_id) if status is not None else None
    if status is None or author is None or not _federated(status):
        return
    actor = actor_uri(author)
    if status.reblog_of_id is not None:
        _announce(session, status, author)
        return
    document = note_of(session, status, author)
    create = wrap("Create", f"{document['id']}/activity", actor, document, document["to"], document["cc"])
    create["published"] = document["published"]
    delivery.enqueue(session, create, sender=actor, recipients=audience(session, status, author))


def _announce(session: Session, status: Status, author: Profile) -> None:
    original = session.get(Status, status.reblog_of_id)
    if original is None or original.visibility not in {"public", "unlisted"}:
        return  # Status#distributable?: only public and unlisted statuses are boosted across servers
    actor = actor_uri(author)
    owner = session.get(Profile, original.profile_id)
    owner_uri = actor_uri(owner) if owner is not None else None
    to = [PUBLIC] if status.visibility == "public" else [f"{actor}/followers"]
    cc = [c for c in [owner_uri, f"{actor}/followers" if status.visibility == "public" else PUBLIC] if c]
    announce = wrap("Announce", announce_id(status_uri(status)), actor, status_uri(original), to, cc)
    announce["published"] = status.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    recipients = [f"{actor}/followers", *filter(None, [_remote(owner)])]
    delivery.enqueue(session, announce, sender=actor, recipients=recipients)


def on_status_updated(session: Session, payload: dict[str, Any]) -> None:
    """A local person edited a status: Update of its Note to the same audience."""
    status = session.get(Status, payload["status_id"])
    author = local_person(session, status.profile_id) if status is not None else None
    if status is None or author is None or not _federated(status) or status.reblog_of_id is not None:
        return
    actor = actor_uri(author)
    document = note_of(session, status, author)
    stamp = (status.edited_at or status.created_at).strftime("%Y%m%d%H%M%S%f")
    update = wrap("Update", f"{document['id']}#updates/{stamp}", actor, document, document["to"], document["cc"])
    delivery.enqueue(session, update, sender=actor, recipients=audience(session, status, author))
    delivery.enqueue_to_inboxes(session, update, actor, _sent_inboxes(session, f"{document['id']}/activity"))


def on_status_deleted(session: Session, payload: dict[str, Any]) -> None:
    """A local person deleted a status (or undid a boost): Delete(Tombstone) / Undo(Announce)."""
    author = local_person(session, payload.get("profile_id"))
    if author is None:
        return
    actor = actor_uri(author)
    uri = payload.get("ap_id") or urls.post(int(payload["status_id"]))
    status = session.get(Status, payload["status_id"])
    if status is not None and (status.group_id is not None or status.visibility == "group"):
        return
    if payload.get("reblog_of_id"):
        original = session.get(Status, payload["reblog_of_id"])
        inner = {"id": announce_id(uri), "type": "Announce", "actor": actor,
                 "object": status_uri(original) if original is not None else None}  # fmt: skip
        undo = wrap("Undo", f"{announce_id(uri)}#undo", actor, inner, [PUBLIC], [f"{actor}/followers"])
        owner = session.get(Profile, original.profile_id) if original is not None else None
        delivery.enqueue(
            session, undo, sender=actor, recipients=[f"{actor}/followers", *filter(None, [_remote(owner)])]
        )
        delivery.enqueue_to_inboxes(session, undo, actor, _sent_inboxes(session, announce_id(uri)))
        return
    delete = wrap("Delete", f"{uri}#delete", actor, tombstone(uri), [PUBLIC], [f"{actor}/followers"])
    delete["@context"] = STATUS_CONTEXT
    recipients = [f"{actor}/followers"]
    if status is not None:
        # A direct status's Delete goes where the status went, not to every follower.
        recipients = audience(session, status, author) if status.visibility == "direct" else recipients
        recipients = list(dict.fromkeys(recipients + audience(session, status, author)))
    delivery.enqueue(session, delete, sender=actor, recipients=recipients)
    delivery.enqueue_to_inboxes(session, delete, actor, _sent_inboxes(session, f"{uri}/activity"))


def like_id(actor: str, favourite_id: int) -> str:
    """The id of the Like a local person's favourite is sent as."""
    return f"{actor}#likes/{favourite_id}"


def on_favourite_created(session: Session, payload: dict[str, Any]) -> None:
    """A local person favourited a remote status: Like to its author."""
    favourite = session.get(Favourite, payload["favourite_id"])
    author = local_person(session, favourite.profile_id) if favourite is not None else None
    status = session.get(Status, favourite.status_id) if favourite is not None else None
    owner = session.get(Profile, status.profile_id) if status is not None else None
    if favourite is None or author is None or status is None or (target := _remote(owner)) is None:
        return
    actor = actor_uri(author)
    like = wrap("Like", favourite.uri or like_id(actor, favourite.id), actor, status_uri(status), [target], [])
    delivery.enqueue(session, like, sender=actor, recipients=[target])


def on_favourite_deleted(session: Session, payload: dict[str, Any]) -> None:
    """A local person took a favourite back: Undo of the Like, to the status's author."""
    author = local_person(session, payload.get("profile_id"))
    status = session.get(Status, payload["status_id"]) if payload.get("status_id") is not None else None
    owner = session.get(Profile, status.profile_id) if status is not None else None
    if author is None or status is None or (target := _remote(owner)) is None:
        return
    actor = actor_uri(author)
    like_ref = payload.get("uri") or f"{actor}#likes/{payload.get('favourite_id', status.id)}"
    inner = {"id": like_ref, "type": "Like", "actor": actor, "object": status_uri(status)}
    undo = wrap("Undo", f"{like_ref}#undo", actor, inner, [target], [])
    delivery.enqueue(session, undo, sender=actor, recipients=[target])
