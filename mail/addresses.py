"""The addresses and identifiers a mail carries: tokens, VERP return paths, Message-IDs, list ids.

A mail's token is only the key of its outbox row: alone it grants nothing. Each capability carries
its own MAC of the token (`token-mac`, the MAC keyed by the instance secret and bound to a purpose),
so a string leaked for one purpose (a click link, a Message-ID copied into In-Reply-To) opens no
other door. The Message-ID is a MAC of the token too, and no route takes it: it only names the mail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from email.utils import parseaddr
from functools import lru_cache

from server.floor.config import get_settings

BOUNCE_PREFIX = "bounces+"
# Purposes of the MACs: a key made for one never verifies for another.
UNSUBSCRIBE = "unsubscribe"
BOUNCE = "bounce"
MESSAGE_ID = "message-id"
_KEY = re.compile(r"^([0-9a-f]{20})-([0-9a-f]{16})$")


def new_token() -> str:
    """A fresh mail token: lower-case hex, since some MTAs fold the case of local parts."""
    return secrets.token_hex(10)


def _mac(purpose: str, token: str, size: int = 16) -> str:
    return _keyed_mac(get_settings().secret_key, purpose, token, size)


@lru_cache(maxsize=256)  # a new mail's Message-ID and unsubscribe key are each asked for twice
def _keyed_mac(secret: str, purpose: str, token: str, size: int) -> str:
    return hmac.new(secret.encode(), f"mail-{purpose}\n{token}".encode(), hashlib.sha256).hexdigest()[:size]


def capability(token: str, purpose: str) -> str:
    """The string that lets its holder do `purpose` (unsubscribe, bounce) to the mail `token`, and nothing else."""
    return f"{token}-{_mac(purpose, token)}"


def token_of(key: str, purpose: str) -> str | None:
    """The mail token of a `capability(token, purpose)`, or None when `key` is anything else."""
    match = _KEY.match(key.strip().lower())
    if match is None or not hmac.compare_digest(match.group(2), _mac(purpose, match.group(1))):
        return None
    return match.group(1)


def unsubscribe_key(token: str) -> str:
    """What the unsubscribe links of the mail `token` carry: it unsubscribes that recipient from that run only."""
    return capability(token, UNSUBSCRIBE)


def verp(token: str) -> str:
    """The envelope sender that maps a bounce back to the mail `token` (a MAC in it: no forged DSNs)."""
    return f"{BOUNCE_PREFIX}{capability(token, BOUNCE)}@{get_settings().mail_domain}"


def message_id(token: str) -> str:
    """The Message-ID header of the mail `token`: a MAC of it, which reveals it not and opens nothing."""
    return f"<{_mac(MESSAGE_ID, token, 32)}@{get_settings().mail_domain}>"


def list_id(name: str, handle: str) -> str:
    """An RFC 2919 List-Id header value for the list `handle` on this instance."""
    safe = name.replace('"', "").replace("\n", " ").strip()
    return f'"{safe}" <{handle}.{get_settings().mail_domain}>' if safe else f"<{handle}.{get_settings().mail_domain}>"


def bare(address: str) -> str:
    """The lower-cased addr-spec of a header value such as `Ann <Ann@Example.org>`."""
    return parseaddr(address)[1].strip().lower()


def bounce_token(recipient: str) -> str | None:
    """The mail token of a VERP address of ours whose MAC holds, or None for any other address."""
    local, _, domain = bare(recipient).partition("@")
    if domain != get_settings().mail_domain.lower() or not local.startswith(BOUNCE_PREFIX):
        return None
    return token_of(local[len(BOUNCE_PREFIX) :], BOUNCE)
