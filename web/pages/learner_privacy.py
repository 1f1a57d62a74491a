"""What a learner decides about their data, from the magic link: download it (JSON), and stay in their study
group after the run when its learners are about to be forgotten (courses.privacy).

"Keep me in the group" is a page with a button: the GET changes nothing (mail scanners open links), the
POST records the learner's consent.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.models import Enrollment
from courses.privacy import STAYING, keep_in_group, learner_data
from mail.retention import mails_of
from server.floor import urls
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web.csrf import posted_form
from web.errors import error_response
from web.flash import flash
from web.learner_links import place_of
from web.templating import render


def data_download(request: Request) -> Response:
    """GET /me/{token}/data.json: everything we keep about the learner, as a file to save."""
    token = request.path_params["token"]
    with session_scope() as session:
        enrollment = place_of(session, token)
        data = learner_data(session, enrollment)
        identity = Enrollment.email == enrollment.email if enrollment.email else Enrollment.id == enrollment.id
        places = list(session.scalars(select(Enrollment.id).where(identity)))
        data["mails"] = mails_of(session, places, enrollment.email)
        name = f"mechmooc-{enrollment.run.handle}-data.json"
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type="application/json; charset=utf-8", headers=headers)


def _keep_context(enrollment: Enrollment, token: str) -> dict[str, Any]:
    run, group = enrollment.run, enrollment.group
    return {
        "token": token,
        "me": enrollment,
        "course_title": run.course.title,
        "run_handle": run.handle,
        "closes": run.anonymise_at if not run.anonymised else None,
        "kept": enrollment.keep_consent_at,
        "group": None if group is None else {"name": group.name or group.handle,
                                             "address": urls.group_address(group.handle)},
        "may_stay": group is not None and enrollment.status in STAYING and bool(enrollment.email)
        and run.status == "finished" and run.anonymise_at is not None and not run.anonymised,
    }  # fmt: skip


def keep_page(request: Request) -> Response:
    """GET /me/{token}/keep: what staying in the group after the run means, and the button."""
    token = request.path_params["token"]
    with session_scope() as session:
        enrollment = place_of(session, token)
        return render(request, "learner/keep.html", _keep_context(enrollment, token))


def keep_submit(request: Request) -> Response:
    """POST /me/{token}/keep: stay in the group (choice=stay), or take that back (choice=leave)."""
    token = request.path_params["token"]
    choice = str(posted_form(request).get("choice", "stay"))
    if choice not in ("stay", "leave"):
        return error_response(request, 400, f"choice: {choice[:40]!r} is not one of stay, leave")
    try:
        with write_scope() as session:
            enrollment = keep_in_group(session, token, stay=choice == "stay")
            group = enrollment.group
            name = (group.name or group.handle) if group is not None else "your group"
    except NotFound:
        return render(request, "learner/invalid.html", status=404)
    except Invalid as error:
        flash(request, str(error)[:1].upper() + str(error)[1:], "error")
        return RedirectResponse(f"/me/{token}/keep", status_code=303)
    done = (
        f"You stay in {name}: we keep your name and address for it. You can leave it any time from your page."
        if choice == "stay"
        else f"Noted: the list of {name} closes for you on the date we told you."
    )
    flash(request, done, "success")
    return RedirectResponse(f"/me/{token}/keep", status_code=303)


def routes() -> list[BaseRoute]:
    """The learner's data download and the 'keep me in the group' page."""
    return [
        Route("/me/{token}/data.json", data_download),
        Route("/me/{token}/keep", keep_page),
        Route("/me/{token}/keep", keep_submit, methods=["POST"]),
    ]
