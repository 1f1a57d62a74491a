"""The admin's account pages: who has a login, with which role; add, promote, disable.

The web form of `mechmooc user create`: a new account gets no password here, but a mail with a
link to choose one (valid a week). The last enabled admin can be neither demoted nor disabled.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor.accounts import ROLES, Account, create_account
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash
from web.passwords import send_invitation
from web.templating import render

PAGE_SIZE = 100


def list_accounts(session: Session, query: str = "") -> list[Account]:
    """Accounts matching `query` (email, handle or name), admins first, at most PAGE_SIZE."""
    statement = select(Account)
    if query:
        pattern = f"%{query.lower()}%"
        statement = statement.where(
            or_(
                func.lower(Account.email).like(pattern),
                func.lower(Account.handle).like(pattern),
                func.lower(Account.display_name).like(pattern),
            )
        )
    rank = {"admin": 0, "organizer": 1, "moderator": 2, "learner": 3}
    rows = session.scalars(statement.order_by(Account.email).limit(PAGE_SIZE)).all()
    return sorted(rows, key=lambda account: (rank.get(account.role, 4), account.email))


def _other_enabled_admins(session: Session, account: Account) -> int:
    return (
        session.scalar(
            select(func.count(Account.id)).where(
                Account.role == "admin", Account.disabled.is_(False), Account.id != account.id
            )
        )
        or 0
    )


def change_role(session: Session, account_id: int, role: str) -> Account:
    """Give the account `role`; Invalid when it would leave the instance without an admin."""
    if role not in ROLES:
        raise Invalid(f"role {role!r} is not one of {', '.join(ROLES)}")
    account = _get(session, account_id)
    if account.role == "admin" and role != "admin" and _other_enabled_admins(session, account) == 0:
        raise Invalid(f"{account.email} is the only admin: make someone else admin first")
    account.role = role
    return account


def set_disabled(session: Session, account_id: int, disabled: bool) -> Account:
    """Disable (no login, sessions end) or enable the account; never the last enabled admin."""
    account = _get(session, account_id)
    if disabled and account.role == "admin" and _other_enabled_admins(session, account) == 0:
        raise Invalid(f"{account.email} is the only admin: it cannot be disabled")
    account.disabled = disabled
    return account


def _get(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id} does not exist")
    return account


def _page(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    query = request.query_params.get("q", "").strip()
    with session_scope() as db:
        accounts = list_accounts(db, query)
    context = {"accounts": accounts, "query": query, "roles": ROLES, "values": values, "errors": errors}
    return render(request, "admin/accounts.html", context, status=status)


@require_role("admin")
def accounts_page(request: Request) -> Response:
    """The list of accounts and the form to add one."""
    return _page(request, {"email": "", "display_name": "", "role": "organizer"}, {})


@require_role("admin")
def add_account(request: Request) -> Response:
    """Create an account without a password and mail it a link to choose one."""
    form = posted_form(request)
    values = {name: str(form.get(name, "")).strip() for name in ("email", "display_name", "role")}
    admin = current_account(request)
    assert admin is not None  # the guard let only an admin in
    try:
        with write_scope() as db:
            account = create_account(db, values["email"], role=values["role"], display_name=values["display_name"])
            send_invitation(db, account, invited_by=admin.display_name or admin.handle)
    except Invalid as error:
        field = "role" if str(error).startswith("role") else "email"
        return _page(request, values, {field: _sentence(str(error))}, status=400)
    flash(request, f"{account.email} can now choose a password: the link is on its way.", "success")
    return RedirectResponse("/admin/accounts", status_code=303)


@require_role("admin")
def update_account(request: Request) -> Response:
    """Change one account's role, or disable or enable it."""
    form = posted_form(request)
    account_id = request.path_params["account_id"]
    action = str(form.get("action", ""))
    try:
        with write_scope() as db:
            if action == "role":
                account = change_role(db, account_id, str(form.get("role", "")))
                message = f"{account.email} is now {account.role}."
            elif action in {"disable", "enable"}:
                account = set_disabled(db, account_id, action == "disable")
                message = f"{account.email} is {action}d."
            else:
                raise Invalid(f"unknown action {action!r} (role, disable or enable)")
    except Invalid as error:
        flash(request, _sentence(str(error)), "error")
        return RedirectResponse("/admin/accounts", status_code=303)
    flash(request, message, "success")
    return RedirectResponse("/admin/accounts", status_code=303)


def _sentence(text: str) -> str:
    """The error as a sentence; an address that opens it keeps its case."""
    first = text.split(" ", 1)[0]
    head = text if "@" in first else text[:1].upper() + text[1:]
    return head + ("" if text.endswith(".") else ".")


def routes() -> list[BaseRoute]:
    """The admin's account pages."""
    return [
        Route("/admin/accounts", accounts_page, methods=["GET"], name="admin_accounts"),
        Route("/admin/accounts", add_account, methods=["POST"]),
        Route("/admin/accounts/{account_id:int}", update_account, methods=["POST"]),
    ]
