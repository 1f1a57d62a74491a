"""HTTP Signatures as plain functions over plain data: draft-cavage (Mastodon) and RFC 9421.

Signing writes Mastodon's form: `Signature: keyId=...,algorithm="rsa-sha256",headers=...`
covering `(request-target) host date digest content-type` on POST and `(request-target) host date
accept` on GET. Verification accepts draft-cavage (`Signature` or `Authorization: Signature`) and
RFC 9421 (`Signature-Input` + `Signature`), and enforces the policy of `check_policy`: the target,
a fresh date and, on POST, a digest of the body must be covered by the signature.
No I/O here: finding the key is `federation.transport.authenticate`'s job.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

import http_sfv
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation.protocol.crypto import SigningKey, load_public_key

MAX_SKEW = timedelta(hours=1)
POST_HEADERS = ("(request-target)", "host", "date", "digest", "content-type")
GET_HEADERS = ("(request-target)", "host", "date", "accept")
_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*"([^"]*)"\s*,?')


class SignatureError(Exception):
    """A request's signature is missing, malformed, stale or does not verify (answer 401)."""


@dataclass(frozen=True)
class ReceivedRequest:
    """What verification sees of a request: method, full target URL, headers (lower-case), body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    @classmethod
    def build(cls, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> ReceivedRequest:
        """Normalise header names to lower case, joining repeated headers with ', '."""
        merged: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value.strip()}" if key in merged else value.strip()
        return cls(method=method.upper(), url=url, headers=merged, body=body)


@dataclass(frozen=True)
class ParsedSignature:
    """A signature taken apart: who claims to sign, what was covered, the bytes to check."""

    scheme: str  # "cavage" | "rfc9421"
    key_id: str
    algorithm: str
    covered: tuple[str, ...]
    base: bytes
    signature: bytes
    created: datetime | None
    expires: datetime | None = None


def http_date(instant: datetime) -> str:
    """An RFC 7231 date, as the Date header wants it."""
    return format_datetime(instant.astimezone(UTC), usegmt=True)


def digest_header(body: bytes) -> str:
    """The `Digest` header of a body (RFC 3230, as Mastodon sends it)."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def content_digest_header(body: bytes) -> str:
    """The `Content-Digest` header of a body (RFC 9530)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _request_target(method: str, url: str) -> str:
    parts = urlsplit(url)
    return f"{method.lower()} {parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def cavage_base(method: str, url: str, headers: Mapping[str, str], covered: Iterable[str]) -> bytes:
    """The draft-cavage signing string over `covered` (lower-case header names or pseudo-headers)."""
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {_request_target(method, url)}")
        elif name in headers:
            lines.append(f"{name}: {headers[name]}")
        else:
            raise SignatureError(f"signed header {name!r} is missing from the request")
    return "\n".join(lines).encode()


def _rsa_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sign_request(
    key: SigningKey, method: str, url: str, headers: Mapping[str, str], body: bytes | None, at: datetime
) -> dict[str, str]:
    """The headers to add to a request so Mastodon accepts it (Date, Host, Digest, Signature)."""
    lower = {k.lower(): v for k, v in headers.items()}
    added = {"host": lower.get("host") or urlsplit(url).netloc, "date": lower.get("date") or http_date(at)}
    wanted: tuple[str, ...] = GET_HEADERS
    if method.upper() == "POST":
        added["digest"] = digest_header(body or b"")
        wanted = POST_HEADERS
    lower.update(added)
    covered = tuple(name for name in wanted if name == "(request-target)" or name in lower)
    base = cavage_base(method, url, lower, covered)
    signature = base64.b64encode(_rsa_sign(key.private_key, base)).decode()
    added["signature"] = (
        f'keyId="{key.key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",signature="{signature}"'
    )
    return {name.title(): value for name, value in added.items()}


def _component(request: ReceivedRequest, item: http_sfv.Item) -> str:
    name = str(item.value)
    if item.params:
        raise SignatureError(f"signature component {name!r} has parameters, which we do not support")
    parts = urlsplit(request.url)
    derived = {
        "@method": request.method,
        "@target-uri": request.url,
        "@authority": parts.netloc.lower(),
        "@scheme": parts.scheme,
        "@path": parts.path or "/",
        "@query": "?" + parts.query,
        "@request-target": (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    }
    if name.startswith("@"):
        if name not in derived:
            raise SignatureError(f"signature component {name!r} is not supported")
        return derived[name]
    if name not in request.headers:
        raise SignatureError(f"signed header {name!r} is missing from the request")
    return request.headers[name]


def rfc9421_base(request: ReceivedRequest, components: http_sfv.InnerList) -> bytes:
    """The RFC 9421 signature base for `components` (with their signature parameters)."""
    lines = [f'"{item.value}": {_component(request, item)}' for item in components]
    lines.append(f'"@signature-params": {components}')
    return "\n".join(lines).encode()


def sign_rfc9421(
    key: SigningKey, method: str, url: str, headers: Mapping[str, str], body: bytes | None, at: datetime
) -> dict[str, str]:
    """Headers for an RFC 9421 signature (Content-Digest on bodies); used by tests and double-knocking."""
    added: dict[str, str] = {}
    names = ["@method", "@target-uri"]
    if body is not None and method.upper() != "GET":
        added["content-digest"] = content_digest_header(body)
        names.append("content-digest")
    components = http_sfv.InnerList([http_sfv.Item(name) for name in names])
    components.params["created"] = int(at.timestamp())
    components.params["keyid"] = key.key_id
    components.params["alg"] = "rsa-v1_5-sha256"
    lower = {k.lower(): v for k, v in headers.items()} | added
    request = ReceivedRequest(method=method.upper(), url=url, headers=lower)
    signature = _rsa_sign(key.private_key, rfc9421_base(request, components))
    added["signature-input"] = f"sig1={components}"
    added["signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
    return added


def _parse_cavage(request: ReceivedRequest) -> ParsedSignature:
    value = request.headers.get("signature") or ""
    if not value and request.headers.get("authorization", "").lower().startswith("signature "):
        value = request.headers["authorization"][len("signature ") :]
    params = dict(_CAVAGE_PARAM.findall(value))
    if "keyId" not in params or "signature" not in params:
        raise SignatureError("Signature header lacks keyId or signature")
    covered = tuple(params.get("headers", "date").lower().split())
    created = None
    if "(created)" in covered:
        raise SignatureError("(created) is not supported in draft-cavage signatures; sign Date")
    if "date" in covered:
        created = _parse_date(request.headers.get("date", ""))
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise SignatureError("signature is not base64") from None
    return ParsedSignature(
        scheme="cavage",
        key_id=params["keyId"],
        algorithm=params.get("algorithm", "rsa-sha256").lower(),
        covered=covered,
        base=cavage_base(request.method, request.url, request.headers, covered),
        signature=signature,
        created=created,
    )


def _parse_rfc9421(request: ReceivedRequest) -> ParsedSignature:
    inputs, values = http_sfv.Dictionary(), http_sfv.Dictionary()
    try:
        inputs.parse(request.headers["signature-input"].encode())
        values.parse(request.headers.get("signature", "").encode())
    except ValueError as error:
        raise SignatureError(f"Signature-Input or Signature is not a structured field: {error}") from None
    label = next((name for name in inputs if name in values), None)
    if label is None:
        raise SignatureError("no Signature matches a label of Signature-Input")
    components = inputs[label]
    signature = values[label].value
    if not isinstance(components, http_sfv.InnerList) or not isinstance(signature, bytes):
        raise SignatureError(f"signature {label!r} is malformed")
    key_id = components.params.get("keyid")
    if not isinstance(key_id, str):
        raise SignatureError("Signature-Input lacks keyid")
    created = components.params.get("created")
    covered = tuple(str(item.value) for item in components)
    date = None
    if isinstance(created, int):
        date = datetime.fromtimestamp(created, UTC)
    elif "date" in covered:
        date = _parse_date(request.headers.get("date", ""))
    expires = components.params.get("expires")
    return ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=str(components.params.get("alg", "rsa-v1_5-sha256")).lower(),
        covered=covered,
        base=rfc9421_base(request, components),
        signature=signature,
        created=date,
        expires=datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
    )


def _parse_date(value: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise SignatureError(f"Date header {value!r} is not an HTTP date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_signature(request: ReceivedRequest) -> ParsedSignature:
    """Take apart the request's signature (RFC 9421 if present, else draft-cavage)."""
    if "signature-input" in request.headers:
        return _parse_rfc9421(request)
    if "signature" in request.headers or request.headers.get("authorization", "").lower().startswith("signature "):
        return _parse_cavage(request)
    raise SignatureError("the request is not signed (no Signature header)")


def check_policy(request: ReceivedRequest, parsed: ParsedSignature, at: datetime) -> None:
    """Refuse signatures that leave the target, the time or (on POST) the body uncovered."""
    covered = set(parsed.covered)
    targets = {"(request-target)"} if parsed.scheme == "cavage" else {"@target-uri", "@path", "@request-target"}
    if not covered & targets:
        raise SignatureError("the signature does not cover the request target")
    if parsed.created is None:
        raise SignatureError("the signature covers neither Date nor created")
    if abs(at - parsed.created) > MAX_SKEW:
        raise SignatureError(f"the signature's date {parsed.created.isoformat()} is more than an hour away")
    if parsed.expires is not None and parsed.expires < at:
        raise SignatureError("the signature has expired")
    if request.method == "POST":
        if "digest" in covered:
            if request.headers.get("digest", "") and _digest_matches(request.headers["digest"], request.body):
                return
            raise SignatureError("Digest does not match the body")
        if "content-digest" in covered:
            if _content_digest_matches(request.headers.get("content-digest", ""), request.body):
                return
            raise SignatureError("Content-Digest does not match the body")
        raise SignatureError("a POST signature must cover Digest or Content-Digest")


def _digest_matches(value: str, body: bytes) -> bool:
    for part in value.split(","):
        algorithm, _, encoded = part.strip().partition("=")
        if algorithm.lower() == "sha-256":
            return encoded == base64.b64encode(hashlib.sha256(body).digest()).decode()
        if algorithm.lower() == "sha-512":
            return encoded == base64.b64encode(hashlib.sha512(body).digest()).decode()
    return False


def _content_digest_matches(value: str, body: bytes) -> bool:
    digests = http_sfv.Dictionary()
    try:
        digests.parse(value.encode())
    except ValueError:
        return False
    checks = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
    known = [name for name in digests if name in checks]
    return bool(known) and all(digests[name].value == checks[name](body).digest() for name in known)


def verify_signature(parsed: ParsedSignature, public_pem: str) -> bool:
    """True when `parsed.signature` is a valid signature of its base by `public_pem`."""
    key = load_public_key(public_pem)
    if parsed.algorithm in {"rsa-pss-sha512"}:
        scheme: padding.AsymmetricPadding = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
        digest: hashes.HashAlgorithm = hashes.SHA512()
    elif parsed.algorithm in {"rsa-sha256", "hs2019", "rsa-v1_5-sha256"}:
        scheme, digest = padding.PKCS1v15(), hashes.SHA256()
    else:
        raise SignatureError(f"signature algorithm {parsed.algorithm!r} is not supported")
    try:
        key.verify(parsed.signature, parsed.base, scheme, digest)
    except InvalidSignature:
        return False
    return True
