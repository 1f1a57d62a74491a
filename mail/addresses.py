"""The addresses and identifiers a mail carries: tokens, VERP return paths, Message-IDs, list ids."""

from __future__ import annotations

import secrets
from email.utils import parseaddr

from server.floor.config import get_settings

BOUNCE_PREFIX = "bounces+"


def new_token() -> str:
    """A fresh mail token: lower-case hex, since some MTAs fold the case of local parts."""
    return secrets.token_hex(10)


def verp(token: str) -> str:
    """The envelope sender that maps a bounce back to the mail `token`."""
    return f"{BOUNCE_PREFIX}{token}@{get_settings().mail_domain}"


def message_id(token: str) -> str:
    """The Message-ID header of the mail `token`."""
    return f"<{token}@{get_settings().mail_domain}>"


def list_id(name: str, handle: str) -> str:
    """An RFC 2919 List-Id header value for the list `handle` on this instance."""
    safe = name.replace('"', "").replace("\n", " ").strip()
    return f'"{safe}" <{handle}.{get_settings().mail_domain}>' if safe else f"<{handle}.{get_settings().mail_domain}>"


def bare(address: str) -> str:
    """The lower-cased addr-spec of a header value such as `Ann <Ann@Example.org>`."""
    return parseaddr(address)[1].strip().lower()


def bounce_token(recipient: str) -> str | None:
    """The mail token of a VERP address on our mail domain, or None for any other address."""
    local, _, domain = bare(recipient).partition("@")
    if domain != get_settings().mail_domain.lower() or not local.startswith(BOUNCE_PREFIX):
        return None
    token = local[len(BOUNCE_PREFIX) :]
    return token if token.isalnum() else None
