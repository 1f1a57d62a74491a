"""Deleting a status: the row stays (ids, threads), marked deleted and emptied; counts go back,
it leaves every feed, its boosts go with it, its notifications and search row too. Publishes
`status.deleted` {status_id, profile_id, ap_id, reblog_of_id} (for each boost that goes too)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import fanout, search
from community.models import Status
from community.notifications import remove_for_status
from community.people import bump
from server.floor.events import publish

DISTRIBUTABLE = ("public", "unlisted")


def _uncount(session: Session, status: Status) -> None:
    if status.visibility not in ("direct", "group"):
        bump(session, status.profile_id, statuses_count=-1)
    if status.reblog_of_id is not None:
        original = session.get(Status, status.reblog_of_id)
        if original is not None:
            original.reblogs_count = Status.reblogs_count - 1
    elif status.in_reply_to_id is not None and status.visibility in DISTRIBUTABLE:
        parent = session.get(Status, status.in_reply_to_id)
        if parent is not None:
            parent.replies_count = Status.replies_count - 1


def _gone(status: Status) -> dict[str, object]:
    return {
        "status_id": status.id,
        "profile_id": status.profile_id,
        "ap_id": status.ap_id,
        "reblog_of_id": status.reblog_of_id,
    }


def withdraw(session: Session, status: Status) -> list[int]:
    """Take a status (already marked deleted by its owner path, e.g. `courses.posts.delete_post`)
    and its boosts out of feeds, notifications and the search index; the ids of the boosts that
    went with it (marked deleted too)."""
    boosts = list(session.scalars(select(Status).where(Status.reblog_of_id == status.id, Status.deleted.is_(False))))
    for boost in boosts:
        boost.deleted = True
        if boost.visibility != "direct":
            bump(session, boost.profile_id, statuses_count=-1)
    gone = [status.id, *(b.id for b in boosts)]
    fanout.remove(session, gone)
    remove_for_status(session, gone)
    search.unindex(session, [status.id])
    session.flush()
    for boost in boosts:
        publish(session, "status.deleted", _gone(boost))
    return [b.id for b in boosts]


def delete(session: Session, status: Status, *, by: str = "author") -> bool:
    """Delete `status` (the author's or a moderator's act, `by`); False when it was already gone.
    Its text is dropped; its boosts are deleted with it."""
    if status.deleted:
        return False
    status.deleted = True
    status.pinned_at = None
    status.text, status.html, status.spoiler_text = "", "", ""
    _uncount(session, status)
    session.flush()
    withdraw(session, status)
    payload = _gone(status)
    payload["by"] = by
    publish(session, "status.deleted", payload)
    return True
