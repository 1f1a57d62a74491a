"""Open pixel and click redirect URLs: a click URL is signed, so only links that were in the mail redirect."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from server.floor.config import get_settings
from server.floor.urls import absolute


def _signature(token: str, url: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"click\n{token}\n{url}".encode(), hashlib.sha256).hexdigest()[:20]


def click_url(token: str, url: str) -> str:
    """The redirect URL that records a click on `url` in the mail `token`."""
    return absolute(f"/mail/c/{token}?" + urlencode({"u": url, "s": _signature(token, url)}))


def click_target(token: str, url: str, signature: str) -> str | None:
    """`url` when `signature` proves it was a link in the mail `token`, else None."""
    return url if hmac.compare_digest(_signature(token, url), signature) else None


def pixel_url(token: str) -> str:
    """The 1x1 image that records an (approximate) open of the mail `token`."""
    return absolute(f"/mail/o/{token}.gif")
