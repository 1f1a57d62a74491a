"""The mail tables: the outbox, what happened to each mail, suppressions, inbound messages, the rate bucket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.floor.clock import now
from server.floor.db import Base, JSONDoc, UTCDateTime
from server.floor.queue import QUEUED, QueuedMixin

# States beyond server.floor.queue's queued/done/failed.
CANCELLED = "cancelled"  # suppressed or unsubscribed before it went out
UNCERTAIN = "uncertain"  # a worker died between handing it to SMTP and recording the answer

# What a mail is: a course unit, a relayed group post, a one-off from an organizer, a transactional mail,
# a notice about the learner's place (promoted from the waiting list, their group merged into another).
KINDS = ("unit", "relay", "compose", "confirm", "system", "notice")
TRANSACTIONAL = ("confirm", "system")


class OutgoingMail(QueuedMixin, Base):
    """One mail to one address, rendered and written in the same transaction as its cause."""

    __tablename__ = "mail_outgoing"
    # The one index on `state`: the lease, recovery and the dashboards' counts all filter on `state` first.
    # The mixin's indexes on `state` and `next_attempt_at` alone are not made here (migration
    # 20261214_mail_fewer_indexes): each answer changes `state`, so it writes an entry in every index.
    __table_args__ = (Index("ix_mail_outgoing_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Idempotency: e.g. unit:{run}:{enrollment}:{unit slug}; a second insert of the same key is refused.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    # Random: the key of this row in the pixel and click URLs; the VERP address and unsubscribe links carry
    # it with a MAC of their purpose (mail.addresses), so the token alone grants nothing.
    token: Mapped[str] = mapped_column(String(40), unique=True)
    # The Message-ID header sent (a MAC of the token; a relay carries its post's own): a reply is matched
    # to the mail it answers by looking this up, never by reading a token out of a Message-ID.
    message_id: Mapped[str | None] = mapped_column(String(500), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="system")
    to_addr: Mapped[str] = mapped_column(String(320), index=True)
    envelope_from: Mapped[str] = mapped_column(String(400))
    subject: Mapped[str] = mapped_column(String(500), default="")
    message: Mapped[str] = mapped_column(Text)  # the RFC 5322 text sent (before DKIM)
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_groups.id", ondelete="SET NULL"), nullable=True, index=True
    )
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), nullable=True)
    unit_position: Mapped[int | None] = mapped_column(nullable=True)
    unit_slug: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # Set (and committed) just before the SMTP transaction: a row left with it after a crash is UNCERTAIN.
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    smtp_response: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MailEvent(Base):
    """Something that happened to a sent mail: open, click, bounce, complaint, unsubscribe."""

    __tablename__ = "mail_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_outgoing.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), index=True)  # open|click|bounce|soft_bounce|complaint|unsubscribe
    email: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Suppression(Base):
    """An address we must not mail: hard bounce, too many soft bounces, complaint, instance unsubscribe."""

    __tablename__ = "mail_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    reason: Mapped[str] = mapped_column(String(32), default="")  # hard_bounce|soft_bounce|complaint|unsubscribed
    active: Mapped[bool] = mapped_column(default=False, index=True)
    soft_bounces: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class InboundMessage(Base):
    """A message received for a group list or a bounce address, recorded by Message-ID before its effects."""

    __tablename__ = "mail_inbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    recipient: Mapped[str] = mapped_column(String(320), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    outcome: Mapped[str] = mapped_column(String(200), default="")  # posted|held|bounce|loop|rejected:...
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), nullable=True)
    raw: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class RateBucket(Base):
    """The global send-rate limiter shared by every worker (GCRA: the theoretical arrival time)."""

    __tablename__ = "mail_rate"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tat: Mapped[float] = mapped_column(default=0.0)  # unix seconds


class Composition(Base):
    """A one-off mail an organizer writes to a whole run or to every group of it."""

    __tablename__ = "mail_compositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown with merge tags
    audience: Mapped[str] = mapped_column(String(16), default="run")  # run | groups
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
