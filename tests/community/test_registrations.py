"""Registration modes, invites and email confirmation (community.registrations), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import registrations
from community.models import Invite, ModerationAction, Notification, Profile, Registration
from community.people import local_profile
from server.floor.accounts import Account, create_account
from server.floor.clock import frozen
from server.floor.errors import Invalid, NotFound


def sign_up(session: Session, email: str = "newt@example.org", handle: str = "newt", **fields: object) -> Account:
    form = registrations.SignUp(
        email=email,
        handle=handle,
        password_hash=None,
        reason=str(fields.get("reason", "")),
        invite_code=str(fields.get("invite_code", "")),
        rules_accepted=bool(fields.get("rules_accepted", True)),
    )
    return registrations.register(session, form)


def staff_profile(session: Session, role: str, handle: str) -> Profile:
    return local_profile(session, create_account(session, f"{handle}@example.org", role=role, handle=handle))


def test_closed_by_default_and_the_modes_are_checked(session: Session) -> None:
    assert registrations.mode(session) == "closed"
    with pytest.raises(Invalid, match="registrations: this instance takes no sign-ups"):
        sign_up(session)
    with pytest.raises(Invalid, match="registrations: 'everyone' is not one of"):
        registrations.set_mode(session, "everyone")


def test_open_mode_opens_the_account_when_the_address_is_confirmed(session: Session) -> None:
    registrations.set_mode(session, "open")
    with pytest.raises(Invalid, match="rules: accept"):
        sign_up(session, rules_accepted=False)
    account = sign_up(session)
    assert account.disabled and account.password_hash is None
    registration = registrations.registration_of(session, account.id)
    assert registration is not None and registration.state == "approved" and registration.rules_accepted_at
    assert registrations.waiting_reason(registration) == (
        "Confirm your email address first: open the link in the mail we sent you."
    )
    token = registrations.confirmation_token(account.id)
    assert registrations.pending_confirmation(session, token).id == account.id
    registrations.confirm(session, token)
    assert not account.disabled and registrations.is_active(registration)
    with pytest.raises(Invalid, match="used already"):
        registrations.confirm(session, token)  # single use
    with pytest.raises(Invalid, match="not one of ours"):
        registrations.confirm(session, token[:-3] + ("abc" if not token.endswith("abc") else "xyz"))


def test_a_confirmation_link_expires(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    registrations.set_mode(session, "open")
    account = sign_up(session)
    fresh = registrations.confirmation_token(account.id)
    three_days_ago = int((datetime.now(UTC) - timedelta(days=3)).timestamp())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: three_days_ago)
    old = registrations.confirmation_token(account.id)
    monkeypatch.undo()
    with pytest.raises(Invalid, match="expired"):
        registrations.confirm(session, old)
    registrations.confirm(session, fresh)


def test_approval_mode_waits_for_a_moderator_who_is_notified(session: Session) -> None:
    admin = staff_profile(session, "admin", "ada")
    moderator = staff_profile(session, "moderator", "mo")
    organizer = staff_profile(session, "organizer", "otto")
    registrations.set_mode(session, "approval")
    with pytest.raises(Invalid, match="reason: say in a few words"):
        sign_up(session)
    account = sign_up(session, reason="I take the Python course")
    assert registrations.pending(session) == []  # not confirmed yet: nobody is asked
    registrations.confirm(session, registrations.confirmation_token(account.id))
    assert account.disabled
    assert [a.id for a, _ in registrations.pending(session)] == [account.id]
    notified = {n.profile_id for n in session.scalars(select(Notification).where(Notification.type == "admin.sign_up"))}
    assert notified == {admin.id, moderator.id} and organizer.id not in notified
    second = sign_up(session, "second@example.org", "second", reason="me too")
    registrations.confirm(session, registrations.confirmation_token(second.id))
    notes = session.scalars(select(Notification).where(Notification.profile_id == admin.id)).all()
    assert sorted(note.report_id for note in notes) == sorted([account.id, second.id])  # type: ignore[type-var]
    assert all(note.type == "admin.sign_up" for note in notes)
    registrations.decide(session, account.id, True, moderator_id=moderator.account_id)
    assert not account.disabled
    log = session.scalars(select(ModerationAction)).all()
    assert [entry.action for entry in log] == ["approve_sign_up"]
    assert [a.id for a, _ in registrations.pending(session)] == [second.id]
    with pytest.raises(NotFound):
        registrations.decide(session, account.id, False, moderator_id=None)


def test_a_rejected_sign_up_stays_closed(session: Session) -> None:
    registrations.set_mode(session, "approval")
    account = sign_up(session, reason="spam spam")
    registrations.confirm(session, registrations.confirmation_token(account.id))
    registrations.decide(session, account.id, False, moderator_id=None)
    assert account.disabled
    assert registrations.waiting_reason(registrations.registration_of(session, account.id)) == (
        "This sign-up was not accepted by the moderators."
    )


def test_invites_count_their_uses_expire_and_can_be_withdrawn(session: Session) -> None:
    registrations.set_mode(session, "invite")
    with pytest.raises(Invalid, match="invite: sign-ups here need an invite link"):
        sign_up(session)
    with pytest.raises(Invalid, match="max uses"):
        registrations.create_invite(session, None, max_uses=0)
    invite = registrations.create_invite(session, None, max_uses=1, expires_in=timedelta(days=1))
    first = sign_up(session, invite_code=invite.code)
    registration = session.get(Registration, first.id)
    assert registration is not None and registration.invite_id == invite.id and registration.state == "approved"
    with pytest.raises(Invalid, match="invite: this invite link is used up"):
        sign_up(session, "second@example.org", "second", invite_code=invite.code)  # reused
    assert registrations.find_invite(session, invite.code) is None
    with pytest.raises(Invalid, match="used up, expired"):
        sign_up(session, "third@example.org", "third", invite_code="no-such-code")
    later = registrations.create_invite(session, None, expires_in=timedelta(hours=1))
    with frozen(datetime.now(UTC) + timedelta(hours=2)), pytest.raises(Invalid, match="used up, expired"):
        sign_up(session, "fourth@example.org", "fourth", invite_code=later.code)  # expired
    withdrawn = registrations.create_invite(session, None)
    registrations.revoke_invite(session, withdrawn.id)
    with pytest.raises(Invalid, match="used up, expired or was revoked"):
        sign_up(session, "fifth@example.org", "fifth", invite_code=withdrawn.code)
    assert session.get(Invite, withdrawn.id).uses == 0  # type: ignore[union-attr]


def test_an_invite_works_in_approval_mode_without_waiting(session: Session) -> None:
    registrations.set_mode(session, "approval")
    invite = registrations.create_invite(session, None)
    account = sign_up(session, invite_code=invite.code)
    registrations.confirm(session, registrations.confirmation_token(account.id))
    assert not account.disabled


def test_a_sign_up_never_confirmed_does_not_hold_the_address_forever(session: Session) -> None:
    registrations.set_mode(session, "open")
    with frozen(datetime.now(UTC) - timedelta(days=3)):
        squatter_id = sign_up(session, "victim@example.org", "squat").id
    sign_up(session, "fresh@example.org", "fresh")
    with pytest.raises(Invalid, match="exists already"):
        sign_up(session, "fresh@example.org", "fresh2")  # not stale yet: the address is held
    account = sign_up(session, "Victim@example.org", "squat")
    assert account.id != squatter_id and session.get(Account, squatter_id) is None


def test_the_hourly_job_forgets_sign_ups_never_confirmed(session: Session) -> None:
    registrations.set_mode(session, "open")
    with frozen(datetime.now(UTC) - timedelta(days=3)):
        stale = sign_up(session, "old@example.org", "old").id
        confirmed = sign_up(session, "done@example.org", "done")
        registrations.confirm(session, registrations.confirmation_token(confirmed.id))
    fresh = sign_up(session, "new@example.org", "new").id
    assert registrations.purge_unconfirmed(session) == 1
    assert session.get(Account, stale) is None and session.get(Account, fresh) is not None
    assert session.get(Account, confirmed.id) is not None
