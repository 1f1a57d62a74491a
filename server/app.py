"""The Starlette application, assembled from the routes of each package."""

from __future__ import annotations

from starlette.applications import Starlette

from server.config import get_settings
from server.settings import Settings


def create_app(settings: Settings | None = None) -> Starlette:
    """The whole web app: protocol endpoints (federation, mail) and pages for people (web)."""
    import federation.routes
    import mail.routes
    import web.app

    settings = settings or get_settings()
    routes = [*federation.routes.routes(), *mail.routes.routes(), *web.app.routes()]
    return Starlette(
        routes=routes,
        middleware=web.app.middleware(settings),
        exception_handlers=web.app.exception_handlers(),
    )
