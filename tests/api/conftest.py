"""Fixtures of the client API tests: the whole app on a real port, people with passwords, and
`authorize_http` - the authorization code flow driven by an HTTP client holding a logged-in
session cookie (the same /login, consent form and /oauth/token a browser and an app use)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from argon2 import PasswordHasher, profiles

import server.floor.accounts
from server.floor.accounts import create_account
from server.floor.db import session_scope
from tests.support.browser import LiveServer, browser_page, chromium, live_server  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OOB = "urn:ietf:wg:oauth:2.0:oob"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with its cheapest parameters (the same code path, faster)."""
    monkeypatch.setattr(server.floor.accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@dataclass(frozen=True)
class Person:
    """A local account with a password."""

    email: str
    handle: str
    password: str = PASSWORD


def make_person(handle: str, role: str = "learner") -> Person:
    """Create an account (a learner unless told) and return how to log in as it."""
    email = f"{handle}@example.org"
    with session_scope() as db:
        account = create_account(db, email, PASSWORD, role=role)
        account.handle = handle
    return Person(email=email, handle=handle)


@pytest.fixture
def alice(live_server: LiveServer) -> Person:  # noqa: F811  (the fixture)
    """A learner called alice."""
    return make_person("alice")


@pytest.fixture
def bob(live_server: LiveServer) -> Person:  # noqa: F811  (the fixture)
    """A learner called bob."""
    return make_person("bob")


@contextmanager
def logged_in(base: str, person: Person) -> Iterator[httpx.Client]:
    """An HTTP client with a session cookie of `person` (through the login form)."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
        page = client.get("/login")
        token = CSRF.search(page.text)
        assert token, "no CSRF field on /login"
        form = {"email": person.email, "password": person.password, "csrf_token": token.group(1)}
        answer = client.post("/login", data=form)
        assert answer.status_code == 303, answer.text[:500]
        yield client


def authorize_http(
    base: str,
    person: Person,
    client_id: str,
    *,
    redirect_uri: str = OOB,
    scope: str = "read write follow push",
    extra: dict[str, str] | None = None,
    decision: str = "approve",
) -> str:
    """Run /oauth/authorize as `person` (consent form approved) and return the code."""
    with logged_in(base, person) as client:
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope}
        query.update(extra or {})
        page = client.get("/oauth/authorize?" + urlencode(query))
        assert page.status_code == 200, page.text[:800]
        token = CSRF.search(page.text)
        assert token
        form = {**query, "csrf_token": token.group(1), "decision": decision}
        answer = client.post("/oauth/authorize", data=form)
        if redirect_uri == OOB:
            assert answer.status_code == 200, answer.text[:800]
            found = re.search(r'id="oob-code"[^>]*value="([^"]+)"', answer.text)
            return found.group(1) if found else ""
        assert answer.status_code == 302, answer.text[:800]
        location = answer.headers["location"]
        assert location.startswith(redirect_uri)
        values = parse_qs(urlsplit(location).query)
        return (values.get("code") or values.get("error") or [""])[0]


@pytest.fixture
def server_url(live_server: LiveServer) -> Iterator[str]:  # noqa: F811  (the fixture)
    """The live server's base URL."""
    yield live_server.url
