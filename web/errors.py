"""Error pages for people (403, 404, 405, 500 ...) and plain JSON for machine requests."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from jinja2 import TemplateError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from server.floor.db import RETRY_AFTER_SECONDS, unavailable
from server.floor.disk import RETRY_AFTER as DISK_RETRY_AFTER
from server.floor.disk import disk_full
from server.floor.errors import Invalid, NotFound, PermissionDenied, RateLimited
from server.floor.instance import DEFAULTS
from web.headers import CSP, STRICT
from web.learner_links import InvalidLink, invalid_link
from web.templating import environment, render

TITLES = {
    400: "That request could not be handled",
    413: "That is too large",
    401: "Please log in",
    403: "You may not do that",
    404: "Page not found",
    405: "Method not allowed",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
DISK_FULL = (
    "The server's disk is full, so nothing can be saved right now and what you sent was not kept. "
    "Please try again in a few minutes."
)
DATABASE_AWAY = (
    "The database cannot be reached right now (it may be restarting), so nothing was read or saved. "
    "Please try again in a few seconds."
)
log = logging.getLogger("mechmooc.web")
JSON_TYPES = ("application/json", "application/activity+json", "application/ld+json", "application/jrd+json")
MACHINE_PREFIXES = ("/api/", "/.well-known/", "/nodeinfo", "/mail/")


def wants_json(request: Request) -> bool:
    """True for API and ActivityPub callers, which get `{"error": ...}` instead of a page."""
    if request.url.path.startswith(MACHINE_PREFIXES) or request.url.path.endswith("/inbox"):
        return "text/html" not in request.headers.get("accept", "")
    accept = request.headers.get("accept", "")
    return any(kind in accept for kind in JSON_TYPES) and "text/html" not in accept


def error_response(request: Request, status: int, detail: str = "", headers: dict[str, str] | None = None) -> Response:
    """The error page (or JSON) for `status`, with a sentence the visitor can act on."""
    title = TITLES.get(status, "Error")
    if wants_json(request):
        return JSONResponse({"error": detail or title}, status_code=status, headers=headers)
    response = render(request, "error.html", {"status": status, "title": title, "detail": detail}, status=status)
    response.headers.update(headers or {})
    return response


def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's HTTPException (404 for unknown paths, 405 from the router, our own 403s)."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.detail and exc.detail != _default_phrase(exc.status_code) else ""
    return error_response(request, exc.status_code, detail, headers=dict(exc.headers or {}))


def domain_error(request: Request, exc: Exception) -> Response:
    """The floor's user-facing errors: NotFound → 404, PermissionDenied → 403, Invalid → 400,
    RateLimited → 429 with Retry-After."""
    if isinstance(exc, RateLimited):
        return error_response(request, 429, str(exc), headers={"Retry-After": str(exc.retry_after)})
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) else 400
    return error_response(request, status, str(exc))


def server_error(request: Request, exc: Exception) -> Response:
    """500: a page that needs neither the database nor the session (either may be what failed);
    503 with Retry-After when the disk is full (ENOSPC, or the database saying so), which passes."""
    # Starlette re-raises the exception after this answer, so the server logs it with its traceback.
    if disk_full(exc):
        return _static_error(request, 503, DISK_FULL, {"Retry-After": str(DISK_RETRY_AFTER)})
    if unavailable(exc):  # raised outside the routes (a middleware): the same answer as database_error's
        return _static_error(request, 503, DATABASE_AWAY, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return _static_error(request, 500, "The error has been logged. Please try again in a moment.")


def database_error(request: Request, exc: Exception) -> Response:
    """503 with Retry-After while the database cannot be reached (a restart, a failover, no free connection),
    one log line each instead of a traceback; any other database error is a bug, a logged 500."""
    if disk_full(exc) or not unavailable(exc):
        raise exc  # to server_error, through Starlette's outermost middleware, which logs it
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, _first_line(exc))
    return _static_error(request, 503, DATABASE_AWAY, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _first_line(exc: Exception) -> str:
    return (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0][:200]


def _static_error(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    headers = headers or {}
    if wants_json(request):
        return JSONResponse({"error": TITLES[status] if status == 500 else detail}, status_code=status, headers=headers)
    context: dict[str, Any] = {
        "request": request,
        "account": None,
        "instance": dict(DEFAULTS),
        "flashes": [],
        "nav": [],
        "csrf_input": lambda: "",
        "csrf_token": lambda: "",
        "status": status,
        "title": TITLES[status],
        "detail": detail,
    }
    try:
        html = environment().get_template("error.html").render(context)
    except TemplateError:
        html = f"<!doctype html><title>{TITLES[status]}</title><h1>{TITLES[status]}</h1>"
    # Sent by Starlette's outermost middleware, outside SecurityHeadersMiddleware: set the policy here.
    return HTMLResponse(html, status_code=status, headers={**headers, CSP: STRICT, "X-Content-Type-Options": "nosniff"})


def _default_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def exception_handlers() -> dict[Any, Any]:
    """Handlers to give the Starlette app (the roof passes them on)."""
    return {
        HTTPException: http_exception,
        InvalidLink: invalid_link,
        NotFound: domain_error,
        PermissionDenied: domain_error,
        Invalid: domain_error,
        RateLimited: domain_error,
        DBAPIError: database_error,
        PoolTimeout: database_error,
        Exception: server_error,
    }
