"""The database: engine, sessions, declarative Base and shared column types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from server.floor import changes
from server.floor.config import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


def make_engine(url: str) -> Engine:
    """An engine for `url`, tuned for the embedded SQLite default."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        changes.watch(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    changes.watch(engine)
    return engine


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    """The engine of the configured database (one per process and URL)."""
    return _engine_for(get_settings().database_url)


def session_factory() -> sessionmaker[Session]:
    """A sessionmaker bound to the configured engine."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write_scope() -> Iterator[Session]:
    """A session_scope that takes the write lock at once on SQLite (for requests that read, then write).

    A deferred SQLite transaction that has read fails at its first write with "database is locked"
    when another connection committed in between (WAL cannot wait that out); BEGIN IMMEDIATE makes
    concurrent writers queue on busy_timeout instead. Do not open another writing session inside it.
    """
    with session_scope() as session:
        immediate(session)
        yield session


def immediate(session: Session) -> None:
    """Begin the session's next transaction holding SQLite's write lock (no-op on PostgreSQL).

    For work that reads, then writes, while other processes write too: a deferred transaction that
    has read (a SAVEPOINT outside BEGIN starts one) fails at its first write with "database is
    locked" when another connection committed in between, and busy_timeout cannot wait that out.
    Call it between transactions (right after a commit), not inside one.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(session: Session) -> bool:
    """True when the session talks to PostgreSQL (SKIP LOCKED available)."""
    return session.get_bind().dialect.name == "postgresql"


def upsert_insert(session: Session, table: Any) -> Any:
    """`INSERT INTO table` of the session's dialect, so `.on_conflict_do_nothing()` (and `.returning`)
    are at hand: PostgreSQL's and SQLite's both know ON CONFLICT; the generic Insert does not."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


# SQLite's OperationalErrors that say "not now" (locked too long, I/O, unreadable file), not "wrong statement".
# A full disk is server.floor.disk's to answer.
_SQLITE_UNAVAILABLE = ("locked", "busy", "i/o error", "unable to open", "readonly")
RETRY_AFTER_SECONDS = 10


def unavailable(error: BaseException) -> bool:
    """True when `error` says the database cannot be reached or written right now (down, restarting,
    failing over, out of connections, locked too long), not that a statement is wrong."""
    if isinstance(error, sa_exc.TimeoutError):  # every pooled connection is busy
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        return any(word in str(error.orig).lower() for word in _SQLITE_UNAVAILABLE)
    return True  # PostgreSQL's OperationalError: connection refused or lost, shutting down, starting up
