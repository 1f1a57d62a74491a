"""The signed-in person's profile, and the profile a page is about (local by handle, remote by acct)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from community import people
from community.models import Profile
from server.floor.accounts import Account
from server.floor.db import session_scope, write_scope
from server.floor.errors import NotFound, PermissionDenied
from web.api import actors
from web.auth import current_account


def profile_of(session: Session, account: Account | None) -> Profile | None:
    """`account`'s profile if it has one yet (reading only)."""
    if account is None:
        return None
    return session.scalar(select(Profile).where(Profile.account_id == account.id))


def ensure_profile_id(request: Request) -> int | None:
    """The signed-in person's profile id, made on first use (its own short write); None for a visitor."""
    account = current_account(request)
    if account is None:
        return None
    state = request.scope.setdefault("state", {})
    if "profile_id" in state:
        return state["profile_id"]  # type: ignore[no-any-return]
    with session_scope() as db:
        found = db.scalar(select(Profile.id).where(Profile.account_id == account.id))
    if found is None:
        with write_scope() as db:
            fresh = db.get(Account, account.id)
            if fresh is None:
                return None
            found = people.local_profile(db, fresh).id
    state["profile_id"] = found
    return found


def viewer(session: Session, request: Request) -> Profile | None:
    """The signed-in person's profile in `session` (made on first use before), or None."""
    profile_id = ensure_profile_id(request)
    return session.get(Profile, profile_id) if profile_id is not None else None


def split_acct(value: str) -> tuple[str, str | None]:
    """`user` or `user@host` (a leading @ allowed) as (username, host or None); hosts lower case.
    NotFound for anything with spaces or control characters (no handle has them)."""
    text = value.strip().lstrip("@")
    if not text or len(text) > 300 or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise NotFound(f"@{text[:100]!r} is not a handle")
    username, _, host = text.partition("@")
    return username, (host.lower() or None)


def local_account(session: Session, handle: str) -> Account:
    """The enabled local account `handle`; NotFound otherwise."""
    account = session.scalar(select(Account).where(Account.handle == handle.lower(), Account.disabled.is_(False)))
    if account is None:
        raise NotFound(f"nobody called @{handle} here")
    return account


def local_profile_id(handle: str) -> int:
    """The profile id of local `handle`: a person, or a course, run or study group (their profiles
    are made on first use, as the client API makes them); NotFound for an unknown handle."""
    name = handle.lower()
    if len(name) > 64:
        raise NotFound(f"nobody called @{handle[:64]} here")
    with session_scope() as db:
        found = db.execute(
            select(Profile.id, Profile.account_id).where(Profile.username == name, Profile.domain.is_(None))
        ).first()
        if found is not None:
            # A person's profile shows while their account is enabled (not a sign-up awaiting its
            # confirmation or approval, not disabled by an admin).
            if found.account_id is not None:
                local_account(db, name)
            return int(found.id)
        account_id = db.scalar(select(Account.id).where(Account.handle == name, Account.disabled.is_(False)))
    with write_scope() as db:
        if account_id is not None:
            return people.local_profile(db, local_account(db, name)).id
        actor = actors.ensure(db, name)  # a course, run or study group of this server
        if actor is None:
            raise NotFound(f"nobody called @{handle} here")
        return actor.id


def own_profile_id(request: Request) -> int:
    """The signed-in person's profile id (handlers behind require_login); PermissionDenied otherwise."""
    found = ensure_profile_id(request)
    if found is None:
        raise PermissionDenied("sign in first")
    return found
