"""A local person as an actor: what their document says and their collections, from community's Profile.

The document follows Mastodon's `ActivityPub::ActorSerializer` (`app/serializers/activitypub/
actor_serializer.rb`): `name`, `summary` (the bio's HTML), `url` (/@handle), `icon` (avatar) and
`image` (header), `published`, `manuallyApprovesFollowers` (locked), `discoverable`, `indexable`,
`featured` (pinned statuses), `attachment` (profile fields as `PropertyValue`), `alsoKnownAs`,
`movedTo`. The outbox, followers and following are `OrderedCollection`s whose `first` page is
`?page=true`, the next ones `?page=true&max_id=N` (id cursors, newest first, as Mastodon's
`OutboxesController` and `FollowerAccountsController` page). A deleted (or suspended) person
answers 410 with a `Tombstone`, as Mastodon's `AccountsController` answers `gone` for them.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community import registrations
from community.models import Follow, Profile, Status
from federation.flows.status_notes import actor_uri, announce_id, iso, media_url, note_of, status_uri
from federation.protocol.statuses import PUBLIC, STATUS_CONTEXT, tombstone
from server.floor import urls
from server.floor.accounts import Account

PAGE = 20
AS = "https://www.w3.org/ns/activitystreams"


def profile_of(session: Session, account: Account) -> Profile | None:
    """The community profile of a local account, if it has one yet."""
    return session.scalar(select(Profile).where(Profile.account_id == account.id))


def _image(url: str | None, description: str = "") -> dict[str, Any] | None:
    if not url:
        return None
    absolute = media_url(url) if not url.startswith("/") else urls.absolute(url)
    media_type = mimetypes.guess_type(absolute.split("?", 1)[0])[0] or "image/png"
    found: dict[str, Any] = {"type": "Image", "mediaType": media_type, "url": absolute}
    if description:
        found["name"] = description
    return found


def person_fields(session: Session, account: Account, actor_id: str) -> dict[str, Any]:
    """What a person's actor document says beyond the envelope (overrides the envelope's defaults)."""
    profile = profile_of(session, account)
    found: dict[str, Any] = {
        "type": "Person",
        "name": account.display_name or account.handle,
        "url": urls.absolute(f"/@{account.handle}"),
        "published": iso(account.created_at),
        "manuallyApprovesFollowers": False,
        "discoverable": False,
        "indexable": False,
        "summary": "",
        "attachment": [],
        "alsoKnownAs": [],
        "tag": [],
    }
    if profile is None:
        return found
    found |= {
        "name": profile.display_name or account.display_name or account.handle,
        "summary": profile.note or "",
        "manuallyApprovesFollowers": bool(profile.locked),
        "discoverable": bool(profile.discoverable),
        "indexable": bool(profile.indexable),
        "attachment": [
            {"type": "PropertyValue", "name": str(f.get("name", ""))[:255], "value": str(f.get("value", ""))[:2047]}
            for f in (profile.fields or [])[:4]
            if isinstance(f, dict)
        ],
        "alsoKnownAs": [a for a in (profile.also_known_as or []) if isinstance(a, str)],
    }
    if profile.bot:
        found["type"] = "Service"
    if icon := _image(profile.avatar_url, profile.avatar_description):
        found["icon"] = icon
    if image := _image(profile.header_url, profile.header_description):
        found["image"] = image
    if profile.moved_to_id is not None and (target := session.get(Profile, profile.moved_to_id)) is not None:
        found["movedTo"] = actor_uri(target)
    return found


def gone_person(session: Session, handle: str) -> dict[str, Any] | None:
    """The Tombstone of a deleted, suspended or disabled local person; None when they exist or never did."""
    account = session.scalar(select(Account).where(Account.handle == handle))
    profile = session.scalar(select(Profile).where(Profile.username == handle, Profile.domain.is_(None)))
    if profile is not None and (profile.deleted_at is not None or profile.suspended_at is not None):
        return {"@context": AS, **tombstone(actor_uri(profile), iso(profile.deleted_at or profile.suspended_at))}
    if account is not None and account.disabled:
        if registrations.waiting_reason(registrations.registration_of(session, account.id)) is not None:
            return None  # a sign-up not confirmed or approved yet never existed out there: 404, not gone
        return {"@context": AS, **tombstone(urls.person(handle))}
    return None


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 20 else None


def _collection(collection_id: str, total: int) -> dict[str, Any]:
    return {"@context": AS, "id": collection_id, "type": "OrderedCollection", "totalItems": total,
            "first": f"{collection_id}?page=true"}  # fmt: skip


def _page(collection_id: str, max_id: int | None, items: list[Any], next_id: int | None) -> dict[str, Any]:
    page_id = f"{collection_id}?page=true" + (f"&max_id={max_id}" if max_id else "")
    found: dict[str, Any] = {"@context": STATUS_CONTEXT, "id": page_id, "type": "OrderedCollectionPage",
                             "partOf": collection_id, "orderedItems": items}  # fmt: skip
    if next_id is not None:
        found["next"] = f"{collection_id}?page=true&max_id={next_id}"
    return found


def _outbox_query(profile: Profile) -> Any:
    return select(Status).where(
        Status.profile_id == profile.id,
        Status.visibility.in_(("public", "unlisted")),
        Status.deleted.is_(False),
        Status.group_id.is_(None),
    )


def _outbox_item(session: Session, status: Status, actor: str) -> dict[str, Any]:
    if status.reblog_of_id is not None:
        original = session.get(Status, status.reblog_of_id)
        return {"id": announce_id(status_uri(status)), "type": "Announce", "actor": actor,
                "published": iso(status.created_at), "to": [PUBLIC], "cc": [f"{actor}/followers"],
                "object": status_uri(original) if original is not None else None}  # fmt: skip
    note = note_of(session, status)
    return {"id": f"{note['id']}/activity", "type": "Create", "actor": actor, "published": note["published"],
            "to": note["to"], "cc": note["cc"], "object": note}  # fmt: skip


def person_collection(session: Session, account: Account, part: str, params: dict[str, str]) -> dict[str, Any]:
    """A local person's outbox, followers, following or featured collection (or one of its pages)."""
    actor_id = urls.person(account.handle)
    collection_id = f"{actor_id}/{part}"
    profile = profile_of(session, account)
    paged, max_id = params.get("page") in {"true", "1"}, _cursor(params.get("max_id"))
    if part == "featured":
        pinned = [] if profile is None else list(session.scalars(
            _outbox_query(profile).where(Status.pinned_at.is_not(None)).order_by(Status.pinned_at.desc()).limit(5)
        ))  # fmt: skip
        # Inline, no pages (Mastodon's FetchFeaturedCollectionService reads `orderedItems`).
        featured = {k: v for k, v in _collection(collection_id, len(pinned)).items() if k != "first"}
        return {**featured, "@context": STATUS_CONTEXT, "orderedItems": [note_of(session, s) for s in pinned]}
    if profile is None:
        return _page(collection_id, max_id, [], None) if paged else _collection(collection_id, 0)
    if part == "outbox":
        query = _outbox_query(profile)
        if not paged:
            return _collection(collection_id, session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        if max_id is not None:
            query = query.where(Status.id < max_id)
        rows = list(session.scalars(query.order_by(Status.id.desc()).limit(PAGE + 1)))
        items = [_outbox_item(session, s, actor_id) for s in rows[:PAGE]]
        return _page(collection_id, max_id, items, rows[PAGE - 1].id if len(rows) > PAGE else None)
    mine, theirs = (
        (Follow.target_id, Follow.profile_id) if part == "followers" else (Follow.profile_id, Follow.target_id)
    )
    query = (
        select(Follow.id, Profile.uri)
        .join(Profile, Profile.id == theirs)
        .where(mine == profile.id, Follow.accepted.is_(True))
    )
    if not paged:
        return _collection(collection_id, session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    if max_id is not None:
        query = query.where(Follow.id < max_id)
    rows = list(session.execute(query.order_by(Follow.id.desc()).limit(PAGE + 1)).tuples())
    return _page(
        collection_id, max_id, [uri for _id, uri in rows[:PAGE]], rows[PAGE - 1][0] if len(rows) > PAGE else None
    )
