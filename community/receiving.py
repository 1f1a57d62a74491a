"""Remote statuses: `receive` stores one when it matters here, and drops it otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import search, tags
from community.distribution import MAX_MEDIA, MAX_MENTIONS, MAX_SPOILER, check_language, distribute
from community.models import VISIBILITIES, Follow, Media, Profile, Status
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.ids import new_id
from server.floor.untrusted import http_url


def _matters(
    session: Session, author: Profile, mentioned: list[Profile], parent: Status | None, group_id: int | None
) -> bool:
    """A remote status is kept when someone here follows its author, it mentions someone here, it
    replies to a local status, or it belongs to a group here."""
    if group_id is not None or (parent is not None and parent.local):
        return True
    if any(p.domain is None for p in mentioned):
        return True
    local_follower = (
        select(Follow.id)
        .join(Profile, Profile.id == Follow.profile_id)
        .where(Follow.target_id == author.id, Follow.accepted.is_(True), Profile.domain.is_(None))
        .limit(1)
    )
    return session.scalar(local_follower) is not None


def _remote_media(session: Session, author: Profile, status: Status, media: Iterable[Mapping[str, Any]]) -> None:
    for position, item in enumerate(list(media)[:MAX_MEDIA]):
        url = http_url(item.get("url") or item.get("remote_url"))
        if url is None:
            continue
        session.add(
            Media(
                profile_id=author.id,
                status_id=status.id,
                kind=str(item.get("kind") or "image")[:16],
                remote_url=url,
                content_type=str(item.get("content_type") or "image/jpeg")[:100],
                description=str(item.get("description") or "")[:1500],
                width=item.get("width") if isinstance(item.get("width"), int) else None,
                height=item.get("height") if isinstance(item.get("height"), int) else None,
                blurhash=str(item["blurhash"])[:100] if isinstance(item.get("blurhash"), str) else None,
                position=position,
            )
        )


def receive(
    session: Session,
    author: Profile,
    *,
    ap_id: str,
    html: str,
    text: str = "",
    url: str | None = None,
    visibility: str = "public",
    spoiler_text: str = "",
    sensitive: bool = False,
    language: str | None = None,
    in_reply_to: Status | None = None,
    in_reply_to_ref: str | None = None,
    mentions: Iterable[Profile] = (),
    tag_names: Iterable[str] = (),
    published: datetime | None = None,
    group_id: int | None = None,
    group_member_ids: Iterable[int] = (),
    media: Iterable[Mapping[str, Any]] = (),
    force: bool = False,
) -> Status | None:
    """A remote actor's status (`html` sanitized by the caller), stored when it matters here (see
    `_matters`; `force` for a status someone here asked for, e.g. a thread's missing ancestor);
    None when dropped. The same `ap_id` again returns the stored status unchanged."""
    if author.domain is None:
        raise Invalid(f"account {author.acct}: receive takes remote statuses only")
    existing = session.scalar(select(Status).where(Status.ap_id == ap_id))
    if existing is not None:
        return existing
    if author.suspended_at is not None or author.deleted_at is not None:
        return None
    visibility = visibility if visibility in VISIBILITIES else "direct"
    mentioned = [p for p in {p.id: p for p in mentions}.values() if p.suspended_at is None][:MAX_MENTIONS]
    if not force and not _matters(session, author, mentioned, in_reply_to, group_id):
        return None
    at = min(published, now()) if published is not None else now()
    status = Status(
        id=new_id(at),
        ap_id=ap_id[:2000],
        url=http_url(url),
        profile_id=author.id,
        kind="group" if group_id is not None else "status",
        source="activitypub",
        local=False,
        author_actor=author.uri,
        author_name=author.display_name or author.username,
        text=text or search.html_text(html),
        html=html,
        spoiler_text=(spoiler_text or "")[:MAX_SPOILER],
        sensitive=bool(sensitive or spoiler_text),
        language=check_language(language) if language and len(language) <= 16 else None,
        visibility=visibility,
        group_id=group_id,
        in_reply_to_id=in_reply_to.id if in_reply_to else None,
        in_reply_to_ref=(in_reply_to.ap_id if in_reply_to else in_reply_to_ref),
        in_reply_to_profile_id=in_reply_to.profile_id if in_reply_to else None,
        created_at=at,
    )
    status.thread_id = (in_reply_to.thread_id or in_reply_to.id) if in_reply_to else status.id
    session.add(status)
    session.flush()
    _remote_media(session, author, status, media)
    tag_rows = tags.ensure(session, tag_names)
    distribute(session, status, author, mentioned, tag_rows, in_reply_to, group_member_ids)
    return status
