"""The signup endpoint other sites call: JSON with CORS, and the target of the embeddable form.

`POST /api/runs/{handle}/signup` takes JSON (`email`, `name`, `timezone`, `language` (a tag such as
`fr`; the course's when left out), `solo`, `handle`, `answers` {question id: answer}) from a script on any origin, or the embeddable form's
urlencoded post from inside an iframe (where the session cookie is not sent, so the CSRF check
of the shell cannot apply; the shell exempts /api/). It never sets a cookie, and it answers the
same for a new address and one already signed up.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from courses.runs import find_run
from server.floor.db import session_scope
from server.floor.errors import Invalid, NotFound
from server.floor.untrusted import bounded_json_loads
from web.pages.accounts import client_key
from web.pages.runs import run_facts
from web.pages.signup import SignupAttempt, form_context, submit_signup
from web.templating import render

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Max-Age": "86400",
    "Vary": "Origin",
}
MAX_BODY = 64_000


def preflight(request: Request) -> Response:
    """OPTIONS: any origin may POST JSON here (no credentials are ever involved)."""
    return Response(status_code=204, headers=CORS_HEADERS)


def _json_values(raw: bytes) -> dict[str, Any]:
    """The JSON body flattened to the form's field names (answers under q_<id>)."""
    # Bounded depth: a deeply nested body is a 400 with a reason, not a RecursionError (500).
    data = bounded_json_loads(raw or b"{}", max_depth=8)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    values: dict[str, Any] = {k: v for k, v in data.items() if k != "answers" and isinstance(v, str | bool)}
    answers = data.get("answers") or {}
    if not isinstance(answers, dict):
        raise ValueError("answers must be an object of question id to answer")
    values.update({f"q_{key}": str(value) for key, value in answers.items()})
    return values


async def signup(request: Request) -> Response:
    """POST: sign up; JSON in → JSON out, the embeddable form's post → the embeddable page."""
    handle = request.path_params["handle"]
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"error": "the request is too large"}, status_code=413, headers=CORS_HEADERS)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            values = _json_values(raw)
        except Invalid as error:
            return JSONResponse({"error": str(error)}, status_code=400, headers=CORS_HEADERS)
        except ValueError as error:
            return JSONResponse({"error": f"malformed JSON: {error}"}, status_code=400, headers=CORS_HEADERS)
        try:
            attempt, status = await _in_thread(handle, values, client_key(request))
        except NotFound as error:
            return _no_such_run(error)
        body: dict[str, Any] = {"ok": True, "message": attempt.message}
        if not attempt.ok:
            body = {"ok": False, "errors": attempt.errors}
        if attempt.retry_after is not None:
            body |= {"error": attempt.errors.get("form", ""), "retry_after": attempt.retry_after}
        return JSONResponse(body, status_code=status, headers={**CORS_HEADERS, **_wait_headers(attempt)})
    form = await request.form()
    try:
        attempt, status = await _in_thread(handle, form, client_key(request))
    except NotFound as error:
        return _no_such_run(error)
    return await _embed_answer(request, handle, attempt, status)


async def _in_thread(handle: str, values: Any, client: str) -> tuple[SignupAttempt, int]:
    return await run_in_threadpool(submit_signup, handle, values, client)


def _wait_headers(attempt: SignupAttempt) -> dict[str, str]:
    """Retry-After when a signup limit was reached, readable by scripts on other origins too."""
    if attempt.retry_after is None:
        return {}
    return {"Retry-After": str(attempt.retry_after), "Access-Control-Expose-Headers": "Retry-After"}


def _no_such_run(error: NotFound) -> JSONResponse:
    """404 with the CORS headers, so a script on another site can read why."""
    return JSONResponse({"ok": False, "error": str(error)}, status_code=404, headers=CORS_HEADERS)


async def _embed_answer(request: Request, handle: str, attempt: SignupAttempt, status: int) -> Response:
    """The embeddable page again: the thank-you words, or the form with its errors."""

    def build() -> Response:
        with session_scope() as session:
            run = find_run(session, handle)
            context = {
                "run": run_facts(session, run),
                "form": form_context(session, run, attempt),
                "done": attempt.message if attempt.ok else "",
            }
            response = render(request, "runs/embed.html", context, status=status, embeddable=True)
        response.headers.update({**CORS_HEADERS, **_wait_headers(attempt)})
        return response

    return await run_in_threadpool(build)


def routes() -> list[BaseRoute]:
    """The JSON/CORS signup endpoint."""
    return [
        Route("/api/runs/{handle}/signup", preflight, methods=["OPTIONS"]),
        Route("/api/runs/{handle}/signup", signup, methods=["POST"]),
    ]
