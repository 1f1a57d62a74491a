"""Remote fetch: the SSRF guard (every address, every redirect), size limits, actor cache, WebFinger."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import Session

from federation.protocol.crypto import SigningKey, generate_pem
from federation.transport import fetch
from federation.transport.guard import GuardedTransport, Refused, check_url, is_public
from server.floor.settings import Settings

KEY = SigningKey(key_id="http://testserver.localhost/actor#main-key", private_pem=generate_pem()[0])


def fake_dns(table: dict[str, list[str]]):  # noqa: ANN201 - a resolver
    return lambda host, port: table[host]


@pytest.mark.parametrize(
    ("address", "public"),
    [("93.184.216.34", True), ("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False),
     ("192.168.0.1", False), ("::1", False), ("fe80::1", False), ("::ffff:127.0.0.1", False),
     ("2606:4700::1111", True), ("0.0.0.0", False), ("100.64.0.1", False)],
)  # fmt: skip
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_any_private_address_refuses_the_host() -> None:
    resolver = fake_dns({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(Refused, match="non-public address"):
        check_url(httpx.URL("https://mixed.example/users/a"), allow_private=False, resolver=resolver)
    with pytest.raises(Refused, match="plain http"):
        check_url(httpx.URL("http://93.184.216.34/"), allow_private=False)


def test_redirect_to_a_private_address_is_refused(sqlite_settings: Settings) -> None:
    resolver = fake_dns({"public.example": ["93.184.216.34"], "internal.example": ["10.0.0.7"]})
    hops: list[str] = []

    def internet(request: httpx.Request) -> httpx.Response:
        hops.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://internal.example/secrets"})

    guard = GuardedTransport(allow_private=False, inner=httpx.MockTransport(internet), resolver=resolver)
    with pytest.raises(Refused, match="internal.example"):
        with httpx.Client(transport=guard) as client:
            assert client.get("https://public.example/users/a").status_code == 302
            client.get("https://internal.example/secrets")
    assert hops == ["https://93.184.216.34/users/a"]  # pinned to the checked address


def test_get_json_follows_few_redirects_and_cuts_large_bodies(sqlite_settings: Settings) -> None:
    def internet(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/loop":
            return httpx.Response(302, headers={"Location": "/loop"})
        if request.url.path == "/big":
            return httpx.Response(200, content=b"[" + b"1," * 600_000 + b"1]")
        assert (
            "signature" in request.headers
            and 'headers="(request-target) host date accept"' in request.headers["signature"]
        )
        return httpx.Response(200, json={"id": "http://a.localhost/users/x"})

    transport = httpx.MockTransport(internet)
    with pytest.raises(fetch.FetchError, match="redirects"):
        fetch.get_json("http://a.localhost/loop", KEY, transport=transport)
    with pytest.raises(fetch.FetchError, match="larger than"):
        fetch.get_json("http://a.localhost/big", KEY, transport=transport)
    assert fetch.get_json("http://a.localhost/users/x", KEY, transport=transport)["id"].endswith("/x")


def test_actor_document_from_another_origin_is_refused(session: Session, settings: Settings) -> None:
    document = {"id": "https://evil.example/users/x", "inbox": "https://evil.example/inbox"}
    with pytest.raises(fetch.FetchError, match="another origin"):
        fetch.store_actor(session, document, "https://good.example/users/x")


def test_handles() -> None:
    assert fetch.parse_handle("@ada@social.example") == ("ada", "social.example")
    assert fetch.parse_handle("acct:ada@social.example") == ("ada", "social.example")
    with pytest.raises(Exception, match="not a fediverse handle"):
        fetch.parse_handle("ada")
