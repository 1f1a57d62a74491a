"""The organizer's mail dashboard of a run: what happened to its mails (tables, bars, CSV) and one-off mails."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mail import compose
from mail.stats import COLUMNS, run_stats, stats_csv
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid
from web.auth import current_account
from web.csrf import posted_form
from web.flash import flash
from web.pages.organize_runs import visible_run
from web.templating import render

ACTIONS = ("preview", "test", "send", "schedule")


def _bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per unit, each count as a share of the mails sent, for the bar chart."""
    bars = []
    for unit in report["units"]:
        sent = max(1, unit["sent"])
        bars.append(
            {"slug": unit["slug"], "shares": {c: round(100 * unit[c] / sent) for c in ("clicked", "replies", "opened")}}
        )
    return bars


def _page(
    request: Request, values: dict[str, str], errors: dict[str, str], preview: tuple[str, str] | None, status: int = 200
) -> Response:
    with session_scope() as session:
        run = visible_run(session, request)
        report = run_stats(session, run)
        context = {
            "run": run,
            "report": report,
            "columns": COLUMNS,
            "bars": _bars(report),
            "values": values,
            "errors": errors,
            "preview": preview,
        }
        return render(request, "mail/run.html", context, status=status)


def dashboard(request: Request) -> Response:
    """GET /organize/runs/{handle}/mail."""
    return _page(request, {"subject": "", "body": "", "audience": "run", "send_at": ""}, {}, None)


def stats_download(request: Request) -> Response:
    """GET /organize/runs/{handle}/mail.csv."""
    with session_scope() as session:
        run = visible_run(session, request)
        text = stats_csv(run_stats(session, run))
    headers = {"Content-Disposition": f'attachment; filename="{run.handle}-mail.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


def _send_at(value: str, zone: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        raise Invalid("send_at: give a date and time such as 2026-03-09T18:00") from None


def compose_submit(request: Request) -> Response:
    """POST /organize/runs/{handle}/mail: preview, test-send to me, send now, or schedule a one-off mail."""
    form = posted_form(request)
    values = {name: str(form.get(name, "")) for name in ("subject", "body", "audience", "send_at")}
    action = str(form.get("action", "preview"))
    account = current_account(request)
    try:
        with write_scope() as session:
            run = visible_run(session, request)
            when = _send_at(values["send_at"], run.timezone) if action == "schedule" else None
            if action == "schedule" and when is None:
                raise Invalid("send_at: say when the mail should go out")
            mail = compose.create(
                session,
                run.id,
                values["subject"],
                values["body"],
                values["audience"] or "run",
                send_at=when,
                author_id=account.id if account else None,
            )
            if action == "preview":
                shown = compose.preview(session, mail)
                session.rollback()
                return _page(request, values, {}, shown)
            if action == "test":
                compose.test_send(session, mail, account.email if account else "")
                session.flush()
                session.delete(mail)
                flash(request, f"A test copy is on its way to {account.email if account else ''}.", "success")
            elif action == "send":
                count = compose.send_now(session, mail)
                flash(request, f"The mail is queued for {count} learners.", "success")
            else:
                flash(request, f"The mail will go out {values['send_at']} ({run.timezone}).", "success")
            handle = run.handle
    except Invalid as error:
        field, _, message = str(error).partition(": ")
        key = field if field in values else "body"
        return _page(request, values, {key: message or str(error)}, None, status=400)
    return RedirectResponse(f"/organize/runs/{handle}/mail", status_code=303)


def routes() -> list[BaseRoute]:
    """The organizer's mail pages."""
    from web.auth import require_role

    guard = require_role("organizer")
    return [
        Route("/organize/runs/{handle}/mail", guard(dashboard), methods=["GET"]),
        Route("/organize/runs/{handle}/mail", guard(compose_submit), methods=["POST"]),
        Route("/organize/runs/{handle}/mail.csv", guard(stats_download), methods=["GET"]),
    ]
