"""Statuses and profiles as the pages show them: plain data for the templates, loaded in batches.

A page of 40 statuses costs a fixed number of queries (authors, boosted originals, media, the
viewer's favourites, boosts and bookmarks), never one per status. Status HTML is sanitized when it
is stored; it is cleaned once more here to a small allowlist (defence in depth: a remote post's
markup can never carry a script or a style into our pages), and posts that came by email lose our
secret links (mail.scrub), as on the group page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nh3
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Bookmark, Favourite, Media, Profile, Status
from mail.scrub import scrub_html, scrub_text

_TAGS = {"p", "br", "a", "span", "strong", "em", "b", "i", "u", "del", "s", "ul", "ol", "li", "blockquote"}
_TAGS |= {"code", "pre", "h1", "h2", "h3", "h4"}
_ATTRIBUTES = {"a": {"href", "class", "title"}, "span": {"class"}}
_LINK_REL = "nofollow noopener noreferrer"


def clean(html: str) -> Markup:
    """Stored status HTML cleaned to the pages' allowlist (links keep their href and class only)."""
    return Markup(
        nh3.clean(html or "", tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https"}, link_rel=_LINK_REL)
    )


@dataclass(frozen=True)
class Person:
    """A profile as a byline shows it."""

    id: int
    acct: str
    display_name: str
    url: str  # our page of them: /@user or /@user@host
    remote_url: str | None  # their own page, for remote profiles
    avatar_url: str | None
    avatar_description: str
    local: bool
    locked: bool
    bot: bool
    kind: str

    @property
    def name(self) -> str:
        """What to call them: the display name, else the handle."""
        return self.display_name or self.acct


def person(profile: Profile) -> Person:
    """`profile` as a byline."""
    return Person(
        id=profile.id,
        acct=profile.acct,
        display_name=profile.display_name,
        url=profile_path(profile),
        remote_url=None if profile.local else (profile.url or profile.uri),
        avatar_url=profile.avatar_url,
        avatar_description=profile.avatar_description,
        local=profile.local,
        locked=profile.locked,
        bot=profile.bot,
        kind=profile.kind,
    )


def profile_path(profile: Profile) -> str:
    """Our page of `profile`."""
    return f"/@{profile.acct}"


def status_path(status: Status, author: Profile | None) -> str:
    """The thread page of `status` (a status without a profile: its id under /posts)."""
    if author is None:
        return f"/posts/{status.id}"
    return f"/@{author.acct}/{status.id}"


@dataclass
class Picture:
    """An image of a status."""

    id: int
    url: str
    preview_url: str
    description: str
    width: int | None
    height: int | None


@dataclass
class Card:
    """A status as a card: the post (or, for a boost, the boosted post) with who boosted it."""

    id: int  # the shown status (the original of a boost)
    entry_id: int  # the timeline entry (the boost itself for a boost): what cursors page by
    path: str
    author: Person | None
    author_name: str
    content: Markup
    spoiler_text: str
    sensitive: bool
    language: str | None
    visibility: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    replies_count: int
    reblogs_count: int
    favourites_count: int
    in_reply_to_path: str | None
    in_reply_to_name: str | None
    group_id: int | None
    pinned: bool
    local: bool
    remote_url: str | None
    boosted_by: Person | None = None
    pictures: list[Picture] = field(default_factory=list)
    favourited: bool = False
    reblogged: bool = False
    bookmarked: bool = False
    mine: bool = False


def media_url(media: Media, preview: bool = False) -> str:
    """Where a picture is served: our media folder for local files, the remote URL otherwise."""
    path = (media.preview_path or media.path) if preview else media.path
    if path:
        return f"/media/{path}"
    return media.remote_url or ""


def _content(status: Status) -> Markup:
    if status.deleted:
        return Markup("")
    if status.source == "email":  # a group post by mail: our secret links never show
        if status.html:
            return clean(scrub_html(status.html))
        text = scrub_text(status.text)
        return Markup("".join(f"<p>{escape(p).replace(chr(10), Markup('<br>'))}</p>" for p in text.split("\n\n")))
    if status.html:
        return clean(status.html)
    return Markup("".join(f"<p>{escape(p)}</p>" for p in (status.text or "").split("\n\n") if p.strip()))


def _profiles(session: Session, ids: Iterable[int | None]) -> dict[int, Profile]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(wanted)))}


def _ids_of(session: Session, model: Any, viewer_id: int, status_ids: set[int]) -> set[int]:
    if not status_ids:
        return set()
    query = select(model.status_id).where(model.profile_id == viewer_id, model.status_id.in_(status_ids))
    return set(session.scalars(query))


def cards(session: Session, statuses: Sequence[Status], viewer: Profile | None) -> list[Card]:
    """`statuses` as cards for `viewer` (None: a visitor), in the same order."""
    originals_ids = {s.reblog_of_id for s in statuses if s.reblog_of_id is not None}
    originals = (
        {s.id: s for s in session.scalars(select(Status).where(Status.id.in_(originals_ids)))} if originals_ids else {}
    )
    shown = [originals.get(s.reblog_of_id, s) if s.reblog_of_id else s for s in statuses]
    parents_ids = {s.in_reply_to_id for s in shown if s.in_reply_to_id is not None}
    parents = (
        dict(session.execute(select(Status.id, Status.profile_id).where(Status.id.in_(parents_ids))).tuples().all())
        if parents_ids
        else {}
    )
    profiles = _profiles(
        session, [*(s.profile_id for s in statuses), *(s.profile_id for s in shown), *parents.values()]
    )
    shown_ids = {s.id for s in shown}
    pictures: dict[int, list[Picture]] = {}
    if shown_ids:
        query = select(Media).where(Media.status_id.in_(shown_ids)).order_by(Media.position, Media.id)
        for media in session.scalars(query):
            if media.status_id is not None:
                picture = Picture(
                    media.id, media_url(media), media_url(media, True), media.description, media.width, media.height
                )
                pictures.setdefault(media.status_id, []).append(picture)
    favourited = reblogged = bookmarked = set()
    if viewer is not None:
        favourited = _ids_of(session, Favourite, viewer.id, shown_ids)
        bookmarked = _ids_of(session, Bookmark, viewer.id, shown_ids)
        boosts = select(Status.reblog_of_id).where(Status.profile_id == viewer.id, Status.reblog_of_id.in_(shown_ids))
        reblogged = {i for i in session.scalars(boosts.where(Status.deleted.is_(False))) if i is not None}
    result = []
    for entry, status in zip(statuses, shown, strict=True):
        author = profiles.get(status.profile_id) if status.profile_id is not None else None
        parent_author = profiles.get(parents.get(status.in_reply_to_id) or 0) if status.in_reply_to_id else None
        in_reply_to_path = None
        if status.in_reply_to_id is not None and status.in_reply_to_id in parents:
            in_reply_to_path = (
                f"/@{parent_author.acct}/{status.in_reply_to_id}"
                if parent_author
                else f"/posts/{status.in_reply_to_id}"
            )
        booster = profiles.get(entry.profile_id) if entry is not status and entry.profile_id is not None else None
        result.append(
            Card(
                id=status.id,
                entry_id=entry.id,
                path=status_path(status, author),
                author=person(author) if author else None,
                author_name=(author.display_name or author.acct) if author else (status.author_name or "Someone"),
                content=_content(status),
                spoiler_text=status.spoiler_text,
                sensitive=status.sensitive,
                language=status.language,
                visibility=status.visibility,
                created_at=status.created_at,
                edited_at=status.edited_at,
                deleted=status.deleted,
                replies_count=status.replies_count,
                reblogs_count=status.reblogs_count,
                favourites_count=status.favourites_count,
                in_reply_to_path=in_reply_to_path,
                in_reply_to_name=(parent_author.display_name or parent_author.acct) if parent_author else None,
                group_id=status.group_id,
                pinned=status.pinned_at is not None,
                local=status.local,
                remote_url=None if status.local else (status.url or status.ap_id),
                boosted_by=person(booster) if booster else None,
                pictures=pictures.get(status.id, []),
                favourited=status.id in favourited,
                reblogged=status.id in reblogged,
                bookmarked=status.id in bookmarked,
                mine=viewer is not None and status.profile_id == viewer.id,
            )
        )
    return result
