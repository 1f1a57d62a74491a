"""The Celery app: a task per declared job, beat entries for periodic jobs, queues by concern.

The broker only wakes workers up; every job reads its work from database rows. Without
`MECHMOOC_BROKER_URL` the transport is kombu's `filesystem://` under the data dir, so the laptop
runs the very same task code as production with no external service.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready

from server.floor.jobs import Job, registered, set_waker
from server.floor.settings import Settings

DEFAULT_QUEUE = "default"


def broker_folders(settings: Settings) -> dict[str, Path]:
    """The embedded transport's folders in the data dir (messages in/out, exchange table, and where
    undecodable files are set aside and messages are read from: server.roof.file_broker)."""
    root = settings.data_dir / "broker"
    return {
        "data_folder_in": root / "queue",
        "data_folder_out": root / "queue",
        "control_folder": root / "control",
        "bad_folder": root / "bad",
        "claimed_folder": root / "claimed",
    }


def schedule_file(settings: Settings) -> Path:
    """Where the scheduler keeps the last run time of each periodic job."""
    return settings.data_dir / "celerybeat-schedule"


def queues(jobs: dict[str, Job]) -> list[str]:
    """The queue names the declared jobs use, the default one first."""
    return [DEFAULT_QUEUE, *sorted({job.queue for job in jobs.values()} - {DEFAULT_QUEUE})]


def beat_schedule(jobs: dict[str, Job]) -> dict[str, dict[str, Any]]:
    """A beat entry for each periodic job; a tick expires rather than pile up behind a busy worker."""
    return {
        job.name: {
            "task": job.name,
            "schedule": timedelta(seconds=job.every),
            "options": {"queue": job.queue, "expires": job.every},
        }
        for job in jobs.values()
        if job.every
    }


def _task_body(job_name: str) -> Any:
    def run() -> None:
        registered()[job_name].function()

    run.__name__ = job_name.replace(".", "_")
    run.__doc__ = f"Run the background job {job_name}."
    return run


def make_celery(settings: Settings) -> Celery:
    """The Celery app for this instance; call after `server.roof.bootstrap.boot()` so every job is declared."""
    jobs = registered()
    app = Celery("mechmooc", broker=settings.celery_broker(), set_as_current=True)
    app.conf.update(
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        task_routes={job.name: {"queue": job.queue} for job in jobs.values()},
        beat_schedule=beat_schedule(jobs),
        timezone="UTC",
        enable_utc=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
    )
    if settings.embedded_broker:
        folders = broker_folders(settings)
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        app.conf.update(
            broker_transport_options={**{k: str(v) for k, v in folders.items()}, "store_processed": False},
            # kombu's filesystem transport, except that a file a full disk cut short is set aside instead
            # of killing the worker at every start.
            broker_transport="server.roof.file_broker:Transport",
            # The file transport has no broadcast for remote control; the database is the only state.
            worker_enable_remote_control=False,
        )
    for job in jobs.values():
        app.task(name=job.name, queue=job.queue, ignore_result=True)(_task_body(job.name))
    return app


def install_waker(app: Celery) -> None:
    """Make `server.floor.jobs.wake(name)` send job `name`'s task to the workers."""

    def wake(name: str) -> None:
        job = registered()[name]
        app.send_task(name, queue=job.queue, retry=False, expires=job.every or 3600)

    set_waker(wake)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool process must not reuse the parent's pooled database connections.
    from server.floor.db import get_engine

    get_engine().dispose(close=False)


@worker_ready.connect
def _beat_while_alive(**_: Any) -> None:
    # From a thread of the worker's main process: beats go on while every slot runs a long job, and stop
    # the moment the worker dies (/healthz then says so within STALE_AFTER).
    from server.floor.heartbeat import start_beating

    start_beating()


def worker_argv(settings: Settings, concurrency: int | None, queue_names: list[str]) -> list[str]:
    """Arguments of `celery worker`: threads on the embedded transport, prefork in production."""
    argv = ["worker", "--loglevel=INFO", "--queues", ",".join(queue_names), "--without-gossip", "--without-mingle"]
    if settings.embedded_broker:
        argv += ["--pool=threads", f"--concurrency={concurrency or 2}", "--without-heartbeat"]
    elif concurrency:
        argv.append(f"--concurrency={concurrency}")
    return argv


def run_worker(settings: Settings, concurrency: int | None = None, queue_names: list[str] | None = None) -> None:
    """Run a Celery worker for every queue (or the given ones) until it is told to stop."""
    app = make_celery(settings)
    install_waker(app)
    app.worker_main(worker_argv(settings, concurrency, queue_names or queues(registered())))


def run_scheduler(settings: Settings) -> None:
    """Run the beat scheduler that sends each periodic job on time."""
    app = make_celery(settings)
    app.start(["beat", "--loglevel=INFO", "--schedule", str(schedule_file(settings))])
