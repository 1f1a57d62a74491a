"""What `/healthz` checks: the database, the broker and the age of the last worker heartbeat; it also
counts the mails that wait for a person (uncertain, failed), which make no instance unhealthy."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.heartbeat import JOBS_STALE_AFTER, STALE_AFTER, last_beat
from server.floor.settings import Settings

STARTUP_GRACE = 60.0  # seconds after the web app starts before a worker must have beaten once

MB = 1024 * 1024


@dataclass(frozen=True)
class Check:
    """One component's state: ok or not, and a detail a human can act on."""

    ok: bool
    detail: str
    age_seconds: float | None = None


def check_database() -> tuple[Check, float | None, float | None]:
    """Run a query; return the check, the last heartbeat's age and the last periodic job beat's age in
    seconds (None: never)."""
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            beats = last_beat(session), last_beat(session, jobs=True)
    except Exception as error:  # noqa: BLE001 - any failure is the answer here
        return Check(False, f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"), None, None
    worker, jobs = (None if beat is None else (now() - beat).total_seconds() for beat in beats)
    return Check(True, "reachable"), worker, jobs


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
        starting = uptime < STARTUP_GRACE  # a worker takes a while to start; a beating one that stops, not
        return Check(starting, "starting: no heartbeat yet" if starting else "no worker has ever run the heartbeat")
    return Check(age <= limit, "beating" if age <= limit else f"last heartbeat {age:.0f} s ago", round(age, 1))


def check_jobs(age: float | None, uptime: float) -> Check:
    """Periodic jobs (the mail sender among them) run when the scheduler sends them and a worker runs them."""
    limit = JOBS_STALE_AFTER.total_seconds()
    if age is None:
        starting = uptime < limit
        return Check(starting, "starting: no periodic job yet" if starting else "no periodic job ever ran")
    if age <= limit:
        return Check(True, "running", round(age, 1))
    return Check(False, f"no periodic job for {age:.0f} s: is the scheduler running?", round(age, 1))


def mail_counts() -> dict[str, int] | None:
    """How many mails are uncertain and how many failed; None when the database cannot say."""
    from mail.attention import counts

    try:
        with session_scope() as session:
            return counts(session)
    except SQLAlchemyError:
        return None


def check_disk(settings: Settings) -> Check:
    """Free space where the data dir lives; below MECHMOOC_MIN_FREE_DISK_MB the instance is degraded."""
    try:
        free = shutil.disk_usage(settings.data_dir).free
    except OSError as error:
        return Check(False, f"data dir {settings.data_dir}: {error.strerror}")
    free_mb, least = free // MB, settings.min_free_disk_mb
    if free_mb < least:
        return Check(False, f"{free_mb} MB free in {settings.data_dir}, below {least} MB: writes may fail soon")
    return Check(True, f"{free_mb} MB free in {settings.data_dir}")


def check_children(children: dict[str, dict[str, Any]]) -> Check:
    """The worker and scheduler `serve` runs: unwell while one of them is in a crash loop."""
    looping = {name: state for name, state in children.items() if state.get("crash_loop")}
    if not looping:
        return Check(True, "running" if all(s.get("running") for s in children.values()) else "restarting")
    return Check(
        False,
        "; ".join(
            f"the {name} crashed {state['crashes_in_a_row']} times in a row (last exit code {state['last_exit']}), "
            f"next start in {state['next_start_in'] or 0:.0f} s"
            for name, state in looping.items()
        ),
    )


def health(
    settings: Settings, uptime: float, children: dict[str, dict[str, Any]] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Whether the instance is healthy (`uptime`: seconds since the web app started), and the report;
    `children`: what `serve` knows of its worker and scheduler (None when it runs none)."""
    database, age, jobs_age = check_database()
    checks = {
        "database": database,
        "broker": check_broker(settings),
        "worker": check_worker(age, uptime),
        "jobs": check_jobs(jobs_age, uptime),
    }
    if children is not None:
        checks["children"] = check_children(children)
    healthy = all(check.ok for check in checks.values())
    # Low disk does not make the instance unhealthy (it still serves): the status says "degraded".
    disk = check_disk(settings)
    checks["disk"] = disk
    status = "unhealthy" if not healthy else "ok" if disk.ok else "degraded"
    report = {"status": status, **{k: asdict(v) for k, v in checks.items()}}
    if children is not None:
        report["processes"] = children
    return healthy, {**report, "mail": mail_counts() if database.ok else None}
