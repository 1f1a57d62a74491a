"""Logging in and out, one's own account, and resetting a forgotten password by an emailed link."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import registrations
from community.people import profile_of_account
from server.floor import ratelimit
from server.floor.accounts import Account, check_password, end_sessions, hash_password
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid
from server.floor.events import publish
from web import passwords, throttle
from web.auth import current_account, log_in, log_out, require_login, safe_next
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

BAD_LOGIN = "That email address and password do not match an account."


@lru_cache(maxsize=1)
def _decoy() -> Account:
    """An account nobody has, checked when the address is unknown so both cases take as long."""
    return Account(email="", handle="", password_hash=hash_password("decoy password, never valid"))


def _waiting_sign_up(db: Session, email: str) -> tuple[Account, str] | None:
    """A disabled account of a sign-up still waiting (address unconfirmed, approval pending), with why."""
    account = db.scalar(select(Account).where(func.lower(Account.email) == email.strip().lower()))
    if account is None or not account.disabled:
        return None
    reason = registrations.waiting_reason(registrations.registration_of(db, account.id))
    return (account, reason) if reason else None


def client_key(request: Request) -> str:
    """The client address the login limits count against."""
    return request.client.host if request.client else "unknown"


def login_form(request: Request) -> Response:
    """The login form (already logged-in visitors go where they were heading)."""
    target = safe_next(request.query_params.get("next"))
    if current_account(request) is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "accounts/login.html", {"email": "", "next": target, "error": None})


def login_submit(request: Request) -> Response:
    """Check the password, counting attempts per address and per client in the database."""
    form = posted_form(request)
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")) or None)
    context = {"email": email, "next": target}
    checks = [(throttle.LOGIN_PER_EMAIL, email.lower()), (throttle.LOGIN_PER_CLIENT, client_key(request))]
    # Reserve the attempt before checking the password, in one locked transaction: parallel guesses
    # cannot all pass the count before any is recorded. Argon2 runs after it, holding no lock.
    with write_scope() as db:
        reserved = ratelimit.reserve(db, checks)
        account = passwords.find_account(db, email) if email and not isinstance(reserved, timedelta) else None
        waiting = _waiting_sign_up(db, email) if account is None and email else None
    if isinstance(reserved, timedelta):
        error = f"Too many failed attempts. Try again in {ratelimit.minutes(reserved)} minutes, or reset your password."
        response = render(request, "accounts/login.html", {**context, "error": error}, status=429)
        response.headers["Retry-After"] = str(int(reserved.total_seconds()))
        return response
    if account is None or not check_password(account, password):
        if account is None and waiting is not None and check_password(waiting[0], password):
            # The right password of a sign-up that is not open yet: say what is missing (the one who
            # knows the password learns nothing new by it).
            return render(request, "accounts/login.html", {**context, "error": waiting[1]}, status=403)
        if account is None and waiting is None:
            check_password(_decoy(), password)
        # The reservation stays: it is the failed attempt. This browser's own failures are remembered,
        # so that its right password later forgives them (and nobody else's).
        throttle.failed(request.session, reserved)
        return render(request, "accounts/login.html", {**context, "error": BAD_LOGIN}, status=400)
    with session_scope() as db:
        throttle.right_password(db, checks, reserved, request.session.get(throttle.FAILURES_KEY))
    log_in(request, account)
    flash(request, f"Welcome back, {account.display_name or account.handle}.", "success")
    return RedirectResponse(target, status_code=303)


def logout(request: Request) -> Response:
    """End the session (POST only, so a link or image elsewhere cannot log anyone out)."""
    log_out(request)
    flash(request, "You are logged out.", "success")
    return RedirectResponse("/", status_code=303)


def forgot_form(request: Request) -> Response:
    """Ask for the address to send a reset link to."""
    return render(request, "accounts/forgot.html", {"email": "", "errors": {}})


def forgot_submit(request: Request) -> Response:
    """Queue a reset mail; the answer is the same whether or not the address has an account."""
    email = str(posted_form(request).get("email", "")).strip()
    if "@" not in email:
        errors = {"email": "Email address: enter the address you log in with, like name@example.org."}
        return render(request, "accounts/forgot.html", {"email": email, "errors": errors}, status=400)
    limits = ((throttle.RESET_PER_EMAIL, email.lower()), (throttle.RESET_PER_CLIENT, client_key(request)))
    with write_scope() as db:
        # Over a limit, the answer stays the same (it must not tell which addresses exist); no mail goes out.
        if not isinstance(ratelimit.reserve(db, limits), timedelta):
            passwords.request_reset(db, email)
    flash(request, f"If {email} belongs to an account, a link to reset its password is on its way.", "success")
    return RedirectResponse("/login", status_code=303)


def reset_form(request: Request) -> Response:
    """The new-password form, if the link is still good."""
    token = request.path_params["token"]
    with session_scope() as db:
        valid = passwords.valid_reset(db, token) is not None
    if not valid:
        return render(request, "accounts/reset_invalid.html", status=400)
    return render(request, "accounts/reset.html", {"token": token, "errors": {}})


def reset_submit(request: Request) -> Response:
    """Set the new password, spend the link and log the person in."""
    token = request.path_params["token"]
    form = posted_form(request)
    password, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    try:
        passwords.check_new_password(password, confirm)
    except Invalid as error:
        field = "confirm" if "confirm" in str(error) else "password"
        message = str(error)[0].upper() + str(error)[1:] + "."
        return render(request, "accounts/reset.html", {"token": token, "errors": {field: message}}, status=400)
    try:
        with session_scope() as db:
            account = passwords.redeem_reset(db, token, password, confirm)
    except Invalid:
        return render(request, "accounts/reset_invalid.html", status=400)
    log_in(request, account)
    flash(request, "Your new password is saved, and you are logged in.", "success")
    return RedirectResponse("/", status_code=303)


@require_login
def account_page(request: Request) -> Response:
    """The logged-in person's own account: name and password."""
    account = current_account(request)
    assert account is not None
    return render(request, "accounts/account.html", {"display_name": account.display_name, "errors": {}})


@require_login
def save_profile(request: Request) -> Response:
    """Change the name shown to others."""
    account = current_account(request)
    assert account is not None
    name = str(posted_form(request).get("display_name", "")).strip()
    if not name or len(name) > 200:
        errors = {"display_name": "Name: between 1 and 200 characters."}
        return render(request, "accounts/account.html", {"display_name": name, "errors": errors}, status=400)
    with write_scope() as db:
        stored = db.get(Account, account.id)
        assert stored is not None
        stored.display_name = name
        profile = profile_of_account(db, account.id)
        if profile is not None and profile.display_name != name:
            # One name: the profile shows what the account page set (and /settings/profile sets both).
            profile.display_name = name
            publish(db, "profile.updated", {"profile_id": profile.id})
    flash(request, "Your name is saved.", "success")
    return RedirectResponse("/account", status_code=303)


@require_login
def change_password(request: Request) -> Response:
    """Check the current password (throttled like a login), then store the new one."""
    account = current_account(request)
    assert account is not None
    form = posted_form(request)
    current, new, confirm = (str(form.get(name, "")) for name in ("current", "password", "confirm"))
    errors: dict[str, str] = {}
    # Reserved before the check, like a login (argon2 outside the locked transaction).
    checks = [(throttle.LOGIN_PER_EMAIL, account.email.lower())]
    with write_scope() as db:
        reserved = ratelimit.reserve(db, checks)
    if isinstance(reserved, timedelta):
        errors["current"] = "Current password: too many wrong tries; wait a few minutes."
    elif not check_password(account, current):
        errors["current"] = "Current password: that is not your current password."
        throttle.failed(request.session, reserved)
    else:
        with session_scope() as db:
            throttle.right_password(db, checks, reserved, request.session.get(throttle.FAILURES_KEY))
    try:
        passwords.check_new_password(new, confirm)
    except Invalid as error:
        field = "confirm" if "confirm" in str(error) else "password"
        errors[field] = str(error)[0].upper() + str(error)[1:] + "."
    if errors:
        context = {"display_name": account.display_name, "errors": errors}
        return render(request, "accounts/account.html", context, status=400)
    new_hash = hash_password(new)
    with write_scope() as db:
        stored = db.get(Account, account.id)
        assert stored is not None
        stored.password_hash = new_hash
        end_sessions(db, account.id)
    # This session starts again in the new epoch; every other session of the account ends.
    log_in(request, stored)
    flash(request, "Your new password is saved. Other browsers logged in as you are logged out.", "success")
    return RedirectResponse("/account", status_code=303)


def routes() -> list[BaseRoute]:
    """Login, logout and password reset."""
    return [
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/account", account_page, methods=["GET"], name="account"),
        Route("/account/profile", save_profile, methods=["POST"]),
        Route("/account/password", change_password, methods=["POST"]),
        Route("/password/forgot", forgot_form, methods=["GET"], name="password_forgot"),
        Route("/password/forgot", forgot_submit, methods=["POST"]),
        Route("/password/reset/{token}", reset_form, methods=["GET"], name="password_reset"),
        Route("/password/reset/{token}", reset_submit, methods=["POST"]),
    ]
