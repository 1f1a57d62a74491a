"""Jinja2 for the pages: one autoescaping environment over web/templates and `render()`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from courses.zone_list import listed_zone, zone_regions
from server.floor.db import session_scope
from server.floor.instance import instance_info
from server.floor.untrusted import http_url
from web.auth import current_account
from web.csrf import csrf_input, csrf_token
from web.flash import pop_flashes
from web.headers import CSP, content_security_policy
from web.navigation import navigation
from web.social.unread import unread_notifications

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Admin-written text (description, rules) is Markdown; raw HTML in it is shown as text, and
# markdown-it refuses javascript: and similar link targets.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown(text: str | None) -> Markup:
    """Markdown rendered to safe HTML (raw HTML in the source is escaped)."""
    return Markup(_markdown.render(text or ""))


def safe_href(value: object) -> str:
    """A stored URL fit for an href: an http(s) URL or a path on this site; anything else is "#".

    Every stored or remote URL that becomes a link goes through this filter (`|href`), so a
    `javascript:` or `data:` URL that slipped past the input checks is never clickable.
    """
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value if http_url("http://localhost" + value) else "#"
    return http_url(value) or "#"


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


@lru_cache(maxsize=1024)
def zone_options(selected: str | None) -> Markup:
    """The time zone picker's <optgroup>s and <option>s, `selected` marked (a listed zone or None).

    Made once per selected zone: the ~600 options took a third of a run page's time as a Jinja loop."""
    lines = []
    for region in zone_regions():
        lines.append(f'<optgroup label="{escape(region.name)}">')
        for zone in region.zones:
            aliases = f' data-aliases="{escape(" ".join(zone.aliases))}"' if zone.aliases else ""
            chosen = " selected" if zone.name == selected else ""
            lines.append(f'<option value="{escape(zone.name)}"{aliases}{chosen}>{escape(zone.label)}</option>')
        lines.append("</optgroup>")
    return Markup("\n".join(lines))


def static_url(name: str) -> str:
    """The URL of a file in web/static, versioned by its content so browsers may cache it long."""
    return f"/static/{name}?v={_static_version(name)}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The page templates' environment (built once per process; it holds no request state)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.filters["href"] = safe_href
    env.globals["static_url"] = static_url
    env.globals["zone_regions"] = zone_regions  # the time zone picker (_zones.html)
    env.globals["zone_options"] = zone_options
    env.globals["listed_zone"] = listed_zone
    return env


def instance(request: Request) -> dict[str, str]:
    """The instance's name, description, rules and contact (read once per request)."""
    state = request.scope.setdefault("state", {})
    if "instance" not in state:
        with session_scope() as db:
            state["instance"] = instance_info(db)
    return state["instance"]  # type: ignore[no-any-return]


def page_context(request: Request) -> dict[str, Any]:
    """What every page template can use: account, instance, flashes, navigation, CSRF field."""
    account = current_account(request)
    return {
        "request": request,
        "account": account,
        "instance": instance(request),
        "flashes": pop_flashes(request),
        "nav": navigation(account, request.url.path),
        "csrf_input": lambda: csrf_input(request),
        "csrf_token": lambda: csrf_token(request),
        "unread_notifications": lambda: unread_notifications(request),
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
    *,
    embeddable: bool = False,
    inline_styles: bool = False,
) -> HTMLResponse:
    """Render `template` with the page context plus `context`; `embeddable` allows iframes.

    `inline_styles` relaxes the Content-Security-Policy for pages that preview mail HTML.
    """
    values = page_context(request)
    values.update(context or {})
    html = environment().get_template(template).render(values)
    # Pages carry a CSRF token or a person's own data: browsers may keep them, shared caches may not.
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "private, no-cache",
        CSP: content_security_policy(embeddable=embeddable, inline_styles=inline_styles),
    }
    if not embeddable:
        headers["X-Frame-Options"] = "DENY"
    return HTMLResponse(html, status_code=status, headers=headers)
