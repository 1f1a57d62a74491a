"""`mechmooc serve`, `mechmooc worker`, `mechmooc scheduler`: the processes of an instance."""

from __future__ import annotations

import click

from server.floor.settings import LOG_LEVELS
from server.roof.cli.base import emit, instance, json_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Serve the web app only (workers run elsewhere).")
@click.option(
    "--demo",
    is_flag=True,
    help="A guided tour: a demo course, run and study group, a one-time admin login link, group mail by SMTP.",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default=None,
    help="How much to print: debug, info (a line per request; the default) or warning (or MECHMOOC_LOG_LEVEL).",
)
def serve(host: str, port: int, no_worker: bool, demo: bool, log_level: str | None) -> None:
    """Migrate, create the instance keys, serve the web app and run the background worker."""
    from server.roof.serve import serve as run_instance

    run_instance(host=host, port=port, worker=not no_worker, demo=demo, log_level=log_level)


# `serve` starts its worker and scheduler with this flag: they then print as `serve` does (console.py).
embedded_option = click.option("--embedded", is_flag=True, hidden=True)


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 256), default=None, help="Parallel tasks (default: cores).")
@click.option("--queues", default=None, help="Comma-separated queues to consume (default: all).")
@embedded_option
def worker(concurrency: int | None, queues: str | None, embedded: bool) -> None:
    """Run a Celery worker that works every background job."""
    from server.roof.celery_app import run_worker

    settings = instance(migrate=False)
    names = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    run_worker(settings, concurrency, names, embedded=embedded)


@click.command()
@embedded_option
def scheduler(embedded: bool) -> None:
    """Run the periodic scheduler (Celery beat); run exactly one per instance."""
    from server.roof.celery_app import run_scheduler

    settings = instance(migrate=False)
    run_scheduler(settings, embedded=embedded)


@click.command()
@json_option
def health(as_json: bool) -> None:
    """Check the database, the broker and the worker heartbeat (the `/healthz` report); exit 1 if unhealthy."""
    from server.roof.health import health as report_health

    settings = instance(migrate=False)
    # A separate process cannot know when the web app started: give no start-up grace.
    healthy, report = report_health(settings, uptime=float("inf"))
    emit(
        report,
        as_json,
        lambda r: "\n".join(
            f"{k}: {'ok' if v['ok'] else 'FAIL'} ({v['detail']})"
            for k, v in r.items()
            if isinstance(v, dict) and "ok" in v
        ),
    )
    if not healthy:
        raise SystemExit(1)


commands: list[click.Command] = [serve, worker, scheduler, health]
