"""Email addresses of learners, checked by email-validator; fast for the many addresses of a bulk import."""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from server.floor.errors import Invalid

# RFC 5322 dot-atom in ASCII: email-validator accepts every such local part unchanged, so only the
# domain needs its full check, once per domain (a CSV of 100,000 rows has a handful of domains).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"^{_ATEXT}(\.{_ATEXT})*$")
MAX_LOCAL, MAX_ADDRESS = 64, 254


def check_email(value: str) -> str:
    """The normalised address, or Invalid naming it."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, AttributeError) as error:
        raise Invalid(f"email {value!r}: {error}") from None


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    """The normalised domain, checked by email-validator with a plain local part."""
    return check_email(f"postmaster@{domain}").split("@", 1)[1]


def check_email_fast(value: str) -> str:
    """Same answer as `check_email`, with the domain's check cached for bulk imports."""
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or len(local) > MAX_LOCAL or len(address) > MAX_ADDRESS or not _DOT_ATOM.match(local):
        return check_email(address)
    try:
        return f"{local}@{_domain(domain)}"
    except Invalid:
        return check_email(address)
