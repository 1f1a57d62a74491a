"""The first-run page (`/welcome`): what to do next on a fresh instance, and the tour of `serve --demo`.

Public (it holds nothing secret: the demo's addresses are made up, the login link is only ever
printed in the console); the data dir's path is shown to admins only.
"""

from __future__ import annotations

import shlex
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor import urls
from server.floor.config import get_settings
from server.floor.db import session_scope, write_scope
from web import welcome as state
from web.auth import current_account, require_role
from web.flash import flash
from web.templating import render

SUBJECT, BODY = "Hello, group", "Hi all, shall we start with the first unit together?"


def _shell_safe(text: str) -> bool:
    # What goes between double quotes in a shell unchanged (our addresses and words always are).
    return not any(character in text for character in '"$`\\!')


def smtp_commands(host: str, port: int, sender: str, to: str) -> dict[str, str]:
    """Ready commands that mail the group list through the built-in SMTP receiver: swaks and Python."""
    client_host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    swaks = shlex.join(
        ["swaks", "--server", f"{client_host}:{port}", "--from", sender, "--to", to]
        + ["--header", f"Subject: {SUBJECT}", "--body", BODY]
    )
    code = (
        "import smtplib; from email.message import EmailMessage; m = EmailMessage(); "
        f"m['From'] = {sender!r}; m['To'] = {to!r}; m['Subject'] = {SUBJECT!r}; m.set_content({BODY!r}); "
        f"smtplib.SMTP({client_host!r}, {port}).send_message(m)"
    )
    python = f'python3 -c "{code}"' if _shell_safe(code) else f"python3 -c {shlex.quote(code)}"
    return {"swaks": swaks, "python": python}


def welcome_page(request: Request) -> Response:
    """GET /welcome: the steps of a first visit, filled in with the demo's course, run and group."""
    settings = get_settings()
    account = current_account(request)
    with session_scope() as session:
        facts = state.welcome(session)
    context: dict[str, Any] = {
        "welcome": facts,
        "is_admin": account is not None and account.is_admin,
        "outbox": str(settings.data_dir / "outbox"),
        "smtp_out": bool(settings.smtp_url),
        "inbound": settings.inbound_smtp,
        "group_address": None,
        "commands": None,
    }
    if facts.group is not None:
        context["group_address"] = urls.group_address(facts.group.handle)
        if settings.inbound_smtp is not None:
            host, port = settings.inbound_smtp
            context["commands"] = smtp_commands(host, port, facts.group.sender, context["group_address"])
    return render(request, "welcome/welcome.html", context)


@require_role("admin")
def hide_welcome(request: Request) -> Response:
    """POST /welcome/hide: the admin is done with the tour; the home page stops linking it."""
    with write_scope() as session:
        state.hide(session)
    flash(request, "The first-run page is no longer linked from the home page (it stays at /welcome).", "success")
    return RedirectResponse("/", status_code=303)


def routes() -> list[BaseRoute]:
    """The first-run page."""
    return [
        Route("/welcome", welcome_page, name="welcome"),
        Route("/welcome/hide", hide_welcome, methods=["POST"]),
    ]
