"""Logging in without a password (`/login/mail`): a one-time login link (web.login_links) mailed to
the account's address. The answer is the same whether or not the address has an account; a few
mails an hour per address and per client."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor import ratelimit
from server.floor.db import write_scope
from server.floor.instance import instance_info
from web import passwords, throttle
from web.csrf import posted_form
from web.flash import flash
from web.login_links import LIFETIME, issue_login_link
from web.pages.accounts import client_key
from web.templating import render

SENT = "If {email} belongs to an account, a login link is on its way. It works once, for {minutes} minutes."


def login_mail_form(request: Request) -> Response:
    """GET /login/mail: ask for the address."""
    return render(request, "accounts/login_mail.html", {"email": "", "errors": {}})


def login_mail_submit(request: Request) -> Response:
    """POST /login/mail: queue the link when the address has an enabled account."""
    email = str(posted_form(request).get("email", "")).strip()[:320]
    if "@" not in email:
        errors = {"email": "Email address: enter the address of your account, like name@example.org."}
        return render(request, "accounts/login_mail.html", {"email": email, "errors": errors}, status=400)
    limits = ((throttle.LOGIN_MAIL_PER_EMAIL, email.lower()), (throttle.LOGIN_MAIL_PER_CLIENT, client_key(request)))
    with write_scope() as db:
        if not isinstance(ratelimit.reserve(db, limits), timedelta):
            account = passwords.find_account(db, email)
            if account is not None:
                from mail.outbox import queue_system_mail

                link = issue_login_link(db, account)
                name = instance_info(db)["name"]
                minutes = int(LIFETIME.total_seconds() // 60)
                text = (
                    f"Hello {account.display_name or account.handle},\n\nTo log in to {name} as @{account.handle}, open:\n\n"
                    f"{link}\n\nThe link works once, for {minutes} minutes. If you did not ask for it, ignore this mail.\n"
                )
                queue_system_mail(db, to=account.email, subject=f"Your login link for {name}", text=text)
    flash(request, SENT.format(email=email, minutes=int(LIFETIME.total_seconds() // 60)), "success")
    return RedirectResponse("/login", status_code=303)


def routes() -> list[BaseRoute]:
    """Login by a mailed link."""
    return [
        Route("/login/mail", login_mail_form, methods=["GET"], name="login_mail"),
        Route("/login/mail", login_mail_submit, methods=["POST"]),
    ]
