"""The Celery app: a task per declared job, beat entries for periodic jobs, queues by concern.

The broker only wakes workers up; every job reads its work from database rows. Without
`MECHMOOC_BROKER_URL` the transport is kombu's `filesystem://` under the data dir, so the laptop
runs the very same task code as production with no external service.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import SecurityWarning
from celery.signals import after_setup_logger, worker_process_init, worker_ready

from server.floor.jobs import Job, registered, set_waker
from server.floor.jobs import run as run_job
from server.floor.settings import Settings
from server.roof import console

DEFAULT_QUEUE = "default"
POLL_EVERY = 0.1  # seconds between two looks of the embedded transport's worker at its queue folder
log = logging.getLogger("mechmooc.jobs")


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
        job = registered()[job_name]
        said = job.summarise(run_job(job_name, job.function))  # a wake-up during a run makes it go again
        if said:
            log.info("%s", said)  # "sent 12 mails": one line when a run did something, none otherwise

    run.__name__ = job_name.replace(".", "_")
    run.__doc__ = f"Run the background job {job_name}."
    return run


def make_celery(settings: Settings, embedded: bool = False) -> Celery:
    """The Celery app for this instance; call after `server.roof.bootstrap.boot()` so every job is declared.

    `embedded`: the worker or scheduler `serve` runs as its child, which prints as `serve` does."""
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
        # JSON only (Celery's default, kept explicit): a message can carry no code to run.
        accept_content=["json"],
        task_serializer="json",
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
    )
    if embedded:
        app.conf.update(worker_log_format=console.FORMAT, worker_task_log_format=console.FORMAT)
    if settings.embedded_broker:
        folders = broker_folders(settings)
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        app.conf.update(
            # Polled every 0.1 s (kombu's default is 1 s): a wake-up is handled within a tenth of a second.
            broker_transport_options={
                **{k: str(v) for k, v in folders.items()},
                "store_processed": False,
                "polling_interval": POLL_EVERY,
            },
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


def _level(settings: Settings, embedded: bool) -> str:
    # A worker of its own logs as Celery does (a line per task); serve's child as serve (console.py).
    return settings.log_level.upper() if embedded else "INFO"


def _quiet_after_setup(level: str) -> None:
    # Celery sets up logging when the worker or beat starts; quieten its chatty loggers after that.
    def quieten(**_: Any) -> None:
        console.quieten(level)

    after_setup_logger.connect(quieten, weak=False)


def worker_argv(
    settings: Settings, concurrency: int | None, queue_names: list[str], embedded: bool = False
) -> list[str]:
    """Arguments of `celery worker`: threads on the embedded transport, prefork in production."""
    # -q: serve's child prints no banner (the ready block of `serve` says what matters).
    argv = [*(["-q"] if embedded else []), "worker", f"--loglevel={_level(settings, embedded)}"]
    argv += ["--queues", ",".join(queue_names), "--without-gossip", "--without-mingle"]
    if settings.embedded_broker:
        argv += ["--pool=threads", f"--concurrency={concurrency or 2}", "--without-heartbeat"]
    elif concurrency:
        argv.append(f"--concurrency={concurrency}")
    return argv


def run_worker(
    settings: Settings, concurrency: int | None = None, queue_names: list[str] | None = None, embedded: bool = False
) -> None:
    """Run a Celery worker for every queue (or the given ones) until it is told to stop.

    `embedded`: the worker `serve` starts as its child, as quiet as `serve` itself."""
    app = make_celery(settings, embedded=embedded)
    install_waker(app)
    if embedded:
        _quiet_after_setup(settings.log_level)
        # Celery warns when a worker runs as root, because a worker executes what its broker hands it. This
        # one is `serve`'s own child: the same user and code as `serve`, reading JSON messages (never
        # pickle, which Celery refuses as root) from a folder in serve's own data dir, so the warning
        # names no risk beyond running `serve` itself as root. A worker of its own still warns.
        warnings.filterwarnings("ignore", category=SecurityWarning)
    app.worker_main(worker_argv(settings, concurrency, queue_names or queues(registered()), embedded))


def run_scheduler(settings: Settings, embedded: bool = False) -> None:
    """Run the beat scheduler that sends each periodic job on time (`embedded`: as `serve`'s quiet child)."""
    app = make_celery(settings, embedded=embedded)
    if embedded:
        _quiet_after_setup(settings.log_level)
    quiet = ["-q"] if embedded else []
    level = _level(settings, embedded)
    app.start([*quiet, "beat", f"--loglevel={level}", "--schedule", str(schedule_file(settings))])
