"""The layout and error pages: landmarks, labels, HTML for people and JSON for machines."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from server.floor.settings import Settings
from server.roof.app import create_app
from tests.web.conftest import csrf_of


def test_layout_has_landmarks_a_skip_link_and_labelled_fields(client: TestClient) -> None:
    page = client.get("/login").text
    assert page.index('class="skip-link" href="#main"') < page.index("<header")
    for landmark in ("<header", '<nav class="site-nav" aria-label="Main">', '<main id="main"', "<footer"):
        assert landmark in page
    for field in re.findall(r'<input id="(f-[a-z]+)"', page):
        assert f'<label for="{field}">' in page
    assert 'autocomplete="current-password"' in page
    assert '<meta name="viewport"' in page
    assert client.get("/login").headers["x-frame-options"] == "DENY"


def test_home_page_has_the_instance_and_the_catalogue_hook(client: TestClient) -> None:
    page = client.get("/").text
    assert '<h1 id="intro-title">Mechanical MOOC</h1>' in page
    assert 'aria-labelledby="catalogue-title"' in page
    assert "No courses are open yet." in page


def test_static_files_are_served_with_versioned_urls(client: TestClient) -> None:
    href = re.search(r'href="(/static/site\.css\?v=[0-9a-f]+)"', client.get("/").text)
    assert href
    css = client.get(href.group(1))
    assert css.status_code == 200 and ":focus-visible" in css.text


def test_unknown_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text


def test_wrong_method_is_a_405_page_with_allow(client: TestClient) -> None:
    response = client.post("/about", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 405
    assert "Method not allowed" in response.text
    assert "GET" in response.headers["allow"]


def test_domain_errors_become_pages_naming_the_thing(client: TestClient) -> None:
    response = client.get("/test/missing")
    assert response.status_code == 404
    assert "course &#39;no-such-course&#39; does not exist" in response.text


def test_unexpected_errors_are_a_500_page(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test/broken")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "boom" not in response.text


def test_machine_callers_get_json_errors(client: TestClient) -> None:
    activity = client.get("/no/such/actor", headers={"accept": "application/activity+json"})
    assert activity.status_code == 404 and activity.json() == {"error": "Page not found"}
    api = client.get("/api/nothing-here")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert client.get("/api/things").json() == {"things": []}


def test_the_roof_serves_the_shell(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as client:
        assert "Mechanical MOOC" in client.get("/").text
        assert client.get("/about").status_code == 200
        assert client.get("/login").status_code == 200
