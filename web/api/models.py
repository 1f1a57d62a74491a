"""The client API's tables: registered apps, authorization codes, tokens (each secret stored as its
SHA-256 only) and the idempotency keys of posted statuses (Alembic branch "api")."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.floor.clock import now
from server.floor.db import Base, JSONDoc, UTCDateTime
from server.floor.ids import BigId, new_id


def digest(secret: str) -> str:
    """What is stored of a secret (token, code, client secret): its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Application(Base):
    """An app registered with POST /api/v1/apps (Mastodon's Doorkeeper application)."""

    __tablename__ = "api_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    redirect_uris: Mapped[str] = mapped_column(Text, default="")  # one per line
    scopes: Mapped[str] = mapped_column(String(1000), default="read")  # space separated
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class AuthorizationCode(Base):
    """A code handed to an app after the person's consent: single use, ten minutes."""

    __tablename__ = "api_authorization_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[int] = mapped_column(BigId, ForeignKey("api_applications.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000), default="")
    scope: Mapped[str] = mapped_column(String(1000), default="read")
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Token(Base):
    """An access token (with its refresh token) of an app, for a person or for the app alone."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    application_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("api_applications.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    scope: Mapped[str] = mapped_column(String(1000), default="read")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyKey(Base):
    """A status posted with an `Idempotency-Key` header: the same key again answers the same status."""

    __tablename__ = "api_idempotency_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (
        UniqueConstraint("account_id", "key"),
        Index("ix_api_idempotency_keys_created_at", "created_at"),
    )


class StreamMessage(Base):
    """A streaming message written by a process that serves no clients (the embedded worker: a remote
    status or notification arrived through the inbox job) for the web process to deliver; kept two
    minutes. With Redis (production) messages go through pub/sub instead."""

    __tablename__ = "api_stream_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    keys: Mapped[list[str]] = mapped_column(JSONDoc)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
