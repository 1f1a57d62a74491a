"""The Starlette application, assembled from the routes of each package."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.floor.config import get_settings
from server.floor.settings import Settings


async def healthz(request: Request) -> JSONResponse:
    """Database, broker, worker heartbeat and `serve`'s children: 200 when all are well (status "degraded"
    when the disk runs low), 503 otherwise."""
    from server.roof.health import health

    uptime = time.monotonic() - request.app.state.started
    # `serve` puts its worker and scheduler here when it runs them, so crash loops show.
    children = getattr(request.app.state, "children", None)
    report_children = children.report() if children is not None else None
    healthy, report = await run_in_threadpool(health, get_settings(), uptime, report_children)
    return JSONResponse(report, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})


def create_app(settings: Settings | None = None) -> Starlette:
    """The whole web app: protocol endpoints (federation, mail) and pages for people (web)."""
    import federation.entry.routes
    import mail.routes
    import web.app

    settings = settings or get_settings()
    routes = [
        Route("/healthz", healthz),
        *federation.entry.routes.routes(),
        *mail.routes.routes(),
        *web.app.routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=web.app.middleware(settings),
        exception_handlers=web.app.exception_handlers(),
    )
    app.state.started = time.monotonic()
    return app
