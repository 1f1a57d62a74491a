"""Statuses: posting one (a local person's), receiving one (a remote actor's, kept only when it
matters here), editing with history, threads (`context`), and — from their own modules — deleting,
boosting, favouriting, bookmarking and pinning (re-exported here: `community.statuses.reblog`...).

Every status reaches the home feeds on write (`community.fanout`), tells the people it concerns
(`community.notifications`), enters the full-text index (`community.search`) and publishes
`status.created` / `status.updated` for federation and the streaming API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from community import fanout, search, tags
from community.access import can_see
from community.interactions import (
    bookmark,
    favourite,
    pin,
    reblog,
    unbookmark,
    unfavourite,
    unpin,
    unreblog,
)
from community.models import VISIBILITIES, Follow, Media, Mention, Profile, Status, StatusEdit, Tag
from community.notifications import notify
from community.people import bump, find_by_acct
from community.removal import delete
from community.text import count, render
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid, NotFound, PermissionDenied
from server.floor.events import publish
from server.floor.ids import new_id
from server.floor.untrusted import http_url

__all__ = [
    "bookmark",
    "can_see",
    "context",
    "delete",
    "edit",
    "favourite",
    "get_visible",
    "pin",
    "post",
    "reblog",
    "receive",
    "unbookmark",
    "unfavourite",
    "unpin",
    "unreblog",
]

MAX_MEDIA = 4
MAX_MENTIONS = 50
MAX_SPOILER = 1500
MAX_CONTEXT_ANCESTORS = 40
MAX_CONTEXT_DESCENDANTS = 1000
DISTRIBUTABLE = ("public", "unlisted")


def status_url(profile: Profile, status_id: int) -> str:
    """The HTML page of a local status (`/@handle/{id}`)."""
    return urls.absolute(f"/@{profile.username}/{status_id}")


def get_visible(session: Session, status_id: int, viewer: Profile | None) -> Status:
    """The status `status_id` if `viewer` may see it; NotFound otherwise (as Mastodon: a 404 for
    what you may not see, so its existence does not leak)."""
    status = session.get(Status, status_id)
    if status is None or not can_see(session, status, viewer):
        raise NotFound(f"no status {status_id}")
    return status


def _check_author(author: Profile) -> None:
    if author.domain is not None:
        raise Invalid(f"account {author.acct}: only local people post here")
    if author.suspended_at is not None or author.deleted_at is not None:
        raise PermissionDenied(f"account {author.acct} is suspended")


def _check_visibility(visibility: str, group_id: int | None) -> str:
    if visibility not in VISIBILITIES:
        raise Invalid(f"visibility {visibility!r} must be one of {', '.join(VISIBILITIES)}")
    if visibility == "group" and group_id is None:
        raise Invalid("visibility 'group' needs a group")
    return visibility


def _resolve_mentions(session: Session, accts: Iterable[str], resolved: Mapping[str, Profile] | None) -> list[Profile]:
    """Local mentions found here, remote ones from what the caller resolved (unknown ones dropped)."""
    given = {key.lower().lstrip("@"): value for key, value in (resolved or {}).items()}
    found: dict[int, Profile] = {}
    for acct in list(accts)[:MAX_MENTIONS]:
        profile = given.get(acct.lower()) or (find_by_acct(session, acct) if "@" not in acct else None)
        if profile is not None and profile.suspended_at is None:
            found.setdefault(profile.id, profile)
    return list(found.values())


def _attach_media(session: Session, author: Profile, status: Status, media_ids: Iterable[int | str]) -> list[Media]:
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


def _check_length(text: str, spoiler_text: str) -> None:
    limit = get_settings().max_status_chars
    length = count(text) + count(spoiler_text)
    if length > limit:
        raise Invalid(f"text: {length} characters is longer than {limit} (with the content warning)")
    if len(spoiler_text) > MAX_SPOILER:
        raise Invalid(f"spoiler_text: at most {MAX_SPOILER} characters")


def _check_language(language: str | None) -> str | None:
    if language is None or language == "":
        return None
    value = language.strip().lower()
    if not (2 <= len(value) <= 16) or not all(c.isalnum() or c == "-" for c in value):
        raise Invalid(f"language {language[:20]!r} must be an ISO 639 code like 'en' or 'pt-br'")
    return value


def _reply_parent(session: Session, in_reply_to_id: int | str | None, author: Profile) -> Status | None:
    if in_reply_to_id is None or in_reply_to_id == "":
        return None
    try:
        parent_id = int(in_reply_to_id)
    except (TypeError, ValueError):
        raise Invalid(f"in_reply_to_id {str(in_reply_to_id)[:40]!r} is not an id") from None
    parent = session.get(Status, parent_id)
    if parent is None or parent.reblog_of_id is not None or not can_see(session, parent, author):
        raise NotFound(f"in_reply_to_id: no status {parent_id}")
    return parent


def _distribute(
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


def post(
    session: Session,
    author: Profile,
    text: str,
    *,
    visibility: str = "public",
    spoiler_text: str = "",
    sensitive: bool = False,
    language: str | None = None,
    in_reply_to_id: int | str | None = None,
    media_ids: Iterable[int | str] = (),
    resolved_mentions: Mapping[str, Profile] | None = None,
    group_id: int | None = None,
    group_member_ids: Iterable[int] = (),
) -> Status:
    """A local person posts `text` (Mastodon's plain text; at most MECHMOOC_MAX_STATUS_CHARS as
    Mastodon counts, content warning included). Remote mentions are linked and notified only when
    the caller resolved them (`resolved_mentions`: acct -> Profile, looked up by federation before
    the transaction). `group_id` sets a study group context (courses passes its members' profile
    ids, `group_member_ids`, for their feeds). Invalid/NotFound/PermissionDenied name the field."""
    _check_author(author)
    visibility = _check_visibility(visibility, group_id)
    spoiler_text = (spoiler_text or "").strip()
    _check_length(text, spoiler_text)
    media_list = list(media_ids)
    if not text.strip() and not media_list:
        raise Invalid("text: a status needs text or an attachment")
    parent = _reply_parent(session, in_reply_to_id, author)
    accts = render(text).mentions
    mentioned = _resolve_mentions(session, accts, resolved_mentions)
    rendered = render(text, {p.acct: p.url or p.uri for p in mentioned})
    status = Status(
        id=new_id(),
        profile_id=author.id,
        kind="group" if group_id is not None else "status",
        source="local",
        local=True,
        author_name=author.display_name or author.username,
        text=text,
        html=rendered.html,
        spoiler_text=spoiler_text,
        sensitive=bool(sensitive or spoiler_text),
        language=_check_language(language),
        visibility=visibility,
        group_id=group_id,
        in_reply_to_id=parent.id if parent else None,
        in_reply_to_ref=parent.ap_id if parent else None,
        in_reply_to_profile_id=parent.profile_id if parent else None,
        created_at=now(),
    )
    status.ap_id = urls.post(status.id)
    status.url = status_url(author, status.id)
    status.thread_id = (parent.thread_id or parent.id) if parent else status.id
    session.add(status)
    session.flush()
    _attach_media(session, author, status, media_list)
    tag_rows = tags.ensure(session, rendered.tags, rendered.tag_display)
    _distribute(session, status, author, mentioned, tag_rows, parent, group_member_ids)
    return status


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
        language=_check_language(language) if language and len(language) <= 16 else None,
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
    _distribute(session, status, author, mentioned, tag_rows, in_reply_to, group_member_ids)
    return status


def _snapshot(session: Session, status: Status, at: datetime) -> None:
    media = session.scalars(select(Media).where(Media.status_id == status.id).order_by(Media.position))
    session.add(
        StatusEdit(
            status_id=status.id,
            text=status.text,
            html=status.html,
            spoiler_text=status.spoiler_text,
            sensitive=status.sensitive,
            media=[{"id": str(m.id), "description": m.description} for m in media],
            created_at=at,
        )
    )


def edit(
    session: Session,
    status: Status,
    *,
    text: str | None = None,
    html: str | None = None,
    spoiler_text: str | None = None,
    sensitive: bool | None = None,
    language: str | None = None,
    media_ids: Iterable[int | str] | None = None,
    resolved_mentions: Mapping[str, Profile] | None = None,
    mentions: Iterable[Profile] = (),
) -> Status:
    """Change a status and keep its history (StatusEdit rows: the original at the first edit,
    then each new version). A local status takes `text` (rendered again; new mentions notified),
    a remote one `html` (sanitized by the caller) and `mentions`. Publishes `status.updated`;
    tells the local people who boosted it (`update`)."""
    if status.deleted or status.reblog_of_id is not None:
        raise Invalid(f"status {status.id} cannot be edited (deleted, or a boost)")
    author = session.get(Profile, status.profile_id) if status.profile_id else None
    if author is None:
        raise Invalid(f"status {status.id} has no author profile to edit it")
    first = session.scalar(select(StatusEdit.id).where(StatusEdit.status_id == status.id).limit(1)) is None
    if first:
        _snapshot(session, status, status.created_at)
    new_spoiler = status.spoiler_text if spoiler_text is None else spoiler_text.strip()
    new_mentions: list[Profile] = []
    if author.domain is None:
        new_text = status.text if text is None else text
        _check_length(new_text, new_spoiler)
        new_mentions = _resolve_mentions(session, render(new_text).mentions, resolved_mentions)
        rendered = render(new_text, {p.acct: p.url or p.uri for p in new_mentions})
        status.text, status.html = new_text, rendered.html
        tag_names, display = rendered.tags, rendered.tag_display
    else:
        if html is not None:
            status.html = html
            status.text = text or search.html_text(html)
        new_mentions = list(mentions)
        tag_names, display = [], {}
    if not status.text.strip() and media_ids is not None and not list(media_ids):
        raise Invalid("text: a status needs text or an attachment")
    status.spoiler_text = new_spoiler[:MAX_SPOILER]
    status.sensitive = bool(status.sensitive if sensitive is None else sensitive) or bool(status.spoiler_text)
    if language is not None:
        status.language = _check_language(language)
    if media_ids is not None and author.domain is None:
        chosen = list(media_ids)
        for media in session.scalars(select(Media).where(Media.status_id == status.id)):
            media.status_id = None
        session.flush()
        _attach_media(session, author, status, chosen)
    known = set(session.scalars(select(Mention.profile_id).where(Mention.status_id == status.id)))
    added = [p for p in new_mentions if p.id not in known]
    if added:
        session.execute(insert(Mention), [{"status_id": status.id, "profile_id": p.id} for p in added])
    if author.domain is None or tag_names:
        tags.attach(session, status.id, tags.ensure(session, tag_names, display))
    status.edited_at = now()
    session.flush()
    _snapshot(session, status, status.edited_at)
    for person in added:
        notify(session, person, "mention", from_profile_id=author.id, status_id=status.id)
    boosters = select(Status.profile_id).where(Status.reblog_of_id == status.id, Status.deleted.is_(False))
    for booster_id in session.scalars(boosters.limit(10_000)):
        if booster_id is not None:
            notify(session, booster_id, "update", from_profile_id=author.id, status_id=status.id)
    search.index(session, status)
    publish(session, "status.updated", {"status_id": status.id})
    return status


def history(session: Session, status: Status) -> list[StatusEdit]:
    """A status's versions, oldest first (empty when it was never edited)."""
    query = select(StatusEdit).where(StatusEdit.status_id == status.id).order_by(StatusEdit.id)
    return list(session.scalars(query))


def context(session: Session, status: Status, viewer: Profile | None) -> tuple[list[Status], list[Status]]:
    """The thread around `status` as `viewer` may see it: ancestors (oldest first, at most 40) and
    descendants (depth first, in reply order, at most 1000 looked at)."""
    ancestors: list[Status] = []
    seen = {status.id}
    current = status
    while current.in_reply_to_id is not None and len(ancestors) < MAX_CONTEXT_ANCESTORS:
        parent = session.get(Status, current.in_reply_to_id)
        if parent is None or parent.id in seen:
            break
        seen.add(parent.id)
        if can_see(session, parent, viewer):
            ancestors.append(parent)
        current = parent
    ancestors.reverse()
    root = status.thread_id or status.id
    rows = session.scalars(
        select(Status)
        .where(Status.thread_id == root, Status.id != status.id, Status.reblog_of_id.is_(None))
        .order_by(Status.id)
        .limit(MAX_CONTEXT_DESCENDANTS)
    ).all()
    children: dict[int, list[Status]] = {}
    for row in rows:
        if row.in_reply_to_id is not None:
            children.setdefault(row.in_reply_to_id, []).append(row)
    descendants: list[Status] = []
    stack = list(reversed(children.get(status.id, [])))
    while stack:
        row = stack.pop()
        if row.id in seen:
            continue
        seen.add(row.id)
        if can_see(session, row, viewer):
            descendants.append(row)
            stack.extend(reversed(children.get(row.id, [])))
    return ancestors, descendants
