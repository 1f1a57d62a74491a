"""Moderating an account (local or remote) and domains.

- `/admin/accounts/{profile_id}` (GET; the id is the community profile's, as in Mastodon's admin —
  the POST `/admin/accounts/{account_id}` of `admin_accounts` is the login account's role form):
  the account's state, its recent statuses (each with Delete), the reports about it and the audit
  log about it; actions with a reason: silence, unsilence, suspend, unsuspend
  (POST `/admin/accounts/{profile_id}/actions`);
- `/admin/domain_blocks`: silence or suspend a remote domain (and its subdomains), change or lift it.

For moderators and admins; the work is `community.sanctions` (audit rows included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import sanctions
from community.models import Profile, Report, Status
from community.moderation import audit_log
from community.moderation_models import SEVERITIES
from community.people import find_by_acct
from server.floor.accounts import Account
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash
from web.pages.admin_reports import audit_view, delete_as_moderator
from web.pages.moderation import plain_excerpt
from web.templating import render

ACCOUNTS = "/admin/accounts"
DOMAINS = "/admin/domain_blocks"
RECENT = 20
ACTIONS = ("silence", "unsilence", "suspend", "unsuspend", "delete_status")
ACTS: dict[str, Callable[[Session, Account, int, str], Profile]] = {
    "silence": lambda db, moderator, profile_id, reason: sanctions.silence(db, moderator, profile_id, reason),
    "unsilence": sanctions.unsilence,
    "suspend": lambda db, moderator, profile_id, reason: sanctions.suspend(db, moderator, profile_id, reason),
    "unsuspend": sanctions.unsuspend,
}


def _profile_page(request: Request, profile_id: int, errors: dict[str, str], status: int = 200) -> Response:
    with session_scope() as db:
        profile = db.get(Profile, profile_id)
        if profile is None:
            raise NotFound(f"no account {profile_id} (the address takes a community profile's id)")
        login = db.get(Account, profile.account_id) if profile.account_id is not None else None
        recent = db.scalars(
            select(Status)
            .where(Status.profile_id == profile.id, Status.deleted.is_(False))
            .order_by(Status.id.desc())
            .limit(RECENT)
        )
        reports = db.scalars(select(Report).where(Report.target_id == profile.id).order_by(Report.id.desc()).limit(20))
        context: dict[str, Any] = {
            "profile": profile,
            "login": login,
            "statuses": [
                {"id": s.id, "text": plain_excerpt(s), "at": s.created_at, "visibility": s.visibility} for s in recent
            ],
            "reports": list(reports),
            "history": audit_view(db, audit_log(db, profile_id=profile.id)),
            "errors": errors,
        }
        return render(request, "moderation/account.html", context, status=status)


@require_role("moderator")
def find_account(request: Request) -> Response:
    """`?acct=user` or `user@host` (or an actor URL) known here: its moderation page."""
    ref = str(request.query_params.get("acct", "")).strip().lstrip("@")[:500]
    with session_scope() as db:
        found = (
            db.scalar(select(Profile).where(Profile.uri == ref))
            if "://" in ref
            else find_by_acct(db, ref)
            if ref
            else None
        )
        if found is None:
            raise NotFound(f"acct: no account {ref!r} known here (a remote one must have been seen here first)")
        return RedirectResponse(f"{ACCOUNTS}/{found.id}", status_code=303)


@require_role("moderator")
def account_page(request: Request) -> Response:
    """An account as moderators see it, with the actions."""
    return _profile_page(request, int(request.path_params["profile_id"]), {})


@require_role("moderator")
def act_on_account(request: Request) -> Response:
    """Silence, unsilence, suspend, unsuspend the account, or delete one of its statuses."""
    profile_id = int(request.path_params["profile_id"])
    form = posted_form(request)
    action, reason = str(form.get("action", "")), str(form.get("reason", "")).strip()
    moderator = current_account(request)
    assert moderator is not None
    try:
        if action not in ACTIONS:
            raise Invalid(f"action: {action!r} is not one of {', '.join(ACTIONS)}")
        if action in ("silence", "suspend", "delete_status") and not reason:
            raise Invalid("reason: say why (the audit log keeps it)")
        with write_scope() as db:
            if action == "delete_status":
                raw = str(form.get("status_id", ""))
                status = db.get(Status, int(raw)) if raw.isdigit() and len(raw) < 20 else None
                if status is None or status.profile_id != profile_id:
                    raise Invalid(f"status: {raw!r} is not a status of this account")
                delete_as_moderator(db, moderator, status.id, reason)
                done = f"status {status.id} deleted"
            else:
                profile = ACTS[action](db, moderator, profile_id, reason)
                done = f"@{profile.acct}: {action} done"
    except Invalid as error:
        return _profile_page(request, profile_id, {"reason": str(error)}, status=400)
    flash(request, f"{done}.", "success")
    return RedirectResponse(f"{ACCOUNTS}/{profile_id}", status_code=303)


def _domains_page(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    with session_scope() as db:
        context = {"blocks": sanctions.domain_blocks(db), "values": values, "errors": errors, "severities": SEVERITIES}
        return render(request, "moderation/domain_blocks.html", context, status=status)


@require_role("moderator")
def domain_blocks(request: Request) -> Response:
    """The domain blocks and the form to add or change one."""
    return _domains_page(request, {"domain": "", "severity": "silence", "reason": ""}, {})


@require_role("moderator")
def add_domain_block(request: Request) -> Response:
    """Silence or suspend a domain (or change the severity of its block)."""
    form = posted_form(request)
    values = {k: str(form.get(k, "")).strip() for k in ("domain", "severity", "reason")}
    moderator = current_account(request)
    assert moderator is not None
    try:
        with write_scope() as db:
            block = sanctions.block_domain(db, moderator, values["domain"], values["severity"], values["reason"])
            message = f"{block.domain} is {'silenced' if block.severity == 'silence' else 'suspended'}."
    except Invalid as error:
        field = str(error).split(":", 1)[0]
        return _domains_page(request, values, {field if field in values else "domain": str(error)}, status=400)
    flash(request, message, "success")
    return RedirectResponse(DOMAINS, status_code=303)


@require_role("moderator")
def remove_domain_block(request: Request) -> Response:
    """Lift a domain block (and the sanctions it set)."""
    form = posted_form(request)
    domain, reason = str(form.get("domain", "")).strip(), str(form.get("reason", "")).strip()
    moderator = current_account(request)
    assert moderator is not None
    with write_scope() as db:
        sanctions.unblock_domain(db, moderator, domain, reason)
    flash(request, f"{domain} is no longer blocked.", "success")
    return RedirectResponse(DOMAINS, status_code=303)


def routes() -> list[BaseRoute]:
    """An account's moderation page and the domain blocks."""
    return [
        Route(f"{ACCOUNTS}/find", find_account, methods=["GET"]),
        Route(f"{ACCOUNTS}/{{profile_id:int}}", account_page, methods=["GET"], name="admin_account_moderation"),
        Route(f"{ACCOUNTS}/{{profile_id:int}}/actions", act_on_account, methods=["POST"]),
        Route(DOMAINS, domain_blocks, methods=["GET"], name="admin_domain_blocks"),
        Route(DOMAINS, add_domain_block, methods=["POST"]),
        Route(f"{DOMAINS}/remove", remove_domain_block, methods=["POST"]),
    ]
