"""The header's count of unread notifications (read once per page, only for people signed in)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request

from community import notifications
from community.models import Notification, Preferences, Profile
from server.floor.db import session_scope
from web.auth import current_account


def unread_notifications(request: Request) -> int:
    """How many notifications the signed-in person has not read (0 for visitors and before they
    have a profile); at most the service's cap."""
    account = current_account(request)
    if account is None:
        return 0
    state = request.scope.setdefault("state", {})
    if "unread_notifications" not in state:
        with session_scope() as db:
            row = db.execute(
                select(Profile, Preferences)
                .join(Preferences, Preferences.profile_id == Profile.id, isouter=True)
                .where(Profile.account_id == account.id)
            ).first()
            count = 0
            if row is not None:
                profile, prefs = row
                last = (prefs.last_read_notification_id if prefs else None) or 0
                newer = select(Notification.id).where(Notification.profile_id == profile.id, Notification.id > last)
                if db.scalar(newer.limit(1)) is not None:
                    count = notifications.unread_count(db, profile)
            state["unread_notifications"] = count
    return int(state["unread_notifications"])
