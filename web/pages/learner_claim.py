"""Claiming an account from the learner's page (`/me/{token}`): a learner whose signup is confirmed
chooses a handle and a password, or none (they then log in by a link mailed to them, `/login/mail`);
their places are linked to the account (`courses.claims`). A learner whose address has an account
already links their places to it once logged in."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.claims import claim, claim_state, link_places
from server.floor.accounts import Account, hash_password
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, PermissionDenied
from web import passwords
from web.auth import current_account, log_in
from web.csrf import posted_form
from web.flash import flash
from web.learner_links import place_of
from web.pages.registration import handle_errors
from web.templating import render

MAX_NAME = 200


def _form_page(request: Request, token: str, values: dict[str, str], errors: dict[str, str], status: int) -> Response:
    with session_scope() as session:
        enrollment = place_of(session, token)
        context: dict[str, Any] = {
            "token": token,
            "email": enrollment.email,
            "course_title": enrollment.run.course.title,
            "values": values,
            "errors": errors,
        }
    return render(request, "learner/claim.html", context, status=status)


def claim_form(request: Request) -> Response:
    """GET /me/{token}/claim: the form (or back to the page when there is nothing to claim)."""
    token = request.path_params["token"]
    with session_scope() as session:
        state = claim_state(session, place_of(session, token)).state
    if state != "claim":
        return RedirectResponse(f"/me/{token}", status_code=303)
    return _form_page(request, token, {"handle": "", "display_name": "", "how": "password"}, {}, 200)


def claim_submit(request: Request) -> Response:
    """POST /me/{token}/claim: make the account, link the places, log in."""
    token = request.path_params["token"]
    form = posted_form(request)
    values = {
        "handle": str(form.get("handle", "")).strip()[:100],
        "display_name": " ".join(str(form.get("display_name", "")).split()),
        "how": "link" if form.get("how") == "link" else "password",
    }
    password, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    errors: dict[str, str] = {}
    if len(values["display_name"]) > MAX_NAME:
        errors["display_name"] = f"Display name: at most {MAX_NAME} characters."
    with session_scope() as session:
        errors.update(handle_errors(session, values))
    if values["how"] == "password":
        try:
            passwords.check_new_password(password, confirm)
        except Invalid as error:
            message = str(error)
            errors["confirm" if "confirm" in message else "password"] = message[:1].upper() + message[1:] + "."
    if form.get("rules") != "1":
        errors["rules"] = "Rules: accept the rules of this instance to make an account."
    if errors:
        return _form_page(request, token, values, errors, 400)
    password_hash = hash_password(password) if values["how"] == "password" else None
    try:
        with write_scope() as session:
            account = claim(session, place_of(session, token), values["handle"], password_hash, values["display_name"])
    except Invalid as error:
        message = str(error)
        field = "handle" if message.startswith("handle") else "account"
        return _form_page(request, token, values, {field: message[:1].upper() + message[1:] + "."}, 400)
    except IntegrityError:  # the handle or the address taken at the same moment (PostgreSQL)
        return _form_page(request, token, values, {"handle": "Handle: this handle was just taken; try again."}, 400)
    log_in(request, account)
    later = (
        "Next time, log in with your address and password."
        if password_hash
        else "Next time, ask for a login link at the login page: it comes to your address."
    )
    flash(request, f"Your account @{account.handle} is ready and your places are linked to it. {later}", "success")
    return RedirectResponse("/settings/profile", status_code=303)


def link_submit(request: Request) -> Response:
    """POST /me/{token}/claim/link: the logged-in account with this place's address takes its places."""
    token = request.path_params["token"]
    account = current_account(request)
    if account is None:
        return RedirectResponse(f"/login?next=/me/{token}", status_code=303)
    with write_scope() as session:
        enrollment = place_of(session, token)
        if not enrollment.email or enrollment.email.lower() != account.email.lower():
            raise PermissionDenied("this place belongs to another address than your account's")
        stored = session.get(Account, account.id)
        assert stored is not None
        count = link_places(session, stored)
    flash(request, f"{count} place{'s' if count != 1 else ''} linked to @{account.handle}.", "success")
    return RedirectResponse(f"/me/{token}", status_code=303)


def routes() -> list[BaseRoute]:
    """Claiming an account from the learner's page."""
    return [
        Route("/me/{token}/claim", claim_form, methods=["GET"]),
        Route("/me/{token}/claim", claim_submit, methods=["POST"]),
        Route("/me/{token}/claim/link", link_submit, methods=["POST"]),
    ]
