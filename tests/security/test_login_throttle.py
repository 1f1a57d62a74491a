"""Login throttle: parallel guesses and spoofed client addresses must not get more tries.

The attacks: 24 wrong passwords sent at once were all checked (each read "under the limit" before
any was recorded), so a right one in the burst got in; and `X-Forwarded-For` was believed from
anyone uvicorn trusted (127.0.0.1 by default), so a client chose a fresh address for every guess.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from server.floor.accounts import create_account
from server.floor.db import session_scope
from server.floor.settings import IPNetwork, Settings, load_settings
from tests.security.live import form_token, served
from tests.support.instances import Instance
from web import throttle
from web.proxies import ForwardedClientMiddleware, forwarded_client

PASSWORD = "correct horse battery"
BURST = 24


def guess(base_url: str, email: str, password: str, barrier: threading.Barrier, **headers: str) -> int:
    """One browser submitting the login form when all the others do; the status it gets."""
    with httpx.Client(base_url=base_url, timeout=60, headers=headers) as client:
        token = form_token(client)
        barrier.wait()
        return client.post("/login", data={"email": email, "password": password, "csrf_token": token}).status_code


def test_a_burst_of_parallel_guesses_gets_only_the_allowed_checks(settings: Settings) -> None:
    with session_scope() as db:
        create_account(db, "ada@example.org", PASSWORD, role="admin")
    allowed = throttle.LOGIN_PER_EMAIL.attempts
    with served(settings) as url:
        barrier = threading.Barrier(BURST)
        with ThreadPoolExecutor(BURST) as pool:
            futures = [pool.submit(guess, url, "ada@example.org", f"wrong {n}", barrier) for n in range(BURST)]
            statuses = sorted(future.result() for future in futures)
        # Real argon2 (no cheap test hasher here) keeps every check in flight long enough to race.
        assert statuses == [400] * allowed + [429] * (BURST - allowed)
        with httpx.Client(base_url=url, timeout=60) as client:
            token = form_token(client)
            right = client.post("/login", data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def test_a_right_password_in_a_burst_still_counts_as_one_of_the_allowed_checks(settings: Settings) -> None:
    with session_scope() as db:
        create_account(db, "ada@example.org", PASSWORD, role="admin")
    with served(settings) as url:
        barrier = threading.Barrier(BURST + 1)
        passwords = [f"wrong {n}" for n in range(BURST)] + [PASSWORD]
        with ThreadPoolExecutor(BURST + 1) as pool:
            futures = [pool.submit(guess, url, "ada@example.org", password, barrier) for password in passwords]
            statuses = [future.result() for future in futures]
    checked = [status for status in statuses if status != 429]
    assert len(checked) <= throttle.LOGIN_PER_EMAIL.attempts, statuses


def fail_logins(instance: Instance, count: int, forwarded_for: list[str]) -> list[int]:
    """`count` failed logins for different addresses, each claiming the next X-Forwarded-For."""
    statuses = []
    with httpx.Client(base_url=instance.url, timeout=60) as client:
        token = form_token(client)
        for n in range(count):
            form = {"email": f"guess{n}@example.org", "password": "wrong", "csrf_token": token}
            headers = {"X-Forwarded-For": forwarded_for[n % len(forwarded_for)]}
            statuses.append(client.post("/login", data=form, headers=headers).status_code)
    return statuses


@pytest.mark.slow
def test_serve_believes_no_forwarded_for_by_default(tmp_path: Path) -> None:
    # A real `mechmooc serve`: uvicorn's own proxy-header handling (it trusts 127.0.0.1 by default)
    # must not hand the client's chosen address to the throttle.
    per_client = throttle.LOGIN_PER_CLIENT.attempts
    with Instance(tmp_path / "a", worker=False) as instance:
        spoofed = [f"203.0.113.{n}" for n in range(1, 250)]
        statuses = fail_logins(instance, per_client + 1, spoofed)
    assert statuses == [400] * per_client + [429]


@pytest.mark.slow
def test_serve_behind_a_trusted_proxy_counts_the_address_the_proxy_saw(tmp_path: Path) -> None:
    per_client = throttle.LOGIN_PER_CLIENT.attempts
    env = {"MECHMOOC_TRUSTED_PROXIES": "127.0.0.1"}
    with Instance(tmp_path / "a", worker=False, env=env) as instance:
        # The proxy appends the address it saw; what the client wrote in front is ignored.
        chain = [f"203.0.113.{n}, 198.51.100.7" for n in range(1, 250)]
        statuses = fail_logins(instance, per_client + 1, chain)
        other = fail_logins(instance, 1, ["198.51.100.8"])
    assert statuses == [400] * per_client + [429]
    assert other == [400]  # another client behind the same proxy has its own count


def trusted(value: str) -> tuple[IPNetwork, ...]:
    """MECHMOOC_TRUSTED_PROXIES as the settings read it."""
    return load_settings(environ={"MECHMOOC_TRUSTED_PROXIES": value}).trusted_proxies


def test_forwarded_for_is_read_from_the_right_and_only_from_trusted_peers() -> None:
    proxies = trusted("10.0.0.0/8, ::1")
    assert forwarded_client("203.0.113.5", ["1.2.3.4"], proxies) == "203.0.113.5"  # untrusted peer
    assert forwarded_client("10.0.0.2", ["1.2.3.4, 198.51.100.7"], proxies) == "198.51.100.7"
    assert forwarded_client("10.0.0.2", ["1.2.3.4", "198.51.100.7, 10.0.0.9"], proxies) == "198.51.100.7"
    assert forwarded_client("::1", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert forwarded_client("10.0.0.2", [], proxies) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", ["10.0.0.7"], proxies) == "10.0.0.7"


def test_the_middleware_sets_client_and_scheme_only_for_a_trusted_peer() -> None:
    seen: list[tuple[object, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["client"], scope["scheme"]))

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    async def ignore(message: Message) -> None:
        return None

    middleware = ForwardedClientMiddleware(app, trusted=trusted("172.28.0.250"))
    headers = [(b"x-forwarded-for", b"6.6.6.6, 192.0.2.1"), (b"x-forwarded-proto", b"https")]
    for peer in ("172.28.0.250", "192.0.2.99"):
        scope = {"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}
        asyncio.run(middleware(scope, nothing, ignore))
    assert seen == [(("192.0.2.1", 0), "https"), (("192.0.2.99", 5000), "http")]
