"""The admin's moderation pages: Flag reports from other servers, domain blocks, study group members.

Every action goes through the federation services (`federation.flows.reports`, `federation.transport.moderation`,
`federation.flows.cohorts`, `federation.flows.admin`); this module only reads forms and renders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import sanctions
from courses.models import Enrollment, StudyGroup
from federation.flows import admin as federation_admin
from federation.flows import cohorts, reports
from federation.models import Report
from federation.transport import moderation
from federation.transport.keys import is_local
from server.floor.accounts import Account
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

PAGE = "/admin/moderation"
RESOLVED_SHOWN = 20
REASON_LENGTH = 500


def _admin(request: Request) -> Account:
    account = current_account(request)
    assert account is not None  # require_role
    return account


def _suspend_in_community(db: Session, request: Request, domain: str, reason: str) -> None:
    """The same block as a community domain suspension (accounts hidden from timelines, audit row),
    unless the domain is suspended there already. Its federation reaction finds the block made."""
    existing = [b for b in sanctions.domain_blocks(db) if b.domain == domain]
    if not existing or existing[0].severity != "suspend":
        sanctions.block_domain(db, _admin(request), domain, "suspend", reason)


def _field(request: Request, name: str) -> str:
    return str(posted_form(request).get(name, "")).strip()


def report_view(session: Session, report: Report, *, open_: bool = True) -> dict[str, Any]:
    """A report as the queue shows it: reporter, what was reported, and (if open) whom the admin could block."""
    actors = federation_admin.report_actors(session, report) if open_ else []
    domains = list(dict.fromkeys(moderation.host_of(actor) for actor in actors))
    return {
        "id": report.id,
        "reporter": report.reporter,
        "targets": [{"ref": ref, "local": is_local(ref)} for ref in report.targets if isinstance(ref, str)],
        "comment": report.content,
        "received": report.created_at,
        "resolved": report.resolved_at,
        "resolution": report.resolution,
        "actors": actors,
        "domains": domains,
    }


def _page(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    with session_scope() as db:
        context = {
            "reports": [report_view(db, report) for report in reports.open_reports(db)],
            "resolved": [
                report_view(db, report, open_=False) for report in reports.resolved_reports(db, RESOLVED_SHOWN)
            ],
            "blocks": federation_admin.domain_blocks(db),
            "values": values,
            "errors": errors,
        }
        return render(request, "admin/moderation/index.html", context, status=status)


@require_role("admin")
def moderation_page(request: Request) -> Response:
    """The report queue, the domain blocks and the study group finder."""
    return _page(request, {"domain": "", "reason": ""}, {})


@require_role("admin")
def add_domain_block(request: Request) -> Response:
    """Block a domain: nothing accepted from it, nothing delivered to it (queued deliveries cancelled)."""
    values = {"domain": _field(request, "domain"), "reason": _field(request, "reason")}
    errors: dict[str, str] = {}
    if not values["domain"]:
        errors["domain"] = "Domain: give a host name like spam.example."
    if len(values["reason"]) > REASON_LENGTH:
        errors["reason"] = f"Reason: at most {REASON_LENGTH} characters (now {len(values['reason'])})."
    if not errors:
        try:
            with write_scope() as db:
                outcome = federation_admin.block_domain(db, values["domain"], values["reason"])
                domain, cancelled = outcome.block.domain, outcome.cancelled
                _suspend_in_community(db, request, domain, values["reason"])
        except Invalid as error:
            errors["domain"] = f"Domain: {error}."
    if errors:
        return _page(request, values, errors, status=400)
    note = f" {cancelled} queued deliveries to it were cancelled." if cancelled else ""
    flash(request, f"{domain} is blocked.{note}", "success")
    return RedirectResponse(PAGE, status_code=303)


@require_role("admin")
def remove_domain_block(request: Request) -> Response:
    """Lift a domain block."""
    domain = _field(request, "domain")
    with write_scope() as db:
        lifted = moderation.unblock_domain(db, domain)
        if any(b.domain == domain for b in sanctions.domain_blocks(db)):
            sanctions.unblock_domain(db, _admin(request), domain, "lifted on the federation moderation page")
            lifted = True
    if not lifted:
        raise NotFound(f"{domain or 'that domain'} is not blocked")
    flash(request, f"{domain} is no longer blocked.", "success")
    return RedirectResponse(PAGE, status_code=303)


def _act_on_report(db: Session, report: Report, action: str, request: Request) -> str:
    """Do what the admin chose for a report; the resolution recorded on it."""
    view = report_view(db, report)
    if action == "dismiss":
        return "dismissed: no action"
    if action == "resolve":
        return _field(request, "note") or "resolved"
    if action == "block-actor":
        actor = _field(request, "actor")
        if actor not in view["actors"]:
            raise Invalid(f"actor {actor!r} is not one this report involves")
        moderation.block_actor(db, actor)
        return f"blocked actor {actor}"
    if action == "block-domain":
        domain = _field(request, "domain")
        if domain not in view["domains"]:
            raise Invalid(f"domain {domain!r} is not one this report involves")
        federation_admin.block_domain(db, domain, f"report {report.id}: {report.content[:200]}")
        return f"blocked domain {domain}"
    raise Invalid(f"action {action!r} is not one of resolve, dismiss, block-actor, block-domain")


@require_role("admin")
def act_on_report(request: Request) -> Response:
    """Resolve, dismiss, or block an actor or domain a report is about (which also resolves it)."""
    report_id = int(request.path_params["report_id"])
    with write_scope() as db:
        report = db.get(Report, report_id)
        if report is None:
            raise NotFound(f"no report {report_id}")
        if report.resolved_at is not None:
            raise Invalid(f"report {report_id} is already resolved ({report.resolution})")
        resolution = _act_on_report(db, report, _field(request, "action"), request)
        reports.resolve_report(db, report_id, resolution)
    flash(request, f"Report {report_id}: {resolution}.", "success")
    return RedirectResponse(PAGE, status_code=303)


def _group(session: Session, handle: str) -> StudyGroup:
    group = session.scalar(select(StudyGroup).where(StudyGroup.handle == handle.strip().lstrip("@")))
    if group is None:
        raise NotFound(f"no study group with the handle {handle!r}")
    return group


@require_role("admin")
def find_group(request: Request) -> Response:
    """The group finder's answer: that group's moderation view."""
    handle = str(request.query_params.get("handle", "")).strip().lstrip("@").split("@", 1)[0]
    if not handle:
        raise Invalid("give the study group's handle (as in its address, before the @)")
    with session_scope() as db:
        group = _group(db, handle)
        return RedirectResponse(f"{PAGE}/groups/{group.handle}", status_code=303)


@require_role("admin")
def group_members(request: Request) -> Response:
    """A study group's members, each with Remove (and Block, for fediverse members)."""
    with session_scope() as db:
        group = _group(db, request.path_params["handle"])
        context = {
            "group": group,
            "run_handle": group.run.handle,
            "course_title": group.run.course.title,
            "members": cohorts.members(db, group),
        }
        return render(request, "admin/moderation/group.html", context)


@require_role("admin")
def moderate_member(request: Request) -> Response:
    """Remove a member from the group, or block a fediverse member from it (removal included)."""
    action, raw_id = _field(request, "action"), _field(request, "enrollment")
    with write_scope() as db:
        group = _group(db, request.path_params["handle"])
        member = db.get(Enrollment, int(raw_id)) if raw_id.isdigit() else None
        if member is None or member.group_id != group.id:
            raise Invalid(f"enrollment {raw_id!r} is not a member of group {group.handle}")
        who = member.actor or member.email or f"enrollment {member.id}"
        if action == "remove":
            cohorts.remove_member(db, group, who)
            message = f"{who} was removed from {group.handle}."
        elif action == "block" and member.actor:
            cohorts.block_member(db, group, member.actor)
            message = f"{who} was removed from {group.handle} and is blocked from it."
        else:
            raise Invalid(f"action {action!r}: a member can be removed, and a fediverse member blocked")
        handle = group.handle
    flash(request, message, "success")
    return RedirectResponse(f"{PAGE}/groups/{handle}", status_code=303)


def routes() -> list[BaseRoute]:
    """The moderation pages."""
    return [
        Route(PAGE, moderation_page, methods=["GET"], name="admin_moderation"),
        Route(f"{PAGE}/domains", add_domain_block, methods=["POST"]),
        Route(f"{PAGE}/domains/remove", remove_domain_block, methods=["POST"]),
        Route(f"{PAGE}/reports/{{report_id:int}}", act_on_report, methods=["POST"]),
        Route(f"{PAGE}/groups", find_group, methods=["GET"]),
        Route(f"{PAGE}/groups/{{handle}}", group_members, methods=["GET"]),
        Route(f"{PAGE}/groups/{{handle}}", moderate_member, methods=["POST"]),
    ]
