"""Recognising a full disk in whatever shape it reaches a request: an OSError, SQLite's or PostgreSQL's error."""

from __future__ import annotations

import errno

# Seconds a client is asked to wait before trying again when the disk is full (someone must free space).
RETRY_AFTER = 300
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
SQLITE_FULL = 13  # sqlite3.Error.sqlite_errorcode: "database or disk is full"
PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def disk_full(error: BaseException | None) -> bool:
    """True when `error`, or what caused it (SQLAlchemy wraps the driver's), says the disk or quota is full."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return True
        if getattr(error, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        if getattr(error, "sqlstate", None) == PG_DISK_FULL or getattr(error, "pgcode", None) == PG_DISK_FULL:
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False
