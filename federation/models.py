"""The federation tables: keys, remote actors, follows, inbox and delivery rows, moderation.

Owned by the protocol engineer (keys, signatures, fetch, inbox, delivery). The course-vocabulary
engineer builds on `Follower`/`Following` for course and run follows; add course-specific tables in
their own modules (federation/flows/forks.py, federation/flows/cohorts.py), not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.floor.clock import now
from server.floor.db import Base, JSONDoc, UTCDateTime
from server.floor.queue import QueuedMixin

URL = 2000


class ActorKey(Base):
    """The RSA keypair of one local actor (instance, person, course, run, group)."""

    __tablename__ = "federation_actor_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(URL), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RemoteActor(Base):
    """A cached actor document of another server: where to deliver, which key signs for it."""

    __tablename__ = "federation_remote_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(URL), unique=True)
    type: Mapped[str] = mapped_column(String(32), default="Person")
    inbox: Mapped[str] = mapped_column(String(URL), default="")
    shared_inbox: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(URL), nullable=True, index=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    handle: Mapped[str | None] = mapped_column(String(400), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(400), default="")
    followers: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    moved_to: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Follower(Base):
    """Someone (remote or local) who follows a local actor; the followers collection is these rows."""

    __tablename__ = "federation_followers"
    __table_args__ = (UniqueConstraint("actor", "follower"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(URL), index=True)  # the local actor followed
    follower: Mapped[str] = mapped_column(String(URL), index=True)
    inbox: Mapped[str] = mapped_column(String(URL), default="")
    shared_inbox: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    follow_id: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Following(Base):
    """A local actor's follow of a remote actor: pending until Accept, removed on Reject/Undo."""

    __tablename__ = "federation_following"
    __table_args__ = (UniqueConstraint("actor", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(URL), index=True)  # the local follower
    target: Mapped[str] = mapped_column(String(URL), index=True)
    follow_id: Mapped[str] = mapped_column(String(URL), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class InboxActivity(QueuedMixin, Base):
    """An activity received, stored by id before any effect; the worker applies it once."""

    __tablename__ = "federation_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    type: Mapped[str] = mapped_column(String(64), default="")
    actor: Mapped[str] = mapped_column(String(URL), default="", index=True)
    recipient: Mapped[str | None] = mapped_column(String(URL), nullable=True)  # None: shared inbox
    # Who signed the POST when it was not the activity's actor (a forward): its object is then
    # fetched from its origin before anything is done with it (federation.entry.forwarded).
    forwarded_by: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Delivery(QueuedMixin, Base):
    """One activity to POST to one inbox, signed by `sender`; written with its cause."""

    __tablename__ = "federation_deliveries"
    __table_args__ = (UniqueConstraint("activity_id", "inbox"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(URL), index=True)
    sender: Mapped[str] = mapped_column(String(URL))
    inbox: Mapped[str] = mapped_column(String(URL))
    host: Mapped[str] = mapped_column(String(255), index=True)
    body: Mapped[str] = mapped_column(Text)  # the JSON bytes signed and sent, fixed at enqueue
    status_code: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RemoteHost(Base):
    """Delivery health of a remote host: its current run of failures (how many, since when) and when it became unavailable."""

    __tablename__ = "federation_hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unavailable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DomainBlock(Base):
    """A remote domain (and its subdomains) we neither accept from nor deliver to."""

    __tablename__ = "federation_domain_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ActorBlock(Base):
    """A block between actors: a remote actor blocking a local one (or a local admin's block)."""

    __tablename__ = "federation_actor_blocks"
    __table_args__ = (UniqueConstraint("blocker", "blocked"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blocker: Mapped[str] = mapped_column(String(URL), index=True)
    blocked: Mapped[str] = mapped_column(String(URL), index=True)
    activity_id: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Report(Base):
    """A `Flag` received from another server, waiting in the admin's moderation queue."""

    __tablename__ = "federation_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    reporter: Mapped[str] = mapped_column(String(URL))
    targets: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[str] = mapped_column(String(200), default="")


class Like(Base):
    """A remote actor's Like of one of our objects (course, unit, post)."""

    __tablename__ = "federation_likes"
    __table_args__ = (UniqueConstraint("actor", "object"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(URL))
    object: Mapped[str] = mapped_column(String(URL), index=True)
    activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
