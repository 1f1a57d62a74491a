"""People's statuses from other servers: Create, Update, Delete, Announce, Like and their Undo.

This module's name sorts after the course world's (group_posts, personal_notes, replies): a Note
they kept (a post to a study group, a reply to a unit, a note from a course) is theirs, and the
rest from a person becomes a community status through `community.statuses.receive`, kept only
when it matters here (someone here follows its author, it mentions or is addressed to someone
here, it replies to a local status). The rules are Mastodon's:
- `app/lib/activitypub/activity/create.rb`: `Create#perform` / `#process_status` (a Note or
  Question becomes a status, an Article or Page its title and link, `#converted_text`), with
  `#process_audience` (addressed people of ours are silent mentions) and `#process_tags`;
- `app/lib/activitypub/activity/update.rb`: `Update#update_status` (only the author edits, by the
  same id; history kept), `#update_account` (a profile refresh);
- `app/lib/activitypub/activity/delete.rb`: `Delete#delete_note` (only the author), `#delete_person`;
- `app/lib/activitypub/activity/announce.rb`: `Announce#perform` keeps a boost only when
  `related_to_local_activity?` (someone here follows the booster, or the status is ours) and
  `announceable?` (public or unlisted);
- `app/lib/activitypub/activity/like.rb`, `undo.rb` (`#undo_like`, `#undo_announce`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import statuses as community_statuses
from community.models import Follow, Profile, Status
from federation.entry.handlers import Inbound, Needs, activity_type, handles, needs, object_id
from federation.flows.cohorts import addressed, group_for
from federation.flows.people import known_profile, profile_from_cache, store_note, upsert_document
from federation.models import RemoteActor
from federation.protocol.statuses import NOTE_TYPES, listed, read_note
from federation.transport.fetch import NotCached, same_origin
from federation.transport.keys import is_local
from server.floor.clock import now
from server.floor.errors import Invalid, MechMoocError

PEOPLE = frozenset({"Person", "Organization"})


def author_profile(inbound: Inbound, people_only: bool = True) -> Profile | None:
    """The profile of the activity's (remote) actor from the cache; None when it is no person."""
    if is_local(inbound.actor):
        return None
    kind = inbound.session.scalar(select(RemoteActor.type).where(RemoteActor.ap_id == inbound.actor))
    if kind is None or (people_only and kind not in PEOPLE):
        return None
    try:
        return profile_from_cache(inbound.session, inbound.actor)
    except (NotCached, Invalid):
        return None


def stored(session: Session, ap_id: str | None) -> Status | None:
    """The status kept under `ap_id`, if any."""
    return session.scalar(select(Status).where(Status.ap_id == ap_id)) if ap_id else None


@needs("Create", "Update", "Announce", "Like", "Undo", "Block", "Accept", "Reject")
def actor_needs(inbound: Inbound) -> Needs:
    """The remote actor in the cache (its profile is made from it); for an Announce, the boosted status."""
    if is_local(inbound.actor):
        return Needs()
    found = Needs(actors=frozenset({inbound.actor}))
    target = inbound.object_id
    if inbound.type == "Announce" and target and not is_local(target) and stored(inbound.session, target) is None:
        # Mastodon's Announce names the boosted author in `cc` (TagManager#cc: `uri_for(status.reblog.account)`):
        # fetch them too (on the status's own server only), so the status can be kept with its author.
        carbon = [item for item in listed(inbound.activity.get("cc"))[:20] if isinstance(item, str)]
        authors = {item for item in carbon if same_origin(item, target) and not item.endswith("/followers")}
        found = found | Needs(actors=frozenset(authors), documents=frozenset({target}))
    return found


@handles("Create")
def status_created(inbound: Inbound) -> str | None:
    """A person's Note (Question, Article, Page): a community status when it matters here."""
    note, session = inbound.object, inbound.session
    if activity_type(note) not in NOTE_TYPES or not isinstance(note, dict):
        return None
    if stored(session, note.get("id")) is not None or group_for(
        session, addressed(inbound.activity, inbound.recipient)
    ):
        return None  # a course-world handler kept it (a group post, a reply to a unit, a course's note)
    author = author_profile(inbound)
    if author is None:
        return None
    if object_id(note.get("attributedTo")) != inbound.actor:
        return "status not kept: its attributedTo is not the actor"
    # StatusParser#audience_to / #audience_cc: the object's addressing, else the activity's.
    note = {**{k: inbound.activity[k] for k in ("to", "cc") if k in inbound.activity and k not in note}, **note}
    try:
        read = read_note(note, author.followers_url)
    except Invalid as error:
        return f"status not kept: {error}"
    status = store_note(session, author, read)
    # Dropped (it matters to nobody here): recorded as ignored, as any activity about others.
    return f"status {status.id} kept" if status is not None else None


@handles("Update")
def status_or_profile_updated(inbound: Inbound) -> str | None:
    """The author edited a status we keep (history kept), or a person updated their profile."""
    document, session = inbound.object, inbound.session
    if not isinstance(document, dict):
        return None
    if document.get("id") == inbound.actor and "inbox" in document:
        profile = known_profile(session, inbound.actor)
        if profile is None or profile.domain is None:
            return None
        try:
            upsert_document(session, document)
        except MechMoocError as error:
            return f"profile not refreshed: {error}"
        return f"profile {profile.acct} refreshed"
    if activity_type(document) not in NOTE_TYPES:
        return None
    status = stored(session, document.get("id"))
    author = session.get(Profile, status.profile_id) if status is not None and status.profile_id else None
    if status is None or author is None or author.uri != inbound.actor or status.kind != "status" or status.deleted:
        return None
    try:
        read = read_note(document, author.followers_url)
    except Invalid as error:
        return f"edit not kept: {error}"
    mentioned = [p for href in read.mentions if (p := known_profile(session, href)) is not None]
    community_statuses.edit(
        session, status, html=read.html, text=read.text, spoiler_text=read.summary, sensitive=read.sensitive,
        language=read.language, mentions=[p for p in mentioned if p.kind == "person"],
    )  # fmt: skip
    return f"status {status.id} edited"


@handles("Delete")
def status_or_person_deleted(inbound: Inbound) -> str | None:
    """The author deleted a status we keep, or a person deleted their account."""
    target, session = inbound.object_id, inbound.session
    if not target:
        return None
    if target == inbound.actor:
        profile = session.scalar(select(Profile).where(Profile.uri == target, Profile.domain.is_not(None)))
        if profile is None or profile.deleted_at is not None:
            return None
        profile.deleted_at = now()
        kept = list(
            session.scalars(
                select(Status).where(Status.profile_id == profile.id, Status.deleted.is_(False)).limit(1000)
            )
        )
        for row in kept:
            community_statuses.delete(session, row)
        return f"profile {profile.acct} deleted ({len(kept)} statuses)"
    status = stored(session, target)
    author = session.get(Profile, status.profile_id) if status is not None and status.profile_id else None
    if status is None or author is None or author.uri != inbound.actor or status.kind != "status":
        return None
    return f"status {status.id} deleted" if community_statuses.delete(session, status) else None


def _followed_here(session: Session, profile: Profile) -> bool:
    query = (
        select(Follow.id)
        .join(Profile, Profile.id == Follow.profile_id)
        .where(Follow.target_id == profile.id, Follow.accepted.is_(True), Profile.domain.is_(None))
    )
    return session.scalar(query.limit(1)) is not None


def _boosted(inbound: Inbound, booster: Profile) -> Status | str:
    """The status an Announce boosts: ours or kept, or fetched from its own server (the booster
    is followed here); the reason when there is none."""
    session, target = inbound.session, inbound.object_id
    found = stored(session, target)
    if found is not None or not target or is_local(target):
        return found or f"no status {target} here"
    document = inbound.fetched_document(target)
    if isinstance(document, str):
        return f"boosted status not fetched: {document}"
    author_id = object_id(document.get("attributedTo"))
    author = known_profile(session, author_id) if author_id and same_origin(author_id, target) else None
    if author is None or document.get("id") != target:
        return "boosted status not kept: its author is unknown here or on another server"
    try:
        read = read_note(document, author.followers_url)
    except Invalid as error:
        return f"boosted status not kept: {error}"
    kept = store_note(session, author, read, force=True)
    return kept if kept is not None else "boosted status not kept"


@handles("Announce")
def boosted(inbound: Inbound) -> str | None:
    """A person boosts a status: a community boost, when it concerns someone here."""
    booster = author_profile(inbound)
    if booster is None or not inbound.object_id:
        return None
    session = inbound.session
    original = stored(session, inbound.object_id)
    if not _followed_here(session, booster) and (original is None or not original.local):
        return None  # about others: nobody here follows the booster and the status is not ours
    found = _boosted(inbound, booster)
    if isinstance(found, str):
        return found
    if found.visibility not in {"public", "unlisted"}:
        return "boost ignored: the status is not public or unlisted"
    activity_ref = inbound.activity.get("id")
    try:
        boost = community_statuses.reblog(
            session, booster, found, ap_id=activity_ref if isinstance(activity_ref, str) else None
        )
    except MechMoocError as error:
        return f"boost not kept: {error}"
    return f"boost {boost.id} of status {found.id}"


@handles("Like")
def liked(inbound: Inbound) -> str | None:
    """Someone favourites a local person's status."""
    status = stored(inbound.session, inbound.object_id)
    if status is None or not status.local or status.kind != "status":
        return None
    liker = author_profile(inbound, people_only=False)
    if liker is None:
        return None
    activity_ref = inbound.activity.get("id")
    try:
        community_statuses.favourite(
            inbound.session, liker, status, uri=activity_ref if isinstance(activity_ref, str) else None
        )
    except MechMoocError as error:
        return f"favourite not kept: {error}"
    return f"status {status.id} favourited by {liker.acct}"


def _undone(inbound: Inbound) -> dict[str, Any] | None:
    inner = inbound.object
    return inner if isinstance(inner, dict) and object_id(inner.get("actor")) in (None, inbound.actor) else None


@handles("Undo")
def undone(inbound: Inbound) -> str | None:
    """Undo of a Like (unfavourite) or of an Announce (the boost goes)."""
    inner, session = _undone(inbound), inbound.session
    if inner is None or activity_type(inner) not in {"Like", "Announce"}:
        return None
    profile = known_profile(session, inbound.actor)
    if profile is None or profile.domain is None:
        return None
    if activity_type(inner) == "Like":
        status = stored(session, object_id(inner.get("object")))
        if status is None or not status.local:
            return None
        return f"status {status.id} unfavourited" if community_statuses.unfavourite(session, profile, status) else None
    boost = stored(session, object_id(inner))
    if boost is None or boost.profile_id != profile.id or boost.reblog_of_id is None:
        original = stored(session, object_id(inner.get("object")))
        if original is None:
            return None
        return f"boost of {original.id} undone" if community_statuses.unreblog(session, profile, original) else None
    return f"boost {boost.id} undone" if community_statuses.delete(session, boost) else None
