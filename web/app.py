"""The pages for people: routes, middleware and error pages that the roof mounts.

To add pages, write a module under web/pages/ with a `routes()` function and list it in
PAGE_MODULES (see web/README.md).
"""

from __future__ import annotations

import importlib
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

import web.api
from server.floor.errors import SettingsError
from server.floor.settings import Settings
from web.api.cors import ApiHeadersMiddleware
from web.csrf import CSRFMiddleware
from web.errors import error_response
from web.errors import exception_handlers as _exception_handlers
from web.headers import SecurityHeadersMiddleware
from web.limits import BodyLimitMiddleware
from web.page_cache import PageCacheMiddleware
from web.proxies import ForwardedClientMiddleware
from web.templating import STATIC_DIR

# Each module has `routes() -> list[BaseRoute]`; their order is the order routes are tried.
PAGE_MODULES = (
    "web.pages.home",
    "web.pages.welcome",
    "web.pages.accounts",
    "web.pages.login_link",
    "web.pages.login_mail",
    "web.pages.admin",
    "web.pages.admin_accounts",
    "web.pages.admin_moderation",
    "web.pages.admin_queues",
    # Moderation of the community (mod helper): the report form, the queue, accounts, domains, audit.
    "web.pages.moderation",
    "web.pages.admin_reports",
    "web.pages.admin_sanctions",
    # People (people helper): sign-up, invites and approval.
    "web.pages.registration",
    "web.pages.admin_registrations",
    "web.pages.settings_profile",
    "web.pages.settings_notifications",
    "web.pages.media",
    # The course world's pages (courses web-pages engineer).
    "web.pages.api_signup",
    "web.pages.courses",
    "web.pages.units",
    "web.pages.runs",
    "web.pages.signup",
    "web.pages.learner",
    "web.pages.learner_claim",
    "web.pages.alumni",
    "web.pages.learner_privacy",
    "web.pages.groups",
    "web.pages.organize",
    "web.pages.organize_remote",
    "web.pages.organize_privacy",
    "web.pages.organize_units",
    "web.pages.organize_runs",
    "web.pages.organize_closing",
    "web.pages.organize_activity",
    # The mail package's pages (mail engineer): unsubscribe confirmation, run mail dashboard, outbox admin.
    "web.pages.mail_unsubscribe",
    "web.pages.mail_organize",
    "web.pages.mail_admin",
    # The community's pages (web helper): profiles, compose (before statuses: its /edit POST),
    # threads and their buttons, relations (after statuses: /@handle/{action}), timelines,
    # notifications, search. Federation's ActivityPub routes come first and match only AP requests.
    "web.pages.people",
    "web.pages.compose",
    "web.pages.statuses",
    "web.pages.relations",
    "web.pages.timelines",
    "web.pages.notifications_page",
    "web.pages.search_page",
)
SESSION_COOKIE = "mechmooc_session"
SESSION_DAYS = 14


def routes() -> list[BaseRoute]:
    """The Mastodon client API (web.api), every page route, then the static files under /static."""
    collected: list[BaseRoute] = list(web.api.routes())
    for name in PAGE_MODULES:
        collected.extend(importlib.import_module(name).routes())
    collected.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return collected


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the client address behind trusted proxies, security headers of HTML pages,
    the signed session cookie, body size limits, then CSRF checks on every unsafe request."""
    if not settings.secret_key:
        # boot() stores a generated key in the data dir; an empty one would make cookies forgeable.
        raise SettingsError("MECHMOOC_SECRET_KEY is empty: session cookies cannot be signed")
    return [
        Middleware(ForwardedClientMiddleware, trusted=settings.trusted_proxies),
        # The client API's CORS preflights and rate-limit headers (web.api.cors).
        Middleware(ApiHeadersMiddleware),
        Middleware(SecurityHeadersMiddleware),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_DAYS * 24 * 3600,
            same_site="lax",
            https_only=settings.url.startswith("https://"),
        ),
        # Inside the session (whose contents say whether the visitor is anonymous): public pages kept.
        Middleware(PageCacheMiddleware, seconds=settings.page_cache_seconds),
        # Inside the session: its 413 page shows who is logged in, like every other page.
        Middleware(BodyLimitMiddleware, refuse=error_response),
        Middleware(CSRFMiddleware, refuse=error_response),
    ]


def exception_handlers() -> dict[Any, Any]:
    """Error pages (HTML for people, JSON for API and ActivityPub callers)."""
    return _exception_handlers()
