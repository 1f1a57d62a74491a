"""Signing up for a run from a web form, and the double opt-in confirmation page.

The form answers the same page, with the same status, whether or not the address was signed up
already: `courses.signup.request_signup` never says, and neither may we. The run page, the
embeddable form and the JSON endpoint all go through `submit_signup`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses import signup, versions
from courses.models import Run
from courses.runs import accepts_signups, find_run, run_for_signup
from courses.signup_limits import count_signup
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, MechMoocError, NotFound, RateLimited
from web.csrf import posted_form
from web.pages.accounts import client_key
from web.templating import render

SIGNED_UP = (
    "Thank you. Check your inbox: we sent a link to confirm your place. If nothing arrives, look in the spam folder."
)
FEDIVERSE_JOINED = (
    "Almost there: we sent a direct post with a confirmation link to that fediverse account. "
    "Once you open it, each unit will arrive as a post addressed to the account."
)
FORM_FIELDS = ("email", "name", "timezone", "language", "handle")
# What the form says when a fediverse handle cannot be used, whatever the reason: what a lookup met
# (another server's addresses, statuses or documents) is for the log, not for whoever typed the name.
HANDLE_UNUSABLE = (
    "We could not reach that fediverse account. Check the handle (like @name@example.social) and try again."
)
log = logging.getLogger(__name__)


@dataclass
class SignupAttempt:
    """What a signup form held, and what is wrong with it (field name → sentence)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    retry_after: int | None = None  # seconds, when a signup limit was reached (HTTP 429)

    @property
    def ok(self) -> bool:
        """True when the signup went through (or looks as if it did: never reveal who exists)."""
        return bool(self.message) and not self.errors


def questions_of(session: Session, run: Run) -> list[dict[str, Any]]:
    """The extra signup questions of the version `run` pinned."""
    return list(versions.pinned(session, run).get("questions") or [])


def form_context(session: Session, run: Run, attempt: SignupAttempt | None = None) -> dict[str, Any]:
    """What templates/signup/_form.html needs: the run, its questions, zones, values and errors."""
    attempt = attempt or SignupAttempt()
    snapshot = versions.pinned(session, run)
    try:
        target = run_for_signup(session, run, now())
        closed_reason = ""
    except Invalid as error:
        target, closed_reason = None, str(error)
    return {
        "run": run,
        "course_title": snapshot.get("title", run.handle),
        "target": target,
        "redirected": target is not None and target.id != run.id,
        "closed_reason": closed_reason,
        "open_here": accepts_signups(session, run, now()),
        "questions": questions_of(session, run),
        "send_time": snapshot.get("send_time", "09:00"),
        "language": snapshot.get("language", "en"),
        "groups_by_language": "language" in (snapshot.get("group_by") or []),
        "values": {"timezone": "UTC", **attempt.values},
        "errors": attempt.errors,
    }


def _field_of(message: str, questions: list[dict[str, Any]]) -> str:
    """The form field an Invalid message is about (its messages start with the field's name)."""
    for question in questions:
        if message.startswith(f"answer to {question['id']}") or f"({question['id']})" in message:
            return f"q_{question['id']}"
    for name in ("email", "name", "timezone", "language"):
        if message.startswith(name):
            return name
    return "form"


def _text(form: FormData | dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def attempt_from(values: FormData | dict[str, Any], questions: list[dict[str, Any]]) -> SignupAttempt:
    """The typed-in values of a signup form (or JSON body), answers under q_<id>."""
    kept: dict[str, Any] = {name: _text(values, name) for name in FORM_FIELDS}
    kept["solo"] = _text(values, "solo") in {"1", "on", "yes", "true"} or values.get("solo") is True
    for question in questions:
        kept[f"q_{question['id']}"] = _text(values, f"q_{question['id']}")
    return SignupAttempt(values=kept)


def submit_signup(handle: str, values: FormData | dict[str, Any], client: str) -> tuple[SignupAttempt, int]:
    """Sign up (email: double opt-in; handle: fediverse join) from the address `client`, and the
    attempt with its HTTP status (429 with `retry_after` when a signup limit is reached)."""
    limited = _over_limit(handle, values, client)
    if limited is not None:
        return limited, 429
    # A fediverse handle is looked up before the write transaction opens: fetching while holding
    # SQLite's write lock would let a slow remote server stall every write of the instance.
    actor_id, lookup_error = _look_up_handle(handle, values)
    with write_scope() as session:
        run = find_run(session, handle)
        questions = questions_of(session, run)
        attempt = attempt_from(values, questions)
        data = attempt.values
        if not data["email"] and not data["handle"]:
            attempt.errors["email"] = "Email address: enter the address the units should go to, or a fediverse handle."
            return attempt, 400
        answers = {q["id"]: data[f"q_{q['id']}"] for q in questions}
        try:
            with session.begin_nested():
                if data["email"]:
                    signup.request_signup(
                        session, run, data["email"], data["name"], data["timezone"] or "UTC",
                        language=data["language"] or None, answers=answers, solo=data["solo"],
                    )  # fmt: skip
                    attempt.message = SIGNED_UP
                else:
                    if lookup_error is not None or actor_id is None:
                        raise lookup_error or Invalid("fediverse handle: it could not be looked up")
                    _join_by_handle(session, run, actor_id)
                    attempt.message = FEDIVERSE_JOINED
        except Invalid as error:
            where = _field_of(str(error), questions) if data["email"] else "handle"
            attempt.errors[where] = _sentence(str(error))
            return attempt, 400
        except MechMoocError as error:
            if data["email"]:
                attempt.errors["form"] = _sentence(str(error))
            else:
                log.info("signup for %s: fediverse handle %r: %s", handle, data["handle"], error)
                attempt.errors["handle"] = HANDLE_UNUSABLE
            return attempt, 400
    return attempt, 200


def _over_limit(handle: str, values: FormData | dict[str, Any], client: str) -> SignupAttempt | None:
    """Count the attempt against the signup limits (courses.signup_limits), in a transaction of its own so
    that it stays counted whatever follows, and before any lookup or mail; the refused attempt if over."""
    with write_scope() as session:
        run = find_run(session, handle)  # a run that does not exist is a 404, counted against nothing
        try:
            count_signup(session, client, _text(values, "email") or _text(values, "handle"), run.handle)
        except RateLimited as error:
            attempt = attempt_from(values, questions_of(session, run))
            attempt.errors["form"] = str(error)
            attempt.retry_after = error.retry_after
            return attempt
    return None


def _look_up_handle(run_handle: str, values: FormData | dict[str, Any]) -> tuple[str | None, MechMoocError | None]:
    """The actor id of the typed-in fediverse handle, fetched with no transaction open; or the error."""
    from federation.transport.fetch import prefetch

    handle = _text(values, "handle")
    if not handle or _text(values, "email"):
        return None, None
    if "@" not in handle.lstrip("@") and not handle.startswith(("https://", "http://")):
        return None, Invalid(f"fediverse handle {handle!r} must look like @name@example.social")
    with session_scope() as session:
        find_run(session, run_handle)  # no lookup for a run that does not exist (NotFound: 404)
    try:
        return prefetch(handle), None
    except Invalid as error:
        return None, error  # about the handle as it was typed
    except MechMoocError as error:
        log.info("signup for %s: fediverse handle %r could not be looked up: %s", run_handle, handle, error)
        return None, Invalid(HANDLE_UNUSABLE)


def _join_by_handle(session: Session, run: Run, actor_id: str) -> None:
    """The fediverse path of the form: the federation package enrolls the account (looked up already)."""
    from federation.flows.cohorts import join_by_handle

    target = run_for_signup(session, run, now())  # a closed run says so
    try:
        join_by_handle(session, target, actor_id)
    except MechMoocError as error:
        # Its messages name what the handle resolved to (the actor's id, a block): not for the form.
        log.info("signup for %s: fediverse account %s: %s", run.handle, actor_id, error)
        raise Invalid(HANDLE_UNUSABLE) from None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def signup_submit(request: Request) -> Response:
    """POST /runs/{handle}/signup: on success go to the thank-you page, else the form with errors."""
    handle = request.path_params["handle"]
    attempt, status = submit_signup(handle, posted_form(request), client_key(request))
    if attempt.ok:
        kind = "fediverse" if not attempt.values.get("email") else "email"
        return RedirectResponse(f"/runs/{handle}/signed-up?by={kind}", status_code=303)
    with session_scope() as session:
        run = find_run(session, handle)
        context = {"form": form_context(session, run, attempt), "run": run, "course_title": run.course.title}
        response = render(request, "signup/form_page.html", context, status=status)
    if attempt.retry_after is not None:
        response.headers["Retry-After"] = str(attempt.retry_after)
    return response


def signed_up(request: Request) -> Response:
    """The page after a signup: the same words whether the address was new or known."""
    with session_scope() as session:
        run = find_run(session, request.path_params["handle"])
        message = FEDIVERSE_JOINED if request.query_params.get("by") == "fediverse" else SIGNED_UP
        return render(request, "signup/thanks.html", {"run": run, "course_title": run.course.title, "message": message})


def confirm_page(request: Request) -> Response:
    """GET: a button to confirm (link scanners in mail filters only GET, so they confirm nothing)."""
    token = request.path_params["token"]
    with session_scope() as session:
        try:
            enrollment = signup.by_token(session, token)
        except NotFound:
            return render(request, "signup/confirm_invalid.html", status=404)
        context = {
            "token": token,
            "enrollment": enrollment,
            "run": enrollment.run,
            "course_title": enrollment.run.course.title,
        }
        if enrollment.status != "pending":
            outcome = signup.Confirmation(enrollment, already=True)
            return render(request, "signup/confirmed.html", {**context, "message": outcome.message, "already": True})
        return render(request, "signup/confirm.html", context)


def confirm_submit(request: Request) -> Response:
    """POST: use the single-use link; a second use says the place is confirmed already."""
    token = request.path_params["token"]
    with write_scope() as session:
        try:
            outcome = signup.confirm(session, token)
        except NotFound:
            return render(request, "signup/confirm_invalid.html", status=404)
        enrollment = outcome.enrollment
        context = {
            "token": token, "enrollment": enrollment, "run": enrollment.run,
            "course_title": enrollment.run.course.title, "message": outcome.message, "already": outcome.already,
        }  # fmt: skip
        return render(request, "signup/confirmed.html", context)


def routes() -> list[BaseRoute]:
    """Signup form posts, the thank-you page and the confirmation link."""
    return [
        Route("/runs/{handle}/signup", signup_submit, methods=["POST"]),
        Route("/runs/{handle}/signed-up", signed_up),
        Route("/signup/confirm/{token}", confirm_page),
        Route("/signup/confirm/{token}", confirm_submit, methods=["POST"]),
    ]
