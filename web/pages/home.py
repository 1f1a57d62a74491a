"""The home page and the about page: who runs this instance, its rules, how to reach them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.untrusted import http_url
from web import welcome
from web.page_cache import public_page
from web.pages.catalogue import catalogue_context
from web.templating import instance, render


def home(request: Request) -> Response:
    """The instance's introduction and the catalogue of courses (and the first-run page's link while it is new)."""
    public_page(request)
    with session_scope() as session:
        first_steps = welcome.welcome(session).linked
    return render(request, "home.html", {"catalogue": catalogue_context(request), "first_steps": first_steps})


def contact_href(contact: str) -> str | None:
    """A link for the admin's contact: mailto: for an address, the URL itself for a web address."""
    value = contact.strip()
    if value.startswith(("https://", "http://")):
        return http_url(value)
    if "@" in value and " " not in value and not value.startswith("@"):
        return f"mailto:{value}"
    return None


def about(request: Request) -> Response:
    """Name, description, rules and contact, as the admin set them."""
    public_page(request)
    return render(
        request,
        "about.html",
        {"contact_href": contact_href(instance(request)["contact"]), "host": get_settings().host},
    )


def routes() -> list[BaseRoute]:
    """The home and about pages."""
    return [Route("/", home, name="home"), Route("/about", about, name="about")]
