"""The moderators' queue: reports from local people and from other servers' `Flag`s, and the audit log.

- `/admin/reports`: open reports, oldest first (`?resolved=1`: the resolved ones, newest first);
- `/admin/reports/{id}`: one report with the reported statuses (as plain text), what was already
  done about it, and the actions, each with a reason: resolve, delete a reported status, silence or
  suspend the account (the three also resolve the report), reopen;
- `/admin/audit`: every moderator action, newest first, naming the moderator and the reason.

For moderators and admins (`require_role("moderator")`); every action is `community.moderation` or
`community.sanctions`, which write the audit rows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import moderation, sanctions
from community.models import ModerationAction, Profile, Report, Status
from courses.posts import delete_post
from federation.flows import reports as federation_reports
from server.floor.accounts import Account
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash
from web.pages.moderation import CATEGORY_LABELS, plain_excerpt, plain_text
from web.templating import render

QUEUE = "/admin/reports"
AUDIT = "/admin/audit"
ACTION_LABELS = {
    "resolve_report": "resolved a report",
    "reopen_report": "reopened a report",
    "delete_status": "deleted a status",
    "silence": "silenced",
    "unsilence": "lifted the silence of",
    "suspend": "suspended",
    "disable_login": "disabled the login of",
    "unsuspend": "lifted the suspension of",
    "domain_silence": "silenced the domain",
    "domain_suspend": "suspended the domain",
    "domain_unblock": "lifted the block of the domain",
}


def _delete_group_post(session: Session, status: Status) -> object:
    return delete_post(session, status, "moderator")


def delete_as_moderator(
    session: Session, moderator: Account, status_id: int, reason: str, *, report_id: int | None = None
) -> Status:
    """`sanctions.delete_status`, through `courses.posts.delete_post` for a study group's post (so
    its mail and fediverse relays hear of it)."""
    status = session.get(Status, status_id)
    remover = _delete_group_post if status is not None and status.group_id is not None else None
    return sanctions.delete_status(session, moderator, status_id, reason, report_id=report_id, remover=remover)


def _cursor(request: Request) -> int | None:
    raw = str(request.query_params.get("max_id", ""))
    return int(raw) if raw.isdigit() and len(raw) < 20 else None


def profiles_by_id(session: Session, ids: set[int | None]) -> dict[int, Profile]:
    """The profiles of `ids`, by id (one query)."""
    wanted = [n for n in ids if n is not None]
    return {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(wanted)))} if wanted else {}


def audit_view(session: Session, rows: list[ModerationAction]) -> list[dict[str, Any]]:
    """Audit rows as the log shows them: who (handle), what, whom or which domain, why, when."""
    moderator_ids = {r.moderator_id for r in rows if r.moderator_id is not None}
    moderators = (
        {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(moderator_ids)))}
        if moderator_ids
        else {}
    )
    profiles = profiles_by_id(session, {r.target_profile_id for r in rows})
    views = []
    for row in rows:
        who = moderators.get(row.moderator_id) if row.moderator_id is not None else None
        target = profiles.get(row.target_profile_id) if row.target_profile_id is not None else None
        views.append(
            {
                "id": row.id,
                "moderator": who.handle if who is not None else "the instance",
                "action": ACTION_LABELS.get(row.action, row.action),
                "profile": target,
                "status_id": row.target_status_id,
                "domain": row.target_domain,
                "report_id": row.report_id,
                "reason": row.reason,
                "at": row.created_at,
            }
        )
    return views


def _report_views(session: Session, rows: list[Report]) -> list[dict[str, Any]]:
    wanted: set[int | None] = {*(r.target_id for r in rows), *(r.reporter_id for r in rows)}
    profiles = profiles_by_id(session, wanted)
    return [
        {
            "id": r.id,
            "target": profiles.get(r.target_id),
            "reporter": profiles.get(r.reporter_id) if r.reporter_id is not None else None,
            "remote": r.uri is not None,
            "origin": urlsplit(r.uri).hostname if r.uri else None,
            "category": CATEGORY_LABELS.get(r.category, r.category),
            "comment": r.comment,
            "statuses": len(r.status_ids or []),
            "at": r.created_at,
            "resolved_at": r.resolved_at,
        }
        for r in rows
    ]


@require_role("moderator")
def queue(request: Request) -> Response:
    """The open reports (or the resolved ones)."""
    resolved = request.query_params.get("resolved") == "1"
    with session_scope() as db:
        rows = moderation.reports(db, resolved=resolved, max_id=_cursor(request))
        context = {
            "reports": _report_views(db, rows),
            "resolved": resolved,
            "open_count": moderation.open_count(db),
            # Flags about courses, runs and groups stay in federation's queue (the admin's page).
            "course_flags": len(federation_reports.open_reports(db)),
            "next_id": rows[-1].id if len(rows) == moderation.QUEUE_PAGE else None,
        }
        return render(request, "moderation/queue.html", context)


def _detail(request: Request, report_id: int, errors: dict[str, str], status: int = 200) -> Response:
    with session_scope() as db:
        row = moderation.get_report(db, report_id)
        (view,) = _report_views(db, [row])
        ids = [int(n) for n in row.status_ids or []]
        found = {s.id: s for s in db.scalars(select(Status).where(Status.id.in_(ids)))} if ids else {}
        kept = {int(item["id"]): item for item in row.evidence or [] if isinstance(item, dict) and "id" in item}
        statuses = []
        for number in ids:
            now_row, then = found.get(number), kept.get(number)
            if then is not None:  # as it was when reported
                text = plain_text(str(then.get("text") or ""), str(then.get("html") or ""))
            elif now_row is not None:
                text = plain_excerpt(now_row)
            else:
                continue
            deleted = now_row is None or now_row.deleted
            statuses.append({"id": number, "text": text, "deleted": deleted})
        context = {
            "report": view,
            "statuses": statuses,
            "history": audit_view(db, moderation.audit_log(db, report_id=row.id)),
            "errors": errors,
        }
        return render(request, "moderation/report_detail.html", context, status=status)


@require_role("moderator")
def report_detail(request: Request) -> Response:
    """One report, its statuses, its history and the actions."""
    return _detail(request, int(request.path_params["report_id"]), {})


def _act(db: Session, moderator: Account, row: Report, action: str, reason: str, status_ref: str) -> str:
    if action == "resolve":
        moderation.resolve(db, row.id, moderator, reason)
        return "resolved"
    if action == "reopen":
        moderation.reopen(db, row.id, moderator, reason)
        return "reopened"
    if action == "delete_status":
        number = int(status_ref) if status_ref.isdigit() and len(status_ref) < 20 else -1
        if number not in (row.status_ids or []):
            raise Invalid(f"status: {status_ref!r} is not one this report names")
        delete_as_moderator(db, moderator, number, reason, report_id=row.id)
        return f"status {number} deleted"
    if action in ("silence", "suspend"):
        if not reason:
            raise Invalid(f"reason: say why you {action} the account (the audit log keeps it)")
        act = sanctions.silence if action == "silence" else sanctions.suspend
        act(db, moderator, row.target_id, reason, report_id=row.id)
        done = "silenced" if action == "silence" else "suspended"
        if row.resolved_at is None:
            moderation.resolve(db, row.id, moderator, f"{done}: {reason}")
        return f"account {done}, report resolved"
    raise Invalid(f"action: {action!r} is not one of resolve, reopen, delete_status, silence, suspend")


@require_role("moderator")
def act_on_report(request: Request) -> Response:
    """Do what the moderator chose; re-show the report with the error if it cannot be done."""
    report_id = int(request.path_params["report_id"])
    form = posted_form(request)
    action, reason = str(form.get("action", "")), str(form.get("reason", "")).strip()
    moderator = current_account(request)
    assert moderator is not None
    try:
        with write_scope() as db:
            row = moderation.get_report(db, report_id)
            done = _act(db, moderator, row, action, reason, str(form.get("status_id", "")))
    except Invalid as error:
        return _detail(request, report_id, {"reason": str(error)}, status=400)
    flash(request, f"Report {report_id}: {done}.", "success")
    return RedirectResponse(f"{QUEUE}/{report_id}", status_code=303)


@require_role("moderator")
def audit(request: Request) -> Response:
    """The audit log."""
    with session_scope() as db:
        rows = moderation.audit_log(db, max_id=_cursor(request))
        context = {
            "entries": audit_view(db, rows),
            "next_id": rows[-1].id if len(rows) == moderation.QUEUE_PAGE else None,
        }
        return render(request, "moderation/audit.html", context)


def routes() -> list[BaseRoute]:
    """The queue, a report, the audit log."""
    return [
        Route(QUEUE, queue, methods=["GET"], name="admin_reports"),
        Route(f"{QUEUE}/{{report_id:int}}", report_detail, methods=["GET"]),
        Route(f"{QUEUE}/{{report_id:int}}", act_on_report, methods=["POST"]),
        Route(AUDIT, audit, methods=["GET"], name="admin_audit"),
    ]
