"""Mastodon.py clients of a live test server, authorized through the HTTP-client code flow."""

from __future__ import annotations

from io import BytesIO

from mastodon import Mastodon
from PIL import Image

from tests.api.conftest import OOB, Person, authorize_http

SCOPES = ["read", "write", "follow", "push"]


def register_app(base: str, name: str = "Mastodon.py test") -> tuple[str, str]:
    """POST /api/v1/apps through Mastodon.py: (client_id, client_secret)."""
    return Mastodon.create_app(name, api_base_url=base, redirect_uris=OOB, scopes=SCOPES, website="https://example.org")


def client_for(base: str, person: Person, app: tuple[str, str] | None = None) -> Mastodon:
    """A Mastodon.py client logged in as `person` (authorization code, out of band)."""
    client_id, client_secret = app or register_app(base)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    code = authorize_http(base, person, client_id, scope=" ".join(SCOPES))
    api.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)  # the test server is plain http
    return api


def png(width: int = 64, height: int = 48, exif_gps: bool = False) -> bytes:
    """A small PNG (or a JPEG with EXIF when `exif_gps`)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    buffer = BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        image.save(buffer, "JPEG", exif=exif)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()
