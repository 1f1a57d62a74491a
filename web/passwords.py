"""Password reset by an emailed link: single use, valid for an hour, only its hash stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.floor.accounts import Account, end_sessions, hash_password
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.instance import instance_info
from server.floor.urls import absolute
from web.models import PasswordReset

LIFETIME = timedelta(hours=1)
# A new account's first "choose your password" link: the invited person may read mail next week.
INVITATION_LIFETIME = timedelta(days=7)
MIN_LENGTH = 8


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset_url(token: str) -> str:
    """The link a reset mail carries."""
    return absolute(f"/password/reset/{token}")


def check_new_password(password: str, confirm: str | None = None) -> None:
    """Raise Invalid naming the field when a new password cannot be used."""
    if len(password) < MIN_LENGTH:
        raise Invalid(f"password must have at least {MIN_LENGTH} characters")
    if confirm is not None and confirm != password:
        raise Invalid("confirm password does not match the new password")


def find_account(session: Session, email: str) -> Account | None:
    """The enabled account with this address (case does not matter), or None."""
    address = email.strip().lower()
    account = session.scalar(select(Account).where(func.lower(Account.email) == address))
    return None if account is None or account.disabled else account


def issue_reset(session: Session, account: Account, lifetime: timedelta = LIFETIME) -> str:
    """Store a new reset link for `account` and return its token (shown only in the mail)."""
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(account_id=account.id, token_hash=_digest(token), created_at=now(), expires_at=now() + lifetime)
    )
    session.flush()
    return token


def request_reset(session: Session, email: str) -> bool:
    """Queue a reset mail when `email` belongs to an account; say whether one was queued."""
    account = find_account(session, email)
    if account is None:
        return False
    from mail.outbox import queue_system_mail
    from web.templating import environment

    token = issue_reset(session, account)
    text = (
        environment()
        .get_template("accounts/reset_mail.txt")
        .render(
            account=account,
            link=reset_url(token),
            minutes=int(LIFETIME.total_seconds() // 60),
            instance_name=instance_info(session)["name"],
        )
    )
    queue_system_mail(session, to=account.email, subject="Reset your password", text=text)
    return True


def send_invitation(session: Session, account: Account, invited_by: str) -> None:
    """Queue the mail that lets a newly created account choose its password (valid a week)."""
    from mail.outbox import queue_system_mail
    from web.templating import environment

    token = issue_reset(session, account, INVITATION_LIFETIME)
    name = instance_info(session)["name"]
    text = (
        environment()
        .get_template("accounts/invitation_mail.txt")
        .render(
            account=account,
            link=reset_url(token),
            days=INVITATION_LIFETIME.days,
            instance_name=name,
            invited_by=invited_by,
        )
    )
    queue_system_mail(session, to=account.email, subject=f"Your account on {name}", text=text)


def usable_link(session: Session, token_hash: str) -> PasswordReset | None:
    """The unused, unexpired link (a reset or a login link) with this digest, or None."""
    link = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash))
    if link is None or link.used_at is not None or link.expires_at <= now():
        return None
    return link


def spend_link(session: Session, token_hash: str) -> int | None:
    """Spend the unused, unexpired link with this digest: its account's id, or None when there is none."""
    # The conditional UPDATE is the single-use guarantee: of two concurrent uses, one gets no row.
    return session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == token_hash,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now(),
        )
        .values(used_at=now())
        .returning(PasswordReset.account_id)
    ).scalar_one_or_none()


def valid_reset(session: Session, token: str) -> PasswordReset | None:
    """The unused, unexpired reset behind `token`, or None."""
    return usable_link(session, _digest(token))


def redeem_reset(session: Session, token: str, password: str, confirm: str | None = None) -> Account:
    """Set the new password and spend the link (and the account's other links); Invalid otherwise."""
    check_new_password(password, confirm)
    spent = spend_link(session, _digest(token))
    if spent is None:
        raise Invalid("this password reset link has expired or was already used; ask for a new one")
    account = session.get(Account, spent)
    if account is None or account.disabled:
        raise Invalid("this password reset link has expired or was already used; ask for a new one")
    account.password_hash = hash_password(password)
    end_sessions(session, account.id)  # whoever knew the old password is logged out
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.account_id == account.id, PasswordReset.used_at.is_(None))
        .values(used_at=now())
    )
    session.flush()
    return account
