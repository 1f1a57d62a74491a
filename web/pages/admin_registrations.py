"""Sign-ups awaiting approval (moderators and admins: approve or reject) and invite links (admins:
make one with a use limit and an expiry, or withdraw it). The rules are `community.registrations`'."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import registrations
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from server.floor.urls import absolute
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

EXPIRY_CHOICES = (("", "Never"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days"), ("365", "1 year"))


@require_role("moderator")
def sign_ups_page(request: Request) -> Response:
    """The sign-ups with a confirmed address that wait for a moderator, oldest first."""
    with session_scope() as db:
        waiting = [
            {"id": account.id, "handle": account.handle, "email": account.email, "reason": registration.reason,
             "at": registration.created_at}
            for account, registration in registrations.pending(db)
        ]  # fmt: skip
        mode = registrations.mode(db)
    return render(request, "admin/sign_ups.html", {"waiting": waiting, "mode": mode})


@require_role("moderator")
def decide_sign_up(request: Request) -> Response:
    """POST /admin/sign_ups/{id}: approve or reject one sign-up."""
    action = str(posted_form(request).get("action", ""))
    if action not in {"approve", "reject"}:
        raise Invalid(f"action {action[:20]!r}: approve or reject")
    moderator = current_account(request)
    assert moderator is not None
    try:
        with write_scope() as db:
            account = registrations.decide(db, request.path_params["account_id"], action == "approve", moderator.id)
            handle = account.handle
    except NotFound as error:
        flash(request, str(error)[:1].upper() + str(error)[1:] + ".", "error")
        return RedirectResponse("/admin/sign_ups", status_code=303)
    flash(request, f"@{handle} was {action}d; they are told by mail.", "success")
    return RedirectResponse("/admin/sign_ups", status_code=303)


def _invites_page(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    with session_scope() as db:
        rows = [
            {
                "id": invite.id,
                "url": absolute(f"/invite/{invite.code}"),
                "uses": invite.uses,
                "max_uses": invite.max_uses,
                "expires_at": invite.expires_at,
                "usable": registrations.invite_usable(invite),
            }
            for invite in registrations.invites(db)
        ]
        mode = registrations.mode(db)
    context = {
        "invites": rows,
        "values": values,
        "errors": errors,
        "choices": EXPIRY_CHOICES,
        "mode": mode,
        "now": now(),
    }
    return render(request, "admin/invites.html", context, status=status)


@require_role("admin")
def invites_page(request: Request) -> Response:
    """The invite links and the form to make one."""
    return _invites_page(request, {"max_uses": "", "expires": "7"}, {})


@require_role("admin")
def create_invite(request: Request) -> Response:
    """POST /admin/invites: a new invite link."""
    form = posted_form(request)
    values = {"max_uses": str(form.get("max_uses", "")).strip()[:12], "expires": str(form.get("expires", ""))[:5]}
    errors: dict[str, str] = {}
    max_uses = None
    if values["max_uses"]:
        if not values["max_uses"].isdigit():
            errors["max_uses"] = "Uses: a whole number, or empty for no limit."
        else:
            max_uses = int(values["max_uses"])
    if values["expires"] not in {value for value, _ in EXPIRY_CHOICES}:
        errors["expires"] = "Expires: choose one of the listed durations."
    admin = current_account(request)
    assert admin is not None
    if not errors:
        expires = timedelta(days=int(values["expires"])) if values["expires"] else None
        try:
            with write_scope() as db:
                invite = registrations.create_invite(db, admin.id, max_uses, expires)
                url = absolute(f"/invite/{invite.code}")
        except Invalid as error:
            field = "max_uses" if str(error).startswith("max") else "expires"
            errors[field] = str(error)[:1].upper() + str(error)[1:] + "."
    if errors:
        return _invites_page(request, values, errors, status=400)
    flash(request, f"The invite link is {url}", "success")
    return RedirectResponse("/admin/invites", status_code=303)


@require_role("admin")
def revoke_invite(request: Request) -> Response:
    """POST /admin/invites/{id}/revoke: the link stops working now."""
    with write_scope() as db:
        registrations.revoke_invite(db, request.path_params["invite_id"])
    flash(request, "The invite link is withdrawn: it works no more.", "success")
    return RedirectResponse("/admin/invites", status_code=303)


def routes() -> list[BaseRoute]:
    """Sign-ups awaiting approval, invite links."""
    return [
        Route("/admin/sign_ups", sign_ups_page, methods=["GET"], name="admin_sign_ups"),
        Route("/admin/sign_ups/{account_id:int}", decide_sign_up, methods=["POST"]),
        Route("/admin/invites", invites_page, methods=["GET"], name="admin_invites"),
        Route("/admin/invites", create_invite, methods=["POST"]),
        Route("/admin/invites/{invite_id:int}/revoke", revoke_invite, methods=["POST"]),
    ]
