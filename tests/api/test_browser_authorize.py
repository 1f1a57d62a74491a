"""Authorizing a Mastodon app in a real browser (Debian's chromium through Playwright): the app's
authorize URL, our login page, the consent page naming the app and its scopes, the out-of-band
code; then Mastodon.py exchanges the code and acts as the person. And a page on another origin (as
Elk or Phanpy are: no build of either installs from npm) calls the API with fetch() - CORS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mastodon import Mastodon
from playwright.sync_api import Page

from tests.api.clients import SCOPES, client_for, register_app
from tests.api.conftest import OOB, Person


@pytest.mark.browser
def test_authorize_an_app_in_chromium(server_url: str, alice: Person, browser_page: Page) -> None:
    client_id, client_secret = register_app(server_url, name="Tusky (test)")
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server_url)
    url = api.auth_request_url(redirect_uris=OOB, scopes=SCOPES, allow_http=True)
    page = browser_page
    page.goto(url)
    page.get_by_label("Email address").fill(alice.email)
    page.get_by_label("Password").fill(alice.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Authorize Tusky (test)?").wait_for()
    assert "follow, block and mute accounts" in page.content()
    page.get_by_role("button", name="Authorize").click()
    code = page.get_by_label("Code").input_value()
    assert code
    api.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    assert api.account_verify_credentials().username == "alice"
    page.goto(f"{server_url}/settings/applications")
    assert page.get_by_role("heading", name="Tusky (test)").is_visible()


@pytest.mark.browser
def test_denying_sends_the_person_back_with_access_denied(server_url: str, alice: Person, browser_page: Page) -> None:
    client_id, _secret = register_app(server_url, name="Some app")
    page = browser_page
    page.goto(f"{server_url}/login")
    page.get_by_label("Email address").fill(alice.email)
    page.get_by_label("Password").fill(alice.password)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{server_url}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={OOB}&scope=read")
    page.get_by_role("button", name="Deny").click()
    page.get_by_role("heading", name="Access denied").wait_for()


@pytest.fixture
def other_origin() -> Iterator[str]:
    """A page on another origin (another port), as a browser app such as Elk or Phanpy is."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(Path(__file__).parent / "browser_app"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_a_browser_app_on_another_origin_calls_the_api(
    server_url: str, alice: Person, browser_page: Page, other_origin: str
) -> None:
    api = client_for(server_url, alice)
    status = api.status_post("from a browser app's point of view")
    page = browser_page
    page.goto(f"{other_origin}/index.html")
    result = page.evaluate(
        """async ([base, token]) => {
            const home = await fetch(base + "/api/v1/timelines/home?limit=1", {headers: {Authorization: "Bearer " + token}});
            const posted = await fetch(base + "/api/v1/statuses", {
                method: "POST",
                headers: {Authorization: "Bearer " + token, "Content-Type": "application/json", "Idempotency-Key": "k1"},
                body: JSON.stringify({status: "posted from another origin"}),
            });
            return {
                status: home.status, first: (await home.json())[0].id, link: home.headers.get("Link"),
                remaining: home.headers.get("X-RateLimit-Remaining"), posted: (await posted.json()).content,
            };
        }""",
        [server_url, api.access_token],
    )
    assert result["status"] == 200 and result["first"] == str(status.id)
    assert 'rel="next"' in result["link"] and int(result["remaining"]) > 0
    assert "another origin" in result["posted"]
