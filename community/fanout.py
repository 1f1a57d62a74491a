"""Home feeds, filled on write (Mastodon's FanOutOnWriteService): when a status is made, one
INSERT ... SELECT puts it into the feed of every local follower, however many; then the tag
followers and the people named explicitly (the author, the mentioned of a direct status, the
members of a group)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, exists, literal, select
from sqlalchemy.orm import Session, aliased

from community.models import FeedEntry, Follow, Profile, Status, TagFollow
from server.floor.db import upsert_insert

MERGE_ON_FOLLOW = 40  # a new follow brings this many of the followed profile's latest statuses in


def _local_person(profile: Any) -> Any:
    return (profile.domain.is_(None)) & (profile.account_id.is_not(None))


def add(session: Session, status_id: int, profile_ids: Iterable[int]) -> None:
    """Put the status into these profiles' feeds (local people only; duplicates ignored)."""
    ids = sorted(set(profile_ids))
    if not ids:
        return
    chosen = select(Profile.id, literal(status_id)).where(Profile.id.in_(ids), _local_person(Profile))
    session.execute(
        upsert_insert(session, FeedEntry).from_select(["profile_id", "status_id"], chosen).on_conflict_do_nothing()
    )


def to_followers(session: Session, status: Status, *, reblog: bool = False) -> None:
    """The status into the feeds of its author's accepted local followers (one INSERT ... SELECT).

    A reply to someone else reaches only the followers who follow that someone too (Mastodon's
    home filter); a boost only those who show the booster's boosts."""
    follower = aliased(Profile)
    query = (
        select(Follow.profile_id, literal(status.id))
        .join(follower, follower.id == Follow.profile_id)
        .where(Follow.target_id == status.profile_id, Follow.accepted.is_(True), _local_person(follower))
    )
    if reblog:
        query = query.where(Follow.show_reblogs.is_(True))
    replied = status.in_reply_to_profile_id
    if not reblog and replied is not None and replied != status.profile_id:
        also = aliased(Follow)
        query = query.where(
            (Follow.profile_id == replied)
            | exists(
                select(also.id).where(
                    also.profile_id == Follow.profile_id, also.target_id == replied, also.accepted.is_(True)
                )
            )
        )
    session.execute(
        upsert_insert(session, FeedEntry).from_select(["profile_id", "status_id"], query).on_conflict_do_nothing()
    )


def to_followers_of(session: Session, status_id: int, target_ids: Iterable[int]) -> None:
    """A status into the feeds of the local people who follow any of `target_ids` (one INSERT ...
    SELECT): a course's news reaches those who follow the course or one of its runs."""
    ids = sorted(set(target_ids))
    if not ids:
        return
    follower = aliased(Profile)
    query = (
        select(Follow.profile_id, literal(status_id))
        .join(follower, follower.id == Follow.profile_id)
        .where(Follow.target_id.in_(ids), Follow.accepted.is_(True), _local_person(follower))
        .group_by(Follow.profile_id)
    )
    session.execute(
        upsert_insert(session, FeedEntry).from_select(["profile_id", "status_id"], query).on_conflict_do_nothing()
    )


def to_tag_followers(session: Session, status_id: int, tag_ids: Iterable[int]) -> None:
    """A public status into the feeds of the local people following one of its hashtags."""
    ids = list(tag_ids)
    if not ids:
        return
    query = (
        select(TagFollow.profile_id, literal(status_id)).where(TagFollow.tag_id.in_(ids)).group_by(TagFollow.profile_id)
    )
    session.execute(
        upsert_insert(session, FeedEntry).from_select(["profile_id", "status_id"], query).on_conflict_do_nothing()
    )


def remove(session: Session, status_ids: Iterable[int]) -> None:
    """Take statuses out of every feed."""
    ids = list(status_ids)
    if ids:
        session.execute(
            delete(FeedEntry).where(FeedEntry.status_id.in_(ids)).execution_options(synchronize_session=False)
        )


def unmerge(session: Session, profile_id: int, author_id: int) -> None:
    """Take `author_id`'s statuses (and boosts) out of `profile_id`'s feed (unfollow, block)."""
    theirs = select(Status.id).where(Status.profile_id == author_id)
    session.execute(
        delete(FeedEntry)
        .where(FeedEntry.profile_id == profile_id, FeedEntry.status_id.in_(theirs))
        .execution_options(synchronize_session=False)
    )


def merge(session: Session, profile_id: int, author_id: int, limit: int = MERGE_ON_FOLLOW) -> None:
    """Bring `author_id`'s latest public, unlisted and followers-only statuses into `profile_id`'s
    feed (a new follow), if `profile_id` is a local person."""
    person = session.get(Profile, profile_id)
    if person is None or person.domain is not None or person.account_id is None:
        return
    latest = (
        select(Status.id)
        .where(
            Status.profile_id == author_id,
            Status.deleted.is_(False),
            Status.held.is_(False),
            Status.visibility.in_(("public", "unlisted", "private")),
        )
        .order_by(Status.profile_id.desc(), Status.id.desc())
        .limit(limit)
        .subquery()
    )
    query = select(literal(profile_id), latest.c.id).where(latest.c.id.is_not(None))
    session.execute(
        upsert_insert(session, FeedEntry).from_select(["profile_id", "status_id"], query).on_conflict_do_nothing()
    )


def add_group(session: Session, status_id: int, member_profile_ids: Iterable[int]) -> None:
    """A group status into the feeds of the group's members who are local people (courses knows
    the members and passes their profile ids)."""
    add(session, status_id, member_profile_ids)


def in_feed(session: Session, profile_id: int, status_id: int) -> bool:
    """True when the status is in the profile's feed."""
    query = select(FeedEntry.status_id).where(FeedEntry.profile_id == profile_id, FeedEntry.status_id == status_id)
    return session.scalar(query) is not None
