"""/settings/applications: the apps a person authorized, with what they may do, and a button
that withdraws an app's access (every token of theirs for it stops working at once)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor.db import session_scope, write_scope
from web.api import scopes as scope_rules
from web.api.models import Application, Token
from web.api.oauth_server import revoke_app_tokens
from web.auth import current_account, require_login
from web.flash import flash
from web.templating import render


@require_login
def applications(request: Request) -> Response:
    """The list of authorized apps."""
    account = current_account(request)
    assert account is not None
    with session_scope() as db:
        rows = db.execute(
            select(Application, func.min(Token.created_at), func.max(Token.last_used_at))
            .join(Token, Token.application_id == Application.id)
            .where(Token.account_id == account.id, Token.revoked_at.is_(None))
            .group_by(Application.id)
            .order_by(Application.name)
        ).all()
        apps = []
        for app, since, used in rows:
            granted = db.scalars(
                select(Token.scope).where(
                    Token.account_id == account.id, Token.application_id == app.id, Token.revoked_at.is_(None)
                )
            ).all()
            words = sorted({word for text in granted for word in scope_rules.parse(text, default="")})
            apps.append(
                {"id": app.id, "name": app.name, "website": app.website, "since": since, "used": used, "scopes": words}
            )
    return render(request, "api/applications.html", {"apps": apps, "scope_text": scope_rules.describe})


@require_login
def revoke(request: Request) -> Response:
    """Withdraw one app's access (POST, CSRF-checked)."""
    account = current_account(request)
    assert account is not None
    raw = request.path_params["app_id"]
    if not raw.isdigit() or len(raw) > 19:
        flash(request, "That app is not among your authorized apps.", "error")
        return RedirectResponse("/settings/applications", status_code=303)
    with write_scope() as db:
        app = db.get(Application, int(raw))
        count = revoke_app_tokens(db, account.id, int(raw)) if app is not None else 0
        name = app.name if app is not None else ""
    if count:
        flash(request, f"{name} can no longer use your account.", "success")
    else:
        flash(request, "That app is not among your authorized apps.", "error")
    return RedirectResponse("/settings/applications", status_code=303)


def routes() -> list[BaseRoute]:
    """The authorized apps page."""
    return [
        Route("/settings/applications", applications, methods=["GET"]),
        Route("/settings/applications/{app_id}/revoke", revoke, methods=["POST"]),
    ]
