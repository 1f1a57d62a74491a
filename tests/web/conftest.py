"""Fixtures for the web shell: an app of the web routes plus a few machine endpoints, accounts, login."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, profiles
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import server.floor.accounts
import server.roof.app
import web.app
from server.floor.accounts import create_account
from server.floor.db import session_scope
from server.floor.errors import NotFound
from server.floor.settings import Settings
from tests.support.browser import browser_page, chromium, live_server  # noqa: F401  (fixtures)
from web.auth import require_role
from web.csrf import posted_form

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def machine_endpoint(request: Request) -> Response:
    """Stands for a webhook, an inbox or an API call: no browser session, no CSRF token."""
    return JSONResponse({"ok": True, "body": (await request.body()).decode()})


def form_echo(request: Request) -> Response:
    """Echoes what the CSRF middleware handed on, including an uploaded file's size."""
    form = posted_form(request)
    upload = form.get("upload")
    size = len(upload.file.read()) if upload is not None and not isinstance(upload, str) else -1
    return PlainTextResponse(f"title={form.get('title')} size={size}")


@require_role("organizer")
def organizers_only(request: Request) -> Response:
    """A page guarded the way course editors will be."""
    return PlainTextResponse("for organizers")


def missing_course(request: Request) -> Response:
    """A domain error escaping a handler."""
    raise NotFound("course 'no-such-course' does not exist")


def broken(request: Request) -> Response:
    """An unexpected bug."""
    raise RuntimeError("boom")


def build_app(settings: Settings) -> Starlette:
    """The web shell as the roof mounts it, with test routes standing for other packages."""
    extra = [
        Route("/mail/webhook", machine_endpoint, methods=["POST"]),
        Route("/inbox", machine_endpoint, methods=["POST"]),
        Route("/users/{handle}/inbox", machine_endpoint, methods=["POST"]),
        Route("/api/signup", machine_endpoint, methods=["POST"]),
        Route("/api/things", lambda request: JSONResponse({"things": []})),
        Route("/test/echo", form_echo, methods=["POST"]),
        Route("/test/organizers", organizers_only),
        Route("/test/missing", missing_course),
        Route("/test/broken", broken),
    ]
    return Starlette(
        routes=[*extra, *web.app.routes()],
        middleware=web.app.middleware(settings),
        exception_handlers=web.app.exception_handlers(),
    )


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with its cheapest parameters: the same code path, without 0.1-0.5 s per hash."""
    monkeypatch.setattr(server.floor.accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def app(settings: Settings) -> Starlette:
    """The web shell on a fresh instance (SQLite and PostgreSQL)."""
    return build_app(settings)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """A browser-like client with its own cookie jar."""
    with TestClient(app, base_url="http://testserver.localhost") as test_client:
        yield test_client


@pytest.fixture
def uncached(settings: Settings) -> Iterator[TestClient]:
    """A client of the whole app with the public page cache off (web.page_cache): every GET renders."""
    app = server.roof.app.create_app(dataclasses.replace(settings, page_cache_seconds=0))
    with TestClient(app, base_url="http://testserver.localhost") as test_client:
        yield test_client


@pytest.fixture
def people(settings: Settings) -> dict[str, str]:
    """One account per role; maps the role to the email address (password PASSWORD)."""
    emails = {"admin": "ada@example.org", "organizer": "otto@example.org", "learner": "lena@example.org"}
    with session_scope() as db:
        for role, email in emails.items():
            create_account(db, email, PASSWORD, role=role)
    return emails


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a form page hands this client."""
    match = CSRF.search(client.get(path).text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    """Submit the login form as a browser would."""
    token = csrf_of(client)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
