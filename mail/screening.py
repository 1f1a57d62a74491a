"""Which list mails are relayed: auto-replies are dropped, a member's From that fails authentication is held.

Auto-replies (`Auto-Submitted` other than `no`, RFC 3834; `Precedence: bulk|junk|list`; an empty
return path `<>`; `X-Autoreply` / `X-Autorespond`) would echo between the list and every absent
member: they are recorded and dropped, never posted.

A From naming a member is believed only when the mail shows it comes from that domain:

- With `MECHMOOC_MAIL_AUTHSERV_ID` set (the authserv-id(s) of the MTA that receives our mail and
  writes `Authentication-Results`, RFC 8601), the first such header of that MTA must report
  `dmarc=pass` for the From domain, or `dkim=pass` with a signing domain (`header.d`, `header.i`)
  aligned with it, or `spf=pass` with an aligned `smtp.mailfrom`. A mail without that header did not
  pass through that MTA, and is held. Only the first header of that MTA counts: MTAs prepend theirs,
  so anything below it was written before, by anyone.
- Without it (our receiver faces the internet itself, nothing authenticated the mail), the envelope
  sender (SMTP `MAIL FROM`; for a webhook, `?from=` or the Return-Path its provider wrote) must be in
  the From domain, a subdomain of it, or a parent of it. That stops naive forgeries only: put an MTA
  that checks DKIM, SPF and DMARC in front and name it in the variable.

`Authentication-Results` written by anyone else are ignored. "Aligned" is DMARC's relaxed alignment
without the public suffix list: equal domains, or one a subdomain of the other (both with a dot).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import Message
from email.utils import getaddresses

from mail.addresses import bare

AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list"})
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond")
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([\w-]+)\s*=\s*([\w-]+)")
_PROPERTY = re.compile(r"([\w-]+\.[\w-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


def _is_null_path(value: str | None) -> bool:
    return value is not None and value.strip() in ("", "<>")


def is_auto_reply(message: Message, envelope_sender: str | None) -> bool:
    """True for a vacation notice, a DSN, a list's or a robot's mail: it must not reach the group."""
    submitted = str(message.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return True
    if str(message.get("Precedence", "")).strip().lower() in AUTO_PRECEDENCE:
        return True
    if any(str(message.get(name, "no")).strip().lower() not in ("no", "false", "0") for name in AUTO_HEADERS):
        return True
    paths = [str(value) for value in message.get_all("Return-Path", [])]
    return _is_null_path(envelope_sender) or any(_is_null_path(path) for path in paths)


def return_path(message: Message) -> str | None:
    """The envelope sender the last MTA wrote into the mail (its topmost Return-Path), if any."""
    values = message.get_all("Return-Path", [])
    return str(values[0]) if values else None


def aligned(one: str, other: str) -> bool:
    """Relaxed alignment of two domains: equal, or one a subdomain of the other (both with a dot)."""
    one, other = one.lower().strip("."), other.lower().strip(".")
    if "." not in one or "." not in other:
        return False
    return one == other or one.endswith("." + other) or other.endswith("." + one)


def _domain(value: str) -> str:
    return value.strip().strip('"').rpartition("@")[2].lower()


def parse_results(header: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """An Authentication-Results value: its authserv-id and each (method, result, properties)."""
    text = _COMMENT.sub(" ", _COMMENT.sub(" ", header))
    first, *parts = text.split(";")
    authserv = (first.split() or [""])[0].lower()
    results = []
    for part in parts:
        match = _RESULT.match(part)
        if match is not None:
            props = {key.lower(): value.strip('"') for key, value in _PROPERTY.findall(part)}
            results.append((match.group(1).lower(), match.group(2).lower(), props))
    return authserv, results


def _passes(method: str, result: str, props: dict[str, str], from_domain: str) -> bool:
    if result != "pass":
        return False
    if method == "dmarc":
        return aligned(_domain(props.get("header.from", "")), from_domain)
    if method == "dkim":
        signer = props.get("header.d") or _domain(props.get("header.i", ""))
        return aligned(signer, from_domain)
    if method == "spf":
        return aligned(_domain(props.get("smtp.mailfrom", "")), from_domain)
    return False


def from_authenticated(message: Message, envelope_sender: str | None, authserv_ids: Sequence[str]) -> bool:
    """True when the mail shows it comes from the domain of its (single) From address; see the module."""
    senders = getaddresses([str(value) for value in message.get_all("From", [])])
    if len(senders) != 1 or "@" not in senders[0][1]:
        return False
    from_domain = _domain(senders[0][1])
    trusted = {authserv.lower() for authserv in authserv_ids}
    if trusted:
        for header in message.get_all("Authentication-Results", []):
            authserv, results = parse_results(str(header))
            if authserv in trusted:
                return any(_passes(*result, from_domain) for result in results)
        return False
    envelope = bare(envelope_sender or "")
    return "@" in envelope and aligned(_domain(envelope), from_domain)
