"""The organizer's mail dashboard of a run: what happened to its mails (tables, bars, CSV) and one-off mails."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.models import Run
from courses.privacy import can_see_learners
from courses.runs import find_run
from courses.summary import run_summary
from mail import compose
from mail.models import Composition
from mail.stats import COLUMNS, run_stats, stats_csv
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound, PermissionDenied
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
            {
                "title": unit["title"],
                "shares": {c: round(100 * unit[c] / sent) for c in ("clicked", "replies", "opened")},
            }
        )
    return bars


def _page(
    request: Request, values: dict[str, str], errors: dict[str, str], preview: tuple[str, str] | None, status: int = 200
) -> Response:
    with session_scope() as session:
        run = visible_run(session, request)
        report = run_stats(session, run)
        context = {
            **_compositions_context(session, request, run),
            "run": run,
            "report": report,
            "columns": COLUMNS,
            "bars": _bars(report),
            "values": values,
            "errors": errors,
            "preview": preview,
        }
        return render(request, "mail/run.html", context, status=status, inline_styles=True)


def _compositions_context(session: Session, request: Request, run: Run) -> dict[str, Any]:
    """The run's groups (to write to one), its one-off mails, and the other runs they may be copied to."""
    account = current_account(request)
    groups = run_summary(session, run, with_learners=False)["groups"]
    others = session.scalars(
        select(Run).where(Run.id != run.id, Run.status.not_in(("finished", "alumni"))).order_by(Run.start_date)
    )
    return {
        "groups": [{"handle": g["handle"], "name": g["name"] or g["handle"]} for g in groups],
        "compositions": compose.of_run(session, run.id),
        "copy_targets": [other.handle for other in others if can_see_learners(account, other)],
    }


def dashboard(request: Request) -> Response:
    """GET /organize/runs/{handle}/mail."""
    return _page(request, {"subject": "", "body": "", "audience": "run", "group": "", "send_at": ""}, {}, None)


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
    values = {name: str(form.get(name, "")) for name in ("subject", "body", "audience", "group", "send_at")}
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
                group=values["group"] or None,
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


def _composition(session: Session, request: Request) -> Composition:
    """The one-off mail of the path, of the path's run (visible to the account)."""
    run = visible_run(session, request)
    raw = str(request.path_params["mail_id"])
    composition = session.get(Composition, int(raw)) if raw.isdigit() else None
    if composition is None or composition.run_id != run.id:
        raise NotFound(f"run {run.handle} has no mail {raw}")
    return composition


def copy_submit(request: Request) -> Response:
    """POST /organize/runs/{handle}/mail/{mail_id}/copy: the mail as a draft for another run (`run`)."""
    form = posted_form(request)
    account = current_account(request)
    with write_scope() as session:
        composition = _composition(session, request)
        target = find_run(session, str(form.get("run", "")).strip() or "-")
        if not can_see_learners(account, target):
            raise PermissionDenied(f"run {target.handle} belongs to another organizer")
        compose.copy_to_run(session, composition, target.id, account.id if account else None)
        handle = target.handle
    flash(request, f"Copied to run {handle} as a draft: send it from here.", "success")
    return RedirectResponse(f"/organize/runs/{handle}/mail", status_code=303)


def send_draft(request: Request) -> Response:
    """POST /organize/runs/{handle}/mail/{mail_id}/send: send a draft (a copied mail) now."""
    with write_scope() as session:
        composition = _composition(session, request)
        if composition.sent_at is not None or composition.send_at is not None:
            raise Invalid(f"mail {composition.id} is sent or scheduled already")
        count = compose.send_now(session, composition)
        handle = session.get(Run, composition.run_id).handle  # type: ignore[union-attr]
    flash(request, f"The mail is queued for {count} learners.", "success")
    return RedirectResponse(f"/organize/runs/{handle}/mail", status_code=303)


def routes() -> list[BaseRoute]:
    """The organizer's mail pages."""
    from web.auth import require_role

    guard = require_role("organizer")
    return [
        Route("/organize/runs/{handle}/mail", guard(dashboard), methods=["GET"]),
        Route("/organize/runs/{handle}/mail", guard(compose_submit), methods=["POST"]),
        Route("/organize/runs/{handle}/mail.csv", guard(stats_download), methods=["GET"]),
        Route("/organize/runs/{handle}/mail/{mail_id}/copy", guard(copy_submit), methods=["POST"]),
        Route("/organize/runs/{handle}/mail/{mail_id}/send", guard(send_draft), methods=["POST"]),
    ]
