"""`mechmooc mail ...` and `mechmooc stats`: send what is due, see what happened to a run's mails, and
look after what a fault left behind (uncertain and failed mails)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

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
    """Course mails: send what is due; uncertain and failed mails."""


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
        "resent": report.sending.resent,
        "errors": report.sending.errors[:20],
    }
    emit(data, as_json, lambda d: "\n".join([*(f"error: {e}" for e in d["errors"]), str(d["sent"])]))


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "none"
    width = max(len(row["to"]) for row in rows)
    lines = [f"{'id':>8}  {'state':<9}  {'queued':<16}  {'to':<{width}}  message-id / why"]
    for row in rows:
        queued = row["created_at"][:16].replace("T", " ")
        lines.append(f"{row['id']:>8}  {row['state']:<9}  {queued:<16}  {row['to']:<{width}}  {row['message_id']}")
        if row["error"]:
            lines.append(f"{'':>8}  {row['error'].splitlines()[0][:200]}")
    return "\n".join(lines)


def _list(state: str, as_json: bool) -> None:
    instance()
    from mail.attention import listing
    from server.floor.db import session_scope

    rows: list[dict[str, Any]] = []
    with session_scope() as session:
        before = None
        while page := listing(session, (state,), before, 1000):  # every one, newest first, a page at a time
            rows += [view.as_json() for view in page]
            before = page[-1].id
    emit(rows, as_json, _table)


@mail_group.command(name="uncertain")
@json_option
def uncertain(as_json: bool) -> None:
    """Mails a worker handed to SMTP but died before recording (they may have arrived), with Message-IDs."""
    _list("uncertain", as_json)


@mail_group.command(name="failed")
@json_option
def failed(as_json: bool) -> None:
    """Mails that failed for good (refused, or never accepted within the retry window), with Message-IDs."""
    _list("failed", as_json)


ids_argument = click.argument("ids", nargs=-1, type=int, metavar="ID...")
all_uncertain_option = click.option("--all-uncertain", is_flag=True, help="Every uncertain mail instead of ids.")


@mail_group.command(name="resend")
@ids_argument
@all_uncertain_option
@json_option
def resend(ids: tuple[int, ...], all_uncertain: bool, as_json: bool) -> None:
    """Send uncertain or failed mails again (the same bytes and Message-ID); prints how many were queued."""
    instance()
    from mail.attention import resend as queue_again
    from server.floor.db import session_scope

    with session_scope() as session:
        count = queue_again(session, ids, all_uncertain)
    emit({"queued": count}, as_json, lambda data: str(data["queued"]))


@mail_group.command(name="mark-sent")
@ids_argument
@all_uncertain_option
@json_option
def mark_sent(ids: tuple[int, ...], all_uncertain: bool, as_json: bool) -> None:
    """Record uncertain mails as sent (you know they arrived); prints how many."""
    instance()
    from mail.attention import mark_sent as record_sent
    from server.floor.db import session_scope

    with session_scope() as session:
        count = record_sent(session, ids, all_uncertain)
    emit({"marked_sent": count}, as_json, lambda data: str(data["marked_sent"]))


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
