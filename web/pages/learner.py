"""The learner's own page, opened by the magic link in every mail: no password, the link is the key.

Every change is a POST form with the CSRF token; the token in the path names the place (an
enrollment) it acts on. "Find my group" mails the links again and never says whether an address
is known.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses import learner as learner_service
from courses.addresses import check_email
from courses.claims import claim_state
from courses.groups import grouping_at, has_groups
from courses.models import Enrollment
from courses.runs import next_run
from server.floor import ratelimit, urls
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound
from web import throttle
from web.csrf import posted_form
from web.flash import flash
from web.learner_links import place_of
from web.templating import render

# "Mail me a link" on the learner's page: a few an hour per address, the mails go to that address only.
FIND_PER_EMAIL, LINK_PER_EMAIL = throttle.FIND_PER_EMAIL, throttle.LINK_PER_EMAIL
FIND_SENT = "If {email} has a place in a run here, a mail with your personal links is on its way."
VISIBLE = ("pending", "confirmed", "waitlisted", "paused")


def places_of(session: Session, enrollment: Enrollment) -> list[Enrollment]:
    """Every place the same person (same address or fediverse account) holds, newest run first."""
    identity = Enrollment.email == enrollment.email if enrollment.email else Enrollment.actor == enrollment.actor
    query = select(Enrollment).where(identity).order_by(Enrollment.id.desc())
    return [place for place in session.scalars(query) if place.id == enrollment.id or place.status in VISIBLE]


def place_view(session: Session, place: Enrollment) -> dict[str, Any]:
    """One place as the page shows it: run, status, group and what may be done.

    Never its token: the page of one place must not open the others (whoever holds one link, an
    organizer who enrolled the address for instance, would reach every run of the person). The
    others' links go by mail to the person's address ("mail me a link").
    """
    run = place.run
    group = place.group
    following = next_run(session, run) if place.status in ("confirmed", "paused", "waitlisted") else None
    return {
        "id": place.id,
        "mailable": bool(place.email),
        "status": place.status,
        "course_title": run.course.title,
        "course_slug": run.course.slug,
        "run_handle": run.handle,
        "run_start": run.start_date,
        "run_status": run.status,
        "solo": place.solo,
        # When the groups form, until they do (then: a group, or "solo", or waiting for a seat).
        "groups_form_at": grouping_at(run) if grouping_at(run) > now() and not has_groups(session, run) else None,
        "group": None
        if group is None
        else {"name": group.name, "handle": group.handle, "address": urls.group_address(group.handle)},
        "next_run": None if following is None else {"handle": following.handle, "start": following.start_date},
        # A place one left can be taken back from the same page while the run lasts and has a free seat.
        "rejoin_refusal": learner_service.rejoin_refusal(session, place) if place.status == "left" else None,
    }


def sample_page(request: Request) -> Response:
    """GET /me/sample: where the links of previews and test mails lead (nobody's page)."""
    return render(request, "learner/sample.html")


def me_page(request: Request) -> Response:
    """GET /me/{token}: the learner's runs and groups, and the forms to change them."""
    token = request.path_params["token"]
    with session_scope() as session:
        enrollment = place_of(session, token)
        context = {
            "token": token,
            "me": enrollment,
            "here": place_view(session, enrollment),
            "places": [place_view(session, place) for place in places_of(session, enrollment)],
            "claim": claim_state(session, enrollment),
            "errors": {},
        }
        return render(request, "learner/me.html", context)


def _act(
    request: Request, action: Callable[[Session, str], Enrollment], done: str | Callable[[Session, Enrollment], str]
) -> Response:
    """Run one learner operation on the place of the path's token and come back to the page; `done` says what
    happened (or makes the sentence from the place, in the transaction)."""
    token = request.path_params["token"]
    try:
        with write_scope() as session:
            enrollment = action(session, token)
            if callable(done):
                done = done(session, enrollment)
    except NotFound:
        return render(request, "learner/invalid.html", status=404)
    except Invalid as error:
        flash(request, str(error)[:1].upper() + str(error)[1:], "error")
        return RedirectResponse(f"/me/{token}", status_code=303)
    flash(request, done, "success")
    return RedirectResponse(f"/me/{token}", status_code=303)


def change_details(request: Request) -> Response:
    """POST /me/{token}/details: a new name and/or time zone."""
    form = posted_form(request)
    name = form.get("name")
    timezone = form.get("timezone")

    def change(session: Session, token: str) -> Enrollment:
        return learner_service.change_details(
            session,
            token,
            name=name if isinstance(name, str) else None,
            timezone=timezone if isinstance(timezone, str) and timezone else None,
        )

    return _act(request, change, "Saved. Units now come at the course's send time in your time zone.")


def pause(request: Request) -> Response:
    """POST /me/{token}/pause."""
    return _act(request, learner_service.pause, "Paused: no units until you resume. Your place and group are kept.")


def resume(request: Request) -> Response:
    """POST /me/{token}/resume."""
    return _act(request, learner_service.resume, "Welcome back: units come again.")


def leave_form(request: Request) -> Response:
    """GET /me/{token}/leave: what leaving means, and the button that does it (nothing leaves on a GET)."""
    token = request.path_params["token"]
    with session_scope() as session:
        enrollment = place_of(session, token)
        if enrollment.status not in ("confirmed", "paused", "waitlisted"):
            return RedirectResponse(f"/me/{token}", status_code=303)
        context = {"token": token, "me": enrollment, "here": place_view(session, enrollment)}
        return render(request, "learner/leave.html", context)


def leave(request: Request) -> Response:
    """POST /me/{token}/leave (from the confirmation page)."""

    def said(session: Session, place: Enrollment) -> str:
        can_undo = learner_service.rejoin_refusal(session, place) is None
        undo = " Changed your mind? Rejoin below, while the run lasts and a seat is free." if can_undo else ""
        return "You left the run: nothing more will be sent about it." + undo

    return _act(request, learner_service.leave, said)


def rejoin(request: Request) -> Response:
    """POST /me/{token}/rejoin: take back the place one left."""

    def said(session: Session, place: Enrollment) -> str:
        group = f" You are in {place.group.name}." if place.group else ""
        return "Welcome back: your place in the run is yours again and the units come again." + group

    return _act(request, learner_service.rejoin, said)


def move_next(request: Request) -> Response:
    """POST /me/{token}/next: move the place to the next run of the course, saying when it starts."""

    def said(session: Session, place: Enrollment) -> str:
        start = place.run.start_date.isoformat()
        if place.status == "waitlisted":
            return f"Moved to the run starting {start}: it is full, so you are on its waiting list."
        return f"Moved: your place is in the run starting {start}. Its first unit comes that day."

    return _act(request, learner_service.move_to_next_run, said)


def mail_place_link(request: Request) -> Response:
    """POST /me/{token}/places/{place}/link: mail the magic link of another place of the same person to
    their address (rate-limited); the page never shows it."""
    token, wanted = request.path_params["token"], request.path_params["place"]
    with write_scope() as session:
        enrollment = place_of(session, token)
        place = next((p for p in places_of(session, enrollment) if p.id == wanted and p.id != enrollment.id), None)
        if place is None or not place.email:
            raise HTTPException(404, f"place {wanted} is not another place of yours with an address to mail to")
        address = place.email
        wait = ratelimit.reserve(session, [(LINK_PER_EMAIL, address.lower())])
        if isinstance(wait, timedelta):
            flash(
                request,
                f"Links were mailed several times already: try again in {ratelimit.minutes(wait)} minutes.",
                "error",
            )
            return RedirectResponse(f"/me/{token}", status_code=303)
        _queue_links(session, address, [place])
        title = place.run.course.title
    flash(request, f"The link to your place in {title} is on its way to {address}.", "success")
    return RedirectResponse(f"/me/{token}", status_code=303)


def find_form(request: Request) -> Response:
    """GET /find-my-group: ask for the address to mail the links to."""
    return render(request, "learner/find.html", {"email": "", "errors": {}})


def find_submit(request: Request) -> Response:
    """POST /find-my-group: mail the personal links; the same answer for known and unknown addresses."""
    raw = str(posted_form(request).get("email", "")).strip()
    try:
        email = check_email(raw)
    except Invalid:
        errors = {"email": "Email address: enter the address you signed up with, like name@example.org."}
        return render(request, "learner/find.html", {"email": raw, "errors": errors}, status=400)
    with write_scope() as session:
        if not isinstance(ratelimit.reserve(session, [(FIND_PER_EMAIL, email.lower())]), timedelta):
            mail_links(session, email)
    flash(request, FIND_SENT.format(email=email), "success")
    return RedirectResponse("/find-my-group", status_code=303)


def mail_links(session: Session, email: str) -> bool:
    """Queue one mail listing the learner's places with their magic links; False when there are none."""
    query = select(Enrollment).where(Enrollment.email == email, Enrollment.status.in_(VISIBLE))
    places = list(session.scalars(query.order_by(Enrollment.id.desc())))
    if not places:
        return False
    _queue_links(session, email, places)
    return True


def _queue_links(session: Session, email: str, places: list[Enrollment]) -> None:
    """One mail to `email` with the magic link of each of `places` (all of them that address's)."""
    from mail.outbox import queue_system_mail

    lines = []
    for place in places:
        group = f", group {urls.group_address(place.group.handle)}" if place.group else ""
        lines.append(
            f"- {place.run.course.title}, starting {place.run.start_date.isoformat()}{group}:\n  {urls.learner_page(place.token)}"
        )
    text = (
        "Hello,\n\nHere are your personal links. Each opens your page for one run: your study group, "
        "your time zone, pausing or leaving.\n\n" + "\n".join(lines) + "\n\nKeep them private: they are your key.\n"
    )
    queue_system_mail(session, email, "Your study group links", text)


def routes() -> list[BaseRoute]:
    """The learner's page, its actions and 'find my group'."""
    return [
        Route("/me/sample", sample_page),
        Route("/me/{token}", me_page, name="learner"),
        Route("/me/{token}/details", change_details, methods=["POST"]),
        Route("/me/{token}/pause", pause, methods=["POST"]),
        Route("/me/{token}/resume", resume, methods=["POST"]),
        Route("/me/{token}/leave", leave_form),
        Route("/me/{token}/leave", leave, methods=["POST"]),
        Route("/me/{token}/rejoin", rejoin, methods=["POST"]),
        Route("/me/{token}/next", move_next, methods=["POST"]),
        Route("/me/{token}/places/{place:int}/link", mail_place_link, methods=["POST"]),
        Route("/find-my-group", find_form, name="find_my_group"),
        Route("/find-my-group", find_submit, methods=["POST"]),
    ]
