"""The community package's background jobs (it reacts to no other package's events)."""

from __future__ import annotations

from community import media, registrations
from server.floor.db import immediate, session_scope
from server.floor.jobs import job


@job("community.purge_unconfirmed", every=3600, summary="forgot {n} sign-ups never confirmed")
def purge_unconfirmed_job() -> int:
    """Forget the sign-ups whose confirmation link expired unused."""
    with session_scope() as session:
        immediate(session)
        return registrations.purge_unconfirmed(session)


@job("community.purge_unattached_media", every=3600, summary="deleted {n} pictures never posted or of deleted posts")
def purge_unattached_media_job() -> int:
    """Delete pictures uploaded for a post that never came (a day later) and those of deleted posts."""
    with session_scope() as session:
        immediate(session)
        return media.purge_unattached(session) + media.purge_of_deleted_statuses(session)


def register() -> None:
    """Declare this package's jobs (importing this module did)."""
