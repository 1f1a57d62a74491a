"""Who is logged in, logging in and out, and the guards that pages put on their handlers.

Roles nest: an admin may do everything an organizer or a moderator may, each of them everything a
learner may (`server.floor.accounts.HOLDS`).
The rule for pages that list or edit things (courses, runs, mails): show an account only what it
may change — `may_change(account, owner_id)` — admins everything, organizers what they own.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from server.floor.accounts import ROLES, Account, end_sessions, holds_role
from server.floor.config import get_settings
from server.floor.db import session_scope

SESSION_ACCOUNT = "account_id"
SESSION_STAMP = "auth"
SESSION_EPOCH = "epoch"
_UNSET = object()

Handler = TypeVar("Handler", bound=Callable[..., Response | Awaitable[Response]])


def _stamp(account: Account) -> str:
    """A fingerprint of the password hash: changing the password logs out every other session."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, (account.password_hash or "").encode(), hashlib.sha256).hexdigest()[:32]


def current_account(connection: HTTPConnection) -> Account | None:
    """The logged-in account of this request (loaded once per request), or None."""
    state = connection.scope.setdefault("state", {})
    cached = state.get("account", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[no-any-return]
    account: Account | None = None
    account_id = connection.session.get(SESSION_ACCOUNT) if "session" in connection.scope else None
    if isinstance(account_id, int):
        with session_scope() as db:
            account = db.get(Account, account_id)
        stamp = connection.session.get(SESSION_STAMP)
        if (
            account is None
            or account.disabled
            or not isinstance(stamp, str)
            or not hmac.compare_digest(stamp, _stamp(account))
            # Logged out (here or in another browser) or password changed since this session began.
            or connection.session.get(SESSION_EPOCH) != account.session_epoch
        ):
            account = None
            for key in (SESSION_ACCOUNT, SESSION_STAMP, SESSION_EPOCH):
                connection.session.pop(key, None)
    state["account"] = account
    return account


def log_in(connection: HTTPConnection, account: Account) -> None:
    """Start a fresh session for `account` (a new CSRF token too, against session fixation)."""
    connection.session.clear()
    connection.session[SESSION_ACCOUNT] = account.id
    connection.session[SESSION_STAMP] = _stamp(account)
    connection.session[SESSION_EPOCH] = account.session_epoch
    connection.scope.setdefault("state", {})["account"] = account


def log_out(connection: HTTPConnection) -> None:
    """End the account's sessions on the server (a copy of the cookie stops working too), forget this one."""
    account = current_account(connection)
    if account is not None:
        with session_scope() as db:
            end_sessions(db, account.id)
    connection.session.clear()
    connection.scope.setdefault("state", {})["account"] = None


def has_role(account: Account | None, role: str) -> bool:
    """True when `account` holds `role` or one that includes it (admin > organizer, moderator > learner)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    return account is not None and holds_role(account.role, role)


def may_change(account: Account | None, owner_id: int | None) -> bool:
    """The visibility rule of organizer pages: admins change everything, organizers what they own."""
    if account is None:
        return False
    if account.is_admin:
        return True
    return account.is_organizer and owner_id is not None and owner_id == account.id


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, `//evil`) becomes `/`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)


def _guard(check: Callable[[Request], Response | None]) -> Callable[[Handler], Handler]:
    """A decorator that runs `check` first and answers with its response when it gives one."""

    def decorate(handler: Handler) -> Handler:
        if inspect.iscoroutinefunction(handler):

            @wraps(handler)
            async def guarded_async(request: Request, *args: Any, **kwargs: Any) -> Response:
                return check(request) or await handler(request, *args, **kwargs)

            return guarded_async  # type: ignore[return-value]

        @wraps(handler)
        def guarded(request: Request, *args: Any, **kwargs: Any) -> Response:
            return check(request) or handler(request, *args, **kwargs)  # type: ignore[return-value]

        return guarded  # type: ignore[return-value]

    return decorate


def _login_check(request: Request) -> Response | None:
    return login_redirect(request) if current_account(request) is None else None


def require_login(handler: Handler) -> Handler:
    """Handler decorator: anonymous visitors are sent to the login page."""
    return _guard(_login_check)(handler)


def require_role(role: str) -> Callable[[Handler], Handler]:
    """Handler decorator: anonymous visitors go to the login page, accounts below `role` get 403."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def check(request: Request) -> Response | None:
        account = current_account(request)
        if account is None:
            return login_redirect(request)
        if not has_role(account, role):
            raise HTTPException(403, f"This page is for {role}s.")
        return None

    return _guard(check)
