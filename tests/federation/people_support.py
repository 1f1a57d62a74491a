"""Set-up for the people federation tests: local people and remote accounts as community profiles.

The rows are written here directly (the community services publish the same events the tests
publish), so these tests pin federation's side: what goes out for each event, what is served.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from community.models import Profile, Status
from federation.flows.status_notes import iso
from server.floor import urls
from server.floor.accounts import create_account
from server.floor.clock import now
from tests.federation.flows_support import remote_person


def local(session: Session, handle: str, **fields: Any) -> Profile:
    """A local person: an account and its profile."""
    account = create_account(session, f"{handle}@example.org", handle=handle, display_name=handle.title())
    profile = Profile(account_id=account.id, uri=urls.person(handle), url=urls.absolute(f"/@{handle}"),
                      username=handle, display_name=handle.title(), **fields)  # fmt: skip
    session.add(profile)
    session.flush()
    return profile


def remote(session: Session, name: str, host: str = "social.example") -> Profile:
    """A remote account: cached actor (for delivery) and its community profile."""
    actor = remote_person(session, name, host)
    profile = Profile(uri=actor.ap_id, username=name, domain=host, inbox_url=actor.inbox,
                      shared_inbox_url=actor.shared_inbox, followers_url=f"{actor.ap_id}/followers")  # fmt: skip
    session.add(profile)
    session.flush()
    return profile


def status(session: Session, author: Profile, text: str, **fields: Any) -> Status:
    """A status by `author` (local when the author is)."""
    values: dict[str, Any] = {
        "profile_id": author.id, "kind": "status", "source": "local" if author.domain is None else "activitypub",
        "local": author.domain is None, "text": text, "html": f"<p>{text}</p>", "visibility": "public",
        "created_at": now(),
    }  # fmt: skip
    row = Status(**(values | fields))
    session.add(row)
    session.flush()
    return row


__all__ = ["iso", "local", "remote", "status"]
