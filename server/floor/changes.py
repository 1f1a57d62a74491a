"""A generation of the instance's data that every process of it shares: what a cache of rendered
public pages is checked against (web.page_cache).

Every engine this process makes is watched (`watch`, called by `server.floor.db.make_engine`): a
statement that writes to a table outside QUIET marks its connection, and when a marked connection
goes back to the pool — after its commit, or its rollback — the file DATA_DIR/changes gets a new
modification time, in nanoseconds from this process's clock. `generation()` is that time: one
stat() per call. The web process, its worker and scheduler, and `mechmooc` commands run on the same
data dir (docker-compose.yml shares one volume between all services), so a write in any of them is
seen by the next request of every web process. A rolled-back write moves the generation too:
a cache then renders again for nothing, which is harmless.

QUIET are the machine's own queues and logs, written many times a second while mail goes out or
activities come in, and shown on no public page; a write to them alone moves nothing. Writes made
with the DB-API driver directly (bypassing SQLAlchemy's events) are not seen: the callers that do
so write QUIET tables only (mail.answers, federation.transport), or say so (`mark`: a bulk COPY).
A cache must still bound how long it trusts a generation (a process on another machine, with a data
dir of its own, cannot touch this file): web.page_cache's MECHMOOC_PAGE_CACHE_SECONDS.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from server.floor.config import get_settings
from server.floor.errors import MechMoocError

FILE = "changes"
WROTE = "mechmooc_wrote"  # the connection's info key: it wrote since it was checked out
QUIET = frozenset(
    {
        "api_idempotency_keys",
        "api_stream_messages",
        "community_feed",
        "community_notifications",
        "federation_deliveries",
        "federation_hosts",
        "federation_inbox",
        "mail_events",
        "mail_inbound",
        "mail_outgoing",
        "mail_rate",
        "rate_hits",
        "worker_heartbeats",
    }
)
_READS = ("SELECT", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "SHOW", "EXPLAIN", "SET ")
_TARGET = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


def path() -> Path:
    """The file whose modification time is the generation."""
    return get_settings().data_dir / FILE


def generation() -> int:
    """The current generation (0 when nothing was ever written through a watched engine)."""
    try:
        return os.stat(path()).st_mtime_ns
    except (OSError, MechMoocError):
        return 0


def bump() -> None:
    """A new generation: the changes file's time set to now (created if missing)."""
    try:
        target = path()
    except MechMoocError:
        return  # no settings in this process (a script on an engine of its own): no data dir to tell
    stamp = time.time_ns()
    try:
        os.utime(target, ns=(stamp, stamp))
    except FileNotFoundError:
        try:
            target.touch()
            os.utime(target, ns=(stamp, stamp))
        except OSError:
            return  # no data dir to write (a read-only one): caches keep to their time bound
    except OSError:
        return


def writes(statement: str, context: Any) -> bool:
    """Whether a statement may change what a public page shows (a write to a table outside QUIET)."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        table = getattr(getattr(context, "compiled", None), "statement", None)
        name = getattr(getattr(table, "table", None), "name", None)
        if name is not None:
            return name not in QUIET
    head = statement.lstrip()[:9].upper()
    if head.startswith(_READS):
        return False
    target = _TARGET.match(statement)
    return target is None or target.group(1).lower() not in QUIET


def mark(connection: Any) -> None:
    """Note that `connection` (a SQLAlchemy Connection) wrote outside QUIET with the DB-API driver
    directly (a bulk COPY), which SQLAlchemy's events do not see."""
    connection.info[WROTE] = True


def _noted(conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
    info = conn.info
    if not info.get(WROTE) and writes(statement, context):
        info[WROTE] = True


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(WROTE, False):
        bump()


def watch(engine: Engine) -> None:
    """Move the generation after each connection of `engine` that wrote goes back to its pool."""
    event.listen(engine, "after_cursor_execute", _noted)
    event.listen(engine, "checkin", _checked_in)
