"""Timelines, newest first, paged by id cursors (`max_id`, `since_id`, `min_id`, `limit`; no
OFFSET): home (the viewer's feed table, one indexed range scan joined to posts), public (local,
remote or both), hashtag, a profile's statuses, a study group's. Deleted statuses, suspended
authors, and authors the viewer blocks, mutes or is blocked by never show."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, exists, or_, select, text
from sqlalchemy.orm import Session, aliased

from community import paging
from community.access import author_shown, blocked_between, follows, not_filtered_for, reblog_shown
from community.models import FeedEntry, Media, Mention, Profile, Status, StatusTag
from community.tags import find as find_tag

Cursor = int | str | None


def _filters(query: Select[Any], viewer: Profile | None) -> Select[Any]:
    query = query.where(Status.deleted.is_(False), Status.held.is_(False), author_shown())
    if viewer is not None:
        query = query.where(not_filtered_for(viewer.id))
    return query.where(reblog_shown(viewer.id if viewer is not None else None))


def _publicly_shown() -> Any:
    """The author is neither silenced nor suspended (Mastodon keeps silenced accounts off public timelines)."""
    author = aliased(Profile)
    return ~exists(select(author.id).where(author.id == Status.profile_id, author.silenced_at.is_not(None)))


def _author_ok(alias: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM community_profiles a WHERE a.id = {alias}.profile_id"
        " AND (a.suspended_at IS NOT NULL OR a.deleted_at IS NOT NULL))"
        f" AND NOT EXISTS (SELECT 1 FROM community_blocks b WHERE b.profile_id = :viewer AND b.target_id = {alias}.profile_id)"
        f" AND NOT EXISTS (SELECT 1 FROM community_blocks b WHERE b.profile_id = {alias}.profile_id AND b.target_id = :viewer)"
        f" AND NOT EXISTS (SELECT 1 FROM community_mutes m WHERE m.profile_id = :viewer AND m.target_id = {alias}.profile_id)"
    )


@lru_cache(maxsize=8)
def _home_statement(top: bool, since: bool, bottom: bool) -> Any:
    """The home timeline as one prebuilt statement per set of cursors (the same conditions as
    `_filters`, written out once: building them as expressions cost more than running them)."""
    table = Status.__table__
    conditions = [
        "community_feed.profile_id = :viewer",
        "posts.deleted = false",
        "posts.held = false",
        _author_ok("posts"),
        "(posts.reblog_of_id IS NULL OR EXISTS (SELECT 1 FROM posts o WHERE o.id = posts.reblog_of_id"
        f" AND o.deleted = false AND {_author_ok('o')}))",
    ]
    if top:
        conditions.append("community_feed.status_id < :max_id")
    if since:
        conditions.append("community_feed.status_id > :since_id")
    if bottom:
        conditions.append("community_feed.status_id > :min_id")
    columns = ", ".join(f"posts.{c.name}" for c in table.c)
    sql = (
        f"SELECT {columns} FROM community_feed JOIN posts ON posts.id = community_feed.status_id"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY community_feed.status_id {'ASC' if bottom else 'DESC'} LIMIT :limit"
    )
    return select(Status).from_statement(text(sql).columns(*table.c))


def home(
    session: Session,
    viewer: Profile,
    *,
    max_id: Cursor = None,
    since_id: Cursor = None,
    min_id: Cursor = None,
    limit: int | None = None,
) -> list[Status]:
    """The viewer's home timeline: their feed (own statuses and boosts, those of whom they follow,
    followed hashtags, direct statuses to them, their groups' posts), one range scan of the feed
    table's primary key joined to posts."""
    top, since, bottom = (
        paging.cursor(max_id, "max_id"),
        paging.cursor(since_id, "since_id"),
        paging.cursor(min_id, "min_id"),
    )
    params: dict[str, int] = {"viewer": viewer.id, "limit": paging.limit_of(limit)}
    for name, value in (("max_id", top), ("since_id", since), ("min_id", bottom)):
        if value is not None:
            params[name] = value
    statement = _home_statement(top is not None, since is not None, bottom is not None)
    rows = list(session.scalars(statement, params))
    return rows[::-1] if bottom is not None else rows


def _media_only(query: Select[Any]) -> Select[Any]:
    return query.where(exists(select(Media.id).where(Media.status_id == Status.id)))


def public(
    session: Session,
    viewer: Profile | None = None,
    *,
    local: bool = False,
    remote: bool = False,
    only_media: bool = False,
    max_id: Cursor = None,
    since_id: Cursor = None,
    min_id: Cursor = None,
    limit: int | None = None,
) -> list[Status]:
    """Public statuses (no boosts) of everyone (`local`: made here only; `remote`: from elsewhere only)."""
    query = select(Status).where(
        Status.visibility == "public", Status.reblog_of_id.is_(None), Status.profile_id.is_not(None), _publicly_shown()
    )
    if local and not remote:
        query = query.where(Status.local.is_(True))
    elif remote and not local:
        query = query.where(Status.local.is_(False))
    if only_media:
        query = _media_only(query)
    return paging.fetch(
        session, _filters(query, viewer), Status.id, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit
    )


def tag(
    session: Session,
    viewer: Profile | None,
    name: str,
    *,
    local: bool = False,
    remote: bool = False,
    only_media: bool = False,
    max_id: Cursor = None,
    since_id: Cursor = None,
    min_id: Cursor = None,
    limit: int | None = None,
) -> list[Status]:
    """Public statuses carrying hashtag `name`."""
    found = find_tag(session, name)
    if found is None:
        return []
    query = (
        select(Status)
        .join(StatusTag, StatusTag.status_id == Status.id)
        .where(StatusTag.tag_id == found.id, Status.visibility == "public", _publicly_shown())
    )
    if local and not remote:
        query = query.where(Status.local.is_(True))
    elif remote and not local:
        query = query.where(Status.local.is_(False))
    if only_media:
        query = _media_only(query)
    return paging.fetch(
        session,
        _filters(query, viewer),
        StatusTag.status_id,
        max_id=max_id,
        since_id=since_id,
        min_id=min_id,
        limit=limit,
    )


def of_profile(
    session: Session,
    viewer: Profile | None,
    profile: Profile,
    *,
    exclude_replies: bool = False,
    exclude_reblogs: bool = False,
    only_media: bool = False,
    pinned: bool = False,
    tagged: str | None = None,
    max_id: Cursor = None,
    since_id: Cursor = None,
    min_id: Cursor = None,
    limit: int | None = None,
) -> list[Status]:
    """`profile`'s statuses that `viewer` may see: all of them for themselves; public, unlisted
    and (for accepted followers) followers-only ones for others, and those that mention the
    viewer; nothing across a block or of a suspended profile."""
    own = viewer is not None and viewer.id == profile.id
    if not own:
        if profile.suspended_at is not None or profile.deleted_at is not None:
            return []
        if viewer is not None and blocked_between(session, viewer.id, profile.id):
            return []
    query = select(Status).where(Status.profile_id == profile.id)
    if not own:
        allowed = ["public", "unlisted"]
        if viewer is not None and follows(session, viewer.id, profile.id):
            allowed.append("private")
        shown: Any = Status.visibility.in_(allowed)
        if viewer is not None:
            mentions_viewer = exists(
                select(Mention.status_id).where(Mention.status_id == Status.id, Mention.profile_id == viewer.id)
            )
            shown = or_(shown, (Status.visibility.in_(("private", "direct"))) & mentions_viewer)
        query = query.where(shown)
    if exclude_replies:
        query = query.where(or_(Status.in_reply_to_id.is_(None), Status.in_reply_to_profile_id == profile.id))
    if exclude_reblogs:
        query = query.where(Status.reblog_of_id.is_(None))
    if only_media:
        query = _media_only(query)
    if pinned:
        query = query.where(Status.pinned_at.is_not(None))
    if tagged:
        found = find_tag(session, tagged)
        if found is None:
            return []
        query = query.where(
            exists(select(StatusTag.tag_id).where(StatusTag.status_id == Status.id, StatusTag.tag_id == found.id))
        )
    query = query.where(Status.deleted.is_(False), Status.held.is_(False))
    if viewer is not None and not own:
        query = query.where(reblog_shown(viewer.id))
    else:
        query = query.where(reblog_shown(None))
    return paging.fetch(session, query, Status.id, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)


def of_group(
    session: Session,
    viewer: Profile | None,
    group_id: int,
    *,
    max_id: Cursor = None,
    since_id: Cursor = None,
    min_id: Cursor = None,
    limit: int | None = None,
) -> list[Status]:
    """The statuses of study group `group_id` (its context; whether the viewer may read the group
    is for `courses` to say before asking)."""
    query = select(Status).where(Status.group_id == group_id, Status.reblog_of_id.is_(None))
    return paging.fetch(
        session, _filters(query, viewer), Status.id, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit
    )


def feed_contains(session: Session, viewer: Profile, status_id: int) -> bool:
    """True when the status is in the viewer's home feed."""
    query = select(FeedEntry.status_id).where(FeedEntry.profile_id == viewer.id, FeedEntry.status_id == status_id)
    return session.scalar(query) is not None
