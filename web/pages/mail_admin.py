"""The admin's mail pages: the outbox (uncertain and failed mails, resend), the local outbox, suppressions."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mail.models import UNCERTAIN, OutgoingMail, Suppression
from mail.outbox import resend
from mail.suppressions import lift
from mail.transport import local_outbox
from server.floor.config import get_settings
from server.floor.db import session_scope, write_scope
from server.floor.errors import NotFound
from server.floor.queue import FAILED
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

SHOWN = 100


@require_role("admin")
def outbox(request: Request) -> Response:
    """GET /admin/mail: counts by state, mails that need a person, the local outbox, suppressions."""
    with session_scope() as session:
        counts = dict(session.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)).all())
        attention = session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.state.in_((UNCERTAIN, FAILED)))
            .order_by(OutgoingMail.id.desc())
            .limit(SHOWN)
        ).all()
        suppressions = session.scalars(
            select(Suppression).where(Suppression.active).order_by(Suppression.updated_at.desc()).limit(SHOWN)
        ).all()
        settings = get_settings()
        local = [
            {
                "key": key,
                "to": str(message.get("To", "")),
                "subject": str(message.get("Subject", "")),
                "date": str(message.get("Date", "")),
            }
            for key, message in local_outbox(settings.data_dir, SHOWN)
        ]
        context = {
            "counts": counts,
            "attention": attention,
            "suppressions": suppressions,
            "local": local,
            "smtp": bool(settings.smtp_url),
        }
        return render(request, "mail/admin.html", context)


@require_role("admin")
def local_message(request: Request) -> Response:
    """GET /admin/mail/local/{key}: one mail of the local outbox, as text and HTML (sandboxed)."""
    key = request.path_params["key"]
    for found, message in local_outbox(get_settings().data_dir, 10000):
        if found == key:
            parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
            text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
            context = {
                "key": key,
                "headers": list(parsed.items()),
                "text": text_part.get_content() if text_part is not None else "",
                "html": html_part.get_content() if html_part is not None else "",
            }
            return render(request, "mail/local_message.html", context, inline_styles=True)
    raise NotFound(f"no mail {key} in the local outbox")


@require_role("admin")
def resend_mail(request: Request) -> Response:
    """POST /admin/mail/{id}/resend: queue an uncertain or failed mail again."""
    with write_scope() as session:
        row = resend(session, int(request.path_params["id"]))
        flash(request, f"The mail to {row.to_addr} is queued again.", "success")
    return RedirectResponse("/admin/mail", status_code=303)


@require_role("admin")
def lift_suppression(request: Request) -> Response:
    """POST /admin/mail/suppressions/lift: mail an address again."""
    address = str(posted_form(request).get("email", ""))
    with write_scope() as session:
        if not lift(session, address):
            raise NotFound(f"{address} is not suppressed")
    flash(request, f"{address} gets mail again.", "success")
    return RedirectResponse("/admin/mail", status_code=303)


def routes() -> list[BaseRoute]:
    """The admin's mail pages."""
    return [
        Route("/admin/mail", outbox, methods=["GET"]),
        Route("/admin/mail/local/{key}", local_message, methods=["GET"]),
        Route("/admin/mail/{id:int}/resend", resend_mail, methods=["POST"]),
        Route("/admin/mail/suppressions/lift", lift_suppression, methods=["POST"]),
    ]
