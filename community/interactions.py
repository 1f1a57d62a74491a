"""What people do to a status: boost (a status with `reblog_of_id`), favourite, bookmark, pin."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from community import fanout
from community.access import can_see
from community.models import Bookmark, Favourite, Profile, Status
from community.notifications import notify, withdraw
from community.people import bump
from community.removal import delete
from server.floor import urls
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish
from server.floor.ids import new_id

MAX_PINNED = 5


def _original(session: Session, status: Status) -> Status:
    """The boosted status when `status` is a boost (what an undo applies to); else `status`."""
    if status.reblog_of_id is not None:
        return session.get(Status, status.reblog_of_id) or status
    return status


def _visible(session: Session, status: Status, profile: Profile) -> Status:
    if status.reblog_of_id is not None:
        original = session.get(Status, status.reblog_of_id)
        if original is None:
            raise NotFound(f"no status {status.id}")
        status = original
    if not can_see(session, status, profile):
        raise NotFound(f"no status {status.id}")
    return status


def boost_of(session: Session, profile: Profile, status: Status) -> Status | None:
    """`profile`'s live boost of `status`, if any."""
    query = select(Status).where(
        Status.profile_id == profile.id, Status.reblog_of_id == status.id, Status.deleted.is_(False)
    )
    return session.scalars(query.limit(1)).first()


def reblog(
    session: Session, profile: Profile, status: Status, *, ap_id: str | None = None, visibility: str | None = None
) -> Status:
    """`profile` boosts `status` (public and unlisted statuses; one's own followers-only ones too);
    boosting again returns the same boost. Publishes `status.created`; tells the author (reblog)."""
    status = _visible(session, status, profile)
    if status.visibility not in ("public", "unlisted") and not (
        status.visibility == "private" and status.profile_id == profile.id
    ):
        raise Invalid(f"status {status.id} cannot be boosted (its visibility is {status.visibility})")
    existing = boost_of(session, profile, status)
    if existing is not None:
        return existing
    boost = Status(
        id=new_id(),
        profile_id=profile.id,
        reblog_of_id=status.id,
        kind="status",
        source="local" if profile.domain is None else "activitypub",
        local=profile.domain is None,
        visibility=visibility if visibility in ("public", "unlisted", "private") else status.visibility,
        author_name=profile.display_name or profile.username,
        created_at=now(),
    )
    boost.ap_id = ap_id or (urls.post(boost.id) + "/activity" if profile.domain is None else None)
    boost.thread_id = boost.id
    session.add(boost)
    session.flush()
    status.reblogs_count = Status.reblogs_count + 1
    bump(session, profile.id, statuses_count=1)
    session.flush()
    if profile.domain is None and profile.account_id is not None:
        fanout.add(session, boost.id, [profile.id])
    fanout.to_followers(session, boost, reblog=True)
    if status.profile_id is not None:
        notify(session, status.profile_id, "reblog", from_profile_id=profile.id, status_id=status.id)
    publish(session, "status.created", {"status_id": boost.id})
    return boost


def unreblog(session: Session, profile: Profile, status: Status) -> bool:
    """`profile` takes its boost of `status` back; False when there was none."""
    status = _original(session, status)
    boost = boost_of(session, profile, status)
    if boost is None:
        return False
    return delete(session, boost)


def favourite(session: Session, profile: Profile, status: Status, *, uri: str | None = None) -> Favourite:
    """`profile` favourites `status` (once). Publishes `favourite.created`; tells the author."""
    status = _visible(session, status, profile)
    existing = session.scalar(
        select(Favourite).where(Favourite.profile_id == profile.id, Favourite.status_id == status.id)
    )
    if existing is not None:
        return existing
    row = Favourite(profile_id=profile.id, status_id=status.id, uri=uri, created_at=now())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        again = session.scalar(
            select(Favourite).where(Favourite.profile_id == profile.id, Favourite.status_id == status.id)
        )
        if again is None:
            raise
        return again
    status.favourites_count = Status.favourites_count + 1
    session.flush()
    if status.profile_id is not None:
        notify(session, status.profile_id, "favourite", from_profile_id=profile.id, status_id=status.id)
    publish(session, "favourite.created", {"favourite_id": row.id})
    return row


def unfavourite(session: Session, profile: Profile, status: Status) -> bool:
    """`profile` takes its favourite back; False when there was none. Publishes `favourite.deleted`."""
    status = _original(session, status)
    row = session.scalar(select(Favourite).where(Favourite.profile_id == profile.id, Favourite.status_id == status.id))
    if row is None:
        return False
    payload = {"profile_id": profile.id, "status_id": status.id, "uri": row.uri}
    session.delete(row)
    status.favourites_count = (
        func.max(Status.favourites_count - 1, 0) if _sqlite(session) else func.greatest(Status.favourites_count - 1, 0)
    )
    session.flush()
    if status.profile_id is not None:
        withdraw(session, status.profile_id, "favourite", from_profile_id=profile.id, status_id=status.id)
    publish(session, "favourite.deleted", payload)
    return True


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def bookmark(session: Session, profile: Profile, status: Status) -> Bookmark:
    """A local person bookmarks a status they can see (private: nobody is told)."""
    status = _visible(session, status, profile)
    existing = session.scalar(
        select(Bookmark).where(Bookmark.profile_id == profile.id, Bookmark.status_id == status.id)
    )
    if existing is not None:
        return existing
    row = Bookmark(profile_id=profile.id, status_id=status.id, created_at=now())
    session.add(row)
    session.flush()
    return row


def unbookmark(session: Session, profile: Profile, status: Status) -> bool:
    """Remove a bookmark; False when there was none."""
    status = _original(session, status)
    row = session.scalar(select(Bookmark).where(Bookmark.profile_id == profile.id, Bookmark.status_id == status.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def pin(session: Session, profile: Profile, status: Status) -> Status:
    """Pin one's own public or unlisted status to one's profile (at most 5)."""
    if status.profile_id != profile.id or status.deleted or status.reblog_of_id is not None:
        raise NotFound(f"no status {status.id} of yours to pin")
    if status.visibility not in ("public", "unlisted"):
        raise Invalid(f"status {status.id}: only public and unlisted statuses can be pinned")
    if status.pinned_at is not None:
        return status
    pinned = session.scalar(
        select(func.count()).select_from(Status).where(Status.profile_id == profile.id, Status.pinned_at.is_not(None))
    )
    if (pinned or 0) >= MAX_PINNED:
        raise Invalid(f"status {status.id}: at most {MAX_PINNED} statuses can be pinned")
    status.pinned_at = now()
    session.flush()
    return status


def unpin(session: Session, profile: Profile, status: Status) -> Status:
    """Unpin one's own status."""
    if status.profile_id != profile.id:
        raise NotFound(f"no status {status.id} of yours to unpin")
    status.pinned_at = None
    session.flush()
    return status


def pinned(session: Session, profile: Profile) -> list[Status]:
    """A profile's pinned statuses, most recently pinned first."""
    query = select(Status).where(
        Status.profile_id == profile.id, Status.pinned_at.is_not(None), Status.deleted.is_(False)
    )
    return list(session.scalars(query.order_by(Status.pinned_at.desc())))
