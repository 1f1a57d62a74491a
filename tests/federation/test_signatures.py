"""HTTP Signatures: Mastodon's draft-cavage form signed and verified, RFC 9421 verified, policy enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.protocol.crypto import SigningKey, generate_pem
from federation.protocol.signatures import (
    ReceivedRequest,
    SignatureError,
    check_policy,
    digest_header,
    parse_signature,
    sign_request,
    sign_rfc9421,
    verify_signature,
)
from federation.transport.httpsig import HttpSignatureAuth

PRIVATE, PUBLIC = generate_pem()
OTHER_PRIVATE, OTHER_PUBLIC = generate_pem()
KEY = SigningKey(key_id="https://a.example/users/ada#main-key", private_pem=PRIVATE)
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
URL = "https://b.example/inbox"
BODY = b'{"type": "Follow"}'


def _cavage_post(body: bytes = BODY, at: datetime = AT) -> ReceivedRequest:
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_request(KEY, "POST", URL, headers, body, at)
    return ReceivedRequest.build("POST", URL, headers.items(), body)


def _verify(request: ReceivedRequest, public: str = PUBLIC, at: datetime = AT) -> bool:
    parsed = parse_signature(request)
    check_policy(request, parsed, at)
    return verify_signature(parsed, public)


def test_post_is_signed_as_mastodon_does() -> None:
    request = _cavage_post()
    value = request.headers["signature"]
    assert 'keyId="https://a.example/users/ada#main-key"' in value
    assert 'algorithm="rsa-sha256"' in value
    assert 'headers="(request-target) host date digest content-type"' in value
    assert request.headers["digest"].startswith("SHA-256=")
    assert _verify(request)


def test_signature_by_another_key_does_not_verify() -> None:
    assert not _verify(_cavage_post(), public=OTHER_PUBLIC)


def test_body_changed_after_signing_is_refused() -> None:
    signed = _cavage_post()
    tampered = ReceivedRequest(signed.method, signed.url, signed.headers, b'{"type": "Delete"}')
    with pytest.raises(SignatureError, match="Digest does not match"):
        _verify(tampered)


def test_digest_recomputed_for_a_changed_body_breaks_the_signature() -> None:
    signed = _cavage_post()
    body = b'{"type": "Delete"}'
    headers = dict(signed.headers) | {"digest": digest_header(body)}
    assert not _verify(ReceivedRequest(signed.method, signed.url, headers, body))


def test_stale_date_is_refused() -> None:
    with pytest.raises(SignatureError, match="more than an hour"):
        _verify(_cavage_post(at=AT - timedelta(hours=2)))


def test_post_signature_must_cover_the_digest() -> None:
    request = _cavage_post()
    value = request.headers["signature"].replace(
        "(request-target) host date digest content-type", "(request-target) host date"
    )
    parsed_headers = dict(request.headers) | {"signature": value}
    with pytest.raises(SignatureError, match="must cover Digest"):
        _verify(ReceivedRequest(request.method, request.url, parsed_headers, request.body))


def test_unsigned_request_is_refused() -> None:
    with pytest.raises(SignatureError, match="not signed"):
        parse_signature(ReceivedRequest.build("POST", URL, [("Content-Type", "application/json")], BODY))


def test_rfc9421_post_with_content_digest_verifies() -> None:
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_rfc9421(KEY, "POST", URL, headers, BODY, AT)
    request = ReceivedRequest.build("POST", URL, headers.items(), BODY)
    assert parse_signature(request).scheme == "rfc9421"
    assert _verify(request)
    tampered = ReceivedRequest(request.method, request.url, request.headers, BODY + b" ")
    with pytest.raises(SignatureError, match="Content-Digest"):
        _verify(tampered)


def test_rfc9421_target_is_covered() -> None:
    headers = sign_rfc9421(KEY, "POST", URL, {}, BODY, AT)
    moved = ReceivedRequest.build("POST", "https://b.example/users/bob/inbox", headers.items(), BODY)
    assert not _verify(moved)


def test_httpx_auth_signs_get_with_accept() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        client.get(
            "https://b.example/users/bob", headers={"Accept": "application/activity+json"}, auth=HttpSignatureAuth(KEY)
        )
    request = ReceivedRequest.build("GET", str(seen[0].url), seen[0].headers.items())
    assert 'headers="(request-target) host date accept"' in request.headers["signature"]
    parsed = parse_signature(request)
    check_policy(request, parsed, datetime.now(UTC))
    assert verify_signature(parsed, PUBLIC)


@settings(max_examples=25, deadline=None)
@given(body=st.binary(max_size=2000), path=st.from_regex(r"/[a-z0-9/_-]{0,30}(\?[a-z]=[0-9]{1,3})?", fullmatch=True))
def test_any_signed_post_verifies_and_any_flipped_byte_does_not(body: bytes, path: str) -> None:
    url = "https://b.example" + path
    headers = sign_request(KEY, "POST", url, {"Content-Type": "application/activity+json"}, body, AT)
    headers["Content-Type"] = "application/activity+json"
    request = ReceivedRequest.build("POST", url, headers.items(), body)
    assert _verify(request)
    if body:
        flipped = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(SignatureError):
            _verify(ReceivedRequest(request.method, request.url, request.headers, flipped))
