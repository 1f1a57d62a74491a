"""Who may make an account here, and how a sign-up becomes one (Mastodon's registration modes).

The admin sets the mode (`MODES`, stored as the instance setting `registrations`): `open`, `approval`
(a moderator approves each sign-up, which gives a reason), `invite` (only with a valid invite link,
`/invite/{code}`), `closed`. Every sign-up accepts the instance's rules and confirms its address by
a signed, single-use link; until then, and in approval mode until approved, its account is disabled
(it cannot log in). The state lives in `Registration` (one row per account made by signing up) and
`Invite` (codes with a use limit and an expiry).

Domain events (mail reacts: the confirmation link, the decision): `registration.created`
{account_id}, `registration.approved` {account_id}, `registration.rejected` {account_id}.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from community.models import Invite, ModerationAction, Profile, Registration
from community.notifications import notify
from community.people import local_profile
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish
from server.floor.instance import instance_info, set_instance_info
from server.floor.urls import absolute

MODES = ("open", "approval", "invite", "closed")
MODE_KEY = "registrations"
CONFIRM_LIFETIME = timedelta(days=2)
REASON_LENGTH = 1000
MAX_INVITE_USES = 10_000
MAX_INVITE_DAYS = 365
STAFF_ROLES = ("admin", "moderator")
_SALT = "community.registrations.confirm"


def mode(session: Session) -> str:
    """The registration mode the admin set (closed until they choose another)."""
    value = instance_info(session).get(MODE_KEY, "closed")
    return value if value in MODES else "closed"


def set_mode(session: Session, value: str) -> None:
    """Store the registration mode; Invalid naming the field when it is none of MODES."""
    if value not in MODES:
        raise Invalid(f"registrations: {value[:40]!r} is not one of {', '.join(MODES)}")
    set_instance_info(session, **{MODE_KEY: value})


# Invites -----------------------------------------------------------------------------------------


def create_invite(
    session: Session, created_by_id: int | None, max_uses: int | None = None, expires_in: timedelta | None = None
) -> Invite:
    """A new invite code (unguessable), usable `max_uses` times (None: unlimited) until `expires_in` from now."""
    if max_uses is not None and not 1 <= max_uses <= MAX_INVITE_USES:
        raise Invalid(f"max uses: between 1 and {MAX_INVITE_USES:,}, or empty for no limit")
    if expires_in is not None and not timedelta(minutes=1) <= expires_in <= timedelta(days=MAX_INVITE_DAYS):
        raise Invalid(f"expires: between a minute and {MAX_INVITE_DAYS} days, or empty for never")
    invite = Invite(
        code=secrets.token_urlsafe(9),
        created_by_id=created_by_id,
        max_uses=max_uses,
        expires_at=now() + expires_in if expires_in is not None else None,
    )
    session.add(invite)
    session.flush()
    return invite


def revoke_invite(session: Session, invite_id: int) -> Invite:
    """End an invite now (it expires this instant; who signed up with it keeps their account)."""
    invite = session.get(Invite, invite_id)
    if invite is None:
        raise NotFound(f"invite {invite_id} does not exist")
    if invite.expires_at is None or invite.expires_at > now():
        invite.expires_at = now()
    return invite


def invite_usable(invite: Invite | None) -> bool:
    """True when the invite has uses left and has not expired."""
    if invite is None:
        return False
    if invite.expires_at is not None and invite.expires_at <= now():
        return False
    return invite.max_uses is None or invite.uses < invite.max_uses


def find_invite(session: Session, code: str) -> Invite | None:
    """The usable invite with this code, or None (unknown, used up, expired or revoked)."""
    if not code or len(code) > 64:
        return None
    invite = session.scalar(select(Invite).where(Invite.code == code))
    return invite if invite_usable(invite) else None


def spend_invite(session: Session, code: str) -> int:
    """Count one use of the invite `code`: its id; Invalid when it is used up, expired or unknown.
    One conditional UPDATE, so two sign-ups racing for its last use cannot both have it."""
    moment = now()
    spent = session.execute(
        update(Invite)
        .where(
            Invite.code == code[:64],
            or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
            or_(Invite.expires_at.is_(None), Invite.expires_at > moment),
        )
        .values(uses=Invite.uses + 1)
        .returning(Invite.id)
        .execution_options(synchronize_session="fetch")
    ).scalar_one_or_none()
    if spent is None:
        raise Invalid("invite: this invite link is used up, expired or was revoked; ask for a new one")
    return int(spent)


def invites(session: Session, limit: int = 200) -> list[Invite]:
    """The newest invites first."""
    return list(session.scalars(select(Invite).order_by(Invite.id.desc()).limit(limit)))


# Signing up ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignUp:
    """What the sign-up form collected (checked by the web layer: address, handle free, password)."""

    email: str
    handle: str
    password_hash: str | None
    display_name: str = ""
    reason: str = ""
    invite_code: str = ""
    rules_accepted: bool = False


def register(session: Session, form: SignUp) -> Account:
    """Make the disabled account of a sign-up and its Registration, per the mode; Invalid naming the
    field when the mode, the rules, the reason or the invite refuse it. The web layer checks the handle
    against the shared namespace first (`courses.handles.handle_taken`)."""
    from server.floor.accounts import create_account

    current = mode(session)
    if current == "closed":
        raise Invalid("registrations: this instance takes no sign-ups at the moment")
    if not form.rules_accepted:
        raise Invalid("rules: accept the instance's rules to sign up")
    reason = form.reason.strip()
    if len(reason) > REASON_LENGTH:
        raise Invalid(f"reason: at most {REASON_LENGTH} characters (now {len(reason)})")
    if current == "approval" and not reason and not form.invite_code:
        raise Invalid("reason: say in a few words why you want to join; a moderator reads it")
    invite_id = None
    if current == "invite" or form.invite_code:
        if not form.invite_code:
            raise Invalid("invite: sign-ups here need an invite link")
        invite_id = spend_invite(session, form.invite_code)
    _forget_stale(session, form.email, form.handle)
    account = create_account(
        session, form.email, None, role="learner", handle=form.handle, display_name=form.display_name
    )
    account.password_hash = form.password_hash
    account.disabled = True
    # An invite opens the door whatever the mode; otherwise approval mode waits for a moderator.
    approved = invite_id is not None or current == "open"
    session.add(
        Registration(
            account_id=account.id,
            state="approved" if approved else "pending",
            reason=reason,
            invite_id=invite_id,
            rules_accepted_at=now(),
        )
    )
    session.flush()
    publish(session, "registration.created", {"account_id": account.id})
    return account


def _forget_stale(session: Session, email: str, handle: str) -> None:
    """Delete sign-ups never confirmed within the link's lifetime that hold this address or handle, so
    nobody can squat someone else's address by signing it up and never confirming."""
    stale = (
        select(Account)
        .join(Registration, Registration.account_id == Account.id)
        .where(
            or_(
                func.lower(Account.email) == email.strip().lower(), Account.handle == handle.strip().lstrip("@").lower()
            ),
            Registration.email_confirmed_at.is_(None),
            Registration.created_at <= now() - CONFIRM_LIFETIME,
        )
    )
    for account in session.scalars(stale):
        session.delete(account)
    session.flush()


def purge_unconfirmed(session: Session, limit: int = 1000) -> int:
    """Delete the accounts of sign-ups never confirmed within the link's lifetime (they could not log
    in and held an address and a handle); how many."""
    stale = (
        select(Account)
        .join(Registration, Registration.account_id == Account.id)
        .where(Registration.email_confirmed_at.is_(None), Registration.created_at <= now() - CONFIRM_LIFETIME)
        .limit(limit)
    )
    accounts = list(session.scalars(stale))
    for account in accounts:
        session.delete(account)
    session.flush()
    return len(accounts)


def registration_of(session: Session, account_id: int) -> Registration | None:
    """The account's registration row (None: it was made by an admin or the command line)."""
    return session.get(Registration, account_id)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def confirmation_token(account_id: int) -> str:
    """The signed token of the account's confirmation link (spent by `confirm`)."""
    return str(_serializer().dumps({"account": account_id}))


def confirmation_url(account_id: int) -> str:
    """The link the confirmation mail carries."""
    return absolute(f"/auth/confirm/{confirmation_token(account_id)}")


def _account_of_token(token: str) -> int:
    try:
        data = _serializer().loads(token, max_age=int(CONFIRM_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise Invalid("confirmation: this link has expired; sign up again or ask for a new link") from None
    except BadSignature:
        raise Invalid("confirmation: this link is not one of ours (mistyped or cut short?)") from None
    if not isinstance(data, dict) or not isinstance(data.get("account"), int):
        raise Invalid("confirmation: this link is not one of ours")
    return int(data["account"])


def pending_confirmation(session: Session, token: str) -> Account:
    """The account a confirmation link would confirm (nothing changes); Invalid when it cannot."""
    registration = session.get(Registration, _account_of_token(token))
    if registration is None or registration.email_confirmed_at is not None or registration.state == "rejected":
        raise Invalid("confirmation: this link was used already")
    account = session.get(Account, registration.account_id)
    if account is None:
        raise Invalid("confirmation: this account no longer exists")
    return account


def confirm(session: Session, token: str) -> Registration:
    """Spend the confirmation link: the address is confirmed; the account opens when it is approved
    (at once in open and invite modes), else the moderators are told. Invalid when spent or bad."""
    account_id = _account_of_token(token)
    # The conditional UPDATE is the single-use guarantee: of two clicks, one finds no row.
    done = session.execute(
        update(Registration)
        .where(
            Registration.account_id == account_id,
            Registration.email_confirmed_at.is_(None),
            Registration.state != "rejected",
        )
        .values(email_confirmed_at=now())
        .returning(Registration.account_id)
        .execution_options(synchronize_session="fetch")
    ).scalar_one_or_none()
    if done is None:
        raise Invalid("confirmation: this link was used already")
    registration = session.get(Registration, account_id)
    assert registration is not None
    if registration.state == "approved":
        _open(session, account_id)
    else:
        _tell_staff(session, account_id)
    return registration


def _open(session: Session, account_id: int) -> None:
    account = session.get(Account, account_id)
    if account is not None:
        account.disabled = False


def is_active(registration: Registration | None) -> bool:
    """A sign-up that may log in: confirmed and approved (accounts without a registration: always)."""
    return registration is None or (registration.email_confirmed_at is not None and registration.state == "approved")


def waiting_reason(registration: Registration | None) -> str | None:
    """Why a registered account cannot log in yet, in a sentence; None when nothing is missing."""
    if registration is None or is_active(registration):
        return None
    if registration.state == "rejected":
        return "This sign-up was not accepted by the moderators."
    if registration.email_confirmed_at is None:
        return "Confirm your email address first: open the link in the mail we sent you."
    return "Your sign-up awaits a moderator's approval; we will mail you."


def staff_profiles(session: Session) -> list[Profile]:
    """The local profiles of the enabled admins and moderators (made for those who have none yet)."""
    query = select(Account).where(Account.role.in_(STAFF_ROLES), Account.disabled.is_(False)).order_by(Account.id)
    return [local_profile(session, account) for account in session.scalars(query)]


def _tell_staff(session: Session, account_id: int) -> None:
    """An `admin.sign_up` notification for each admin and moderator, from the newcomer's profile (Mastodon's
    shape); `report_id` carries the account awaiting approval, the table having no account column."""
    account = session.get(Account, account_id)
    if account is None:
        return
    newcomer = local_profile(session, account)
    for profile in staff_profiles(session):
        notify(session, profile, "admin.sign_up", from_profile_id=newcomer.id, report_id=account_id)


def pending(session: Session, limit: int = 200) -> list[tuple[Account, Registration]]:
    """Sign-ups with a confirmed address awaiting a moderator, oldest first."""
    query = (
        select(Account, Registration)
        .join(Registration, Registration.account_id == Account.id)
        .where(Registration.state == "pending", Registration.email_confirmed_at.is_not(None))
        .order_by(Registration.created_at)
        .limit(limit)
    )
    return [(account, registration) for account, registration in session.execute(query).tuples()]


def decide(session: Session, account_id: int, approve: bool, moderator_id: int | None, reason: str = "") -> Account:
    """Approve (the account opens) or reject (it stays closed) a pending sign-up; logged in the audit log."""
    registration = session.get(Registration, account_id)
    account = session.get(Account, account_id)
    if registration is None or account is None or registration.state != "pending":
        raise NotFound(f"sign-up {account_id} is not awaiting approval")
    registration.state = "approved" if approve else "rejected"
    if approve and registration.email_confirmed_at is not None:
        account.disabled = False
    session.add(
        ModerationAction(
            moderator_id=moderator_id,
            action="approve_sign_up" if approve else "reject_sign_up",
            target_profile_id=session.scalar(select(Profile.id).where(Profile.account_id == account_id)),
            reason=f"{account.handle} <{account.email}>" + (f": {reason[:500]}" if reason else ""),
        )
    )
    session.flush()
    publish(session, f"registration.{'approved' if approve else 'rejected'}", {"account_id": account_id})
    return account
