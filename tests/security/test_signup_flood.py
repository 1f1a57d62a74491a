"""Trust, item 10: anonymous signups must not flood mailboxes, nor put links of anyone's choosing in our mails.

The attacks: 300 anonymous signups queued 300 confirmation mails; a name containing a URL became a
link in the mail's HTML part; and the form told whoever typed a fediverse name what it resolved to.
Signups are now counted per client network, per address and per run in the database (shared by
every web process) and answer 429 with Retry-After past a limit; a learner's name is escaped and
never made a link; a handle that cannot be used gets one generic sentence.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from courses import signup_limits
from courses.models import Run
from courses.signup import admin_enroll
from federation.transport import fetch
from mail import notices
from mail.models import OutgoingMail
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.web.coursepages import World, token_on, web, world  # noqa: F401
from web.pages.signup import HANDLE_UNUSABLE

EVIL_NAME = "Claim your prize at https://evil.example/win now"


@pytest.fixture
def app(settings: Settings) -> Starlette:
    """The whole app, for clients that come from addresses of their own."""
    return create_app(settings)


def client_at(app: Starlette, address: str) -> TestClient:
    """A client whose requests come from `address` (as uvicorn reports the peer)."""
    return TestClient(app, base_url="http://testserver.localhost", client=(address, 40000))


def api_signup(client: TestClient, run: str, address: str, name: str = "Flo") -> object:
    """The JSON signup API, as a script on any site would call it."""
    body = {"email": address, "name": name, "timezone": "UTC"}
    return client.post(f"/api/runs/{run}/signup", json=body)


def confirmation_mails() -> int:
    with session_scope() as db:
        return db.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.kind == "confirm")) or 0


def html_part(to: str, kind: str) -> str:
    """The HTML part of the last mail of `kind` queued to `to`."""
    with session_scope() as db:
        query = select(OutgoingMail.message).where(OutgoingMail.to_addr == to, OutgoingMail.kind == kind)
        raw = db.scalars(query.order_by(OutgoingMail.id.desc())).first()
    assert raw is not None, f"no {kind} mail to {to}"
    message = email.message_from_string(raw, policy=email.policy.default)
    return str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]


def test_300_signups_from_one_client_mostly_get_429_and_few_mails(world: World, web: TestClient) -> None:
    answers = [api_signup(web, world.run, f"flood{n}@example.org") for n in range(300)]
    statuses = [answer.status_code for answer in answers]  # type: ignore[attr-defined]
    limit = signup_limits.PER_CLIENT.limit
    assert statuses[:limit] == [200] * limit and statuses[limit:] == [429] * (300 - limit)
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    assert "Retry-After" in refused.headers["access-control-expose-headers"]  # type: ignore[attr-defined]
    assert refused.json()["retry_after"] > 0 and "many signups from your network" in refused.json()["error"]  # type: ignore[attr-defined]
    assert confirmation_mails() == limit
    # The run page's form says the same, with the status and header a browser or script can act on.
    data = {"csrf_token": token_on(web, f"/runs/{world.run}"), "email": "late@example.org", "timezone": "UTC"}
    page = web.post(f"/runs/{world.run}/signup", data=data, follow_redirects=False)
    assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
    assert "many signups from your network" in page.text and 'value="late@example.org"' in page.text
    assert confirmation_mails() == limit


def test_one_ipv6_subscriber_is_one_client(world: World, app: Starlette) -> None:
    """A subscriber holds a whole /64: changing the last bits of the address does not reset the count."""
    limit = signup_limits.PER_CLIENT.limit
    for n in range(limit):
        assert (
            api_signup(client_at(app, f"2001:db8:1:2::{n + 1:x}"), world.run, f"v6-{n}@example.org").status_code == 200
        )  # type: ignore[attr-defined]
    assert api_signup(client_at(app, "2001:db8:1:2::ffff"), world.run, "v6-last@example.org").status_code == 429  # type: ignore[attr-defined]
    assert api_signup(client_at(app, "2001:db8:1:3::1"), world.run, "v6-other@example.org").status_code == 200  # type: ignore[attr-defined]


def test_one_address_typed_from_many_clients_is_limited(world: World, app: Starlette) -> None:
    victim = "victim@example.org"
    statuses = [
        api_signup(client_at(app, f"198.51.100.{n}"), world.run, victim).status_code  # type: ignore[attr-defined]
        for n in range(1, 13)
    ]
    limit = signup_limits.PER_ADDRESS.limit
    assert statuses == [200] * limit + [429] * (12 - limit)
    with session_scope() as db:
        mails = db.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.to_addr == victim)) or 0
    assert 1 <= mails <= limit


def test_a_crowd_of_clients_is_limited_per_run(world: World, app: Starlette, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many clients at once (a botnet): the run's signups stay bounded (the limit lowered to keep the test short)."""
    monkeypatch.setattr(signup_limits, "PER_RUN", signup_limits.SignupLimit("signup-run", 30, 3600, "Busy run"))
    statuses = [
        api_signup(client_at(app, f"203.0.113.{n}"), world.run, f"crowd{n}@example.org").status_code  # type: ignore[attr-defined]
        for n in range(1, 61)
    ]
    assert statuses == [200] * 30 + [429] * 30
    assert confirmation_mails() == 30


@pytest.fixture
def evil_signup(world: World, web: TestClient) -> Iterator[str]:
    """A signup whose name carries a URL: the address it was made for."""
    data = {"csrf_token": token_on(web, f"/runs/{world.run}"), "email": "eve@example.org", "timezone": "UTC"}
    response = web.post(f"/runs/{world.run}/signup", data={**data, "name": EVIL_NAME}, follow_redirects=False)
    assert response.status_code == 303
    yield "eve@example.org"


def test_a_name_with_a_url_is_no_link_in_the_confirmation_mail(evil_signup: str) -> None:
    html = html_part(evil_signup, "confirm")
    assert "https://evil.example/win" in html  # shown, as words
    assert 'href="https://evil.example' not in html and '<a href="https://evil' not in html
    assert 'href="http://testserver.localhost/signup/confirm/' in html  # our own link still is one


def test_a_name_with_a_url_is_no_link_in_a_notice(world: World) -> None:
    with session_scope() as db:
        run = db.scalar(select(Run).where(Run.handle == world.run))
        assert run is not None
        learner = admin_enroll(db, run, "mallory@example.org", name=EVIL_NAME)
        assert notices.promoted(db, learner) == 1
    html = html_part("mallory@example.org", "notice")
    assert "https://evil.example/win" in html and 'href="https://evil.example' not in html


def test_a_fediverse_handle_that_fails_tells_nothing_of_what_it_resolved_to(
    world: World, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def internal(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
        # A remote server (mocked: it is on the internet) whose answer names what lies behind the handle.
        return {"id": "https://hidden.example/users/real-identity", "type": "Person", "inbox": "https://x/inbox"}

    monkeypatch.setattr(fetch, "get_json", internal)
    data = {"csrf_token": token_on(web, f"/runs/{world.run}"), "handle": "https://social.example/users/alias"}
    response = web.post(f"/runs/{world.run}/signup", data=data, follow_redirects=False)
    assert response.status_code == 400
    assert HANDLE_UNUSABLE.replace("'", "&#39;") in response.text or HANDLE_UNUSABLE in response.text
    assert "hidden.example" not in response.text and "real-identity" not in response.text

    def refused(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
        raise fetch.FetchError("https://10.9.8.7/admin answered HTTP 403")

    monkeypatch.setattr(fetch, "get_json", refused)
    data["csrf_token"] = token_on(web, f"/runs/{world.run}")
    response = web.post(f"/runs/{world.run}/signup", data=data, follow_redirects=False)
    assert response.status_code == 400 and "10.9.8.7" not in response.text and "403" not in response.text
