"""People and statuses for the community page tests, made through the community services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from community import graph, people, statuses
from community.models import Profile, Status
from server.floor.accounts import Account, create_account
from server.floor.db import session_scope
from tests.web.conftest import PASSWORD


def person(handle: str, display_name: str = "", *, locked: bool = False, role: str = "learner") -> int:
    """A local account (password PASSWORD, email HANDLE@example.org) with its profile; the profile id."""
    with session_scope() as db:
        account = create_account(
            db, f"{handle}@example.org", PASSWORD, role=role, handle=handle, display_name=display_name
        )
        profile = people.local_profile(db, account)
        profile.locked = locked
        return profile.id


def post(profile_id: int, text: str, **options: Any) -> int:
    """A status by `profile_id`; its id."""
    with session_scope() as db:
        author = db.get(Profile, profile_id)
        assert author is not None
        mentions = {}
        for word in text.split():
            if word.startswith("@") and (found := people.find_by_acct(db, word.strip(".,!?"))) is not None:
                mentions[found.acct] = found
        return statuses.post(db, author, text, resolved_mentions=mentions, **options).id


def follow(profile_id: int, target_id: int) -> None:
    """`profile_id` follows `target_id`."""
    with session_scope() as db:
        graph.follow(db, db.get(Profile, profile_id), db.get(Profile, target_id))  # type: ignore[arg-type]


def status(status_id: int) -> Status:
    """A status as stored now (detached)."""
    with session_scope() as db:
        found = db.get(Status, status_id)
        assert found is not None
        db.expunge(found)
        return found


def account_id(handle: str) -> int:
    """The account id of `handle`."""
    with session_scope() as db:
        return int(db.scalar(select(Account.id).where(Account.handle == handle)) or 0)
