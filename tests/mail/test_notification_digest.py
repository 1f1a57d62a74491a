"""Notification digests (mail.digest): opt-in, one mail per person for unread notifications not mailed
yet, each mailed once, suppressed addresses skipped, a one-click stop link."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string, policy

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import statuses
from community.models import Notification, Profile
from community.notifications import notify
from community.people import local_profile, preferences
from mail import digest
from mail.models import OutgoingMail
from mail.suppressions import suppress
from server.floor.accounts import create_account
from server.floor.clock import frozen, now


def person(session: Session, handle: str, opted_in: bool = True) -> Profile:
    profile = local_profile(session, create_account(session, f"{handle}@example.org", handle=handle))
    preferences(session, profile).email_notifications = opted_in
    return profile


def mails(session: Session, to: str) -> list[str]:
    rows = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == to).order_by(OutgoingMail.id))
    return [row.message for row in rows]


def test_one_digest_for_unread_notifications_each_mailed_once(session: Session) -> None:
    ann, bob, cy = person(session, "ann"), person(session, "bob"), person(session, "cy", opted_in=False)
    post = statuses.post(session, ann, "Who reads along? #python", visibility="public")
    notify(session, ann, "favourite", from_profile_id=bob.id, status_id=post.id)
    notify(session, ann, "follow", from_profile_id=bob.id)
    notify(session, ann, "mention", from_profile_id=cy.id, status_id=post.id)
    read = notify(session, ann, "reply", from_profile_id=cy.id, status_id=post.id)
    assert read is not None
    read.read_at = now()
    notify(session, cy, "follow", from_profile_id=bob.id)  # cy did not opt in
    assert digest.send_digests(session) == 0  # too young: they may still be read on the web
    with frozen(now() + timedelta(minutes=11)):
        assert digest.send_digests(session) == 1
        assert digest.send_digests(session) == 0  # each notification is mailed once
    [raw] = mails(session, "ann@example.org")
    message = message_from_string(raw, policy=policy.default)
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # The default types are mention, follow and reply: the favourite is considered, not listed.
    assert "2 new notifications" in message["Subject"] and "@bob followed you" in body
    assert "@cy mentioned you: “Who reads along? #python”" in body and "favourited" not in body
    assert "replied" not in body  # read on the web already
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/mail/notifications/stop/" in message["List-Unsubscribe"]
    assert mails(session, "cy@example.org") == []
    left = session.scalars(
        select(Notification).where(Notification.profile_id == ann.id, Notification.emailed_at.is_(None))
    )
    assert [n.type for n in left] == ["reply"]  # the read one is never mailed


def test_a_suppressed_address_gets_no_digest_and_the_stop_link_turns_it_off(session: Session) -> None:
    ann, bob = person(session, "ann"), person(session, "bob")
    notify(session, ann, "follow", from_profile_id=bob.id)
    suppress(session, "ann@example.org", "complaint")
    with frozen(now() + timedelta(minutes=11)):
        assert digest.send_digests(session) == 0
    assert mails(session, "ann@example.org") == []
    signed = digest.stop_url(ann.id).rsplit("/", 1)[1]
    assert digest.profile_of_stop(signed) == ann.id and digest.profile_of_stop(signed + "x") is None
    assert digest.stop(session, ann.id) and not preferences(session, ann).email_notifications
    assert not digest.stop(session, ann.id)
