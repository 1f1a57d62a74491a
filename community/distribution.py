"""What posting, receiving and editing a status share: checks of what a status carries (length,
language, media, mentions) and `distribute`, the rows that follow from a new status (mentions,
hashtags, counts, home feeds, notifications, the search index, `status.created`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from community import fanout, search, tags
from community.models import Follow, Media, Mention, Profile, Status, Tag
from community.notifications import notify
from community.people import bump, find_by_acct
from community.text import count
from server.floor.config import get_settings
from server.floor.errors import Invalid
from server.floor.events import publish

MAX_MEDIA = 4
MAX_MENTIONS = 50
MAX_SPOILER = 1500
DISTRIBUTABLE = ("public", "unlisted")


def resolve_mentions(session: Session, accts: Iterable[str], resolved: Mapping[str, Profile] | None) -> list[Profile]:
    """Local mentions found here, remote ones from what the caller resolved (unknown ones dropped)."""
    given = {key.lower().lstrip("@"): value for key, value in (resolved or {}).items()}
    found: dict[int, Profile] = {}
    for acct in list(accts)[:MAX_MENTIONS]:
        profile = given.get(acct.lower()) or (find_by_acct(session, acct) if "@" not in acct else None)
        if profile is not None and profile.suspended_at is None:
            found.setdefault(profile.id, profile)
    return list(found.values())


def attach_media(session: Session, author: Profile, status: Status, media_ids: Iterable[int | str]) -> list[Media]:
    ids: list[int] = []
    for value in media_ids:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise Invalid(f"media_ids: {str(value)[:40]!r} is not an id") from None
        if number not in ids:
            ids.append(number)
    if len(ids) > MAX_MEDIA:
        raise Invalid(f"media_ids: at most {MAX_MEDIA} attachments")
    rows = {m.id: m for m in session.scalars(select(Media).where(Media.id.in_(ids)))} if ids else {}
    attached = []
    for position, media_id in enumerate(ids):
        media = rows.get(media_id)
        # An avatar or a header (community.media keeps their rows too) is no attachment.
        if media is None or media.profile_id != author.id or media.kind in ("avatar", "header"):
            raise Invalid(f"media_ids: no media {media_id} of yours")
        if media.status_id is not None and media.status_id != status.id:
            raise Invalid(f"media_ids: media {media_id} is attached to another status")
        if media.state == "failed":
            raise Invalid(f"media_ids: media {media_id} could not be processed")
        media.status_id, media.position = status.id, position
        attached.append(media)
    return attached


def check_length(text: str, spoiler_text: str) -> None:
    limit = get_settings().max_status_chars
    length = count(text) + count(spoiler_text)
    if length > limit:
        raise Invalid(f"text: {length} characters is longer than {limit} (with the content warning)")
    if len(spoiler_text) > MAX_SPOILER:
        raise Invalid(f"spoiler_text: at most {MAX_SPOILER} characters")


def check_language(language: str | None) -> str | None:
    if language is None or language == "":
        return None
    value = language.strip().lower()
    if not (2 <= len(value) <= 16) or not all(c.isalnum() or c == "-" for c in value):
        raise Invalid(f"language {language[:20]!r} must be an ISO 639 code like 'en' or 'pt-br'")
    return value


def distribute(
    session: Session,
    status: Status,
    author: Profile,
    mentioned: list[Profile],
    tag_rows: list[Tag],
    parent: Status | None,
    group_member_ids: Iterable[int],
) -> None:
    """Rows that follow from a new status: mentions, hashtags, counts, feeds, notifications, the
    search index, and `status.created`."""
    if mentioned:
        session.execute(insert(Mention), [{"status_id": status.id, "profile_id": p.id} for p in mentioned])
    tags.attach(session, status.id, tag_rows)
    if status.visibility not in ("direct", "group"):
        bump(session, author.id, statuses_count=1)
    author.last_status_at = status.created_at
    if parent is not None and status.visibility in DISTRIBUTABLE:
        parent.replies_count = Status.replies_count + 1
    session.flush()
    if author.domain is None and author.account_id is not None:
        fanout.add(session, status.id, [author.id])
    if status.visibility in ("public", "unlisted", "private"):
        fanout.to_followers(session, status)
    if status.visibility == "public":
        fanout.to_tag_followers(session, status.id, [t.id for t in tag_rows])
    if status.visibility == "direct":
        fanout.add(session, status.id, [p.id for p in mentioned])
    if status.group_id is not None:
        fanout.add_group(session, status.id, group_member_ids)
    mentioned_ids = {p.id for p in mentioned}
    for person in mentioned:
        notify(session, person, "mention", from_profile_id=author.id, status_id=status.id)
    replied = status.in_reply_to_profile_id
    if replied is not None and replied not in mentioned_ids and replied != author.id:
        notify(session, replied, "reply", from_profile_id=author.id, status_id=status.id)
    if status.visibility in ("public", "unlisted", "private"):
        bells = select(Follow.profile_id).where(
            Follow.target_id == author.id, Follow.accepted.is_(True), Follow.notify.is_(True)
        )
        for follower_id in session.scalars(bells.limit(10_000)):
            if follower_id not in mentioned_ids:
                notify(session, follower_id, "status", from_profile_id=author.id, status_id=status.id)
    search.index(session, status)
    publish(session, "status.created", {"status_id": status.id})
