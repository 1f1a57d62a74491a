"""One-time login links (`/login/once/{token}`), printed in the console by `serve --demo` and by
`mechmooc user login-link`: the GET shows whom the link logs in, the POST (with the CSRF token) spends
the link and logs in, so a link preview or a prefetch never uses it up.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid
from web import welcome
from web.auth import log_in
from web.flash import flash
from web.login_links import LIFETIME, link_account, redeem_login_link
from web.templating import render


def _spent(request: Request) -> Response:
    minutes = int(LIFETIME.total_seconds() // 60)
    return render(request, "accounts/login_link_invalid.html", {"minutes": minutes}, status=400)


def login_link_page(request: Request) -> Response:
    """GET: whom the link logs in, and the button that does it."""
    token = request.path_params["token"]
    with session_scope() as session:
        account = link_account(session, token)
        if account is None:
            return _spent(request)
        who = {"name": account.display_name or account.handle, "email": account.email, "role": account.role}
    return render(request, "accounts/login_link.html", {"token": token, "who": who})


def login_link_submit(request: Request) -> Response:
    """POST: spend the link, log in, go on to the first-run page while it is linked (else home)."""
    token = request.path_params["token"]
    try:
        with write_scope() as session:
            account = redeem_login_link(session, token)
            name = account.display_name or account.handle
            linked = welcome.welcome(session).linked
    except Invalid:
        return _spent(request)
    log_in(request, account)
    flash(request, f"Welcome, {name}: you are logged in. The link is spent; it works no more.", "success")
    return RedirectResponse("/welcome" if linked else "/", status_code=303)


def routes() -> list[BaseRoute]:
    """The one-time login link."""
    return [
        Route("/login/once/{token}", login_link_page, name="login_link"),
        Route("/login/once/{token}", login_link_submit, methods=["POST"]),
    ]
