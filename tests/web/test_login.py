"""Login and logout: passwords, session cookies, redirects, and rate limits kept in the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from server.floor import ratelimit
from server.floor.accounts import Account, hash_password
from server.floor.clock import frozen
from server.floor.db import session_scope
from server.floor.ratelimit import RateHit
from server.floor.settings import Settings
from tests.web.conftest import PASSWORD, build_app, csrf_of, log_in
from web import throttle
from web.auth import safe_next

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_bad_password_shows_an_error_and_keeps_the_address(client: TestClient, people: dict[str, str]) -> None:
    response = log_in(client, people["learner"], "not my password")
    assert response.status_code == 400
    assert "do not match an account" in response.text
    assert 'value="lena@example.org"' in response.text
    assert "Log out" not in response.text


def test_unknown_address_gives_the_same_error(client: TestClient, people: dict[str, str]) -> None:
    response = log_in(client, "nobody@example.org", PASSWORD)
    assert response.status_code == 400
    assert "do not match an account" in response.text


def test_good_password_logs_in_with_a_safe_cookie(client: TestClient, people: dict[str, str]) -> None:
    response = log_in(client, people["learner"])
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    home = client.get("/")
    assert "Welcome back, lena." in home.text
    assert "Log out" in home.text


def test_cookie_is_secure_on_an_https_instance(settings: Settings, people: dict[str, str]) -> None:
    app = build_app(replace(settings, url="https://courses.example.org"))
    with TestClient(app, base_url="https://courses.example.org") as client:
        response = log_in(client, people["learner"])
    assert "secure" in response.headers["set-cookie"].lower()


def test_login_returns_to_the_page_asked_for_but_never_off_site(client: TestClient, people: dict[str, str]) -> None:
    token = csrf_of(client, "/login?next=/admin/instance")
    form = {"email": people["admin"], "password": PASSWORD, "csrf_token": token, "next": "/admin/instance"}
    assert client.post("/login", data=form, follow_redirects=False).headers["location"] == "/admin/instance"
    assert safe_next("//evil.example/") == "/"
    assert safe_next("https://evil.example/") == "/"
    assert safe_next("/\\evil.example") == "/"
    assert safe_next("/courses/x?tab=runs") == "/courses/x?tab=runs"


def test_logout_is_post_only_and_ends_the_session(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    assert client.get("/logout").status_code == 405
    assert "Log out" in client.get("/").text
    response = client.post("/logout", data={"csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/")
    assert "You are logged out." in page.text
    assert "Log out" not in page.text


def test_changing_the_password_ends_other_sessions(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    with session_scope() as db:
        account = db.scalar(select(Account).where(Account.email == people["learner"]))
        assert account is not None
        account.password_hash = hash_password("a brand new password")
    assert "Log out" not in client.get("/").text


def test_disabled_account_cannot_log_in(client: TestClient, people: dict[str, str]) -> None:
    with session_scope() as db:
        account = db.scalar(select(Account).where(Account.email == people["organizer"]))
        assert account is not None
        account.disabled = True
    assert log_in(client, people["organizer"]).status_code == 400


def test_failures_are_counted_across_web_processes(settings: Settings, people: dict[str, str]) -> None:
    """Two app instances stand for two web processes: they share only the database."""
    first = TestClient(build_app(settings), base_url="http://testserver.localhost")
    second = TestClient(build_app(settings), base_url="http://testserver.localhost")
    with frozen(T0):
        for attempt in range(throttle.LOGIN_PER_EMAIL.attempts):
            process = first if attempt % 2 else second
            assert log_in(process, people["learner"], f"guess {attempt}").status_code == 400
        blocked = log_in(first, people["learner"])  # even the right password waits
        assert blocked.status_code == 429
        assert "Too many failed attempts. Try again in 15 minutes" in blocked.text
        assert int(blocked.headers["retry-after"]) == 15 * 60
        assert log_in(second, people["learner"]).status_code == 429
    with frozen(T0 + timedelta(minutes=15, seconds=1)):
        assert log_in(second, people["learner"]).status_code == 303


def test_success_forgets_earlier_failures(client: TestClient, people: dict[str, str]) -> None:
    for _ in range(throttle.LOGIN_PER_EMAIL.attempts - 1):
        log_in(client, people["learner"], "wrong")
    assert log_in(client, people["learner"]).status_code == 303
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    for _ in range(throttle.LOGIN_PER_EMAIL.attempts - 1):
        assert log_in(client, people["learner"], "wrong").status_code == 400
    assert log_in(client, people["learner"]).status_code == 303
    with session_scope() as db:
        assert db.query(RateHit).filter(RateHit.scope == throttle.LOGIN_PER_EMAIL.scope).count() == 0


def test_the_owner_logging_in_does_not_forgive_someone_elses_guesses(
    settings: Settings, people: dict[str, str]
) -> None:
    attacker = TestClient(build_app(settings), base_url="http://testserver.localhost")
    owner = TestClient(build_app(settings), base_url="http://testserver.localhost")
    with frozen(T0):
        guesses = throttle.LOGIN_PER_EMAIL.attempts - 2
        for attempt in range(guesses):
            assert log_in(attacker, people["learner"], f"guess {attempt}").status_code == 400
        assert log_in(owner, people["learner"], "typo").status_code == 400
        assert log_in(owner, people["learner"]).status_code == 303  # forgives the typo, not the guesses
        with session_scope() as db:
            scope = throttle.LOGIN_PER_EMAIL.scope
            left = db.scalars(select(RateHit.at).where(RateHit.scope == scope).order_by(RateHit.at)).all()
        assert len(left) == guesses + 1  # and the right password, for a minute
    with frozen(T0 + throttle.RIGHT_PASSWORD_COUNTED_FOR + timedelta(seconds=1)):
        # The attacker's guesses still count: only the two the limit leaves are checked.
        statuses = [log_in(attacker, people["learner"], f"more {n}").status_code for n in range(3)]
        assert statuses == [400, 400, 429]


def test_client_limit_counts_many_addresses(settings: Settings) -> None:
    limit = throttle.LOGIN_PER_CLIENT
    with session_scope() as db, frozen(T0):
        for _ in range(limit.attempts - 1):
            assert isinstance(ratelimit.reserve(db, [(limit, "203.0.113.9")]), list)
        assert ratelimit.wait_time(db, limit, "203.0.113.9") is None
        assert isinstance(ratelimit.reserve(db, [(limit, "203.0.113.9")]), list)
        assert ratelimit.wait_time(db, limit, "203.0.113.9") == limit.window
        assert ratelimit.reserve(db, [(limit, "203.0.113.9")]) == limit.window  # refused, nothing counted
        assert ratelimit.wait_time(db, limit, "198.51.100.1") is None
    with session_scope() as db, frozen(T0 + limit.window):
        assert ratelimit.wait_time(db, limit, "203.0.113.9") is None
        ratelimit.reserve(db, [(limit, "203.0.113.9")])  # prunes what left the window
        assert db.query(RateHit).count() == 1
    with session_scope() as db, frozen(T0 + limit.window + ratelimit.KEEP):
        assert ratelimit.purge(db) == 1 and db.query(RateHit).count() == 0
