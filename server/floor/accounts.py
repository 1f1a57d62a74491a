"""Local accounts (admins, organizers, learners who log in) and their passwords."""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import Base, UTCDateTime
from server.floor.errors import Invalid

ROLES = ("admin", "organizer", "moderator", "learner")
# What each role may act as: roles nest, but not in one line - an admin is an organizer and a moderator,
# an organizer runs courses, a moderator looks after reports and sign-ups; everyone is a learner.
HOLDS = {
    "admin": frozenset(ROLES),
    "organizer": frozenset({"organizer", "learner"}),
    "moderator": frozenset({"moderator", "learner"}),
    "learner": frozenset({"learner"}),
}
HANDLE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,62}$")
_hasher = PasswordHasher()


class Account(Base):
    """A person with a login on this instance."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="learner")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Each session carries the epoch it began in; logging out or changing the password bumps it,
    # so every session cookie issued before stops working (cookies themselves cannot be recalled).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def is_admin(self) -> bool:
        """Admins may change everything on the instance."""
        return self.role == "admin"

    @property
    def is_organizer(self) -> bool:
        """Organizers (and admins) may run courses."""
        return self.role in {"admin", "organizer"}

    @property
    def is_moderator(self) -> bool:
        """Moderators (and admins) handle reports, sign-ups awaiting approval and accounts."""
        return self.role in {"admin", "moderator"}


def holds_role(role: str | None, wanted: str) -> bool:
    """True when an account of `role` may act as `wanted` (an admin as anything, a moderator as a learner)."""
    return wanted in HOLDS.get(role or "", frozenset())


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def check_password(account: Account, password: str) -> bool:
    """True when `password` matches the account's hash."""
    if not account.password_hash:
        return False
    try:
        return _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def end_sessions(session: Session, account_id: int) -> int:
    """Log the account out everywhere (bump its session epoch atomically); returns the new epoch."""
    statement = (
        update(Account)
        .where(Account.id == account_id)
        .values(session_epoch=Account.session_epoch + 1)
        .returning(Account.session_epoch)
        .execution_options(synchronize_session="fetch")
    )
    return int(session.execute(statement).scalar_one())


def normalise_handle(handle: str) -> str:
    """A handle as stored: lower case, checked against the allowed characters."""
    value = handle.strip().lstrip("@").lower()
    if not HANDLE.match(value):
        raise Invalid(f"handle {handle!r} may use only a-z, 0-9, '_', '.', '-' (at most 63)")
    return value


def create_account(
    session: Session,
    email: str,
    password: str | None = None,
    role: str = "learner",
    handle: str | None = None,
    display_name: str = "",
) -> Account:
    """Create a local account; raise Invalid naming the field at fault."""
    from email_validator import EmailNotValidError, validate_email

    try:
        address = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise Invalid(f"email {email!r}: {error}") from None
    if role not in ROLES:
        raise Invalid(f"role {role!r} is not one of {', '.join(ROLES)}")
    handle_value = normalise_handle(handle or address.split("@")[0].replace("+", "_"))
    # Mail providers treat the local part case-insensitively; so do we, for uniqueness and login.
    if session.scalar(select(Account).where(func.lower(Account.email) == address.lower())):
        raise Invalid(f"an account with email {address} exists already")
    if session.scalar(select(Account).where(Account.handle == handle_value)):
        raise Invalid(f"the handle {handle_value} is taken (choose another with --handle)")
    if password is not None and len(password) < 8:
        raise Invalid("password must have at least 8 characters")
    account = Account(
        email=address,
        handle=handle_value,
        role=role,
        display_name=display_name or handle_value,
        password_hash=hash_password(password) if password else None,
    )
    session.add(account)
    session.flush()
    return account
