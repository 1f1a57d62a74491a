"""The community's side of domain blocks: which remote domains the moderators silenced or suspended.

Federation keeps its own `federation_domain_blocks` (what the inbox refuses and delivery skips); it
learns of a suspension from the `domain_block.created` event. This table is what the community's
timelines and profiles read: community never imports federation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, Text, event, select
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from community.models import Profile
from server.floor.clock import now
from server.floor.db import Base, UTCDateTime
from server.floor.ids import BigId, new_id

SEVERITIES = ("silence", "suspend")


class BlockedDomain(Base):
    """A remote domain (and its subdomains) a moderator silenced (its statuses leave public timelines)
    or suspended (its statuses hidden everywhere, its activities refused)."""

    __tablename__ = "community_domain_blocks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    severity: Mapped[str] = mapped_column(String(16), default="silence")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(nullable=True)  # accounts.id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def domain_suffixes(host: str) -> list[str]:
    """`a.b.example` -> ["a.b.example", "b.example", "example"]: a block of a domain covers its subdomains."""
    labels = host.lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@event.listens_for(Profile, "before_insert")
def _sanction_of_blocked_domain(mapper: Mapper[Any], connection: Connection, profile: Profile) -> None:
    """A remote profile first seen after its domain was blocked starts with the domain's sanction
    (stamped with the block's time, so lifting the block lifts it). Whoever inserts the profile
    (people.upsert_remote, the inbox) need not know; one indexed read per new remote profile."""
    if not profile.domain:
        return
    query = select(BlockedDomain.severity, BlockedDomain.created_at).where(
        BlockedDomain.domain.in_(domain_suffixes(profile.domain))
    )
    for severity, created_at in connection.execute(query):
        if severity == "suspend" and profile.suspended_at is None:
            profile.suspended_at = created_at
        elif severity == "silence" and profile.silenced_at is None:
            profile.silenced_at = created_at
