"""Notifications of local people: made by `notify` (once per recipient, type, sender and status:
the table's unique constraint), never from someone the recipient blocks or mutes (with
notifications), nor from a suspended account, nor from a silenced one the recipient does not follow, read a page at a time by id cursors, counted since the last one marked read."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from community import paging
from community.access import blocked_between, follows
from community.models import NOTIFICATION_TYPES, Mute, Notification, Profile
from community.people import preferences
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish

MAX_UNREAD = 1000  # the unread count stops here ("1000+")


def _same(profile_id: int, type_: str, from_profile_id: int | None, status_id: int | None) -> ColumnElement[bool]:
    return and_(
        Notification.profile_id == profile_id,
        Notification.type == type_,
        Notification.from_profile_id.is_(None)
        if from_profile_id is None
        else Notification.from_profile_id == from_profile_id,
        Notification.status_id.is_(None) if status_id is None else Notification.status_id == status_id,
    )


def notify(
    session: Session,
    profile: Profile | int,
    type_: str,
    *,
    from_profile_id: int | None = None,
    status_id: int | None = None,
    report_id: int | None = None,
) -> Notification | None:
    """Tell the local person `profile` (or its id) about something of `type_`; None when nothing
    was made: not a local person, the sender is themselves, blocked either way, muted with
    notifications, suspended, or the same notification exists. Publishes `notification.created`."""
    if type_ not in NOTIFICATION_TYPES:
        raise Invalid(f"type {type_!r} is not a notification type")
    recipient = session.get(Profile, profile) if isinstance(profile, int) else profile
    if recipient is None or recipient.domain is not None or recipient.account_id is None:
        return None
    if recipient.suspended_at is not None or recipient.deleted_at is not None:
        return None
    if from_profile_id is not None:
        if from_profile_id == recipient.id:
            return None
        sender = session.get(Profile, from_profile_id)
        if sender is None or sender.suspended_at is not None:
            return None
        # A silenced account reaches only those who follow it (Mastodon filters the rest).
        if sender.silenced_at is not None and not follows(session, recipient.id, sender.id):
            return None
        if blocked_between(session, recipient.id, from_profile_id):
            return None
        mute = session.scalar(select(Mute).where(Mute.profile_id == recipient.id, Mute.target_id == from_profile_id))
        if mute is not None and mute.notifications:
            return None
    if session.scalar(select(Notification.id).where(_same(recipient.id, type_, from_profile_id, status_id))):
        return None
    notification = Notification(
        profile_id=recipient.id,
        type=type_,
        from_profile_id=from_profile_id,
        status_id=status_id,
        report_id=report_id,
        created_at=now(),
    )
    try:
        with session.begin_nested():
            session.add(notification)
            session.flush()
    except IntegrityError:  # the same one, made at the same moment elsewhere
        return None
    publish(session, "notification.created", {"notification_id": notification.id, "profile_id": recipient.id})
    return notification


def _check_types(types: Iterable[str] | None, name: str) -> list[str] | None:
    if types is None:
        return None
    chosen = [t for t in types if t]
    unknown = [t for t in chosen if t not in NOTIFICATION_TYPES]
    if unknown:
        raise Invalid(f"{name}: {', '.join(unknown[:5])} not a notification type")
    return chosen


def page(
    session: Session,
    profile: Profile,
    *,
    types: Iterable[str] | None = None,
    exclude_types: Iterable[str] | None = None,
    account_id: int | None = None,
    max_id: int | str | None = None,
    since_id: int | str | None = None,
    min_id: int | str | None = None,
    limit: int | None = None,
) -> list[Notification]:
    """A page of `profile`'s notifications, newest first, filtered by type (Mastodon's `types[]`
    and `exclude_types[]`) and by sender (`account_id`, a profile id)."""
    query = select(Notification).where(Notification.profile_id == profile.id)
    only, without = _check_types(types, "types"), _check_types(exclude_types, "exclude_types")
    if only:
        query = query.where(Notification.type.in_(only))
    if without:
        query = query.where(Notification.type.not_in(without))
    if account_id is not None:
        query = query.where(Notification.from_profile_id == account_id)
    return paging.fetch(session, query, Notification.id, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)


def unread_count(session: Session, profile: Profile) -> int:
    """How many notifications came after the last one marked read (at most MAX_UNREAD)."""
    last = preferences(session, profile).last_read_notification_id or 0
    inner = (
        select(Notification.id)
        .where(Notification.profile_id == profile.id, Notification.id > last)
        .limit(MAX_UNREAD)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def mark_read(session: Session, profile: Profile, up_to_id: int | None = None) -> int | None:
    """Mark `profile`'s notifications read up to `up_to_id` (default: all); the marker never moves back."""
    newest = session.scalar(select(func.max(Notification.id)).where(Notification.profile_id == profile.id))
    target = newest if up_to_id is None else min(up_to_id, newest or 0)
    prefs = preferences(session, profile)
    if target and (prefs.last_read_notification_id or 0) < target:
        prefs.last_read_notification_id = target
        session.flush()
    return prefs.last_read_notification_id


def get(session: Session, profile: Profile, notification_id: int) -> Notification:
    """One of `profile`'s notifications; NotFound for anyone else's."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.profile_id != profile.id:
        raise NotFound(f"no notification {notification_id}")
    return notification


def dismiss(session: Session, profile: Profile, notification_id: int) -> None:
    """Remove one of `profile`'s notifications."""
    session.delete(get(session, profile, notification_id))
    session.flush()


def clear(session: Session, profile: Profile) -> int:
    """Remove all of `profile`'s notifications; how many went."""
    result = session.execute(
        delete(Notification).where(Notification.profile_id == profile.id).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def remove_for_status(session: Session, status_ids: Iterable[int]) -> None:
    """Forget the notifications about statuses that are gone."""
    ids = list(status_ids)
    if ids:
        session.execute(
            delete(Notification).where(Notification.status_id.in_(ids)).execution_options(synchronize_session=False)
        )


def withdraw(session: Session, profile_id: int, type_: str, *, from_profile_id: int, status_id: int) -> None:
    """Forget the notification an act made once the act is taken back (an unfavourite: Mastodon's
    app/models/favourite.rb, `has_one :notification, as: :activity, dependent: :destroy`), so that
    doing it again notifies again."""
    session.execute(
        delete(Notification)
        .where(_same(profile_id, type_, from_profile_id, status_id))
        .execution_options(synchronize_session=False)
    )
