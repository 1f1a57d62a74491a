"""Domain blocks and actor blocks: who we neither accept activities from nor deliver to."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from federation.models import ActorBlock, DomainBlock
from server.floor import urls
from server.floor.errors import Invalid


@lru_cache(maxsize=8192)  # a fan-out checks the same inboxes every time
def host_of(url_or_host: str) -> str:
    """The lower-case host name of a URL (or of a bare host), without port."""
    if "://" in url_or_host:
        return (urlsplit(url_or_host).hostname or "").lower()
    return url_or_host.split(":")[0].strip().lower()


@lru_cache(maxsize=8192)
def _suffixes(host: str) -> tuple[str, ...]:
    """`a.b.example` -> ("a.b.example", "b.example", "example"): a block covers subdomains."""
    labels = host.split(".")
    return tuple(".".join(labels[i:]) for i in range(len(labels)))


def is_blocked(session: Session, url_or_host: str) -> bool:
    """True when the domain of `url_or_host` (or a parent domain) is blocked."""
    host = host_of(url_or_host)
    if not host:
        return False
    return session.scalar(select(DomainBlock.id).where(DomainBlock.domain.in_(_suffixes(host))).limit(1)) is not None


def blocked_domains(session: Session) -> set[str]:
    """Every blocked domain (a short list: read it once for a whole fan-out)."""
    return set(session.scalars(select(DomainBlock.domain)))


def is_blocked_in(url_or_host: str, domains: set[str]) -> bool:
    """True when `url_or_host` is under one of `domains` (see `blocked_domains`)."""
    host = host_of(url_or_host)
    return bool(host) and not domains.isdisjoint(_suffixes(host))


def block_domain(session: Session, domain: str, reason: str = "") -> DomainBlock:
    """Block `domain` and its subdomains (idempotent)."""
    host = host_of(domain)
    if not host or "." not in host and host != "localhost":
        raise Invalid(f"domain {domain!r} is not a host name like example.org")
    row = session.scalar(select(DomainBlock).where(DomainBlock.domain == host))
    if row is None:
        row = DomainBlock(domain=host, reason=reason)
        session.add(row)
        session.flush()
    return row


def unblock_domain(session: Session, domain: str) -> bool:
    """Lift a domain block; False if there was none."""
    row = session.scalar(select(DomainBlock).where(DomainBlock.domain == host_of(domain)))
    if row is None:
        return False
    session.delete(row)
    return True


def blocks(session: Session, blocker: str, blocked: str) -> bool:
    """True when `blocker` has blocked `blocked`."""
    query = select(ActorBlock.id).where(ActorBlock.blocker == blocker, ActorBlock.blocked == blocked)
    return session.scalar(query) is not None


def block_actor(session: Session, actor: str) -> ActorBlock:
    """Block a remote actor instance-wide: its activities are refused (403), nothing is delivered to it."""
    blocker = urls.instance_actor()
    row = session.scalar(select(ActorBlock).where(ActorBlock.blocker == blocker, ActorBlock.blocked == actor))
    if row is None:
        row = ActorBlock(blocker=blocker, blocked=actor)
        session.add(row)
        session.flush()
    return row


def refused_clause() -> ColumnElement[bool]:
    """A SQL condition, true when the sender's domain (or a parent) or the sender itself is blocked here.

    Its values come from `refused_params`. The inbox reads it in the same statement as the sender's
    key: blocks are read from the database on every request, never cached, so a new block applies to
    the next request in every process.
    """
    domain = exists().where(DomainBlock.domain.in_(bindparam("refused_suffixes", expanding=True)))
    blocked = exists().where(
        ActorBlock.blocker == bindparam("refused_blocker"), ActorBlock.blocked == bindparam("refused_actor")
    )
    return or_(domain, blocked)


def refused_params(actor: str) -> dict[str, Any]:
    """The values of `refused_clause` for activities from `actor`."""
    return {
        "refused_suffixes": _suffixes(host_of(actor)) or [""],
        "refused_blocker": urls.instance_actor(),
        "refused_actor": actor,
    }


def refused(session: Session, actor: str) -> bool:
    """True when activities from `actor` are refused: its domain or the actor itself is blocked here."""
    return bool(session.scalar(select(refused_clause()), refused_params(actor)))
