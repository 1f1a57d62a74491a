"""The admin's mail pages: the outbox (uncertain and failed mails, a page of 100 at a time; send again or
mark sent, one or every uncertain one), the local outbox, suppressions."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mail import attention
from mail.models import OutgoingMail, Suppression
from mail.suppressions import lift
from mail.transport import local_outbox
from server.floor.config import get_settings
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

SHOWN = 100


def _page_of(request: Request) -> tuple[tuple[str, ...], int | None]:
    """The states (?state=uncertain|failed, both by default) and the cursor (?before=ID) asked for."""
    state = request.query_params.get("state", "")
    before = request.query_params.get("before", "")
    if before and not before.isdigit():
        raise Invalid(f"before must be a mail id (a whole number), not {before[:40]!r}")
    return ((state,) if state else attention.STATES), int(before) if before else None


@require_role("admin")
def outbox(request: Request) -> Response:
    """GET /admin/mail: counts by state, mails that need a person (100 a page, older ones by
    ?before=ID), the local outbox, suppressions."""
    states, before = _page_of(request)
    with session_scope() as session:
        counts = dict(session.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)).all())
        rows = attention.listing(session, states, before, SHOWN + 1)
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
            "attention": rows[:SHOWN],
            "state": states[0] if len(states) == 1 else "",
            "before": before,
            "older": rows[SHOWN - 1].id if len(rows) > SHOWN else None,
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
    """POST /admin/mail/{id}/resend: queue an uncertain or failed mail again (the same Message-ID)."""
    mail_id = int(request.path_params["id"])
    with write_scope() as session:
        attention.resend(session, [mail_id])
        row = session.get(OutgoingMail, mail_id)
        flash(request, f"The mail to {row.to_addr if row else mail_id} is queued again.", "success")
    return RedirectResponse("/admin/mail", status_code=303)


@require_role("admin")
def mark_mail_sent(request: Request) -> Response:
    """POST /admin/mail/{id}/mark-sent: record an uncertain mail as sent (the admin knows it arrived)."""
    mail_id = int(request.path_params["id"])
    with write_scope() as session:
        attention.mark_sent(session, [mail_id])
    flash(request, f"Mail {mail_id} is recorded as sent.", "success")
    return RedirectResponse("/admin/mail", status_code=303)


@require_role("admin")
def every_uncertain(request: Request) -> Response:
    """POST /admin/mail/uncertain/resend or /mark-sent: send every uncertain mail again, or mark every one sent."""
    with write_scope() as session:
        if request.url.path.endswith("/resend"):
            count = attention.resend(session, all_uncertain=True)
            message = f"{count} uncertain mails are queued again."
        else:
            count = attention.mark_sent(session, all_uncertain=True)
            message = f"{count} uncertain mails are recorded as sent."
    flash(request, message, "success")
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
        Route("/admin/mail/{id:int}/mark-sent", mark_mail_sent, methods=["POST"]),
        Route("/admin/mail/uncertain/resend", every_uncertain, methods=["POST"]),
        Route("/admin/mail/uncertain/mark-sent", every_uncertain, methods=["POST"]),
        Route("/admin/mail/suppressions/lift", lift_suppression, methods=["POST"]),
    ]
