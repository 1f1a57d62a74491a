"""Fixtures of the community tests: local people (an account each, its profile) and remote profiles."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from community.models import Profile
from community.people import local_profile, upsert_remote
from server.floor.accounts import create_account


@pytest.fixture
def person(session: Session) -> Callable[..., Profile]:
    """Make a local person: person("ann") -> Profile (with an account ann@example.org)."""

    def make(handle: str, *, locked: bool = False) -> Profile:
        account = create_account(session, f"{handle}@example.org", handle=handle, display_name=handle.title())
        profile = local_profile(session, account)
        profile.locked = locked
        session.flush()
        return profile

    return make


@pytest.fixture
def remote(session: Session) -> Callable[..., Profile]:
    """Make a remote profile: remote("bob", "social.example") -> Profile."""

    def make(username: str, host: str = "social.example", **fields: object) -> Profile:
        return upsert_remote(
            session,
            uri=f"https://{host}/users/{username}",
            username=username,
            domain=host,
            inbox_url=f"https://{host}/users/{username}/inbox",
            **fields,  # type: ignore[arg-type]
        )

    return make
