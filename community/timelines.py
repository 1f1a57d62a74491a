"""Timelines, newest first, paged by id cursors (`max_id`, `since_id`, `min_id`, `limit`; no
OFFSET): home (the viewer's feed table, one indexed range scan joined to posts), public (local,
remote or both), hashtag, a profile's statuses, a study group's. Deleted statuses, suspended
authors, and authors the viewer blocks, mutes or is blocked by never show."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Select, bindparam, exists, or_, select, text
from sqlalchemy.orm import Session, aliased

from community import paging
from community.access import VIEWER, author_shown, blocked_between, follows, not_filtered_for, reblog_shown
from community.models import FeedEntry, Media, Mention, Profile, Status, StatusTag
from community.tags import find as find_tag
from server.floor.db import is_postgres

Cursor = int | str | None


def _filters(query: Select[Any], viewer: Profile | None | bool) -> Select[Any]:
    """Deleted, held, hidden authors, the viewer's blocks and mutes, hidden boosts. `viewer` True:
    the viewer's id is the statement's `viewer` parameter (a prebuilt statement)."""
    query = query.where(Status.deleted.is_(False), Status.held.is_(False), author_shown())
    viewer_id: Any = VIEWER if viewer is True else (viewer.id if isinstance(viewer, Profile) else None)
    if viewer_id is not None:
        query = query.where(not_filtered_for(viewer_id))
    return query.where(reblog_shown(viewer_id))


def _origin(query: Select[Any], local: bool, remote: bool) -> Select[Any]:
    if local and not remote:
        return query.where(Status.local.is_(True))
    if remote and not local:
        return query.where(Status.local.is_(False))
    return query


@lru_cache(maxsize=64)
def _public_statement(
    viewer: bool, local: bool, remote: bool, only_media: bool, given: tuple[bool, bool, bool]
) -> Select[Any]:
    query = select(Status).where(
        Status.visibility == "public", Status.reblog_of_id.is_(None), Status.profile_id.is_not(None), _publicly_shown()
    )
    query = _origin(query, local, remote)
    if only_media:
        query = _media_only(query)
    return paging.prebuilt(_filters(query, viewer), Status.id, given)


@lru_cache(maxsize=64)
def _tag_statement(
    viewer: bool, local: bool, remote: bool, only_media: bool, given: tuple[bool, bool, bool]
) -> Select[Any]:
    query = (
        select(Status)
        .join(StatusTag, StatusTag.status_id == Status.id)
        .where(
            StatusTag.tag_id == bindparam("tag_id", type_=BigInteger()),
            Status.visibility == "public",
            _publicly_shown(),
        )
    )
    query = _origin(query, local, remote)
    if only_media:
        query = _media_only(query)
    return paging.prebuilt(_filters(query, viewer), StatusTag.status_id, given, also=Status.id)


@lru_cache(maxsize=16)
def _group_statement(viewer: bool, given: tuple[bool, bool, bool]) -> Select[Any]:
    query = select(Status).where(
        Status.group_id == bindparam("group_id", type_=BigInteger()), Status.reblog_of_id.is_(None)
    )
    return paging.prebuilt(_filters(query, viewer), Status.id, given)


def _run(
    session: Session,
    statement: Select[Any],
    given: tuple[bool, bool, bool],
    params: dict[str, int],
    viewer: Profile | None,
) -> list[Status]:
    if viewer is not None:
        params["viewer"] = viewer.id
    return paging.run(session, statement, given, params)


def _publicly_shown() -> Any:
    """The author is neither silenced nor suspended (Mastodon keeps silenced accounts off public timelines)."""
    author = aliased(Profile)
    return ~exists(
        select(author.id).where(author.id == Status.profile_id, author.silenced_at.is_not(None)).limit(1).offset(0)
    )


def _author_ok(alias: str, postgres: bool) -> str:
    """The author is not suspended or deleted, and no block or mute of the viewer's is in the way.
    The viewer's blocks both ways and mutes are one uncorrelated `NOT IN` set, made once per
    statement (hashed on PostgreSQL, an ephemeral index on SQLite): three correlated probes per
    row cost more to plan and to run. Hidden profiles: on PostgreSQL a per-row probe of their
    partial index (`OFFSET 0` keeps it a subplan rather than an anti-join, whose estimates once
    made the page look costly enough to JIT-compile; the set of hidden profiles grows with the
    fediverse); on SQLite, the small instance's database, they join the set (its probe read each
    author's row)."""
    hidden = "SELECT a.id FROM community_profiles a WHERE (a.suspended_at IS NOT NULL OR a.deleted_at IS NOT NULL)"
    excluded = (
        "SELECT b.target_id FROM community_blocks b WHERE b.profile_id = :viewer"
        " UNION ALL SELECT b.profile_id FROM community_blocks b WHERE b.target_id = :viewer"
        " UNION ALL SELECT m.target_id FROM community_mutes m WHERE m.profile_id = :viewer"
    )  # NOT NULL columns only: NOT IN never meets a NULL
    if not postgres:
        excluded += f" UNION ALL {hidden}"
    shown = f"({alias}.profile_id IS NULL OR {alias}.profile_id NOT IN ({excluded}))"
    if postgres:
        return f"NOT EXISTS ({hidden} AND a.id = {alias}.profile_id LIMIT 1 OFFSET 0) AND {shown}"
    return shown


@lru_cache(maxsize=64)
def _home_statement(top: bool, since: bool, bottom: bool, postgres: bool = False, limit: int = paging.MAX_LIMIT) -> Any:
    """The home timeline as one prebuilt statement per set of cursors and page size (the same
    conditions as `_filters`, written out once: building them as expressions cost more than
    running them). The page size is written in (a whole number from `paging.limit_of`): with
    `LIMIT $n` PostgreSQL's generic plan of the prepared statement is costed for a tenth of the
    feed, dearer than a custom plan and, on a big enough feed, dear enough to JIT-compile."""
    table = Status.__table__
    conditions = [
        "community_feed.profile_id = :viewer",
        "posts.deleted = false",
        "posts.held = false",
        _author_ok("posts", postgres),
    ]
    # Each bound twice, on the feed and on posts: a generic plan of the prepared statement (psycopg
    # prepares after 5 runs) may merge-join the two primary keys, and without its own bound the
    # posts side would be scanned from the newest status down to the cursor.
    if top:
        conditions.append("community_feed.status_id < :max_id AND posts.id < :max_id")
    if since:
        conditions.append("community_feed.status_id > :since_id AND posts.id > :since_id")
    if bottom:
        conditions.append("community_feed.status_id > :min_id AND posts.id > :min_id")
    columns = ", ".join(f"posts.{c.name}" for c in table.c)
    sql = (
        f"SELECT {columns} FROM community_feed JOIN posts ON posts.id = community_feed.status_id"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY community_feed.status_id {'ASC' if bottom else 'DESC'} LIMIT {int(limit)}"
    )
    return select(Status).from_statement(text(sql).columns(*table.c))


@lru_cache(maxsize=1)
def _boosted_statement() -> Any:
    """Which of the boosted originals (`ids`, expanding) the viewer may see: built once."""
    ids = bindparam("ids", type_=BigInteger(), expanding=True)
    return select(Status.id).where(
        Status.id.in_(ids), Status.deleted.is_(False), author_shown(), not_filtered_for(VIEWER)
    )


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
    size = paging.limit_of(limit)
    params: dict[str, int] = {"viewer": viewer.id}
    for name, value in (("max_id", top), ("since_id", since), ("min_id", bottom)):
        if value is not None:
            params[name] = value
    statement = _home_statement(top is not None, since is not None, bottom is not None, is_postgres(session), size)
    rows = list(session.scalars(statement, params))
    boosted = {s.reblog_of_id for s in rows if s.reblog_of_id is not None}
    if boosted:  # rare in a page, and a simpler statement plans much faster without their check
        shown = set(session.scalars(_boosted_statement(), {"ids": sorted(boosted), "viewer": viewer.id}))
        rows = [s for s in rows if s.reblog_of_id is None or s.reblog_of_id in shown]
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
    given, params = paging.bounds(max_id, since_id, min_id, limit)
    statement = _public_statement(viewer is not None, local, remote, only_media, given)
    return _run(session, statement, given, params, viewer)


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
    given, params = paging.bounds(max_id, since_id, min_id, limit)
    params["tag_id"] = found.id
    statement = _tag_statement(viewer is not None, local, remote, only_media, given)
    return _run(session, statement, given, params, viewer)


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
    params: dict[str, int] = {}
    if viewer is not None and not own:
        query = query.where(reblog_shown(VIEWER))  # built once; the viewer's id is a parameter
        params["viewer"] = viewer.id
    else:
        query = query.where(reblog_shown(None))
    bounded, reverse = paging.window(query, Status.id, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)
    rows = list(session.scalars(bounded, params))
    return rows[::-1] if reverse else rows


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
    given, params = paging.bounds(max_id, since_id, min_id, limit)
    params["group_id"] = group_id
    return _run(session, _group_statement(viewer is not None, given), given, params, viewer)


def feed_contains(session: Session, viewer: Profile, status_id: int) -> bool:
    """True when the status is in the viewer's home feed."""
    query = select(FeedEntry.status_id).where(FeedEntry.profile_id == viewer.id, FeedEntry.status_id == status_id)
    return session.scalar(query) is not None
