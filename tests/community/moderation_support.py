"""People, profiles and statuses for the moderation tests, made through the community services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import graph, statuses
from community.models import Profile, Status
from community.people import local_profile, upsert_remote
from server.floor.accounts import Account, create_account
from server.floor.events import DomainEvent


def person(session: Session, handle: str, role: str = "learner", password: str | None = None) -> Profile:
    """A local account with `role` and its community profile."""
    account = create_account(session, f"{handle}@example.org", password, role=role, handle=handle)
    return local_profile(session, account)


def remote(session: Session, username: str, domain: str, uri: str | None = None) -> Profile:
    """A remote actor's profile."""
    uri = uri or f"https://{domain}/users/{username}"
    return upsert_remote(
        session,
        uri=uri,
        username=username,
        domain=domain,
        inbox_url=f"{uri}/inbox",
        shared_inbox_url=f"https://{domain}/inbox",
    )


def status(session: Session, author: Profile, text: str, visibility: str = "public") -> Status:
    """A status of `author`: posted here (fanned out to followers) or received from its server."""
    if author.local:
        return statuses.post(session, author, text, visibility=visibility)
    number = session.scalar(select(Status.id).order_by(Status.id.desc()).limit(1)) or 0
    received = statuses.receive(
        session,
        author,
        ap_id=f"{author.uri}/statuses/{number + 1}",
        html=f"<p>{text}</p>",
        text=text,
        visibility=visibility,
        force=True,
    )
    assert received is not None
    return received


def follow(session: Session, follower: Profile, target: Profile) -> None:
    """`follower` follows `target` (accepted: local unlocked targets accept at once)."""
    row = graph.follow(session, follower, target)
    if not row.accepted:
        graph.accept(session, row)
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
