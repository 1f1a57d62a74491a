"""CSRF: every form POST needs the session's token; machine endpoints are exempt."""

from __future__ import annotations

from starlette.testclient import TestClient

import web.limits
from tests.web.conftest import csrf_of


def test_post_without_token_is_refused_with_a_page(client: TestClient) -> None:
    csrf_of(client)  # the visitor has a session, but the form lost its field
    response = client.post("/login", data={"email": "ada@example.org", "password": "x"})
    assert response.status_code == 403
    assert "security token" in response.text
    assert "<main" in response.text


def test_post_with_a_wrong_token_is_refused(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post("/test/echo", data={"title": "Unit 1", "csrf_token": token[:-2] + "xx"})
    assert response.status_code == 403


def test_token_of_another_session_is_refused(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver.localhost") as other:
        foreign = csrf_of(other)
    csrf_of(client)
    assert client.post("/test/echo", data={"title": "x", "csrf_token": foreign}).status_code == 403


def test_post_without_any_session_is_refused(client: TestClient) -> None:
    assert client.post("/test/echo", data={"title": "x", "csrf_token": "guess"}).status_code == 403


def test_good_token_passes_and_the_handler_gets_the_form(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post("/test/echo", data={"title": "Unit 1", "csrf_token": token})
    assert response.status_code == 200
    assert response.text == "title=Unit 1 size=-1"


def test_multipart_upload_with_token_reaches_the_handler(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Files are accepted only on paths that web.limits allows them for; let the test route take one.
    monkeypatch.setattr(web.limits, "DEFAULT", web.limits.BodyLimits(files=1))
    token = csrf_of(client)
    response = client.post(
        "/test/echo",
        data={"title": "import", "csrf_token": token},
        files={"upload": ("learners.csv", b"email,name\nann@example.org,Ann\n", "text/csv")},
    )
    assert response.status_code == 200
    assert response.text == "title=import size=31"


def test_header_token_serves_scripts_of_our_own_pages(client: TestClient) -> None:
    token = csrf_of(client)
    assert client.post("/test/echo", json={"title": "x"}).status_code == 403
    response = client.post("/test/echo", json={"title": "x"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200


def test_file_on_a_path_without_uploads_is_a_clear_400(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/test/echo", data={"title": "x", "csrf_token": token}, files={"upload": ("a.csv", b"x", "text/csv")}
    )
    assert response.status_code == 400
    assert "Too many files" in response.text


def test_machine_endpoints_are_exempt(client: TestClient) -> None:
    for path in ("/mail/webhook", "/api/signup"):
        response = client.post(path, content=b'{"type": "Follow"}', headers={"content-type": "application/json"})
        assert response.status_code == 200, path
        assert response.json()["body"] == '{"type": "Follow"}'
    for path in ("/inbox", "/users/ada/inbox"):
        response = client.post(
            path, content=b'{"type": "Follow"}', headers={"content-type": "application/activity+json"}
        )
        assert response.status_code == 200, path
        assert response.json()["body"] == '{"type": "Follow"}'
    form = client.post("/mail/webhook", data={"List-Unsubscribe": "One-Click"})
    assert form.status_code == 200
    assert form.json()["body"] == "List-Unsubscribe=One-Click"


def test_safe_methods_need_no_token(client: TestClient) -> None:
    assert client.get("/login").status_code == 200
    assert client.head("/about").status_code == 200


def test_oversized_form_is_refused(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(web.limits, "DEFAULT", web.limits.BodyLimits(body=1000))
    token = csrf_of(client)
    response = client.post("/test/echo", data={"title": "x" * 2000, "csrf_token": token})
    assert response.status_code == 413
    assert "larger than" in response.text


def test_malformed_multipart_is_a_400_page(client: TestClient) -> None:
    csrf_of(client)
    response = client.post(
        "/test/echo", content=b"--nope\r\nbroken", headers={"content-type": "multipart/form-data; boundary=xyz"}
    )
    assert response.status_code == 400
    assert "<main" in response.text
