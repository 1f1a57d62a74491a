"""The "Report" form: a logged-in person reports an account (and some of its statuses) to the moderators.

`/report?account=PROFILE_ID_OR_ACCT&status=STATUS_ID` — the profile and status pages link here. The
form lists the account's recent statuses to tick (the one reported from ticked), a category, a
comment, and for a remote account "also send an anonymous copy to its server" (`forward`: a Flag
from this instance, sent by federation on `report.created`). The work is `community.moderation.report`.
"""

from __future__ import annotations

import html
from typing import Any

import nh3
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import moderation, timelines
from community.models import Profile, Status
from community.people import find_by_acct, local_profile
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound, PermissionDenied
from web.auth import current_account, require_login
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

CATEGORY_LABELS = {
    "spam": "Spam: ads, scams, repeated links",
    "violation": "It breaks this instance's rules",
    "legal": "It is illegal where I live or where the instance is",
    "other": "Something else",
}
RECENT = 10
EXCERPT = 500


def plain_text(text: str, markup: str) -> str:
    """A status's words as plain text (its source text, or its HTML without tags), cut at EXCERPT."""
    words = " ".join((text or html.unescape(nh3.clean(markup or "", tags=set()))).split())
    return words if len(words) <= EXCERPT else words[: EXCERPT - 1] + "…"


def plain_excerpt(status: Status) -> str:
    """A status as plain text for moderators' and reporters' eyes (never its HTML), cut at EXCERPT."""
    return "(deleted)" if status.deleted else plain_text(status.text, status.html)


def _target(session: Session, value: str) -> Profile:
    value = value.strip()
    profile = session.get(Profile, int(value)) if value.isdigit() and len(value) < 20 else find_by_acct(session, value)
    if profile is None or profile.deleted_at is not None:
        raise NotFound(f"account: no account {value!r} here")
    return profile


def _context(session: Session, request: Request, target: Profile, values: dict[str, Any]) -> dict[str, Any]:
    account = current_account(request)
    assert account is not None  # require_login
    viewer = local_profile(session, account)
    recent = timelines.of_profile(session, viewer, target, exclude_reblogs=True, limit=RECENT)
    chosen = [int(n) for n in values["status_ids"]]
    extra = [session.get(Status, n) for n in chosen if n not in {s.id for s in recent}]
    # A status named in the address is shown only if the reporter could read it anyway.
    named = [
        s for s in extra if s is not None and s.profile_id == target.id and moderation.reportable(session, s, viewer)
    ]
    shown = named + list(recent)
    return {
        "target": target,
        "statuses": [{"id": s.id, "text": plain_excerpt(s), "checked": s.id in chosen} for s in shown],
        "categories": CATEGORY_LABELS,
        "values": values,
    }


def _page(
    request: Request, target_ref: str, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    with session_scope() as db:
        target = _target(db, target_ref)
        context = _context(db, request, target, values) | {"errors": errors, "sent": False}
        return render(request, "moderation/report.html", context, status=status)


@require_login
def report_form(request: Request) -> Response:
    """The form (or, after sending, its thanks)."""
    ref = str(request.query_params.get("account", ""))
    if not ref:
        raise Invalid("account: say which account to report (?account=)")
    if request.query_params.get("sent"):
        with session_scope() as db:
            target = _target(db, ref)
            return render(request, "moderation/report.html", {"target": target, "sent": True, "errors": {}})
    status_ref = str(request.query_params.get("status", ""))
    chosen = [int(status_ref)] if status_ref.isdigit() and len(status_ref) < 20 else []
    values = {"status_ids": chosen, "category": "other", "comment": "", "forward": False}
    return _page(request, ref, values, {})


@require_login
def send_report(request: Request) -> Response:
    """Send the report to the moderators."""
    form = posted_form(request)
    ref = str(form.get("account", ""))
    raw_ids = [str(v) for v in form.getlist("status_ids")]
    status_ids = [int(v) for v in raw_ids if v.isdigit() and len(v) < 20][: moderation.STATUSES_PER_REPORT + 1]
    category, comment = str(form.get("category", "other")), str(form.get("comment", ""))
    forward = form.get("forward") == "1"
    values: dict[str, Any] = {"status_ids": status_ids, "category": category, "comment": comment, "forward": forward}
    account = current_account(request)
    assert account is not None
    try:
        with write_scope() as db:
            target = _target(db, ref)
            reporter = local_profile(db, account)
            moderation.report(db, reporter, target, status_ids, comment, category, forward)
            target_id = target.id
    except (Invalid, PermissionDenied) as error:
        field = str(error).split(":", 1)[0] if ":" in str(error) else "comment"
        field = field if field in {"account", "status_ids", "comment", "category"} else "comment"
        return _page(request, ref, values, {field: str(error)}, status=400)
    flash(request, "Thank you. The moderators have your report.", "success")
    return RedirectResponse(f"/report?account={target_id}&sent=1", status_code=303)


def routes() -> list[BaseRoute]:
    """The report form."""
    return [
        Route("/report", report_form, methods=["GET"], name="report"),
        Route("/report", send_report, methods=["POST"]),
    ]
