"""One-time login links: `serve --demo` and `mechmooc user login-link` print one in the console.

A link is a random token whose digest is stored with the password reset links (web_password_resets),
under a digest of its own ("login:" + token), so a login link never opens the password form and a reset
link never logs in. It works once (a conditional UPDATE spends it) and for LIFETIME only.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.urls import absolute
from web.models import PasswordReset
from web.passwords import spend_link, usable_link

LIFETIME = timedelta(minutes=30)
SPENT = "this login link has expired or was already used"


def _digest(token: str) -> str:
    return hashlib.sha256(f"login:{token}".encode()).hexdigest()


def login_url(token: str) -> str:
    """The link printed in the console."""
    return absolute(f"/login/once/{token}")


def issue_login_link(session: Session, account: Account, lifetime: timedelta = LIFETIME) -> str:
    """Store a one-time login link for `account`; return its URL (shown once, never stored)."""
    if account.disabled:
        raise Invalid(f"the account {account.email} is disabled")
    token = secrets.token_urlsafe(32)
    moment = now()
    session.add(
        PasswordReset(account_id=account.id, token_hash=_digest(token), created_at=moment, expires_at=moment + lifetime)
    )
    session.flush()
    return login_url(token)


def link_account(session: Session, token: str) -> Account | None:
    """The enabled account an unspent, unexpired login link opens, or None (the link is not spent)."""
    link = usable_link(session, _digest(token))
    if link is None:
        return None
    account = session.get(Account, link.account_id)
    return None if account is None or account.disabled else account


def redeem_login_link(session: Session, token: str) -> Account:
    """Spend the link and return its account; Invalid when it expired, was used or its account is disabled."""
    spent = spend_link(session, _digest(token))
    account = session.get(Account, spent) if spent is not None else None
    if account is None or account.disabled:
        raise Invalid(SPENT)
    return account
