"""`mechmooc mail ...` and `mechmooc stats`: send what is due, see what happened to a run's mails."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime

import click

from server.floor.errors import Invalid
from server.roof.cli.base import emit, instance, json_option


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"--now must be an ISO-8601 instant such as 2026-01-05T09:00:00Z, not {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group(name="mail")
def mail_group() -> None:
    """Course mails: send what is due."""


@mail_group.command(name="send-due")
@click.option("--now", "at", default=None, help="Act as if it were this instant (ISO-8601), for demos and tests.")
@json_option
def send_due(at: str | None, as_json: bool) -> None:
    """Schedule the units due now (or at --now) and send the outbox; prints how many mails went out."""
    from server.floor.clock import frozen

    instant = _instant(at) if at else None
    instance()
    from mail.jobs import send_due as run_send_due

    with frozen(instant) if instant else nullcontext():
        report = run_send_due()
    data = {
        "scheduled": report.scheduled,
        "sent": report.sending.sent,
        "retried": report.sending.retried,
        "failed": report.sending.failed,
        "cancelled": report.sending.cancelled,
        "uncertain": report.sending.uncertain,
        "errors": report.sending.errors[:20],
    }
    emit(data, as_json, lambda d: "\n".join([*(f"error: {e}" for e in d["errors"]), str(d["sent"])]))


@click.command(name="stats")
@click.argument("run_ref", metavar="RUN_ID")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one row per unit, then per group).")
def stats(run_ref: str, as_json: bool, as_csv: bool) -> None:
    """Per unit and per group: scheduled, sent, delivered, bounced, opened, clicked, unsubscribed, replies."""
    instance()
    from courses.runs import find_run
    from mail.stats import run_stats, stats_csv, stats_text
    from server.floor.db import session_scope

    with session_scope() as session:
        report = run_stats(session, find_run(session, run_ref))
    if as_csv:
        click.echo(stats_csv(report), nl=False)
        return
    emit(report, as_json, stats_text)


commands = [mail_group, stats]
