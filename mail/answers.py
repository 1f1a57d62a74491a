"""Where a send pass writes what it learns: rounds marked in flight, SMTP answers, renewed leases.

On SQLite the pass's own session writes them (in-process work: awaiting would gain nothing), and the
sender commits. On PostgreSQL each write is one statement on an asynchronous autocommit connection of
the pass's own that does not wait for the WAL flush: while a batch of answers makes its round trip to
the server, the event loop goes on sending on the other SMTP connections (a blocking round trip
stopped every connection: a third of the send phase under load). A batch of answers is one
`UPDATE ... FROM json_to_recordset(...)`, not a pipeline of one UPDATE per mail. A killed worker loses nothing
written this way (the server has it); only a crash of PostgreSQL itself may lose the last fraction of
a second of answers, and those mails then go again (at most one per connection, as after a kill).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mail.models import OutgoingMail
from server.floor.clock import now
from server.floor.db import UTCDateTime, is_postgres
from server.floor.queue import QUEUED, renew

TABLE = cast(Table, OutgoingMail.__table__)

# Every answer writes the same columns, so a round's answers go in one executemany (SQLite).
ANSWER = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("mail_id"))
    .values(
        state=bindparam("new_state"),
        locked_until=None,
        sending_at=None,
        last_error=bindparam("error"),
        next_attempt_at=func.coalesce(bindparam("retry_at", type_=UTCDateTime), TABLE.c.next_attempt_at),
        sent_at=bindparam("sent", type_=UTCDateTime),
        smtp_response=bindparam("response"),
    )
)

# The answers as one JSON parameter: psycopg dumps one string faster than six arrays (client CPU 0.13 against
# 0.19 ms a statement of four answers, measured; the round trip 0.24 against 0.38 ms).
_PG_ANSWERS = f"""
UPDATE {TABLE.name} AS m SET state = a.state, locked_until = NULL, sending_at = NULL, last_error = a.error,
    next_attempt_at = coalesce(a.retry_at, m.next_attempt_at), sent_at = a.sent, smtp_response = a.response
FROM json_to_recordset(%s::json)
    AS a(id bigint, state text, error text, retry_at timestamptz, sent timestamptz, response text)
WHERE m.id = a.id
"""
_PG_MARK = f"UPDATE {TABLE.name} SET sending_at = %s WHERE id = ANY(%s::bigint[])"
_PG_RENEW = f"UPDATE {TABLE.name} SET locked_until = %s WHERE id = ANY(%s::bigint[]) AND state = %s"


class SessionWriter:
    """Writes in the pass's session; the caller commits (SQLite, and the reference behaviour).

    The answers go to the driver as one executemany of the statement SQLAlchemy compiled once (its
    per-statement work was most of a batch's cost: a batch is a few answers, thousands of times a pass)."""

    # Answers are committed when a connection's next mail needs it (at its gate): a commit here is work
    # in this process, with nothing to overlap.
    eager = False

    def __init__(self, session: Session) -> None:
        self.session = session
        dialect = session.get_bind().dialect
        compiled = ANSWER.compile(dialect=dialect)
        self._sql, self._order = compiled.string, list(compiled.positiontup or [])
        self._stamp = UTCDateTime().bind_processor(dialect) or (lambda value: value)

    async def mark(self, ids: list[int], at: datetime) -> None:
        """Mark the rows `ids` in flight since `at`."""
        self.session.execute(update(TABLE).where(TABLE.c.id.in_(ids)).values(sending_at=at))

    async def answers(self, answers: list[dict[str, Any]]) -> None:
        """Write answers (dicts of mail_id, new_state, error, retry_at, sent, response)."""
        stamp = self._stamp
        fixed = {"sending_at": None, "locked_until": None}
        rows = [
            tuple(
                stamp(answer[name]) if name in ("sent", "retry_at") else fixed[name] if name in fixed else answer[name]
                for name in self._order
            )
            for answer in answers
        ]
        self._driver().executemany(self._sql, rows)

    def commit(self, session: Session) -> None:
        """Commit the pass's writes. When the session holds no changed objects (a pass's usual case: every
        write went as a statement), on the driver's connection: SQLAlchemy's commit around SQLite's cost as
        much again (~2,700 commits for 10,000 mails). Its transaction stays open and ends with the next
        `session.commit()`, which then has nothing left to write."""
        if session.new or session.dirty or session.deleted:
            session.commit()
        else:
            self._driver().commit()

    def _driver(self) -> Any:
        driver = self.session.connection().connection.driver_connection
        assert driver is not None
        return driver

    async def renew(self, ids: Collection[int], duration: timedelta) -> None:
        """Extend the leases of the rows `ids` by `duration` from now."""
        renew(self.session, TABLE, ids, duration)

    async def close(self) -> None:
        """Nothing of its own to close."""


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


class PostgresWriter:
    """Writes each batch as one autocommitted statement on an asynchronous connection of its own."""

    # Answers are committed as soon as every SMTP connection has given one (not only when the first of
    # those connections reaches its next mail's gate): the round trip overlaps their next MAIL, RCPT and DATA.
    eager = True

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, session: Session) -> PostgresWriter:
        """A writer on a new connection to the session's database."""
        import psycopg

        url = session.get_bind().engine.url.set(drivername="postgresql")
        connection = await psycopg.AsyncConnection.connect(url.render_as_string(hide_password=False), autocommit=True)
        await connection.execute("SET synchronous_commit TO OFF")
        return cls(connection)

    async def mark(self, ids: list[int], at: datetime) -> None:
        """Mark the rows `ids` in flight since `at` (committed when this returns)."""
        await self.connection.execute(_PG_MARK, (at, ids))

    async def answers(self, answers: list[dict[str, Any]]) -> None:
        """Write answers in one statement (committed when this returns)."""
        rows = [
            {
                "id": answer["mail_id"],
                "state": answer["new_state"],
                "error": answer["error"],
                "retry_at": _iso(answer["retry_at"]),
                "sent": _iso(answer["sent"]),
                "response": answer["response"],
            }
            for answer in answers
        ]
        await self.connection.execute(_PG_ANSWERS, (json.dumps(rows),))

    async def renew(self, ids: Collection[int], duration: timedelta) -> None:
        """Extend the leases of the rows `ids` by `duration` from now."""
        if ids:
            await self.connection.execute(_PG_RENEW, (now() + duration, list(ids), QUEUED))

    def commit(self, session: Session) -> None:
        """Commit what the pass wrote in its session (a bounce, the rate bucket): its own writes are committed."""
        session.commit()

    async def close(self) -> None:
        """Close the connection."""
        await self.connection.close()


async def open_writer(session: Session) -> SessionWriter | PostgresWriter:
    """The writer for the session's database."""
    return await PostgresWriter.open(session) if is_postgres(session) else SessionWriter(session)


def database_errors() -> tuple[type[BaseException], ...]:
    """What a failed write of answers raises: SQLAlchemy's errors, OSError, and psycopg's own for the
    asynchronous connection on PostgreSQL (psycopg is imported only there: on SQLite nobody raises it)."""
    psycopg = sys.modules.get("psycopg")
    return (SQLAlchemyError, OSError) if psycopg is None else (SQLAlchemyError, OSError, psycopg.Error)
