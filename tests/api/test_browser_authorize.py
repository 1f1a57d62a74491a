"""Authorizing a Mastodon app in a real browser (Debian's chromium through Playwright): the app's
authorize URL, our login page, the consent page naming the app and its scopes, the out-of-band
code; then Mastodon.py exchanges the code and acts as the person."""

from __future__ import annotations

import pytest
from mastodon import Mastodon
from playwright.sync_api import Page

from tests.api.clients import SCOPES, register_app
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
