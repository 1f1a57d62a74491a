"""The pages for people: routes, middleware and error pages that the roof mounts."""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route

from server.settings import Settings


async def home(request: Request) -> PlainTextResponse:
    """Placeholder home page until the web shell lands."""
    return PlainTextResponse("Mechanical MOOC")


def routes() -> list[BaseRoute]:
    """Every page route."""
    return [Route("/", home)]


def middleware(settings: Settings) -> list[Middleware]:
    """Sessions, CSRF and the like."""
    return []


def exception_handlers() -> dict[Any, Any]:
    """Error pages."""
    return {}
