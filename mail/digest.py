"""Notification mail (issue 12, item 10): a person who opted in (`Preferences.email_notifications`)
gets one digest of their unread notifications not mailed yet, at most every DIGEST_EVERY seconds.

Each notification is mailed once (`emailed_at`), read ones never (they were seen on the web), and
only the types the person chose (`Preferences.email_types`); the others are marked as considered.
The mail is a `notice` (the sender holds it back from a suppressed address, as every non-transactional
mail) with a one-click unsubscribe (RFC 8058) that turns the digest off: a signed link
(`stop_url`) answered by the web's `/mail/notifications/stop/{signed}`. A digest's outbox key is
the person and the newest notification it carries, so two workers never mail it twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from community.models import Notification, Preferences, Profile, Status
from mail.addresses import new_token
from mail.mime import compose
from mail.outbox import base_headers, check_address, enqueue
from mail.suppressions import suppressed
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import immediate, session_scope
from server.floor.instance import instance_info
from server.floor.jobs import job
from server.floor.urls import absolute

DIGEST_EVERY = 900
SETTLE = timedelta(minutes=10)  # a notification this young may still be read on the web
PEOPLE_PER_PASS = 500
SHOWN = 30  # notifications listed in one digest; the rest are counted
EXCERPT = 140
_SALT = "mail.digest.stop"
SAYS = {
    "mention": "mentioned you",
    "reply": "replied to you",
    "follow": "followed you",
    "follow_request": "asked to follow you",
    "reblog": "boosted your post",
    "favourite": "favourited your post",
    "status": "posted",
    "update": "edited a post you interacted with",
    "unit": "a new unit is out",
    "group_post": "posted in your study group",
    "admin.report": "filed a report",
    "admin.sign_up": "signed up and awaits approval",
}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=_SALT)


def stop_url(profile_id: int) -> str:
    """The signed link that turns the person's notification mail off (no login needed)."""
    return absolute(f"/mail/notifications/stop/{_serializer().dumps(profile_id)}")


def profile_of_stop(signed: str) -> int | None:
    """The profile id a stop link names, or None when it is not one of ours."""
    try:
        value = _serializer().loads(signed[:200])
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def stop(session: Session, profile_id: int) -> bool:
    """Turn the person's notification mail off; False when it was off already (or no such person)."""
    prefs = session.get(Preferences, profile_id)
    if prefs is None or not prefs.email_notifications:
        return False
    prefs.email_notifications = False
    return True


def _excerpt(status: Status | None) -> str:
    if status is None:
        return ""
    text = " ".join((status.spoiler_text or status.text or "").split())
    return f": “{text[:EXCERPT]}{'…' if len(text) > EXCERPT else ''}”" if text else ""


def _line(session: Session, note: Notification) -> str:
    sender = session.get(Profile, note.from_profile_id) if note.from_profile_id else None
    who = f"@{sender.acct}" if sender is not None else "Someone"
    status = session.get(Status, note.status_id) if note.status_id else None
    return f"- {who} {SAYS.get(note.type, note.type)}{_excerpt(status)}"


def digest_for(session: Session, profile_id: int) -> bool:
    """Mail one person's digest now if they have something to read; True when a mail was queued."""
    prefs = session.get(Preferences, profile_id)
    profile = session.get(Profile, profile_id)
    account = session.get(Account, profile.account_id) if profile is not None and profile.account_id else None
    if prefs is None or account is None:
        return False
    pending = list(
        session.scalars(
            select(Notification)
            .where(
                Notification.profile_id == profile_id,
                Notification.read_at.is_(None),
                Notification.emailed_at.is_(None),
                Notification.created_at <= now() - SETTLE,
            )
            .order_by(Notification.id)
        )
    )
    if not pending:
        return False
    wanted = set(prefs.email_types or [])
    chosen = [note for note in pending if not wanted or note.type in wanted]
    considered = [note.id for note in pending]
    mailed = False
    if prefs.email_notifications and chosen and not account.disabled and not suppressed(session, [account.email]):
        mailed = _queue(session, account, profile_id, chosen)
    session.execute(
        update(Notification)
        .where(Notification.id.in_(considered), Notification.emailed_at.is_(None))
        .values(emailed_at=now())
        .execution_options(synchronize_session=False)
    )
    return mailed


def _queue(session: Session, account: Account, profile_id: int, notes: list[Notification]) -> bool:
    name = instance_info(session)["name"]
    count = len(notes)
    lines = [_line(session, note) for note in notes[:SHOWN]]
    if count > SHOWN:
        lines.append(f"- and {count - SHOWN} more")
    stop_link = stop_url(profile_id)
    text = (
        f"Hello {account.display_name or account.handle},\n\n"
        f"{count} new notification{'s' if count != 1 else ''} on {name}:\n\n" + "\n".join(lines) + "\n\n"
        f"Read them: {absolute('/notifications')}\n\n-- \n"
        f"You get this mail because you asked for notification mail. Change it: {absolute('/settings/notifications')}\n"
        f"Stop it with one click: {stop_link}\n"
    )
    subject = f"{count} new notification{'s' if count != 1 else ''} on {name}"
    token = new_token()
    address = check_address(account.email)
    headers = [
        *base_headers(address, subject, token),
        ("Auto-Submitted", "auto-generated"),
        ("List-Unsubscribe", f"<{stop_link}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    row = enqueue(
        session,
        key=f"digest:{profile_id}:{notes[-1].id}",
        kind="notice",
        to=address,
        token=token,
        subject=subject,
        message=compose(headers, text, None),
    )
    return row is not None


def due_people(session: Session, limit: int = PEOPLE_PER_PASS) -> list[int]:
    """Opted-in profiles with unread notifications not mailed yet that are old enough."""
    query = (
        select(Notification.profile_id)
        .join(Preferences, Preferences.profile_id == Notification.profile_id)
        .where(
            Notification.read_at.is_(None),
            Notification.emailed_at.is_(None),
            Notification.created_at <= now() - SETTLE,
            Preferences.email_notifications.is_(True),
        )
        .distinct()
        .limit(limit)
    )
    return list(session.scalars(query))


def send_digests(session: Session) -> int:
    """One pass: a digest for each person who has one due; how many mails were queued."""
    return sum(1 for profile_id in due_people(session) if digest_for(session, profile_id))


@job("mail.notification_digest", every=DIGEST_EVERY, queue="mail", summary="queued {n} notification digests")
def digest_job() -> int:
    """Queue the notification digests due now."""
    with session_scope() as session:
        immediate(session)  # reads, then writes: take SQLite's write lock first
        return send_digests(session)


def settings_view(session: Session, profile_id: int) -> dict[str, Any]:
    """The person's notification mail settings, as the settings page shows them."""
    prefs = session.get(Preferences, profile_id)
    return {
        "email_notifications": bool(prefs and prefs.email_notifications),
        "email_types": list(prefs.email_types or []) if prefs else [],
    }
