"""What `/healthz` checks: the database, the broker and the age of the last worker heartbeat."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text

from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.heartbeat import STALE_AFTER, last_beat
from server.floor.settings import Settings


@dataclass(frozen=True)
class Check:
    """One component's state: ok or not, and a detail a human can act on."""

    ok: bool
    detail: str
    age_seconds: float | None = None


def check_database() -> tuple[Check, float | None]:
    """Run a query; return the check and the last heartbeat's age in seconds (None: never)."""
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            beat = last_beat(session)
    except Exception as error:  # noqa: BLE001 - any failure is the answer here
        return Check(False, f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"), None
    return Check(True, "reachable"), None if beat is None else (now() - beat).total_seconds()


def check_broker(settings: Settings) -> Check:
    """Ping the broker: a Redis PING, or the embedded transport's folder being writable."""
    if settings.embedded_broker:
        from server.roof.celery_app import broker_folders

        folder = broker_folders(settings)["data_folder_in"]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".healthz"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            return Check(False, f"embedded broker folder {folder}: {error.strerror}")
        return Check(True, "embedded (filesystem)")
    url = settings.broker_url or ""
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - any failure is the answer here
        return Check(False, f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
    return Check(True, "reachable")


def check_worker(age: float | None, uptime: float) -> Check:
    """A worker is healthy when it beat recently; in the first minute up, not having beaten yet is fine."""
    limit = STALE_AFTER.total_seconds()
    if age is None:
        starting = uptime < limit
        return Check(starting, "starting: no heartbeat yet" if starting else "no worker has ever run the heartbeat")
    return Check(age <= limit, "beating" if age <= limit else f"last heartbeat {age:.0f} s ago", round(age, 1))


def health(settings: Settings, uptime: float) -> tuple[bool, dict[str, Any]]:
    """Whether the instance is healthy (`uptime`: seconds since the web app started), and the report."""
    database, age = check_database()
    checks = {"database": database, "broker": check_broker(settings), "worker": check_worker(age, uptime)}
    healthy = all(check.ok for check in checks.values())
    return healthy, {"status": "ok" if healthy else "unhealthy", **{k: asdict(v) for k, v in checks.items()}}
