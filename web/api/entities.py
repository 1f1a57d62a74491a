"""Mastodon's entities from our rows (docs.joinmastodon.org/entities; Mastodon 4.3's
app/serializers/rest): Account, Status, MediaAttachment, Mention, Tag, Notification, Application.

Ids are strings; times are ISO 8601 with milliseconds and `Z`. A list of statuses is rendered with a
fixed number of queries (`StatusRenderer` loads authors, media, mentions, tags and the viewer's
favourites, boosts and bookmarks for the whole list at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import media as pictures
from community.models import Bookmark, Favourite, Media, Mention, Notification, Profile, Status, StatusTag, Tag
from server.floor.urls import absolute

# Our visibilities as Mastodon's: a study group's post is for its members, as followers-only is.
VISIBILITY = {"public": "public", "unlisted": "unlisted", "private": "private", "direct": "direct", "group": "private"}
# Our notification types as Mastodon's (a reply is a mention there; a unit is addressed to the learner).
NOTIFICATION_TYPE = {
    "mention": "mention",
    "reply": "mention",
    "follow": "follow",
    "follow_request": "follow_request",
    "reblog": "reblog",
    "favourite": "favourite",
    "status": "status",
    "update": "update",
    "unit": "mention",
    "group_post": "status",
    "admin.report": "admin.report",
    "admin.sign_up": "admin.sign_up",
}
MISSING_AVATAR = "/static/avatar.png"
MISSING_HEADER = "/static/header.png"


def when(value: datetime | None) -> str | None:
    """Mastodon's timestamp: `2024-05-01T12:00:00.000Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def media_url(path: str | None) -> str | None:
    """The public URL of a stored media file (under /media/)."""
    return pictures.media_url(path) if path else None


def profile_url(profile: Profile) -> str:
    """A profile's HTML page."""
    return profile.url or (absolute(f"/@{profile.username}") if profile.domain is None else profile.uri)


def account(profile: Profile, *, moved: Profile | None = None) -> dict[str, Any]:
    """The Account entity of a profile."""
    avatar = profile.avatar_url or absolute(MISSING_AVATAR)
    header = profile.header_url or absolute(MISSING_HEADER)
    joined = profile.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    entity: dict[str, Any] = {
        "id": str(profile.id),
        "username": profile.username,
        "acct": profile.acct,
        "display_name": profile.display_name,
        "locked": profile.locked,
        "bot": profile.bot,
        "discoverable": profile.discoverable,
        "indexable": profile.indexable,
        "group": profile.group,
        "created_at": when(joined),
        "note": profile.note,
        "url": profile_url(profile),
        "uri": profile.uri,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": profile.followers_count,
        "following_count": profile.following_count,
        "statuses_count": profile.statuses_count,
        "last_status_at": profile.last_status_at.date().isoformat() if profile.last_status_at else None,
        "hide_collections": False,
        "emojis": [],
        "roles": [],
        "fields": [
            {"name": str(f.get("name", "")), "value": str(f.get("value", "")), "verified_at": None}
            for f in profile.fields or []
        ],
    }
    if profile.domain is None:
        entity["noindex"] = not profile.indexable
    if profile.suspended_at is not None:
        entity["suspended"] = True
    if profile.silenced_at is not None:
        entity["limited"] = True
    if moved is not None:
        entity["moved"] = account(moved)
    return entity


def credential_account(profile: Profile, *, privacy: str, language: str | None, follow_requests: int) -> dict[str, Any]:
    """The Account of verify_credentials: with `source` (what the person typed) and `role`."""
    entity = account(profile)
    entity["source"] = {
        "privacy": privacy,
        "sensitive": False,
        "language": language or "",
        "note": profile.note_source,
        "fields": [{"name": f["name"], "value": f["value"], "verified_at": None} for f in entity["fields"]],
        "follow_requests_count": follow_requests,
        "hide_collections": False,
        "discoverable": profile.discoverable,
        "indexable": profile.indexable,
        "attribution_domains": [],
    }
    entity["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False}
    return entity


def media_attachment(media: Media) -> dict[str, Any]:
    """The MediaAttachment entity."""
    url = media_url(media.path) or media.remote_url
    preview = media_url(media.preview_path) or url
    meta: dict[str, Any] = {}
    if media.width and media.height:
        size = {"width": media.width, "height": media.height, "size": f"{media.width}x{media.height}"}
        meta = {"original": {**size, "aspect": media.width / media.height}, "small": dict(size)}
    return {
        "id": str(media.id),
        "type": media.kind if media.kind in {"image", "gifv", "video", "audio"} else "unknown",
        "url": url if media.state != "processing" else None,
        "preview_url": preview,
        "remote_url": media.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": media.description or None,
        "blurhash": media.blurhash,
    }


def tag(tag_row: Tag, *, following: bool | None = None) -> dict[str, Any]:
    """The Tag entity (history left empty: we keep no per-day counts)."""
    entity: dict[str, Any] = {
        "name": tag_row.display_name or tag_row.name,
        "url": absolute(f"/tags/{tag_row.name}"),
        "history": [],
    }
    if following is not None:
        entity["following"] = following
    return entity


def application(name: str, website: str | None) -> dict[str, Any]:
    """The Application shown on a status."""
    return {"name": name, "website": website}


class StatusRenderer:
    """Renders statuses for one viewer, loading what they refer to in a few batched queries."""

    def __init__(self, session: Session, viewer: Profile | None) -> None:
        self.session = session
        self.viewer = viewer
        self.accounts: dict[int, dict[str, Any]] = {}  # an author of many statuses is rendered once

    def _account(self, profile: Profile) -> dict[str, Any]:
        if profile.id not in self.accounts:
            self.accounts[profile.id] = account(profile)
        return self.accounts[profile.id]

    def render(self, statuses: Iterable[Status]) -> list[dict[str, Any]]:
        """The Status entities of `statuses` (those whose author is unknown are left out)."""
        rows = list(statuses)
        originals = self._load_originals(rows)
        every = {s.id: s for s in [*rows, *originals.values()]}
        self._load(every)
        rendered = []
        for status in rows:
            entity = self._status(status, originals)
            if entity is not None:
                rendered.append(entity)
        return rendered

    def one(self, status: Status) -> dict[str, Any] | None:
        """One Status entity."""
        found = self.render([status])
        return found[0] if found else None

    def _load_originals(self, rows: list[Status]) -> dict[int, Status]:
        wanted = {s.reblog_of_id for s in rows if s.reblog_of_id}
        if not wanted:
            return {}
        return {s.id: s for s in self.session.scalars(select(Status).where(Status.id.in_(wanted)))}

    def _load(self, every: dict[int, Status]) -> None:
        ids = list(every)
        db = self.session
        self.media: dict[int, list[Media]] = {}
        for media in db.scalars(select(Media).where(Media.status_id.in_(ids)).order_by(Media.position, Media.id)):
            self.media.setdefault(media.status_id or 0, []).append(media)
        self.mentions: dict[int, list[int]] = {}
        for status_id, profile_id in db.execute(
            select(Mention.status_id, Mention.profile_id).where(Mention.status_id.in_(ids))
        ):
            self.mentions.setdefault(status_id, []).append(profile_id)
        self.tags: dict[int, list[Tag]] = {}
        for status_id, tag_row in db.execute(
            select(StatusTag.status_id, Tag).join(Tag, Tag.id == StatusTag.tag_id).where(StatusTag.status_id.in_(ids))
        ):
            self.tags.setdefault(status_id, []).append(tag_row)
        profile_ids = {s.profile_id for s in every.values() if s.profile_id}
        profile_ids |= {p for found in self.mentions.values() for p in found}
        self.profiles = {p.id: p for p in db.scalars(select(Profile).where(Profile.id.in_(profile_ids)))}
        self.favourited: set[int] = set()
        self.reblogged: set[int] = set()
        self.bookmarked: set[int] = set()
        if self.viewer is not None:
            me = self.viewer.id
            self.favourited = set(
                db.scalars(select(Favourite.status_id).where(Favourite.profile_id == me, Favourite.status_id.in_(ids)))
            )
            self.bookmarked = set(
                db.scalars(select(Bookmark.status_id).where(Bookmark.profile_id == me, Bookmark.status_id.in_(ids)))
            )
            self.reblogged = {
                rid
                for rid in db.scalars(
                    select(Status.reblog_of_id).where(
                        Status.profile_id == me, Status.reblog_of_id.in_(ids), Status.deleted.is_(False)
                    )
                )
                if rid is not None
            }

    def _status(self, status: Status, originals: dict[int, Status]) -> dict[str, Any] | None:
        author = self.profiles.get(status.profile_id or 0)
        if author is None:
            return None
        reblog = None
        if status.reblog_of_id:
            original = originals.get(status.reblog_of_id)
            reblog = self._status(original, originals) if original is not None else None
            if reblog is None:
                return None
        mine = self.viewer is not None and status.profile_id == self.viewer.id
        entity: dict[str, Any] = {
            "id": str(status.id),
            "created_at": when(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": str(status.in_reply_to_profile_id) if status.in_reply_to_profile_id else None,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": VISIBILITY.get(status.visibility, "public"),
            "language": status.language,
            "uri": status.ap_id or absolute(f"/posts/{status.id}"),
            "url": status.url
            or (absolute(f"/@{author.username}/{status.id}") if author.domain is None else status.ap_id),
            "replies_count": status.replies_count,
            "reblogs_count": status.reblogs_count,
            "favourites_count": status.favourites_count,
            "edited_at": when(status.edited_at),
            "content": "" if reblog else status.html,
            "reblog": reblog,
            "application": None,
            "account": self._account(author),
            "media_attachments": [media_attachment(m) for m in self.media.get(status.id, [])],
            "mentions": [self._mention(pid) for pid in self.mentions.get(status.id, []) if pid in self.profiles],
            "tags": [{"name": t.name, "url": absolute(f"/tags/{t.name}")} for t in self.tags.get(status.id, [])],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        if self.viewer is not None:
            entity["favourited"] = status.id in self.favourited
            entity["reblogged"] = status.id in self.reblogged
            entity["muted"] = False
            entity["bookmarked"] = status.id in self.bookmarked
            entity["filtered"] = []
            if mine:
                entity["pinned"] = status.pinned_at is not None
        return entity

    def _mention(self, profile_id: int) -> dict[str, Any]:
        profile = self.profiles[profile_id]
        return {"id": str(profile.id), "username": profile.username, "url": profile_url(profile), "acct": profile.acct}


def notification(session: Session, row: Notification, renderer: StatusRenderer) -> dict[str, Any] | None:
    """The Notification entity (None when its sender is gone)."""
    sender = session.get(Profile, row.from_profile_id) if row.from_profile_id else None
    if sender is None:
        return None
    entity: dict[str, Any] = {
        "id": str(row.id),
        "type": NOTIFICATION_TYPE.get(row.type, row.type),
        "created_at": when(row.created_at),
        "group_key": f"ungrouped-{row.id}",
        "account": account(sender),
    }
    if row.status_id:
        status = session.get(Status, row.status_id)
        rendered = renderer.one(status) if status is not None and not status.deleted else None
        if rendered is None:
            return None
        entity["status"] = rendered
    return entity
