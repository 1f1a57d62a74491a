"""Signing up for an account (`/auth/sign_up`, Mastodon's path; `/invite/{code}`) and confirming the
address (`/auth/confirm/{token}`: the GET shows a button, the POST spends the link, so a mail scanner
opening it confirms nothing). The rules and modes are `community.registrations`'; this module checks
the form, the shared handle namespace (`courses.handles`) and the per-client rate limit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import registrations
from courses.addresses import check_email
from courses.claims import account_by_email, check_handle
from mail import accounts as mail_accounts
from server.floor import ratelimit
from server.floor.accounts import Account, hash_password, normalise_handle
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid
from web import passwords, throttle
from web.auth import current_account, log_in
from web.csrf import posted_form
from web.flash import flash
from web.pages.accounts import client_key
from web.templating import render

FIELDS = ("email", "handle", "display_name", "reason", "invite")
LIMITS = {"email": 320, "handle": 63, "display_name": 200, "reason": registrations.REASON_LENGTH, "invite": 64}


def _context(session: Any, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    current = registrations.mode(session)
    invite = registrations.find_invite(session, values.get("invite", ""))
    return {
        "mode": current,
        "values": values,
        "errors": errors,
        "invite": invite,
        # The form shows when the mode takes sign-ups from anyone, or an invite opens the door.
        "open": current in ("open", "approval") or (current == "invite" and invite is not None),
        "needs_reason": current == "approval" and invite is None,
    }


def _form(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    with session_scope() as session:
        context = _context(session, values, errors)
    if not context["open"] and status == 200:
        status = 403 if context["mode"] == "closed" or values.get("invite") else 200
    return render(request, "registration/sign_up.html", context, status=status)


def _empty(invite: str = "") -> dict[str, str]:
    return {name: "" for name in FIELDS} | {"invite": invite}


def sign_up_form(request: Request) -> Response:
    """GET /auth/sign_up: the form, or why there is none (closed, invite only)."""
    if current_account(request) is not None:
        return RedirectResponse("/", status_code=303)
    return _form(request, _empty(), {})


def invite_page(request: Request) -> Response:
    """GET /invite/{code}: the sign-up form an invite opens, or why it does not (used up, expired)."""
    code = request.path_params["code"][:64]
    with session_scope() as session:
        usable = registrations.find_invite(session, code) is not None
    if not usable:
        return render(request, "registration/invite_invalid.html", status=404)
    return _form(request, _empty(code), {})


def _field_of(message: str) -> str:
    """The form field an Invalid message names ("handle: ...", "the handle ... is taken", "email ...")."""
    head = message.split(":", 1)[0].split(" ", 1)[0]
    if "handle" in message.split(":", 1)[0] or message.startswith("the handle"):
        return "handle"
    mapping = {"email": "email", "an": "email", "rules": "rules", "reason": "reason", "invite": "invite"}
    return mapping.get(head, "email" if head.startswith("registrations") else "password")


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."


def handle_errors(session: Any, values: dict[str, str]) -> dict[str, str]:
    """The handle's error, if it is malformed or taken (the shared namespace); stores the normal form."""
    try:
        values["handle"] = normalise_handle(values["handle"])
        values["handle"] = check_handle(session, values["handle"])
    except Invalid as error:
        if "taken" in str(error):
            return {"handle": f"Handle: @{values['handle']} is taken; choose another."}
        return {"handle": "Handle: use only a-z, 0-9, '_', '.' and '-' (at most 63 characters)."}
    return {}


def check_form(session: Any, values: dict[str, str], password: str, confirm: str) -> dict[str, str]:
    """Errors by field (empty when the sign-up may be stored): lengths, address, handle, password."""
    errors: dict[str, str] = {}
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = (
                f"{name.replace('_', ' ').capitalize()}: at most {limit} characters (now {len(values[name]):,})."
            )
    if "email" not in errors:
        try:
            values["email"] = check_email(values["email"])
        except Invalid:
            errors["email"] = "Email address: enter an address you read, like name@example.org."
    if "handle" not in errors:
        errors.update(handle_errors(session, values))
    try:
        passwords.check_new_password(password, confirm)
    except Invalid as error:
        errors["confirm" if "confirm" in str(error) else "password"] = _sentence(str(error))
    return errors


def sign_up_submit(request: Request) -> Response:
    """POST /auth/sign_up: check, count against the client's limit, store the disabled account, mail the link."""
    form = posted_form(request)
    values = {name: str(form.get(name, "")).replace("\x00", "").strip() for name in FIELDS}
    password, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    rules = form.get("rules") == "1"
    with session_scope() as session:
        errors = check_form(session, values, password, confirm)
    if not rules:
        errors["rules"] = "Rules: accept the rules of this instance to sign up."
    if errors:
        return _form(request, values, errors, status=400)
    password_hash = hash_password(password)  # argon2 before the write transaction
    try:
        with write_scope() as session:
            wait = ratelimit.reserve(session, [(throttle.SIGN_UP_PER_CLIENT, client_key(request))])
            if isinstance(wait, timedelta):
                minutes = ratelimit.minutes(wait)
                errors = {"email": f"Too many sign-ups from your network: try again in {minutes} minutes."}
                return _form(request, values, errors, status=429)
            sign_up = registrations.SignUp(
                email=values["email"],
                handle=values["handle"],
                password_hash=password_hash,
                display_name=values["display_name"],
                reason=values["reason"],
                invite_code=values["invite"],
                rules_accepted=rules,
            )
            registrations.register(session, sign_up)
    except Invalid as error:
        return _form(request, values, {_field_of(str(error)): _sentence(str(error))}, status=400)
    except IntegrityError:  # the same address or handle signed up at the same moment (PostgreSQL)
        return _form(request, values, {"handle": "Handle: this handle or address was just taken; try again."}, 400)
    return RedirectResponse("/auth/sign_up/sent", status_code=303)


def sent_page(request: Request) -> Response:
    """GET /auth/sign_up/sent: look in your mailbox."""
    return render(request, "registration/sent.html", {"days": registrations.CONFIRM_LIFETIME.days})


def resend_submit(request: Request) -> Response:
    """POST /auth/sign_up/resend: mail the confirmation link again to an unconfirmed sign-up's address;
    the same answer whether or not there is one (3 an hour per address, per client the sign-up limit)."""
    email = str(posted_form(request).get("email", "")).strip()[:320]
    limits = [(throttle.RESEND_PER_EMAIL, email.lower()), (throttle.SIGN_UP_PER_CLIENT, client_key(request))]
    with write_scope() as session:
        if "@" in email and not isinstance(ratelimit.reserve(session, limits), timedelta):
            account = account_by_email(session, email)
            registration = registrations.registration_of(session, account.id) if account is not None else None
            if account is not None and registration is not None and registration.email_confirmed_at is None:
                mail_accounts.on_registration_created(session, {"account_id": account.id})
    flash(request, f"If {email} signed up and is not confirmed yet, the link is on its way again.", "success")
    return RedirectResponse("/auth/sign_up/sent", status_code=303)


def confirm_page(request: Request) -> Response:
    """GET /auth/confirm/{token}: whose address the link confirms, and the button (nothing changes yet)."""
    token = request.path_params["token"]
    try:
        with session_scope() as session:
            account = registrations.pending_confirmation(session, token)
            who = {"handle": account.handle, "email": account.email}
    except Invalid as error:
        return render(request, "registration/confirm_invalid.html", {"reason": _sentence(str(error))}, status=400)
    return render(request, "registration/confirm.html", {"token": token, "who": who})


def confirm_submit(request: Request) -> Response:
    """POST /auth/confirm/{token}: spend the link; log in when the account is open, else say it waits."""
    token = request.path_params["token"]
    try:
        with write_scope() as session:
            registration = registrations.confirm(session, token)
            account = session.get(Account, registration.account_id)
            active = registrations.is_active(registration) and account is not None and not account.disabled
    except Invalid as error:
        return render(request, "registration/confirm_invalid.html", {"reason": _sentence(str(error))}, status=400)
    if not active or account is None:
        return render(request, "registration/awaiting.html")
    log_in(request, account)
    flash(request, f"Your address is confirmed. Welcome, @{account.handle}!", "success")
    return RedirectResponse("/", status_code=303)


def routes() -> list[BaseRoute]:
    """Signing up and confirming the address."""
    return [
        Route("/auth/sign_up", sign_up_form, methods=["GET"], name="sign_up"),
        Route("/auth/sign_up", sign_up_submit, methods=["POST"]),
        Route("/auth/sign_up/sent", sent_page, methods=["GET"]),
        Route("/auth/sign_up/resend", resend_submit, methods=["POST"]),
        Route("/invite/{code}", invite_page, methods=["GET"]),
        Route("/auth/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/auth/confirm/{token}", confirm_submit, methods=["POST"]),
    ]
