"""OAuth 2 of the client API: app registration, the authorization code flow (out-of-band and
redirect, with PKCE), client credentials, refresh, revocation, scopes, and the settings page that
withdraws an app's access."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx
from sqlalchemy import select

from server.floor.db import session_scope
from tests.api.conftest import OOB, Person, authorize_http, logged_in
from web.api.models import Application, Token, digest


def register(base: str, scopes: str = "read write follow push", redirect: str = OOB) -> dict:
    answer = httpx.post(
        f"{base}/api/v1/apps",
        data={"client_name": "Test app", "redirect_uris": redirect, "scopes": scopes, "website": "https://app.example"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_register_app_stores_only_the_secret_hash(server_url: str) -> None:
    app = register(server_url)
    assert set(app) >= {
        "id",
        "name",
        "website",
        "scopes",
        "redirect_uri",
        "redirect_uris",
        "client_id",
        "client_secret",
    }
    assert app["scopes"] == ["read", "write", "follow", "push"]
    with session_scope() as db:
        row = db.scalar(select(Application).where(Application.client_id == app["client_id"]))
        assert row is not None and row.client_secret_hash == digest(app["client_secret"])
        assert app["client_secret"] not in (row.client_secret_hash, row.client_id)


def test_register_app_refuses_script_redirects_and_unknown_scopes(server_url: str) -> None:
    bad = httpx.post(f"{server_url}/api/v1/apps", data={"client_name": "x", "redirect_uris": "javascript:alert(1)"})
    assert bad.status_code == 422 and "error" in bad.json()
    unknown = httpx.post(f"{server_url}/api/v1/apps", data={"client_name": "x", "redirect_uris": OOB, "scopes": "root"})
    assert unknown.status_code == 422


def test_code_flow_out_of_band_then_token_then_revoke(server_url: str, alice: Person) -> None:
    app = register(server_url)
    code = authorize_http(server_url, alice, app["client_id"], scope="read write")
    assert code
    token = httpx.post(
        f"{server_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": OOB,
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write" and isinstance(body["created_at"], int)
    with session_scope() as db:
        assert db.scalar(select(Token).where(Token.access_hash == digest(body["access_token"]))) is not None
    # The code is single use.
    again = httpx.post(
        f"{server_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": OOB,
        },
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    verify = httpx.get(f"{server_url}/api/v1/apps/verify_credentials", headers=headers)
    assert verify.status_code == 200 and verify.json()["name"] == "Test app"
    assert verify.headers["access-control-allow-origin"] == "*"
    assert int(verify.headers["x-ratelimit-remaining"]) < int(verify.headers["x-ratelimit-limit"])
    revoked = httpx.post(
        f"{server_url}/oauth/revoke",
        data={"token": body["access_token"], "client_id": app["client_id"], "client_secret": app["client_secret"]},
    )
    assert revoked.status_code == 200 and revoked.json() == {}
    after = httpx.get(f"{server_url}/api/v1/apps/verify_credentials", headers=headers)
    assert after.status_code == 401 and after.json() == {"error": "The access token is invalid"}


def test_pkce_s256_redirect_and_refresh(server_url: str, alice: Person) -> None:
    redirect = "https://app.example/callback"
    app = register(server_url, redirect=redirect)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = authorize_http(
        server_url,
        alice,
        app["client_id"],
        redirect_uri=redirect,
        scope="read",
        extra={"code_challenge": challenge, "code_challenge_method": "S256", "state": "xyz"},
    )
    base = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": redirect,
    }
    wrong = httpx.post(f"{server_url}/oauth/token", data={**base, "code_verifier": secrets.token_urlsafe(48)})
    assert wrong.status_code == 400
    good = httpx.post(f"{server_url}/oauth/token", json={**base, "code_verifier": verifier})
    assert good.status_code == 200, good.text
    first = good.json()
    refreshed = httpx.post(
        f"{server_url}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"] != first["access_token"]
    old = httpx.get(
        f"{server_url}/api/v1/apps/verify_credentials", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert old.status_code == 401


def test_deny_and_scopes_beyond_the_app(server_url: str, alice: Person) -> None:
    redirect = "https://app.example/callback"
    app = register(server_url, scopes="read", redirect=redirect)
    assert (
        authorize_http(server_url, alice, app["client_id"], redirect_uri=redirect, scope="read", decision="deny")
        == "access_denied"
    )
    with logged_in(server_url, alice) as client:
        page = client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": redirect,
                "scope": "read write",
            },
        )
        assert page.status_code in (302, 400)
        assert "code=" not in page.headers.get("location", "")


def test_client_credentials_token_is_an_app_token(server_url: str) -> None:
    app = register(server_url)
    answer = httpx.post(
        f"{server_url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert httpx.get(f"{server_url}/api/v1/apps/verify_credentials", headers=headers).status_code == 200
    bad = httpx.post(
        f"{server_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": "nope"},
    )
    assert bad.status_code == 401


def test_settings_page_withdraws_access(server_url: str, alice: Person) -> None:
    app = register(server_url)
    code = authorize_http(server_url, alice, app["client_id"])
    token = httpx.post(
        f"{server_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": OOB,
        },
    ).json()["access_token"]
    with logged_in(server_url, alice) as client:
        page = client.get("/settings/applications")
        assert page.status_code == 200 and "Test app" in page.text
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = client.post(f"/settings/applications/{app['id']}/revoke", data={"csrf_token": csrf})
        assert answer.status_code == 303
        after = client.get("/settings/applications").text
        assert "Test app can no longer use your account." in after
        assert "Withdraw access of Test app" not in after
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server_url}/api/v1/apps/verify_credentials", headers=headers).status_code == 401


def test_metadata_and_preflight(server_url: str) -> None:
    meta = httpx.get(f"{server_url}/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"].endswith("/oauth/token") and "S256" in meta["code_challenge_methods_supported"]
    assert "read:statuses" in meta["scopes_supported"]
    pre = httpx.options(
        f"{server_url}/api/v1/apps", headers={"Origin": "https://elk.zone", "Access-Control-Request-Method": "POST"}
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in pre.headers["access-control-allow-headers"]
