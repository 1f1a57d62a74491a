"""People, profiles and statuses for the moderation tests (plain rows: no network, no core services)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Follow, Profile, Status
from server.floor import urls
from server.floor.accounts import Account, create_account
from server.floor.events import DomainEvent


def person(session: Session, handle: str, role: str = "learner", password: str | None = None) -> Profile:
    """A local account and its community profile."""
    account = create_account(session, f"{handle}@example.org", password, role="learner", handle=handle)
    account.role = role  # "moderator" may not be in ROLES yet (the people helper adds it)
    profile = Profile(account_id=account.id, uri=urls.person(handle), username=handle, display_name=handle.title())
    session.add(profile)
    session.flush()
    return profile


def remote(session: Session, username: str, domain: str, uri: str | None = None) -> Profile:
    """A remote actor's profile."""
    uri = uri or f"https://{domain}/users/{username}"
    profile = Profile(
        uri=uri, username=username, domain=domain, inbox_url=f"{uri}/inbox", shared_inbox_url=f"https://{domain}/inbox"
    )
    session.add(profile)
    session.flush()
    return profile


def status(session: Session, author: Profile, text: str, visibility: str = "public") -> Status:
    """A personal status of `author`."""
    row = Status(
        profile_id=author.id,
        kind="status",
        source="local" if author.local else "activitypub",
        local=author.local,
        visibility=visibility,
        text=text,
        html=f"<p>{text}</p>",
        ap_id=None if author.local else f"{author.uri}/statuses/{len(text)}{abs(hash(text)) % 10**9}",
    )
    session.add(row)
    session.flush()
    if author.local and row.ap_id is None:
        row.ap_id = urls.post(row.id)
    return row


def follow(session: Session, follower: Profile, target: Profile) -> None:
    """`follower` follows `target` (accepted)."""
    session.add(Follow(profile_id=follower.id, target_id=target.id, accepted=True))
    session.flush()


def account_of(session: Session, profile: Profile) -> Account:
    """The local account behind `profile`."""
    account = session.get(Account, profile.account_id)
    assert account is not None
    return account


def events(session: Session, name: str) -> list[dict[str, object]]:
    """The payloads of the events called `name`, oldest first."""
    return [
        e.payload for e in session.scalars(select(DomainEvent).where(DomainEvent.name == name).order_by(DomainEvent.id))
    ]
