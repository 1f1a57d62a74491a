"""Local people's statuses as the Notes other servers read: the facts gathered from community's rows.

`note_of(session, status)` is what a `Create`/`Update` carries and what `/posts/{id}` serves; ids:
a status's own `ap_id` (the community layer sets it), else `/posts/{id}`. Mentions, hashtags and
images come from community's `Mention`, `StatusTag`/`Tag` and `Media` rows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Media, Mention, Profile, Status, StatusTag, Tag
from federation.protocol.statuses import STATUS_CONTEXT, Image, Mentioned, NoteFacts, note
from server.floor import urls
from server.floor.config import get_settings

FEDERATED = frozenset({"public", "unlisted", "private", "direct"})


def iso(instant: Any) -> str:
    """An instant as AS2 writes it (UTC, seconds, Z)."""
    return str(instant.strftime("%Y-%m-%dT%H:%M:%SZ"))


def status_uri(status: Status) -> str:
    """The ActivityPub id of a status: its `ap_id`, or ours at /posts/{id}."""
    return status.ap_id or urls.post(status.id)


def announce_id(boost_uri: str) -> str:
    """The id of the Announce a boost is sent as (community gives a local boost `/posts/{id}/activity`)."""
    return boost_uri if boost_uri.endswith("/activity") else f"{boost_uri}/activity"


def actor_uri(profile: Profile) -> str:
    """A profile's actor id (a local person's is /users/{handle})."""
    return profile.uri or urls.person(profile.username)


def acct_of(profile: Profile) -> str:
    """`@user@host`, with our host for a local profile (GoToSocial matches a Mention by it)."""
    host = profile.domain or urlsplit(get_settings().url).netloc
    return f"@{profile.username}@{host}"


def media_url(path: str) -> str:
    """Where a local media file is served."""
    return path if path.startswith(("http://", "https://")) else urls.absolute("/media/" + path.lstrip("/"))


def mentioned(session: Session, status: Status) -> list[Profile]:
    """The profiles a status mentions, in a stable order."""
    query = select(Profile).join(Mention, Mention.profile_id == Profile.id).where(Mention.status_id == status.id)
    return list(session.scalars(query.order_by(Profile.id)))


def hashtags(session: Session, status: Status) -> list[str]:
    """The names of a status's hashtags."""
    query = select(Tag.name).join(StatusTag, StatusTag.tag_id == Tag.id).where(StatusTag.status_id == status.id)
    return sorted(session.scalars(query))


def images(session: Session, status: Status) -> list[Image]:
    """A status's images, as the Documents of its Note."""
    rows = session.scalars(select(Media).where(Media.status_id == status.id).order_by(Media.position, Media.id))
    found = []
    for row in rows:
        url = row.remote_url or (media_url(row.path) if row.path else None)
        if url:
            found.append(Image(url, row.content_type, row.description, row.width, row.height, row.blurhash))
    return found[:4]


def parent_uri(session: Session, status: Status) -> str | None:
    """The id of the status this one replies to."""
    if status.in_reply_to_id is not None:
        parent = session.get(Status, status.in_reply_to_id)
        if parent is not None:
            return status_uri(parent)
    return status.in_reply_to_ref


def note_of(session: Session, status: Status, author: Profile | None = None) -> dict[str, Any]:
    """The Note of a local status (no @context)."""
    author = author or session.get(Profile, status.profile_id)
    if author is None:
        raise ValueError(f"status {status.id} has no author")
    actor = actor_uri(author)
    facts = NoteFacts(
        id=status_uri(status),
        author=actor,
        followers=f"{actor}/followers",
        content=status.html,
        published=iso(status.created_at),
        visibility=status.visibility if status.visibility in FEDERATED else "direct",
        url=urls.absolute(f"/@{author.username}/{status.id}"),
        summary=status.spoiler_text,
        sensitive=status.sensitive,
        language=status.language,
        in_reply_to=parent_uri(session, status),
        updated=iso(status.edited_at) if status.edited_at else None,
        mentions=tuple(Mentioned(actor_uri(p), acct_of(p)) for p in mentioned(session, status)),
        tags=tuple(hashtags(session, status)),
        tag_base=get_settings().url,
        images=tuple(images(session, status)),
    )
    return note(facts)


def note_document(session: Session, status: Status) -> dict[str, Any]:
    """The Note served at the status's id."""
    return {"@context": STATUS_CONTEXT, **note_of(session, status)}
