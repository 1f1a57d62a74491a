"""Notification mail settings (`/settings/notifications`: opt in to a digest of unread notifications,
by type) and the digest's one-click stop link (`/mail/notifications/stop/{signed}`: under /mail/, so a
mail provider's RFC 8058 POST needs no CSRF token; the GET shows a button, it changes nothing)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community.people import local_profile, preferences
from mail import digest
from server.floor.db import session_scope, write_scope
from server.floor.errors import NotFound
from web.auth import current_account, require_login
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

TYPES = (
    ("mention", "Mentions"),
    ("reply", "Replies to your posts"),
    ("follow", "New followers"),
    ("follow_request", "Follow requests"),
    ("reblog", "Boosts of your posts"),
    ("favourite", "Favourites of your posts"),
    ("group_post", "New posts in your study groups"),
    ("unit", "New units"),
    ("admin.sign_up", "Sign-ups awaiting approval (moderators)"),
    ("admin.report", "New reports (moderators)"),
)
KNOWN = {value for value, _ in TYPES}


@require_login
def notifications_form(request: Request) -> Response:
    """GET /settings/notifications."""
    account = current_account(request)
    assert account is not None
    with write_scope() as session:
        view = digest.settings_view(session, preferences(session, local_profile(session, account)).profile_id)
    minutes = digest.DIGEST_EVERY // 60
    return render(request, "settings/notifications.html", {"values": view, "types": TYPES, "minutes": minutes})


@require_login
def notifications_submit(request: Request) -> Response:
    """POST /settings/notifications: opt in or out, and which types."""
    account = current_account(request)
    assert account is not None
    form = posted_form(request)
    chosen = [value for value in form.getlist("types") if isinstance(value, str) and value in KNOWN][: len(TYPES)]
    with write_scope() as session:
        prefs = preferences(session, local_profile(session, account))
        prefs.email_notifications = form.get("email_notifications") == "1"
        prefs.email_types = list(dict.fromkeys(chosen))
        on = prefs.email_notifications
    flash(request, "Notification mail is on." if on else "Notification mail is off.", "success")
    return RedirectResponse("/settings/notifications", status_code=303)


def _profile_of(request: Request) -> int:
    profile_id = digest.profile_of_stop(request.path_params["signed"])
    if profile_id is None:
        raise NotFound("this link to stop notification mail is not one of ours (cut short?)")
    return profile_id


def stop_page(request: Request) -> Response:
    """GET /mail/notifications/stop/{signed}: the button (a link scanner changes nothing)."""
    _profile_of(request)
    return render(request, "settings/notifications_stop.html", {"signed": request.path_params["signed"], "done": False})


def stop_submit(request: Request) -> Response:
    """POST /mail/notifications/stop/{signed}: notification mail off (also the one-click POST of RFC 8058)."""
    profile_id = _profile_of(request)
    with session_scope() as session:
        digest.stop(session, profile_id)
    return render(request, "settings/notifications_stop.html", {"signed": request.path_params["signed"], "done": True})


def routes() -> list[BaseRoute]:
    """Notification mail settings."""
    return [
        Route("/settings/notifications", notifications_form, methods=["GET"], name="settings_notifications"),
        Route("/settings/notifications", notifications_submit, methods=["POST"]),
        Route("/mail/notifications/stop/{signed}", stop_page, methods=["GET"]),
        Route("/mail/notifications/stop/{signed}", stop_submit, methods=["POST"]),
    ]
